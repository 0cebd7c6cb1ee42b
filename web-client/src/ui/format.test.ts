import { describe, expect, it } from 'vitest';
import type { ChatSummary, Message } from '../api/types';
import { chatAvatar, dayLabel, listTime, personName, preview, systemText } from './format';

const name = (u: string) => (u === 'me@x' ? 'You' : u.split('@')[0]);

describe('systemText', () => {
  it('names the actor first and says "you" for me as the object', () => {
    expect(systemText({ event: 'member_removed', by: 'ana@x', user_id: 'me@x' }, name)).toBe('ana removed you');
    expect(systemText({ event: 'member_removed', by: 'me@x', user_id: 'bob@x' }, name)).toBe('You removed bob');
    expect(systemText({ event: 'member_left', user_id: 'me@x' }, name)).toBe('You left');
    expect(systemText({ event: 'renamed', by: 'ana@x', name: 'Crew' }, name)).toBe('ana changed the group name to "Crew"');
  });
});

describe('dates', () => {
  const now = new Date(2026, 10, 21, 15, 0).getTime();
  it('labels days like WhatsApp', () => {
    expect(dayLabel(new Date(2026, 10, 21, 1, 0).getTime(), now)).toBe('Today');
    expect(dayLabel(new Date(2026, 10, 20, 23, 0).getTime(), now)).toBe('Yesterday');
    expect(listTime(new Date(2026, 10, 20, 23, 0).getTime(), now)).toBe('Yesterday');
  });
});

describe('preview', () => {
  it('describes deleted messages from my point of view', () => {
    const m = { id: 'i', chat_id: 'c', seq: 1, sender: 'me@x', kind: 'text' as const, text: null, created_at: 0, deleted: true };
    expect(preview(m, 'me@x', name)).toBe('You deleted this message');
    expect(preview({ ...m, sender: 'bob@x' }, 'me@x', name)).toBe('This message was deleted');
  });
});

describe('media previews and chat pictures', () => {
  const media = { media_id: 'md1', kind: 'file' as const, mime: 'application/pdf', size: 5, name: 'plan.pdf', thumbnail: false };
  it('previews media messages by kind, caption first', () => {
    const m: Message = { id: 'm', chat_id: 'c', seq: 1, sender: 'bob@x', kind: 'file', text: '', created_at: 0, deleted: false, media };
    expect(preview(m, 'me@x', name)).toBe('📄 plan.pdf');
    expect(preview({ ...m, kind: 'image', text: 'Sunset', media: { ...media, kind: 'image' } }, 'me@x', name)).toBe('📷 Sunset');
    expect(preview({ ...m, deleted: true, media: undefined }, 'me@x', name)).toBe('This message was deleted');
  });
  it('uses the summary\'s picture, falling back on the cached peer profile', () => {
    const s = { chat_id: 'c', kind: 'direct', peer: 'bob@x' } as ChatSummary;
    const profiles = { 'bob@x': { user_id: 'bob@x', username: 'bob', display_name: 'Bob', about: '', is_admin: false, avatar: 'p1' } };
    expect(chatAvatar({ ...s, avatar: 'p2' }, profiles)).toBe('p2');
    expect(chatAvatar({ ...s, avatar: null }, profiles)).toBeNull();
    expect(chatAvatar(s, profiles)).toBe('p1');
    expect(chatAvatar({ ...s, kind: 'group', peer: undefined }, profiles)).toBeNull();
  });
});

describe('personName', () => {
  const profiles = {
    'bob@b.test': { user_id: 'bob@b.test', username: 'bob', display_name: 'Bob Stone', about: '', is_admin: false },
    'bob@a.test': { user_id: 'bob@a.test', username: 'bob', display_name: 'Bob Stone', about: '', is_admin: false },
  };
  it('tells a colleague from a namesake of another organization', () => {
    expect(personName('bob@a.test', profiles, 'ana@a.test', 'a.test')).toBe('Bob Stone');
    expect(personName('bob@b.test', profiles, 'ana@a.test', 'a.test')).toBe('Bob Stone (b.test)');
    expect(personName('carl@c.test', profiles, 'ana@a.test', 'a.test')).toBe('carl (c.test)');
    expect(personName('ana@a.test', profiles, 'ana@a.test', 'a.test')).toBe('You');
  });
  it('names other organizations in system messages', () => {
    const name = (u: string) => personName(u, profiles, 'ana@a.test', 'a.test');
    expect(systemText({ event: 'member_added', by: 'ana@a.test', user_id: 'bob@b.test' }, name)).toBe('You added Bob Stone (b.test)');
  });
});
