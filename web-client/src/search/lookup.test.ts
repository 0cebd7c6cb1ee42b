import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/rest';
import { addressToLookUp, lookupErrorText, lookupParams } from './lookup';

describe('lookupParams', () => {
  it('asks addresses, user ids and emails as username (the server tells them apart)', () => {
    expect(lookupParams(' Bob@B.test ')).toEqual({ by: 'username', value: 'bob@b.test' });
    expect(lookupParams('@bob@b.test')).toEqual({ by: 'username', value: 'bob@b.test' });
    expect(lookupParams('Bob')).toEqual({ by: 'username', value: 'bob' });
  });
  it('asks phone numbers as digits', () => {
    expect(lookupParams('+44 (20) 7946-0958')).toEqual({ by: 'phone', value: '+442079460958' });
  });
  it('asks nothing for a blank query', () => {
    expect(lookupParams('  ')).toBeNull();
  });
});

describe('addressToLookUp', () => {
  const done = (q: string, hits: string[] = []) => ({ q, status: 'done' as const, hits: hits.map((user_id) => ({ user_id })) });
  it('looks up an address once the directory search of that query found nobody', () => {
    expect(addressToLookUp('bob@b.test', done('bob@b.test'))?.id).toBe('bob@b.test');
    expect(addressToLookUp('bob@b.test', { ...done('bob@b.test'), status: 'error' })?.id).toBe('bob@b.test');
    // Local hits that are someone else (a colleague also named bob) do not count.
    expect(addressToLookUp('bob@b.test', done('bob@b.test', ['bob@a.test']))?.id).toBe('bob@b.test');
  });
  it('waits for the directory, and skips what it or the contacts already have', () => {
    expect(addressToLookUp('bob@b.test', { ...done('bob@b.test'), status: 'loading' })).toBeNull();
    expect(addressToLookUp('bob@b.test', done('bob@b.tes'))).toBeNull();
    expect(addressToLookUp('bob@b.test', done('bob@b.test', ['bob@b.test']))).toBeNull();
    expect(addressToLookUp('bob@b.test', done('bob@b.test'), new Set(['bob@b.test']))).toBeNull();
  });
  it('is never run for what is not an address', () => {
    expect(addressToLookUp('bob', done('bob'))).toBeNull();
    expect(addressToLookUp('bob@', done('bob@'))).toBeNull();
  });
});

describe('lookupErrorText', () => {
  const notFound = new ApiError(404, 'not_found', 'user not found');
  it('says an address at another organization was not found, and what to check', () => {
    const t = lookupErrorText(notFound, 'nobody@b.test', 'a.test')!;
    expect(t).toMatch(/^No one found with the address nobody@b\.test\. Check the address; people at another organization/);
    expect(lookupErrorText(notFound, 'nobody@a.test', 'a.test')).toBe('No one found with the address nobody@a.test.');
  });
  it('leaves a plain username that nobody has to the directory results', () => {
    expect(lookupErrorText(notFound, 'nobody', 'a.test')).toBeNull();
  });
  it("shows the server's words for a closed directory and an unreachable appliance", () => {
    expect(lookupErrorText(new ApiError(403, 'forbidden', 'b.test does not allow looking up its users'), 'bob@b.test', 'a.test'))
      .toBe('b.test does not allow looking up its users.');
    expect(lookupErrorText(new ApiError(502, 'federation_error', 'b.test: connection timed out'), 'bob@b.test', 'a.test'))
      .toBe('b.test: connection timed out.');
    expect(lookupErrorText(new ApiError(0, 'network', 'x'), 'bob@b.test', 'a.test')).toBe('Cannot reach the server. Check your connection and try again.');
  });
});
