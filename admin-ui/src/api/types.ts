// Shapes of docs/admin-api.md and the auth part of docs/protocol.md. Times are Unix ms.
// Fields the doc marks optional are optional here too, and the UI tolerates their absence
// (older servers answer with fewer fields).

export interface Profile {
  user_id: string;
  username: string;
  display_name: string;
  about: string;
  email?: string | null;
  phone?: string | null;
  is_admin: boolean;
  avatar?: string | null;
}

export interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  session_id: string;
  user: Profile;
}

export type UserSource = 'local' | 'ldap';

export interface AdminUser extends Profile {
  disabled: boolean;
  created_at: number;
  last_seen?: number | null;
  source?: UserSource;
  unit_id?: string | null;
  unit_path?: string[];
  title?: string | null;
  groups?: { group_id: string; name: string }[];
}

export type UserStatus = 'all' | 'active' | 'disabled' | 'admins';
export type UserSort = 'username' | 'display_name' | 'created_at' | 'last_seen';
export type SortOrder = 'asc' | 'desc';

export interface UserQuery {
  q?: string;
  status?: UserStatus;
  sort?: UserSort;
  order?: SortOrder;
  offset?: number;
  limit?: number;
  unit?: string;
}

export interface UserPage {
  total: number;
  offset: number;
  users: AdminUser[];
}

export interface NewUser {
  username: string;
  display_name?: string;
  email?: string;
  phone?: string;
  password?: string;
  is_admin?: boolean;
  unit_id?: string;
  title?: string;
}

export interface CreatedUser {
  user: AdminUser;
  temporary_password?: string;
}

export interface UserPatch {
  display_name?: string;
  about?: string;
  email?: string;
  phone?: string;
  unit_id?: string;
  title?: string;
}

export interface Invite {
  code: string;
  created_at?: number | null;
  created_by?: string | null;
  expires_at: number;
  uses_left: number;
  max_uses?: number | null;
  expired: boolean;
}

export interface CreatedInvite {
  code: string;
  expires_at: number;
  uses_left: number;
}

export interface Unit {
  unit_id: string;
  name: string;
  parent_id?: string | null;
  path: string[];
  source: UserSource;
  user_count: number;
}

export interface Group {
  group_id: string;
  name: string;
  description: string;
  source: UserSource;
  members: string[];
  chat_id?: string | null;
}

export interface Directory {
  units: Unit[];
  groups: Group[];
}

export interface LdapAttributes {
  username: string;
  display_name: string;
  email: string;
  phone: string;
  title: string;
  unique_id: string;
  group_name: string;
  /** The group attribute that lists members. */
  member: string;
}

export interface LdapSettings {
  url: string;
  starttls: boolean;
  ca_pem?: string | null;
  bind_dn: string;
  bind_password_set: boolean;
  base_dn: string;
  user_filter: string;
  group_filter: string;
  attributes: LdapAttributes;
}

export interface SyncReport {
  started_at: number;
  finished_at: number;
  ok: boolean;
  error?: string | null;
  created: number;
  updated: number;
  disabled: number;
  reenabled: number;
  units: number;
  groups: number;
  skipped: number;
  summary: string;
}

export interface LdapConfig {
  enabled: boolean;
  sync_interval_minutes: number;
  /** `{}` until LDAP is first configured. */
  settings: Partial<LdapSettings>;
  last_sync?: SyncReport | null;
}

/** What PUT /api/admin/ldap takes: `bind_password` only when a new one was typed. */
export interface LdapUpdate {
  enabled: boolean;
  sync_interval_minutes: number;
  settings: Omit<LdapSettings, 'bind_password_set'> & { bind_password?: string; [other: string]: unknown };
  password?: string;
}

export interface TestReport {
  users: number;
  groups: number;
  units: number;
  sample_users: string[];
  sample_groups: string[];
  warnings: string[];
  summary: string;
}

export interface Backup {
  name: string;
  created_at: number;
  size_bytes: number;
  sha256: string;
  kind: 'manual' | 'scheduled';
  users: number;
  chats: number;
  messages: number;
  media_files: number;
  schema_version: number;
  parley_version: string;
}

export interface Schedule {
  enabled: boolean;
  interval_hours: number;
  keep: number;
  next_at?: number | null;
}

export interface BackupList {
  backups: Backup[];
  schedule: Schedule;
  dir: string;
}

export interface AuditEntry {
  at: number;
  actor?: string | null;
  actor_name?: string | null;
  action: string;
  target?: string | null;
  ip?: string | null;
  details: unknown;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  target?: string;
  from?: number;
  to?: number;
  offset?: number;
  limit?: number;
}

export interface AuditPage {
  total: number;
  offset: number;
  entries: AuditEntry[];
}

export interface Stats {
  version: string;
  uptime_secs: number;
  server_name: string;
  connections: { websocket: number; webtransport: number };
  users: { total: number; active: number; disabled: number; admins: number; online?: number };
  chats?: number;
  messages_total: number;
  messages_per_minute: { at: number; count: number }[];
  delivery_ms: { p50: number | null; p99: number | null };
  delivery_history: { at: number; p50: number | null; p99: number | null }[];
  storage: {
    database_bytes: number;
    media_bytes: number;
    search_bytes: number;
    backups_bytes: number;
    disk_free_bytes?: number;
  };
  last_backup: Backup | null;
  ldap: { enabled: boolean; last_sync: SyncReport | null };
}

export type Registration = 'open' | 'invite_only' | 'closed';

export interface Settings {
  registration: Registration;
  max_upload_mib: number;
  login_per_account_per_minute: number;
  login_per_ip_per_minute: number;
  ws_frames_per_second: number;
  retention_days: number | null;
  allowed_origins: string[];
}

export type DirectoryPolicy = 'open' | 'closed';
export type PeerTrust = 'pinned' | 'ca';

/** GET /api/admin/federation. With federation off only `enabled` and `peers` (empty) count. */
export interface Federation {
  enabled: boolean;
  server_name: string;
  /** `host:port` other appliances dial. */
  address?: string | null;
  /** SHA-256 of this appliance's federation certificate, 64 hex digits. */
  fingerprint?: string | null;
  directory?: DirectoryPolicy | null;
  peers: Peer[];
}

export interface Peer {
  server_name: string;
  address: string;
  fingerprint: string;
  trust: PeerTrust;
  added_at: number;
  revoked_at?: number | null;
  connected: boolean;
  rtt_ms?: number | null;
  last_delivery_at?: number | null;
  /** Events waiting in this appliance's outbox for the peer. */
  queue_depth: number;
  /** Age of the oldest of them; null when the queue is empty. */
  oldest_undelivered_age_secs?: number | null;
  frames_in: number;
  frames_out: number;
  cutoffs: number;
}

export interface CreatedFederationInvite {
  /** The `parley-fed:…` string, shown once. */
  invite: string;
  expires_at: number;
}
