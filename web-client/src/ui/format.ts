// Dates and names as WhatsApp Web shows them.
import { withOrg } from '../api/address';
import { mediaPreview } from '../api/media';
import type { ChatSummary, Message, Profile, SystemEvent, UserId } from '../api/types';

const DAY = 86_400_000;

function startOfDay(ms: number) {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function timeOf(ms: number) {
  return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

function daysAgo(ms: number, now: number) {
  return Math.round((startOfDay(now) - startOfDay(ms)) / DAY);
}

/** Chat list: time today, "Yesterday", weekday this week, else the date. */
export function listTime(ms: number, now = Date.now()) {
  const d = daysAgo(ms, now);
  if (d <= 0) return timeOf(ms);
  if (d === 1) return 'Yesterday';
  if (d < 7) return new Date(ms).toLocaleDateString(undefined, { weekday: 'long' });
  return new Date(ms).toLocaleDateString();
}

/** Day separators in a conversation. */
export function dayLabel(ms: number, now = Date.now()) {
  const d = daysAgo(ms, now);
  if (d <= 0) return 'Today';
  if (d === 1) return 'Yesterday';
  if (d < 7) return new Date(ms).toLocaleDateString(undefined, { weekday: 'long' });
  return new Date(ms).toLocaleDateString(undefined, { day: 'numeric', month: 'long', year: 'numeric' });
}

export function sameDay(a: number, b: number) {
  return startOfDay(a) === startOfDay(b);
}

export function lastSeen(ms: number, now = Date.now()) {
  const d = daysAgo(ms, now);
  if (d <= 0) return `last seen today at ${timeOf(ms)}`;
  if (d === 1) return `last seen yesterday at ${timeOf(ms)}`;
  return `last seen ${new Date(ms).toLocaleDateString()} at ${timeOf(ms)}`;
}

export function dateTime(ms: number, now = Date.now()) {
  const d = daysAgo(ms, now);
  const day = d <= 0 ? 'Today' : d === 1 ? 'Yesterday' : new Date(ms).toLocaleDateString();
  return `${day} at ${timeOf(ms)}`;
}

export function displayName(id: UserId, profiles: Record<UserId, Profile>, me?: UserId, you = 'You') {
  if (me && id === me) return you;
  return profiles[id]?.display_name ?? id.split('@')[0];
}

/**
 * A name for plain-text places (previews, typing, system messages, menus): someone from another
 * organization gets their domain after it, "Bob Stone (b.test)"; `local` is this server's name.
 */
export function personName(id: UserId, profiles: Record<UserId, Profile>, me: UserId | undefined, local: string | null, you = 'You') {
  if (me && id === me) return you;
  return withOrg(displayName(id, profiles), id, local);
}

export function systemText(e: SystemEvent | undefined, subject: (u: UserId) => string): string {
  if (!e) return '';
  // "You removed Bob", "Ana removed you".
  const name = (u: UserId, first = false) => {
    const n = subject(u);
    return !first && n === 'You' ? 'you' : n;
  };
  switch (e.event) {
    case 'created': return `${name(e.by, true)} created group "${e.name}"`;
    case 'member_added': return `${name(e.by, true)} added ${name(e.user_id)}`;
    case 'member_removed': return `${name(e.by, true)} removed ${name(e.user_id)}`;
    case 'member_left': return `${name(e.user_id, true)} left`;
    case 'admin_promoted': return `${name(e.by, true)} made ${name(e.user_id)} a group admin`;
    case 'admin_demoted': return `${name(e.by, true)} dismissed ${name(e.user_id)} as admin`;
    case 'renamed': return `${name(e.by, true)} changed the group name to "${e.name}"`;
    case 'description_changed': return `${name(e.by, true)} changed the group description`;
  }
}

/** The one-line preview of a message in the chat list and in reply quotes. */
export function preview(m: Message, me: UserId, name: (u: UserId) => string): string {
  if (m.kind === 'system') return systemText(m.event, name);
  if (m.deleted) return m.sender === me ? 'You deleted this message' : 'This message was deleted';
  if (m.media) return mediaPreview(m.media, m.text);
  return m.text ?? '';
}

const COLORS = ['#1f7aec', '#d4386c', '#7a5bd8', '#e0772b', '#009688', '#b5552c', '#5e7d18', '#c23b8f', '#3a86a8', '#8a6d00'];

export function colorFor(id: string) {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) | 0;
  return COLORS[Math.abs(h) % COLORS.length];
}

export function initials(name: string) {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  const s = parts.length === 1 ? parts[0].slice(0, 1) : parts[0][0] + parts[parts.length - 1][0];
  return s.toUpperCase();
}

/**
 * The picture of a chat: the group's, or for a 1:1 chat the peer's (the summary carries it;
 * the cached profile is the fallback for summaries without the field).
 */
export function chatAvatar(s: ChatSummary, profiles: Record<UserId, Profile>): string | null {
  if (s.avatar !== undefined) return s.avatar;
  return s.kind === 'direct' && s.peer ? (profiles[s.peer]?.avatar ?? null) : null;
}
