// Typed wrappers for every route of docs/admin-api.md.
import type { ApiClient } from './client';
import type {
  AdminUser, AuditPage, AuditQuery, Backup, BackupList, CreatedFederationInvite, CreatedInvite, CreatedUser,
  Directory, Federation, Group, Invite, LdapConfig, LdapUpdate, NewUser, Peer, Profile, Schedule, Settings, Stats,
  SyncReport, TestReport, Unit, UserPage, UserPatch, UserQuery,
} from './types';

const enc = encodeURIComponent;

export function adminApi(c: ApiClient) {
  return {
    // Users
    users: (q: UserQuery) => c.json<UserPage>('/api/admin/users', { query: { ...q } }),
    createUser: (u: NewUser) => c.json<CreatedUser>('/api/admin/users', { method: 'POST', body: u }),
    updateUser: (id: string, p: UserPatch) =>
      c.json<AdminUser>(`/api/admin/users/${enc(id)}`, { method: 'PATCH', body: p }),
    setDisabled: (id: string, disabled: boolean) =>
      c.json<Profile>(`/api/admin/users/${enc(id)}/${disabled ? 'disable' : 'enable'}`, { method: 'POST' }),
    resetPassword: (id: string) =>
      c.json<{ temporary_password: string }>(`/api/admin/users/${enc(id)}/reset-password`, { method: 'POST' }),
    setAdmin: (id: string, admin: boolean) =>
      c.json<AdminUser>(`/api/admin/users/${enc(id)}/admin`, { method: admin ? 'PUT' : 'DELETE' }),
    deleteUser: (id: string, password: string) =>
      c.json<void>(`/api/admin/users/${enc(id)}`, { method: 'DELETE', body: { password } }),

    // Invites
    invites: () => c.json<{ invites: Invite[] }>('/api/admin/invites'),
    createInvite: (body: { expires_in_hours?: number; max_uses?: number }) =>
      c.json<CreatedInvite>('/api/admin/invites', { method: 'POST', body }),
    revokeInvite: (code: string) => c.json<void>(`/api/admin/invites/${enc(code)}`, { method: 'DELETE' }),

    // Directory
    directory: () => c.json<Directory>('/api/admin/directory'),
    createUnit: (name: string, parent_id?: string) =>
      c.json<Unit>('/api/admin/units', { method: 'POST', body: parent_id ? { name, parent_id } : { name } }),
    renameUnit: (id: string, name: string) =>
      c.json<Unit>(`/api/admin/units/${enc(id)}`, { method: 'PATCH', body: { name } }),
    deleteUnit: (id: string) => c.json<void>(`/api/admin/units/${enc(id)}`, { method: 'DELETE' }),
    createGroup: (name: string, description: string) =>
      c.json<Group>('/api/admin/groups', { method: 'POST', body: { name, description } }),
    updateGroup: (id: string, body: { name?: string; description?: string }) =>
      c.json<Group>(`/api/admin/groups/${enc(id)}`, { method: 'PATCH', body }),
    deleteGroup: (id: string) => c.json<void>(`/api/admin/groups/${enc(id)}`, { method: 'DELETE' }),
    setMember: (groupId: string, userId: string, member: boolean) =>
      c.json<Group>(`/api/admin/groups/${enc(groupId)}/members/${enc(userId)}`, { method: member ? 'PUT' : 'DELETE' }),
    groupChat: (id: string) => c.json<{ chat_id: string }>(`/api/admin/groups/${enc(id)}/chat`, { method: 'POST' }),

    // LDAP
    ldap: () => c.json<LdapConfig>('/api/admin/ldap'),
    saveLdap: (u: LdapUpdate) => c.json<LdapConfig>('/api/admin/ldap', { method: 'PUT', body: u }),
    /** Tries `settings` (the form's, unsaved; bind_password absent = the stored one). */
    testLdap: (settings?: LdapUpdate['settings']) =>
      c.json<TestReport>('/api/admin/ldap/test', { method: 'POST', body: settings ?? {} }),
    syncLdap: () => c.json<SyncReport>('/api/admin/ldap/sync', { method: 'POST' }),

    // Backups
    backups: () => c.json<BackupList>('/api/admin/backups'),
    createBackup: () => c.json<Backup>('/api/admin/backups', { method: 'POST' }),
    downloadBackup: (name: string) => c.blob(`/api/admin/backups/${enc(name)}`),
    deleteBackup: (name: string) => c.json<void>(`/api/admin/backups/${enc(name)}`, { method: 'DELETE' }),
    saveSchedule: (s: { enabled: boolean; interval_hours: number; keep: number }) =>
      c.json<Schedule>('/api/admin/backups/schedule', { method: 'PUT', body: s }),
    restoreBackup: (name: string, password: string) =>
      c.json<{ restart: boolean }>(`/api/admin/backups/${enc(name)}/restore`, { method: 'POST', body: { password } }),

    // Federation
    federation: () => c.json<Federation>('/api/admin/federation'),
    createFederationInvite: (ttl_hours: number) =>
      c.json<CreatedFederationInvite>('/api/admin/federation/invites', { method: 'POST', body: { ttl_hours } }),
    addPeer: (invite: string) => c.json<Peer>('/api/admin/federation/peers', { method: 'POST', body: { invite } }),
    revokePeer: (serverName: string, password: string) =>
      c.json<void>(`/api/admin/federation/peers/${enc(serverName)}`, { method: 'DELETE', body: { password } }),

    // Audit, dashboard, settings
    audit: (q: AuditQuery) => c.json<AuditPage>('/api/admin/audit', { query: { ...q } }),
    stats: () => c.json<Stats>('/api/admin/stats'),
    settings: () => c.json<Settings>('/api/admin/settings'),
    saveSettings: (s: Partial<Settings>) => c.json<Settings>('/api/admin/settings', { method: 'PATCH', body: s }),
  };
}

export type AdminApi = ReturnType<typeof adminApi>;
