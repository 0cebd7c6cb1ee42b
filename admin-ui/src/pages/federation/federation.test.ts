import { describe, expect, it } from 'vitest';
import type { Peer } from '../../api/types';
import {
  formatFingerprint, parseInviteInput, parseTtlHours, peerStatus, previewInvite, queueBacklog, shortFingerprint, splitPeers,
} from './federation';

const FP = '5c1e8a0b'.repeat(8);

const peer = (over: Partial<Peer>): Peer => ({
  server_name: 'b.example.org', address: 'b.example.org:8448', fingerprint: FP, trust: 'pinned', added_at: 1,
  connected: true, queue_depth: 0, frames_in: 0, frames_out: 0, cutoffs: 0, ...over,
});

/** An invite as docs/federation.md describes it: the prefix, then base64url (no padding) of JSON. */
const invite = (o: unknown) => `parley-fed:${Buffer.from(JSON.stringify(o)).toString('base64url')}`;

describe('invite validity', () => {
  it('takes whole hours from 1 to 720', () => {
    expect(parseTtlHours('24')).toEqual({ hours: 24 });
    expect(parseTtlHours(' 1 ')).toEqual({ hours: 1 });
    expect(parseTtlHours('720')).toEqual({ hours: 720 });
  });
  it('refuses the rest with a message', () => {
    for (const v of ['0', '721', '', '1.5', '-3', 'abc', '1e2']) expect(parseTtlHours(v)).toHaveProperty('error');
    expect(parseTtlHours('721')).toEqual({ error: expect.stringContaining('720') });
  });
});

describe('pasted invite', () => {
  it('needs the parley-fed: prefix and something after it', () => {
    expect(parseInviteInput('parley-fed:abc')).toEqual({ invite: 'parley-fed:abc' });
    expect(parseInviteInput('')).toHaveProperty('error');
    expect(parseInviteInput('   ')).toHaveProperty('error');
    expect(parseInviteInput('https://example.org/?invite=x')).toEqual({ error: expect.stringContaining('parley-fed:') });
    expect(parseInviteInput('parley-fed:')).toEqual({ error: expect.stringContaining('cut off') });
  });
  it('drops the whitespace of a wrapped paste', () => {
    expect(parseInviteInput('  parley-fed:ab\n cd\t\r\nef \n')).toEqual({ invite: 'parley-fed:abcdef' });
  });
  it('previews the issuer without the secret, expiry in ms', () => {
    const s = invite({ v: 1, server_name: 'a.example.org', address: 'fed.a.example.org:8448', fingerprint: FP, secret: 'x'.repeat(43), expires_at: 1767225600 });
    expect(previewInvite(s)).toEqual({ server_name: 'a.example.org', address: 'fed.a.example.org:8448', fingerprint: FP, expires_at: 1767225600_000 });
  });
  it('previews nothing for what it cannot read', () => {
    expect(previewInvite('parley-fed:!!!')).toBeNull();
    expect(previewInvite('parley-fed:bm90IGpzb24')).toBeNull(); // "not json"
    expect(previewInvite(invite({ v: 1 }))).toBeNull();
    expect(previewInvite('other:abc')).toBeNull();
  });
  it('reads non-ASCII names and an invite without expiry', () => {
    const p = previewInvite(invite({ server_name: 'ü.example', address: 'x:1', fingerprint: 'ab' }));
    expect(p).toEqual({ server_name: 'ü.example', address: 'x:1', fingerprint: 'ab', expires_at: null });
  });
});

describe('fingerprint', () => {
  it('groups 64 hex digits by four, lower case', () => {
    const g = formatFingerprint(FP.toUpperCase());
    expect(g.split(' ')).toHaveLength(16);
    expect(g.startsWith('5c1e 8a0b 5c1e')).toBe(true);
    expect(g.replace(/ /g, '')).toBe(FP);
  });
  it('ignores colons, keeps what is not hex, shows a dash for nothing', () => {
    expect(formatFingerprint('AB:CD:EF:01:23')).toBe('abcd ef01 23');
    expect(formatFingerprint('not-a-fingerprint')).toBe('not-a-fingerprint');
    expect(formatFingerprint(null)).toBe('–');
    expect(formatFingerprint('')).toBe('–');
  });
  it('shortens to the first groups', () => {
    expect(shortFingerprint(FP)).toBe('5c1e 8a0b 5c1e 8a0b …');
    expect(shortFingerprint('abcd')).toBe('abcd');
  });
});

describe('peer status', () => {
  it('is revoked before anything else, then connected or not', () => {
    expect(peerStatus(peer({}))).toBe('connected');
    expect(peerStatus(peer({ connected: false }))).toBe('disconnected');
    expect(peerStatus(peer({ connected: false, revoked_at: 5 }))).toBe('revoked');
    expect(peerStatus(peer({ connected: true, revoked_at: 5 }))).toBe('revoked');
    expect(peerStatus(peer({ revoked_at: null }))).toBe('connected');
  });
  it('flags a waiting queue, except for revoked peers', () => {
    expect(queueBacklog(peer({}))).toBe(false);
    expect(queueBacklog(peer({ queue_depth: 3 }))).toBe(true);
    expect(queueBacklog(peer({ queue_depth: 3, revoked_at: 9 }))).toBe(false);
  });
  it('lists active peers by name and revoked ones apart, newest first', () => {
    const { active, revoked } = splitPeers([
      peer({ server_name: 'c.org' }), peer({ server_name: 'old.org', revoked_at: 10 }), peer({ server_name: 'a.org', connected: false }),
      peer({ server_name: 'new.org', revoked_at: 20 }),
    ]);
    expect(active.map((p) => p.server_name)).toEqual(['a.org', 'c.org']);
    expect(revoked.map((p) => p.server_name)).toEqual(['new.org', 'old.org']);
  });
});
