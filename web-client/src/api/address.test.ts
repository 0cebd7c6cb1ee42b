import { describe, expect, it } from 'vitest';
import { isServerName, orgOf, otherOrgs, parseAddress, serverOf, withOrg } from './address';

describe('parseAddress', () => {
  it('reads name@domain, lowercased and trimmed', () => {
    expect(parseAddress('bob@b.test')).toEqual({ username: 'bob', server: 'b.test', id: 'bob@b.test' });
    expect(parseAddress('  Bob.Stone@Chat.Example.ORG ')).toEqual({ username: 'bob.stone', server: 'chat.example.org', id: 'bob.stone@chat.example.org' });
    expect(parseAddress('ana@localhost')?.id).toBe('ana@localhost');
  });
  it('accepts the @name@domain spelling of other apps', () => {
    expect(parseAddress('@bob@b.test')?.id).toBe('bob@b.test');
  });
  it('is null for what is not an address', () => {
    for (const q of ['bob', 'bob@', '@b.test', 'bob@@b.test', 'a@b@c.test', 'bo@b.test', 'bob stone@b.test', 'bob@b..test', 'bob@-b.test', 'bob@b.test:8448', '+44 20 7946', '_bob@b.test']) {
      expect(parseAddress(q), q).toBeNull();
    }
  });
});

describe('server names', () => {
  it('follow DNS labels', () => {
    expect(isServerName('b.test')).toBe(true);
    expect(isServerName('x-1.example.org')).toBe(true);
    expect(isServerName('')).toBe(false);
    expect(isServerName('b_test')).toBe(false);
    expect(isServerName('b.test-')).toBe(false);
  });
});

describe('organizations', () => {
  it('takes the domain of user, chat and message ids', () => {
    expect(serverOf('bob@b.test')).toBe('b.test');
    expect(serverOf('01J9Z3K8Q4W5E6R7T8Y9V0X1M2@a.test')).toBe('a.test');
    expect(serverOf('bob')).toBe('');
  });
  it('badges only people of another appliance, once the local name is known', () => {
    expect(orgOf('bob@b.test', 'a.test')).toBe('b.test');
    expect(orgOf('bob@a.test', 'a.test')).toBeNull();
    expect(orgOf('bob@b.test', null)).toBeNull();
    expect(orgOf(undefined, 'a.test')).toBeNull();
    expect(orgOf('bob', 'a.test')).toBeNull();
  });
  it('suffixes names in plain text', () => {
    expect(withOrg('Bob Stone', 'bob@b.test', 'a.test')).toBe('Bob Stone (b.test)');
    expect(withOrg('Bob Stone', 'bob@a.test', 'a.test')).toBe('Bob Stone');
  });
  it('lists the other organizations of a chat once each', () => {
    expect(otherOrgs(['ana@a.test', 'bob@b.test', 'carl@c.test', 'dan@b.test'], 'a.test')).toEqual(['b.test', 'c.test']);
    expect(otherOrgs(['ana@a.test', 'eve@a.test'], 'a.test')).toEqual([]);
  });
});
