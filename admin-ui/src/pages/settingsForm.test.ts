import { describe, expect, it } from 'vitest';
import type { Settings } from '../api/types';
import { fieldOfError, formFromSettings, settingsPatch, validateSettings } from './settingsForm';

const saved: Settings = {
  registration: 'open', max_upload_mib: 100, login_per_account_per_minute: 5, login_per_ip_per_minute: 20,
  ws_frames_per_second: 50, retention_days: null, allowed_origins: ['https://a.example'],
};

describe('settings form', () => {
  it('patches only what changed', () => {
    const f = formFromSettings(saved);
    expect(settingsPatch(saved, f)).toEqual({});
    expect(settingsPatch(saved, { ...f, registration: 'invite_only', max_upload_mib: '200' })).toEqual({ registration: 'invite_only', max_upload_mib: 200 });
  });
  it('maps retention and origins', () => {
    const f = formFromSettings(saved);
    expect(f.retention).toBe('forever');
    expect(settingsPatch(saved, { ...f, retention: 'days', retention_days: '90' })).toEqual({ retention_days: 90 });
    expect(settingsPatch({ ...saved, retention_days: 30 }, { ...formFromSettings({ ...saved, retention_days: 30 }), retention: 'forever' })).toEqual({ retention_days: null });
    expect(settingsPatch(saved, { ...f, allowed_origins: ['https://a.example', ' https://b.example ', ''] })).toEqual({ allowed_origins: ['https://a.example', 'https://b.example'] });
  });
  it('catches non-numbers before sending', () => {
    const p = settingsPatch(saved, { ...formFromSettings(saved), ws_frames_per_second: '' });
    expect(validateSettings(p)?.field).toBe('ws_frames_per_second');
    expect(validateSettings({ max_upload_mib: 5 })).toBeNull();
  });
  it('finds the field a server message names, longest name first', () => {
    expect(fieldOfError('max_upload_mib must be between 1 and 4096')).toBe('max_upload_mib');
    expect(fieldOfError('login_per_ip_per_minute: must be positive')).toBe('login_per_ip_per_minute');
    expect(fieldOfError('something else')).toBeNull();
  });
});
