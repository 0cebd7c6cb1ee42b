// Search: the chat list search box (chats, contacts, messages with highlighted snippets and
// paging), jumping to a hit in context (history loaded down to it), in-chat search, privacy of
// group history before joining, and queries that are not valid syntax.
import { expect, test, type Locator, type Page } from '@playwright/test';
import { bubble, bubbles, chatRow, register, send, setupSpec, shot, startChatWith, type User } from './harness';

const { server, watch } = setupSpec();

/** A REST call with the page's own session. */
async function api<T = unknown>(page: Page, method: string, path: string, body?: unknown): Promise<T> {
  return page.evaluate(
    async ({ method, path, body }) => {
      const t = JSON.parse(localStorage.getItem('parley.tokens')!);
      const r = await fetch(path, {
        method,
        headers: { Authorization: `Bearer ${t.access_token}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return r.status === 204 ? null : r.json();
    },
    { method, path, body },
  ) as Promise<T>;
}

const userId = (u: User) => u.page.evaluate(() => JSON.parse(localStorage.getItem('parley.tokens')!).user_id as string);

async function sendMany(page: Page, chatId: string, texts: string[]) {
  await page.evaluate(
    async ({ chatId, texts }) => {
      const t = JSON.parse(localStorage.getItem('parley.tokens')!);
      for (const [i, text] of texts.entries()) {
        const r = await fetch(`/api/chats/${encodeURIComponent(chatId)}/messages`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${t.access_token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ client_id: `bulk-${Date.now()}-${i}`, text }),
        });
        if (!r.ok) throw new Error(`send failed: ${r.status}`);
      }
    },
    { chatId, texts },
  );
}

const chatIdOf = (page: Page) => decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
const searchBox = (page: Page) => page.getByRole('searchbox', { name: 'Search or filter chats' });
const messageHits = (page: Page) => page.getByRole('region', { name: 'Message results' }).getByTestId('message-hit');
const chatSearch = (page: Page) => page.getByRole('region', { name: 'Search messages' });

/**
 * Types `q` and waits for the search to settle; retried while fewer than `min` hits show, since
 * a new message reaches the index within about a second.
 */
async function searchUntil(page: Page, box: Locator, q: string, hits: Locator, min = 1) {
  await expect
    .poll(async () => {
      await box.fill('');
      await box.fill(q);
      await expect(page.getByRole('status').filter({ hasText: 'Searching' })).toHaveCount(0);
      return hits.count();
    }, { timeout: 15_000, intervals: [300, 500, 1000] })
    .toBeGreaterThanOrEqual(min);
}

test('search the chat list: contacts, highlighted message hits, paging, jump to a message far back in context', async ({ browser }) => {
  const ana = await register(browser, server, watch, 'ana', 'Ana Costa');
  const bob = await register(browser, server, watch, 'bob', 'Bob Stone');
  const carol = await register(browser, server, watch, 'carol', 'Carol Diaz');
  await startChatWith(ana.page, 'bob', 'Bob Stone');
  await send(ana.page, 'The context line above');
  await send(ana.page, 'Meet me at the lighthouse café on Friday 🌅 at noon');
  await expect(bubble(ana.page, 'lighthouse')).toHaveAttribute('data-tick', /sent|delivered|read/);
  // 130 newer messages push it out of the first history page.
  await sendMany(ana.page, chatIdOf(ana.page), Array.from({ length: 130 }, (_, i) => `filler number ${i}`));

  await bob.page.reload();
  await expect(chatRow(bob.page, /Ana Costa/)).toBeVisible();
  await searchUntil(bob.page, searchBox(bob.page), 'lightho', messageHits(bob.page));
  // The chat row (name filter) does not match; the message hit does, with the prefix marked.
  const hit = messageHits(bob.page).first();
  await expect(messageHits(bob.page)).toHaveCount(1);
  await expect(hit).toContainText('Ana Costa');
  await expect(hit).toContainText('Meet me at the lighthouse café on Friday 🌅 at noon');
  await expect(hit.locator('mark')).toHaveText(['lighthouse']);
  await expect(bob.page.getByRole('region', { name: 'Message results' })).toContainText('1 result');
  await shot(bob.page, 'search-chat-list-results');

  // Click: the chat opens at the message, loaded down from the newest page, and flashes.
  await hit.click();
  await expect(bob.page.getByTestId('conv-name')).toHaveText('Ana Costa');
  const target = bubble(bob.page, 'lighthouse café');
  await expect(target).toBeInViewport();
  await expect(bob.page.locator('li.msg-row.highlight')).toContainText('lighthouse café');
  await expect(bubble(bob.page, 'The context line above')).toBeVisible();
  await expect(bubble(bob.page, 'filler number 0')).toBeVisible();
  await expect(bubble(bob.page, 'filler number 129')).not.toBeInViewport();
  await shot(bob.page, 'search-jump-to-message');
  // The list stays searchable and the log is complete and in order (no gap was left).
  const texts = await bubbles(bob.page).locator('.text').allTextContents();
  expect(texts.slice(0, 2)).toEqual(['The context line above', 'Meet me at the lighthouse café on Friday 🌅 at noon']);
  expect(texts.at(-1)).toBe('filler number 129');
  expect(texts).toHaveLength(132);

  // Paging: 130 hits, 20 at a time.
  await searchUntil(bob.page, searchBox(bob.page), 'filler', messageHits(bob.page), 20);
  await expect(messageHits(bob.page)).toHaveCount(20);
  await expect(bob.page.getByRole('region', { name: 'Message results' })).toContainText('130 results');
  await bob.page.getByRole('button', { name: 'More results (110 more)' }).click();
  await expect(messageHits(bob.page)).toHaveCount(40);
  await expect(bob.page.getByRole('button', { name: 'More results (90 more)' })).toBeVisible();
  // Newest first by default.
  await expect(messageHits(bob.page).first()).toContainText('filler number 129');

  // Contacts from the directory (prefix and typo tolerant); a click starts the chat.
  await searchBox(bob.page).fill('');
  await searchBox(bob.page).fill('Caro');
  const contacts = bob.page.getByRole('region', { name: 'Contact results' });
  await expect(contacts.getByRole('button', { name: 'Chat with Carol Diaz' })).toBeVisible();
  await shot(bob.page, 'search-contacts');
  await contacts.getByRole('button', { name: 'Chat with Carol Diaz' }).click();
  await expect(bob.page.getByTestId('conv-name')).toHaveText('Carol Diaz');
  // An existing chat is listed under Chats, not again under Contacts.
  await searchBox(bob.page).fill('');
  await searchBox(bob.page).fill('ana');
  await expect(chatRow(bob.page, /Ana Costa/)).toBeVisible();
  await expect(bob.page.getByRole('region', { name: 'Contact results' }).getByRole('button', { name: 'Chat with Ana Costa' })).toHaveCount(0);
  await searchBox(bob.page).press('Escape');
  await expect(searchBox(bob.page)).toHaveValue('');
  await expect(bob.page.getByRole('region', { name: 'Message results' })).toHaveCount(0);

  for (const u of [ana, bob, carol]) await u.context.close();
});

test('in-chat search lists only that chat\'s hits and jumps to them', async ({ browser }) => {
  const dan = await register(browser, server, watch, 'dan', 'Dan Brook');
  const eve = await register(browser, server, watch, 'eve', 'Eve Moss');
  const fay = await register(browser, server, watch, 'fay', 'Fay Wong');
  await startChatWith(dan.page, 'fay', 'Fay Wong');
  await send(dan.page, 'banana for Fay only');
  await startChatWith(dan.page, 'eve', 'Eve Moss');
  await send(dan.page, 'Crème brûlée and banana bread, señora?');
  await send(dan.page, 'something else entirely');
  await chatRow(eve.page, /Dan Brook/).click();
  await send(eve.page, 'No more banana, please');
  await expect(bubble(dan.page, 'No more banana')).toBeVisible();

  await dan.page.getByRole('button', { name: 'Search messages' }).click();
  const panel = chatSearch(dan.page);
  await expect(panel).toContainText('Search for messages with Eve Moss.');
  const box = panel.getByRole('searchbox', { name: 'Search messages in this chat' });
  await expect(box).toBeFocused();
  const hits = panel.getByTestId('message-hit');
  await searchUntil(dan.page, box, 'banana', hits, 2);
  await expect(hits).toHaveCount(2);
  await expect(panel).toContainText('2 results');
  await expect(hits.first()).toContainText('No more banana, please');
  await expect(hits.nth(1)).toContainText('You: Crème brûlée and banana bread, señora');
  await expect(hits.locator('mark')).toHaveText(['banana', 'banana']);
  // An accented word found and marked through UTF-8 offsets.
  await searchUntil(dan.page, box, 'brûlée', hits, 1);
  await expect(hits.locator('mark')).toHaveText(['brûlée']);
  await shot(dan.page, 'search-in-chat');
  await hits.first().click();
  await expect(dan.page.locator('li.msg-row.highlight')).toContainText('Crème brûlée');
  await expect(panel).toBeVisible();

  // Nothing found, and syntax that is not valid (unclosed quote, lone operators).
  await box.fill('"unclosed');
  await expect(panel.getByText('No messages found for “"unclosed”.')).toBeVisible();
  await box.fill('"banana');
  await expect(hits).toHaveCount(2);
  await box.fill('*');
  await expect(panel.getByText('Type a word (letters or numbers) to search.')).toBeVisible();
  await box.fill('zzzqqq');
  await expect(panel.getByText('No messages found for “zzzqqq”.')).toBeVisible();
  await dan.page.getByRole('button', { name: 'Close search' }).click();
  await expect(panel).toHaveCount(0);

  for (const u of [dan, eve, fay]) await u.context.close();
});

test('group history from before joining never shows in search; non-members see nothing', async ({ browser }) => {
  const gil = await register(browser, server, watch, 'gil', 'Gil Hart');
  const hal = await register(browser, server, watch, 'hal', 'Hal Ode');
  const ivy = await register(browser, server, watch, 'ivy', 'Ivy Lane');
  const jon = await register(browser, server, watch, 'jon', 'Jon Fray');
  const group = await api<{ chat_id: string }>(gil.page, 'POST', '/api/chats/group', { name: 'Secret club', description: '', members: [await userId(hal)] });
  await sendMany(gil.page, group.chat_id, ['the password is swordfish', 'swordfish twice']);
  // Hal, a member from the start, finds both.
  await searchUntil(hal.page, searchBox(hal.page), 'swordfish', messageHits(hal.page), 2);
  await expect(messageHits(hal.page)).toHaveCount(2);

  // Ivy joins later and only finds what was said since.
  await api(gil.page, 'POST', `/api/chats/${encodeURIComponent(group.chat_id)}/members`, { user_id: await userId(ivy) });
  await sendMany(gil.page, group.chat_id, ['new swordfish rules for Ivy']);
  await searchUntil(ivy.page, searchBox(ivy.page), 'swordfish', messageHits(ivy.page), 1);
  await expect(messageHits(ivy.page)).toHaveCount(1);
  await expect(messageHits(ivy.page).first()).toContainText('new swordfish rules for Ivy');
  await expect(ivy.page.getByRole('region', { name: 'Message results' })).toContainText('1 result');
  await shot(ivy.page, 'search-group-joined-later');
  // Hal sees all three (the newest is indexed now, so the next checks are not just early).
  await searchUntil(hal.page, searchBox(hal.page), 'swordfish', messageHits(hal.page), 3);

  // Jon, never a member, finds nothing, even with a phrase.
  for (const q of ['swordfish', '"the password is swordfish"', 'password']) {
    await searchBox(jon.page).fill(q);
    await expect(jon.page.getByText(`No results for “${q}”.`)).toBeVisible();
  }
  await expect(messageHits(jon.page)).toHaveCount(0);
  // Ivy's in-chat search shows the same.
  await chatRow(ivy.page, /Secret club/).click();
  await ivy.page.getByRole('button', { name: 'Search messages' }).click();
  await chatSearch(ivy.page).getByRole('searchbox').fill('swordfish');
  await expect(chatSearch(ivy.page).getByTestId('message-hit')).toHaveCount(1);

  for (const u of [gil, hal, ivy, jon]) await u.context.close();
});

test('bad queries give results or a clear message, never a crash', async ({ browser }) => {
  const kim = await register(browser, server, watch, 'kim', 'Kim Rho');
  await register(browser, server, watch, 'lou', 'Lou Quay').then((u) => u.context.close());
  await startChatWith(kim.page, 'lou', 'Lou Quay');
  await send(kim.page, 'an "unclosed quote here');
  const box = searchBox(kim.page);
  await searchUntil(kim.page, box, '"unclosed', messageHits(kim.page), 1);
  await expect(messageHits(kim.page).first().locator('mark')).toContainText(['unclosed']);
  await shot(kim.page, 'search-bad-query');
  for (const q of ['*', '"', '(((', '-', '😀', 'AND OR NOT', 'a:b', 'title:"x', '\\', '%', '"a" "b', 'x'.repeat(256)]) {
    await box.fill(q);
    const settled = kim.page.getByText(/No results for|Type a word|That search cannot be run|result/).first();
    await expect(settled).toBeVisible();
    await expect(kim.page.getByRole('alert').filter({ hasText: /Something went wrong|Server error/ })).toHaveCount(0);
  }
  // Still usable afterwards.
  await box.fill('unclosed');
  await expect(messageHits(kim.page)).toHaveCount(1);
  await kim.context.close();
});
