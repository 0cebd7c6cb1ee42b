// Going offline: a closed browser gets what it missed on the next login, in order; a sender
// whose network drops sees clock icons and an offline banner, and its queue goes out when the
// network is back. Also: the phone-width layout shows one pane at a time.
import { expect, test } from '@playwright/test';
import { bubble, bubbles, chatRow, login, openPage, register, send, setupSpec, shot, startChatWith } from './harness';

const { server, watch } = setupSpec();

test('messages sent while the reader was away arrive in order when they come back', async ({ browser }) => {
  const ana = await register(browser, server, watch, 'ana', 'Ana Costa');
  const bob = await register(browser, server, watch, 'bob', 'Bob Stone');
  await startChatWith(ana.page, 'bob', 'Bob Stone');
  await send(ana.page, 'Are you there?');
  await chatRow(bob.page, /Ana Costa/).click();
  await expect(bubble(ana.page, 'Are you there?')).toHaveAttribute('data-tick', 'read');

  // Bob closes his browser: Ana sees him go offline with a last-seen time.
  await bob.context.close();
  await expect(ana.page.getByTestId('conv-status')).toHaveText(/^last seen today at /);
  const texts = Array.from({ length: 5 }, (_, i) => `missed ${i + 1}`);
  for (const t of texts) await send(ana.page, t);
  for (const t of texts) await expect(bubble(ana.page, t)).toHaveAttribute('data-tick', 'sent');

  // Bob comes back in a fresh browser: unread count, then everything in order.
  const back = await login(browser, server, watch, 'bob', 'bob-again');
  await expect(chatRow(back.page, /Ana Costa, 5 unread messages/)).toBeVisible();
  // Coming back online delivers them: two grey ticks for Ana before Bob opens the chat.
  for (const t of texts) await expect(bubble(ana.page, t)).toHaveAttribute('data-tick', 'delivered');
  await chatRow(back.page, /Ana Costa/).click();
  await expect(bubbles(back.page)).toHaveText(['Are you there?', ...texts].map((t) => new RegExp(t)));
  await expect(back.page.getByText('5 unread messages')).toBeVisible();
  for (const t of texts) await expect(bubble(ana.page, t)).toHaveAttribute('data-tick', 'read');

  await ana.context.close();
  await back.context.close();
});

test('a sender without network queues messages with a clock and sends them when back online', async ({ browser }) => {
  const ana = await register(browser, server, watch, 'dora', 'Dora Lind');
  const bob = await register(browser, server, watch, 'eli', 'Eli Moss');
  await startChatWith(ana.page, 'eli', 'Eli Moss');
  await send(ana.page, 'ping');
  await chatRow(bob.page, /Dora Lind/).click();
  await expect(bubble(ana.page, 'ping')).toHaveAttribute('data-tick', 'read');

  await ana.context.setOffline(true);
  await expect(ana.page.getByText('You are offline')).toBeVisible();
  // The browser cannot reach the server: the reconnect attempts fail quietly in the banner.
  watch.allow(/ERR_INTERNET_DISCONNECTED|WebSocket connection to .* failed/);
  await send(ana.page, 'queued one');
  await send(ana.page, 'queued two');
  await expect(bubble(ana.page, 'queued one')).toHaveAttribute('data-tick', 'pending');
  await expect(bubble(ana.page, 'queued two').getByRole('img', { name: 'Sending' })).toBeVisible();
  await shot(ana.page, 'offline-queued');

  await ana.context.setOffline(false);
  await expect(ana.page.getByText('You are offline')).toBeHidden();
  await expect(bubbles(bob.page).filter({ hasText: /queued/ })).toHaveText([/queued one/, /queued two/]);
  await expect(bubble(ana.page, 'queued two')).toHaveAttribute('data-tick', 'read');
  // Each went out once: no duplicates from the resend after reconnecting.
  await expect(bubbles(ana.page).filter({ hasText: 'queued one' })).toHaveCount(1);
  await expect(bubbles(bob.page).filter({ hasText: 'queued one' })).toHaveCount(1);

  await ana.context.close();
  await bob.context.close();
});

test('phone width shows one pane at a time', async ({ browser }) => {
  const fay = await register(browser, server, watch, 'fay', 'Fay Wong');
  const gus = await register(browser, server, watch, 'gus', 'Gus Hart');
  await startChatWith(fay.page, 'gus', 'Gus Hart');
  await send(fay.page, 'queued two');
  await fay.context.close();
  const { context, page } = await openPage(browser, server, watch, 'fay-phone', { width: 390, height: 780 });
  await page.getByLabel('Username, email or phone').fill('fay');
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Log in' }).click();
  const list = page.getByRole('navigation', { name: 'Chat list' });
  await expect(list).toBeVisible();
  await shot(page, 'phone-chat-list');
  await chatRow(page, /Gus Hart/).click();
  await expect(page.getByTestId('conv-name')).toHaveText('Gus Hart');
  await expect(list).toBeHidden();
  await expect(bubble(page, 'queued two')).toBeVisible();
  await shot(page, 'phone-conversation');
  await page.getByRole('button', { name: 'Back to chats' }).click();
  await expect(list).toBeVisible();
  await expect(page.getByTestId('conv-name')).toHaveCount(0);
  await context.close();
  await gus.context.close();
});
