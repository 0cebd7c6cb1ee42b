// Federation page logic kept apart from React for unit tests: the invite validity, the pasted
// invite check and preview, fingerprint grouping, a peer's status and sort order.
import type { Peer } from '../../api/types';

export const TTL_MIN_HOURS = 1;
export const TTL_MAX_HOURS = 720;
export const TTL_DEFAULT_HOURS = 24;
export const INVITE_PREFIX = 'parley-fed:';

/** The invite validity typed in hours: a whole number in 1–720, or the message to show. */
export function parseTtlHours(value: string): { hours: number } | { error: string } {
  const v = value.trim();
  if (!/^\d+$/.test(v)) return { error: `Validity: enter a whole number of hours (${TTL_MIN_HOURS}–${TTL_MAX_HOURS}).` };
  const hours = Number(v);
  if (hours < TTL_MIN_HOURS || hours > TTL_MAX_HOURS) {
    return { error: `Validity: between ${TTL_MIN_HOURS} and ${TTL_MAX_HOURS} hours (30 days).` };
  }
  return { hours };
}

/**
 * A pasted invite, with the whitespace that mail clients and terminals put into long strings
 * removed (base64url has none). Only the prefix is checked here: the appliance checks every
 * field and names the bad one.
 */
export function parseInviteInput(value: string): { invite: string } | { error: string } {
  const invite = value.replace(/\s+/g, '');
  if (!invite) return { error: 'Paste the invite the other appliance’s administrator sent you.' };
  if (!invite.startsWith(INVITE_PREFIX)) return { error: `This is not a federation invite: it must start with “${INVITE_PREFIX}”.` };
  if (invite.length === INVITE_PREFIX.length) return { error: `The invite is cut off: nothing follows “${INVITE_PREFIX}”.` };
  return { invite };
}

/** What an invite says about its issuer (docs/federation.md, "Invite format"). */
export interface InvitePreview {
  server_name: string;
  address: string;
  fingerprint: string;
  /** Unix ms (the invite carries seconds). */
  expires_at: number | null;
}

/**
 * Reads the issuer out of an invite, so the admin can compare the fingerprint with the one the
 * other admin sees before peering. Null when it cannot be read (the server then says why); the
 * secret is never returned.
 */
export function previewInvite(invite: string): InvitePreview | null {
  if (!invite.startsWith(INVITE_PREFIX)) return null;
  const b64 = invite.slice(INVITE_PREFIX.length).replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]+$/.test(b64)) return null;
  try {
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const json = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
    const o = JSON.parse(json) as Record<string, unknown>;
    if (typeof o.server_name !== 'string' || typeof o.address !== 'string' || typeof o.fingerprint !== 'string') return null;
    return {
      server_name: o.server_name,
      address: o.address,
      fingerprint: o.fingerprint,
      expires_at: typeof o.expires_at === 'number' ? o.expires_at * 1000 : null,
    };
  } catch {
    return null;
  }
}

/**
 * A SHA-256 fingerprint in groups of four hex digits ("5c1e 8a0b …"), lower case, for reading
 * aloud and comparing. Colons and spaces in the input are ignored; anything that is not hex is
 * returned as it came.
 */
export function formatFingerprint(fp: string | null | undefined): string {
  if (!fp) return '–';
  const hex = fp.replace(/[\s:]/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) return fp;
  return hex.match(/.{1,4}/g)!.join(' ');
}

/** The first groups of a fingerprint, enough to tell peers apart in a table. */
export function shortFingerprint(fp: string | null | undefined, groups = 4): string {
  const full = formatFingerprint(fp);
  const parts = full.split(' ');
  return parts.length > groups ? `${parts.slice(0, groups).join(' ')} …` : full;
}

export type PeerStatus = 'connected' | 'disconnected' | 'revoked';

export function peerStatus(p: Pick<Peer, 'connected' | 'revoked_at'>): PeerStatus {
  if (p.revoked_at) return 'revoked';
  return p.connected ? 'connected' : 'disconnected';
}

export const STATUS_TONE: Record<PeerStatus, 'good' | 'warn' | 'bad'> = {
  connected: 'good',
  disconnected: 'warn',
  revoked: 'bad',
};

/** True when events wait for the peer (the queue cell is highlighted). */
export function queueBacklog(p: Pick<Peer, 'queue_depth' | 'revoked_at'>): boolean {
  return !p.revoked_at && p.queue_depth > 0;
}

/** Active peers by name, and the revoked ones apart (newest revocation first). */
export function splitPeers(peers: Peer[]): { active: Peer[]; revoked: Peer[] } {
  const active = peers.filter((p) => !p.revoked_at).sort((a, b) => a.server_name.localeCompare(b.server_name));
  const revoked = peers.filter((p) => p.revoked_at).sort((a, b) => (b.revoked_at ?? 0) - (a.revoked_at ?? 0));
  return { active, revoked };
}
