// Settings form state, the PATCH body (changed fields only) and which field an error names.
import type { Registration, Settings } from '../api/types';

export interface SettingsForm {
  registration: Registration;
  max_upload_mib: string;
  login_per_account_per_minute: string;
  login_per_ip_per_minute: string;
  ws_frames_per_second: string;
  retention: 'forever' | 'days';
  retention_days: string;
  allowed_origins: string[];
}

export const SETTINGS_FIELDS = [
  'registration', 'max_upload_mib', 'login_per_account_per_minute', 'login_per_ip_per_minute',
  'ws_frames_per_second', 'retention_days', 'allowed_origins',
] as const;

export function formFromSettings(s: Settings): SettingsForm {
  return {
    registration: s.registration,
    max_upload_mib: String(s.max_upload_mib),
    login_per_account_per_minute: String(s.login_per_account_per_minute),
    login_per_ip_per_minute: String(s.login_per_ip_per_minute),
    ws_frames_per_second: String(s.ws_frames_per_second),
    // 0 is read as "forever" too, so a server that spells it that way still shows right.
    retention: s.retention_days ? 'days' : 'forever',
    retention_days: s.retention_days ? String(s.retention_days) : '30',
    allowed_origins: [...s.allowed_origins],
  };
}

// Numbers go as typed: the server checks ranges and names the field; validateSettings catches
// what is not a number at all before anything is sent.
const num = (v: string): number => (v.trim() === '' ? NaN : Number(v));

/** The fields whose value differs from `saved`, for PATCH /api/admin/settings. */
export function settingsPatch(saved: Settings, f: SettingsForm): Partial<Settings> {
  const next: Settings = {
    registration: f.registration,
    max_upload_mib: num(f.max_upload_mib),
    login_per_account_per_minute: num(f.login_per_account_per_minute),
    login_per_ip_per_minute: num(f.login_per_ip_per_minute),
    ws_frames_per_second: num(f.ws_frames_per_second),
    retention_days: f.retention === 'forever' ? null : num(f.retention_days),
    allowed_origins: f.allowed_origins.map((o) => o.trim()).filter(Boolean),
  };
  const patch: Partial<Settings> = {};
  for (const k of SETTINGS_FIELDS) {
    if (JSON.stringify(next[k]) !== JSON.stringify(saved[k])) (patch as Record<string, unknown>)[k] = next[k];
  }
  return patch;
}

/** Local checks before sending, so a typo gets its message next to the field at once. */
export function validateSettings(p: Partial<Settings>): { field: string; message: string } | null {
  for (const [k, v] of Object.entries(p)) {
    if (typeof v === 'number' && !Number.isFinite(v)) return { field: k, message: `${k}: enter a number` };
  }
  return null;
}

/** The settings field a server message names ("max_upload_mib must be 1-4096"), if any. */
export function fieldOfError(message: string): string | null {
  // Longest first: login_per_ip_per_minute must not match a shorter name inside it.
  const names = [...SETTINGS_FIELDS].sort((a, b) => b.length - a.length);
  return names.find((n) => message.includes(n)) ?? null;
}
