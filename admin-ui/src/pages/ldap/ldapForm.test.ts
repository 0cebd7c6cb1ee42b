import { describe, expect, it } from 'vitest';
import type { LdapConfig } from '../../api/types';
import { formFromConfig, needsReauth, updateFromForm } from './ldapForm';

const cfg: LdapConfig = {
  enabled: true,
  sync_interval_minutes: 60,
  settings: {
    url: 'ldaps://ldap.example', starttls: false, ca_pem: null, bind_dn: 'cn=parley', bind_password_set: true,
    base_dn: 'dc=example', user_filter: '(objectClass=person)', group_filter: '(objectClass=groupOfNames)',
    attributes: { username: 'uid', display_name: 'cn', email: 'mail', phone: 'telephoneNumber', title: 'title', unique_id: 'entryUUID', group_name: 'cn', member: 'member' },
  },
};

describe('LDAP form', () => {
  it('never sends the stored password back, and keeps it unless a new one is typed', () => {
    const f = formFromConfig(cfg);
    expect(f.bind_password).toBe('');
    const u = updateFromForm(f);
    expect('bind_password' in u.settings).toBe(false);
    expect('bind_password_set' in u.settings).toBe(false);
    expect('password' in u).toBe(false);
    expect(updateFromForm({ ...f, bind_password: 'new secret' }).settings.bind_password).toBe('new secret');
  });
  it('sends the admin password when given and numbers as numbers', () => {
    const u = updateFromForm({ ...formFromConfig(cfg), sync_interval_minutes: '15' }, 'adminpw');
    expect(u.password).toBe('adminpw');
    expect(u.sync_interval_minutes).toBe(15);
    expect(u.settings.ca_pem).toBeNull();
  });
  it('fills the appliance defaults for an unconfigured directory and keeps unknown settings', () => {
    const f = formFromConfig({ enabled: false, sync_interval_minutes: 0, settings: {} });
    expect(f.user_filter).toBe('(objectClass=inetOrgPerson)');
    expect(f.attributes.member).toBe('member');
    expect(f.url).toBe('');
    const g = formFromConfig({ ...cfg, settings: { ...cfg.settings, connect_timeout_secs: 5 } as LdapConfig['settings'] });
    expect(updateFromForm(g).settings.connect_timeout_secs).toBe(5);
    expect('bind_password_set' in updateFromForm(g).settings).toBe(false);
  });

  it('asks for the password only when turning sync off', () => {
    const f = formFromConfig(cfg);
    expect(needsReauth(cfg, f)).toBe(false);
    expect(needsReauth(cfg, { ...f, enabled: false })).toBe(true);
    expect(needsReauth({ ...cfg, enabled: false }, { ...f, enabled: true })).toBe(false);
  });
});
