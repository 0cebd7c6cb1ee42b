// The LDAP form's state and the PUT body built from it (kept apart from React for unit tests).
import type { LdapAttributes, LdapConfig, LdapSettings, LdapUpdate } from '../../api/types';

export interface LdapForm {
  enabled: boolean;
  sync_interval_minutes: string;
  url: string;
  starttls: boolean;
  ca_pem: string;
  bind_dn: string;
  /** What the admin typed; "" means keep the stored one (the server never sends it back). */
  bind_password: string;
  base_dn: string;
  user_filter: string;
  group_filter: string;
  attributes: LdapAttributes;
  /** Settings the form does not show (timeouts, …), sent back unchanged so saving keeps them. */
  extra: Record<string, unknown>;
}

// The appliance's own defaults (ldap/src/settings.rs), shown when nothing is configured yet.
export const DEFAULT_ATTRIBUTES: LdapAttributes = {
  username: 'uid', display_name: 'cn', email: 'mail', phone: 'telephoneNumber', title: 'title',
  unique_id: 'entryUUID', group_name: 'cn', member: 'member',
};
export const DEFAULT_USER_FILTER = '(objectClass=inetOrgPerson)';
export const DEFAULT_GROUP_FILTER = '(objectClass=groupOfNames)';

const SHOWN = ['url', 'starttls', 'ca_pem', 'bind_dn', 'bind_password', 'bind_password_set', 'base_dn', 'user_filter', 'group_filter', 'attributes'];

export const ATTRIBUTE_LABELS: Record<keyof LdapAttributes, string> = {
  username: 'Username',
  display_name: 'Display name',
  email: 'Email',
  phone: 'Phone',
  title: 'Title',
  unique_id: 'Unique ID',
  group_name: 'Group name',
  member: 'Group member',
};

/** The form for a loaded config; an unconfigured appliance answers `settings: {}`. */
export function formFromConfig(c: LdapConfig): LdapForm {
  const s: Partial<LdapSettings> = c.settings ?? {};
  const extra = Object.fromEntries(Object.entries(s).filter(([k]) => !SHOWN.includes(k)));
  return {
    enabled: c.enabled,
    sync_interval_minutes: String(c.sync_interval_minutes ?? 0),
    url: s.url ?? '',
    starttls: s.starttls ?? false,
    ca_pem: s.ca_pem ?? '',
    bind_dn: s.bind_dn ?? '',
    bind_password: '',
    base_dn: s.base_dn ?? '',
    user_filter: s.user_filter ?? DEFAULT_USER_FILTER,
    group_filter: s.group_filter ?? DEFAULT_GROUP_FILTER,
    attributes: { ...DEFAULT_ATTRIBUTES, ...(s.attributes ?? {}) },
    extra,
  };
}

/** The body for PUT /api/admin/ldap (and, without `password`, for the test route). */
export function updateFromForm(f: LdapForm, password?: string): LdapUpdate {
  const u: LdapUpdate = {
    enabled: f.enabled,
    sync_interval_minutes: Number(f.sync_interval_minutes) || 0,
    settings: {
      ...f.extra,
      url: f.url.trim(),
      starttls: f.starttls,
      ca_pem: f.ca_pem.trim() ? f.ca_pem : null,
      bind_dn: f.bind_dn.trim(),
      base_dn: f.base_dn.trim(),
      user_filter: f.user_filter.trim(),
      group_filter: f.group_filter.trim(),
      attributes: { ...f.attributes },
    },
  };
  // Absent = keep the stored password: only a newly typed one is sent.
  if (f.bind_password) u.settings.bind_password = f.bind_password;
  if (password !== undefined) u.password = password;
  return u;
}

/** Turning sync off needs the admin's password again. */
export function needsReauth(saved: LdapConfig, f: LdapForm): boolean {
  return saved.enabled && !f.enabled;
}
