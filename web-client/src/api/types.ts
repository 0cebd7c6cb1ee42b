// JSON shapes of the Parley REST API and real-time protocol v1 (docs/protocol.md;
// appliance/types/src/api.rs and protocol.rs are authoritative).

export type UserId = string;
export type ChatId = string;
export type Seq = number;
export type Millis = number;

export type Visibility = 'everyone' | 'contacts' | 'nobody';

export interface Profile {
  user_id: UserId;
  username: string;
  display_name: string;
  about: string;
  email?: string;
  phone?: string;
  is_admin: boolean;
  last_seen_visibility?: Visibility;
  /** Profile picture: show `/api/media/{avatar}/thumbnail`. */
  avatar?: string | null;
}

export interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  session_id: string;
  user: Profile;
}

export interface Contact {
  profile: Profile;
  added: boolean;
}

export type ChatKind = 'direct' | 'group';
export type Role = 'admin' | 'member';

export interface Member {
  user_id: UserId;
  role: Role;
  joined_at: Millis;
}

export type MediaKind = 'image' | 'video' | 'audio' | 'file';
export type MessageKind = 'text' | 'system' | 'edit' | 'delete' | MediaKind;

/** An upload (`POST /api/media`), as sent in messages. */
export interface Media {
  media_id: string;
  kind: MediaKind;
  /** Detected by the server from the bytes. */
  mime: string;
  size: number;
  /** The sanitised file name. */
  name: string;
  width?: number;
  height?: number;
  /** BlurHash placeholder for images. */
  preview?: string;
  /** Whether `/api/media/{id}/thumbnail` exists. */
  thumbnail: boolean;
}

export type SystemEvent =
  | { event: 'created'; by: UserId; name: string }
  | { event: 'member_added'; by: UserId; user_id: UserId }
  | { event: 'member_removed'; by: UserId; user_id: UserId }
  | { event: 'member_left'; user_id: UserId }
  | { event: 'admin_promoted'; by: UserId; user_id: UserId }
  | { event: 'admin_demoted'; by: UserId; user_id: UserId }
  | { event: 'renamed'; by: UserId; name: string }
  | { event: 'description_changed'; by: UserId; description: string };

export interface Message {
  id: string;
  chat_id: ChatId;
  seq: Seq;
  sender: UserId;
  kind: MessageKind;
  text: string | null;
  reply_to?: Seq;
  target?: Seq;
  event?: SystemEvent;
  client_id?: string;
  created_at: Millis;
  edited_at?: Millis;
  deleted: boolean;
  /** For image, video, audio and file messages (`text` is then the caption). */
  media?: Media;
}

export interface ChatSummary {
  chat_id: ChatId;
  kind: ChatKind;
  name: string;
  description: string;
  peer?: UserId;
  members: Member[];
  last_seq: Seq;
  last_message: Message | null;
  last_activity: Millis;
  unread: number;
  others_delivered_seq: Seq;
  others_read_seq: Seq;
  my_read_seq: Seq;
  created_at: Millis;
  /** Group picture; for a 1:1 chat the other user's profile picture. */
  avatar?: string | null;
}

export interface HistoryPage {
  messages: Message[];
  next_before: Seq | null;
}

export type ReceiptState = 'sent' | 'delivered' | 'read';
export type ReceiptKind = 'delivered' | 'read';

export interface MemberReceipt {
  user_id: UserId;
  delivered_at: Millis | null;
  read_at: Millis | null;
}

export interface MessageInfo {
  chat_id: ChatId;
  seq: Seq;
  members: MemberReceipt[];
  state: ReceiptState;
}

/** One message search hit; `highlights` are UTF-8 byte ranges [start, end) into `snippet`. */
export interface SearchHit {
  chat_id: ChatId;
  seq: Seq;
  sender: UserId;
  created_at: Millis;
  snippet: string;
  highlights: [number, number][];
}

export interface MessageSearchPage {
  total: number;
  offset: number;
  hits: SearchHit[];
}

export interface ErrorBody {
  code: string;
  message: string;
}

// ---- Real-time frames ----

export type ClientFrame =
  | { type: 'auth'; token: string }
  | { type: 'send'; chat_id: ChatId; client_id: string; text: string; reply_to?: Seq; media_id?: string }
  | { type: 'edit'; chat_id: ChatId; seq: Seq; text: string }
  | { type: 'delete'; chat_id: ChatId; seq: Seq }
  | { type: 'received'; chat_id: ChatId; seq: Seq }
  | { type: 'read'; chat_id: ChatId; seq: Seq }
  | { type: 'typing'; chat_id: ChatId; active: boolean }
  | { type: 'sync'; cursors: Record<ChatId, Seq> }
  | { type: 'subscribe_presence'; user_ids: UserId[] }
  | { type: 'ping'; nonce?: number };

export type ServerFrame =
  | { type: 'ready'; protocol: number; user_id: UserId; session_id: string; server_time: Millis }
  | { type: 'ack'; client_id: string; message: Message }
  | { type: 'message'; message: Message }
  | { type: 'sync_done'; chats: number; messages: number }
  | { type: 'receipt'; chat_id: ChatId; user_id: UserId; kind: ReceiptKind; seq: Seq; at: Millis }
  | { type: 'typing'; chat_id: ChatId; user_id: UserId; active: boolean; expires_in_ms: number }
  | { type: 'presence'; user_id: UserId; online: boolean; last_seen?: Millis }
  | { type: 'chat'; chat: ChatSummary }
  | { type: 'chat_removed'; chat_id: ChatId }
  | { type: 'error'; ref?: string; code: string; message: string }
  | { type: 'pong'; nonce: number | null };
