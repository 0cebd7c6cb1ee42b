// The state the UI renders (AppState) and its pieces, the signed-out starting point, and the
// pure helpers the controller uses to keep it in step with the URL and the chat summaries.
import type { ConnInfo, ConnState } from '../api/realtime';
import type { PendingSend } from '../api/outbox';
import type { RestClient } from '../api/rest';
import type { ChatSummary, Contact, Profile, UserId } from '../api/types';
import type { ChatData } from './logic';

export interface Presence {
  online: boolean;
  last_seen?: number;
}

export interface Toast {
  id: number;
  text: string;
}

/** A file being uploaded before it is sent (it becomes an outbox item once uploaded). */
export interface Upload {
  /** Also the client_id of the message it becomes. */
  id: string;
  chat_id: string;
  name: string;
  size: number;
  /** The browser's guess of the type (the server detects the real one). */
  type: string;
  caption: string;
  reply_to?: number;
  loaded: number;
  status: 'uploading' | 'failed';
  error?: string;
  /** The ApiError code of a failure ('network' ones are retried when the connection is back). */
  error_code?: string;
  created_at: number;
  /** An object URL of the local file, for image previews while uploading. */
  local_url?: string;
}

export interface JumpTarget {
  chatId: string;
  seq: number;
  /** Distinguishes two jumps to the same message. */
  id: number;
  /** Set once the history around `seq` is loaded (or could not be). */
  ready: boolean;
}

export interface AppState {
  /** null until we know whether a stored session exists. */
  phase: 'starting' | 'signed_out' | 'signed_in';
  signedOutReason: string | null;
  me: Profile | null;
  /**
   * This appliance's server name (the domain of my user ID, confirmed by each `ready` frame):
   * people whose ID has another domain belong to another organization.
   */
  serverName: string | null;
  conn: ConnState;
  retryAt: number | null;
  chats: Record<string, ChatData>;
  chatsLoaded: boolean;
  outbox: PendingSend[];
  profiles: Record<UserId, Profile>;
  presence: Record<UserId, Presence>;
  contacts: Contact[] | null;
  openChatId: string | null;
  /** A message to scroll to and flash once it is on screen (search results, replies). */
  jumpTo: JumpTarget | null;
  toast: Toast | null;
  notificationPermission: NotificationPermission | 'unsupported';
  /** The media cookie is set: <img>/<video> may load /api/media URLs. */
  mediaReady: boolean;
  uploads: Upload[];
  /** The live connection's transport and timings (diagnostics panel); null before the first. */
  connInfo: ConnInfo | null;
  /** The connection settings force WebSocket. */
  forceWebSocket: boolean;
}

/** What the controller's helpers (uploads, media cookie) read and write: the controller itself. */
export interface StoreHost {
  readonly state: AppState;
  set(patch: Partial<AppState> | ((s: AppState) => Partial<AppState>)): void;
  readonly api: RestClient;
}

/** Signed out, nothing loaded: where a session starts and where signing out returns to. */
export const initialState: AppState = {
  phase: 'starting',
  signedOutReason: null,
  me: null,
  serverName: null,
  conn: 'offline',
  retryAt: null,
  chats: {},
  chatsLoaded: false,
  outbox: [],
  profiles: {},
  presence: {},
  contacts: null,
  openChatId: null,
  jumpTo: null,
  toast: null,
  notificationPermission: typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
  mediaReady: false,
  uploads: [],
  connInfo: null,
  forceWebSocket: false,
};

export function chatPath(id: string | null) {
  return id ? `/chat/${encodeURIComponent(id)}` : '/';
}

export function chatFromPath(path: string): string | null {
  const m = /^\/chat\/([^/]+)$/.exec(path);
  return m ? decodeURIComponent(m[1]) : null;
}

/**
 * A 1:1 summary carries the peer's current name and picture: keep the cached profile in step
 * (member lists, contact info), as the server announces such changes with a `chat` frame.
 */
export function peerFromSummary(profiles: Record<UserId, Profile>, c: ChatSummary): Record<UserId, Profile> {
  const p = c.kind === 'direct' && c.peer ? profiles[c.peer] : undefined;
  // The address is the server's stand-in before it has the profile (see applySummary).
  if (!p || c.avatar === undefined || c.name === c.peer) return profiles;
  if (p.avatar === c.avatar && p.display_name === c.name) return profiles;
  return { ...profiles, [p.user_id]: { ...p, avatar: c.avatar, display_name: c.name || p.display_name } };
}

