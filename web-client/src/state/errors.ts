// User-facing text for a failed request.
import { mediaErrorText } from '../api/media';
import { ApiError } from '../api/rest';

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    switch (e.code) {
      case 'network': return 'Cannot reach the server. Check your connection and try again.';
      case 'rate_limited': return `Too many attempts. Try again in ${e.retryAfter ?? 60} seconds.`;
      case 'not_admin': return 'Only group admins can do that.';
      case 'not_member': return 'You are not a member of this chat.';
      case 'last_admin': return 'Make another member an admin first: a group needs at least one admin.';
      case 'payload_too_large': case 'quota_exceeded': case 'invalid_media': case 'aborted': return mediaErrorText(e);
      case 'not_found': return e.message ? e.message.charAt(0).toUpperCase() + e.message.slice(1) + '.' : 'Not found.';
      default: return e.message ? e.message.charAt(0).toUpperCase() + e.message.slice(1) : 'Something went wrong.';
    }
  }
  return 'Something went wrong.';
}
