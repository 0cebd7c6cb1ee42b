// User addresses (`name@server_name`, docs/protocol.md §1) and the organization they belong to:
// a user ID's domain is its appliance, and one appliance is one organization. The local server
// name comes from the session (my own user ID).

/** A typed `name@domain` address, lowercased. */
export interface Address {
  username: string;
  server: string;
  /** `username@server`: the user ID it names. */
  id: string;
}

/** Usernames as the server accepts them: 3-32 of `a-z 0-9 . _ -`, starting with a letter or digit. */
const USERNAME = /^[a-z0-9][a-z0-9._-]{2,31}$/;
/** A DNS name (labels of letters, digits and inner hyphens), like the server's ServerName. */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function isServerName(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every((l) => LABEL.test(l));
}

/**
 * Parses what a user typed as an address: `bob@b.test` (also `@bob@b.test`, as some apps write
 * it, and any case or surrounding spaces). Null when it is not one; an email address of the same
 * shape parses too (the server tells them apart: a domain that is not a peer means an email).
 */
export function parseAddress(input: string): Address | null {
  const v = input.trim().toLowerCase().replace(/^@(?=[^@]+@)/, '');
  const at = v.indexOf('@');
  if (at < 0 || at !== v.lastIndexOf('@')) return null;
  const username = v.slice(0, at);
  const server = v.slice(at + 1);
  if (!USERNAME.test(username) || !isServerName(server)) return null;
  return { username, server, id: `${username}@${server}` };
}

/** The domain of a user (or chat or message) ID: the appliance it belongs to. */
export function serverOf(id: string): string {
  const at = id.lastIndexOf('@');
  return at < 0 ? '' : id.slice(at + 1);
}

/**
 * The organization to show next to a person: their domain when it is not this appliance's,
 * null for local colleagues (and while the local server name is not known yet).
 */
export function orgOf(id: string | null | undefined, local: string | null): string | null {
  if (!id || !local) return null;
  const s = serverOf(id);
  return s && s !== local ? s : null;
}

/** A name with the organization after it, for plain-text places: "Bob Stone (b.test)". */
export function withOrg(name: string, id: string | null | undefined, local: string | null): string {
  const org = orgOf(id, local);
  return org ? `${name} (${org})` : name;
}

/** The other organizations among a chat's members, sorted (empty for a chat among colleagues). */
export function otherOrgs(ids: string[], local: string | null): string[] {
  const out = new Set<string>();
  for (const id of ids) {
    const o = orgOf(id, local);
    if (o) out.add(o);
  }
  return [...out].sort();
}
