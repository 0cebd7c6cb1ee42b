import { describe, expect, it } from 'vitest';
import { dayLabel, listTime, preview, systemText } from './format';

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
