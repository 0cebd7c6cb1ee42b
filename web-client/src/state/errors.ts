// User-facing text for a failed request.
import { mediaErrorText } from '../api/media';
import { ApiError } from '../api/rest';

/**
 * A server message as a sentence: first letter capitalised, unless it starts with a domain or an
 * address ("b.test does not allow looking up its users"), which keeps its case.
 */
export function sentence(message: string): string {
  const m = message.trim();
  if (!m) return '';
  const first = m.split(/[\s:,]/, 1)[0];
  if (/[.@]/.test(first.replace(/\.$/, ''))) return m;
  return m.charAt(0).toUpperCase() + m.slice(1);
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    switch (e.code) {
      case 'network': return 'Cannot reach the server. Check your connection and try again.';
      case 'rate_limited': return `Too many attempts. Try again in ${e.retryAfter ?? 60} seconds.`;
      case 'not_admin': return 'Only group admins can do that.';
      case 'not_member': return 'You are not a member of this chat.';
      case 'last_admin': return 'Make another member an admin first: a group needs at least one admin.';
      case 'payload_too_large': case 'quota_exceeded': case 'invalid_media': case 'aborted': return mediaErrorText(e);
      case 'not_found': return e.message ? sentence(e.message) + '.' : 'Not found.';
      // Another organization's appliance could not be reached or refused: its message says which and why.
      case 'federation_error': return sentence(e.message) || "The other organization's server could not be reached. Try again later.";
      default: return e.message ? sentence(e.message) : 'Something went wrong.';
    }
  }
  return 'Something went wrong.';
}
