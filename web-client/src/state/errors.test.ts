import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/rest';
import { errorText, sentence } from './errors';

describe('errorText', () => {
  it('shows a federation_error with its message, not a generic failure', () => {
    expect(errorText(new ApiError(502, 'federation_error', 'b.test: peer unreachable'))).toBe('b.test: peer unreachable');
    expect(errorText(new ApiError(502, 'federation_error', 'the other appliance refused the request'))).toBe('The other appliance refused the request');
    expect(errorText(new ApiError(502, 'federation_error', ''))).toBe("The other organization's server could not be reached. Try again later.");
  });
  it('capitalises server messages, but not a leading domain or address', () => {
    expect(sentence('user not found')).toBe('User not found');
    expect(sentence('b.test does not allow looking up its users')).toBe('b.test does not allow looking up its users');
    expect(sentence('bob@b.test is not a member')).toBe('bob@b.test is not a member');
    expect(sentence('  ')).toBe('');
    expect(errorText(new ApiError(404, 'not_found', 'user not found'))).toBe('User not found.');
    expect(errorText(new ApiError(403, 'forbidden', 'b.test does not allow looking up its users'))).toBe('b.test does not allow looking up its users');
  });
});
