// The LDAP form's state and the PUT body built from it (kept apart from React for unit tests).
import type { LdapAttributes, LdapConfig, LdapUpdate } from '../../api/types';

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
}

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

export function formFromConfig(c: LdapConfig): LdapForm {
  const s = c.settings;
  return {
    enabled: c.enabled,
    sync_interval_minutes: String(c.sync_interval_minutes),
    url: s.url,
    starttls: s.starttls,
    ca_pem: s.ca_pem ?? '',
    bind_dn: s.bind_dn,
    bind_password: '',
    base_dn: s.base_dn,
    user_filter: s.user_filter,
    group_filter: s.group_filter,
    attributes: { ...s.attributes },
  };
}

/** The body for PUT /api/admin/ldap (and, without `password`, for the test route). */
export function updateFromForm(f: LdapForm, password?: string): LdapUpdate {
  const u: LdapUpdate = {
    enabled: f.enabled,
    sync_interval_minutes: Number(f.sync_interval_minutes) || 0,
    settings: {
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
