import { describe, expect, it } from 'vitest';
import { dateInputToMs, formatBytes, formatDuration, formatRelative } from './format';
import { pageFromHash } from './router';

describe('format', () => {
  it('formats bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(200 * 1024 * 1024)).toBe('200 MiB');
    expect(formatBytes(null)).toBe('–');
  });
  it('formats durations and relative times', () => {
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(3600 + 120)).toBe('1h 2m');
    expect(formatDuration(2 * 86400 + 3 * 3600)).toBe('2d 3h');
    const now = 1_700_000_000_000;
    expect(formatRelative(now + 3 * 3600_000, now)).toBe('in 3 h');
    expect(formatRelative(now - 5 * 60_000, now)).toBe('5 min ago');
    expect(formatRelative(now - 3 * 86400_000, now)).toBe('3 d ago');
  });
  it('turns date inputs into the start or end of the local day', () => {
    const start = dateInputToMs('2026-03-04', false)!;
    const end = dateInputToMs('2026-03-04', true)!;
    expect(new Date(start).getHours()).toBe(0);
    expect(end - start).toBe(86400_000 - 1);
    expect(dateInputToMs('', false)).toBeUndefined();
  });
});

describe('router', () => {
  it('maps hashes to pages, defaulting to the dashboard', () => {
    expect(pageFromHash('#/users')).toBe('users');
    expect(pageFromHash('#/audit?x=1')).toBe('audit');
    expect(pageFromHash('#/federation')).toBe('federation');
    expect(pageFromHash('')).toBe('dashboard');
    expect(pageFromHash('#/nope')).toBe('dashboard');
  });
});
