// Two users in two browser contexts: register, open a 1:1 chat, exchange messages, typing,
// ticks from one grey to two grey to two blue, reply, edit, delete, message info, reload.
import { expect, test } from '@playwright/test';
import { bubble, bubbles, chatRow, register, send, setupSpec, shot, startChatWith } from './harness';

const { server, watch } = setupSpec();

test('two users chat 1:1 with typing, ticks, reply, edit, delete and history after reload', async ({ browser }) => {
  const ana = await register(browser, server, watch, 'ana', 'Ana Costa');
  const bob = await register(browser, server, watch, 'bob', 'Bob Stone');
  await shot(ana.page, 'chat-list-empty');

  await startChatWith(ana.page, 'bob', 'Bob Stone');
  await expect(ana.page.getByTestId('conv-status')).toHaveText('online');
  await send(ana.page, 'Hi Bob!');
  // Bob is online in another context but has not opened the chat: two grey ticks (delivered).
  await expect(bubble(ana.page, 'Hi Bob!')).toHaveAttribute('data-tick', 'delivered');
  await expect(bubble(ana.page, 'Hi Bob!').getByRole('img', { name: 'Delivered' })).toBeVisible();

  // Bob sees an unread badge and the tab title counts it.
  const row = chatRow(bob.page, /Ana Costa, 1 unread message/);
  await expect(row).toBeVisible();
  await expect(row).toContainText('Hi Bob!');
  await expect(bob.page).toHaveTitle('(1) Parley');
  await shot(bob.page, 'chat-list-unread');

  await row.click();
  await expect(bubble(bob.page, 'Hi Bob!')).toBeVisible();
  // Opening the chat reads it: Ana's ticks turn blue, Bob's badge and title clear.
  await expect(bubble(ana.page, 'Hi Bob!')).toHaveAttribute('data-tick', 'read');
  await expect(bubble(ana.page, 'Hi Bob!').getByRole('img', { name: 'Read' })).toBeVisible();
  await expect(bob.page).toHaveTitle('Parley');

  // Typing shows in Ana's header and chat list while Bob types, and goes when he sends.
  await bob.page.getByRole('textbox', { name: 'Type a message' }).pressSequentially('Hey Ana', { delay: 20 });
  await expect(ana.page.getByTestId('conv-status')).toHaveText('typing…');
  await shot(ana.page, 'conversation-typing');
  await bob.page.getByRole('textbox', { name: 'Type a message' }).press('Enter');
  await expect(bubble(ana.page, 'Hey Ana')).toBeVisible();
  await expect(ana.page.getByTestId('conv-status')).toHaveText('online');

  // Shift+Enter makes a new line instead of sending.
  const box = ana.page.getByRole('textbox', { name: 'Type a message' });
  await box.fill('line one');
  await box.press('Shift+Enter');
  await box.pressSequentially('line two');
  await expect(box).toHaveValue('line one\nline two');
  await box.press('Enter');
  await expect(bubble(bob.page, 'line one')).toContainText('line two');
  await expect(box).toHaveValue('');

  // Reply with a quote.
  const hey = bubble(bob.page, 'Hi Bob!');
  await hey.hover();
  await hey.getByRole('button', { name: 'Message options' }).click();
  await bob.page.getByRole('menuitem', { name: 'Reply' }).click();
  await send(bob.page, 'Replying to you');
  const reply = bubble(ana.page, 'Replying to you');
  await expect(reply.getByRole('button', { name: /Replying to You: Hi Bob!/ })).toBeVisible();

  // Edit and delete for everyone.
  const mine = bubble(ana.page, 'line one');
  await mine.hover();
  await mine.getByRole('button', { name: 'Message options' }).click();
  await ana.page.getByRole('menuitem', { name: 'Edit' }).click();
  await expect(box).toHaveValue('line one\nline two');
  await box.fill('edited text');
  await box.press('Enter');
  await expect(bubble(bob.page, 'edited text')).toContainText('Edited');
  await expect(bubbles(bob.page).filter({ hasText: 'line one' })).toHaveCount(0);

  const first = bubble(ana.page, 'Hi Bob!').first();
  await first.hover();
  await first.getByRole('button', { name: 'Message options' }).click();
  await ana.page.getByRole('menuitem', { name: 'Delete for everyone' }).click();
  await ana.page.getByRole('button', { name: 'Delete for everyone' }).click();
  await expect(bubbles(ana.page).filter({ hasText: 'You deleted this message' })).toHaveCount(1);
  await expect(bubbles(bob.page).first()).toContainText('This message was deleted');
  await expect(bubbles(bob.page).filter({ hasText: 'Hi Bob!' })).toHaveCount(0);
  // The quote in Bob's reply follows the deletion too.
  await expect(bubble(bob.page, 'Replying to you')).toContainText('This message was deleted');

  // Message info: per-member delivered and read times.
  const edited = bubble(ana.page, 'edited text');
  await edited.hover();
  await edited.getByRole('button', { name: 'Message options' }).click();
  await ana.page.getByRole('menuitem', { name: 'Message info' }).click();
  const info = ana.page.getByRole('complementary', { name: 'Message info' });
  await expect(info.getByTestId('read-at')).toContainText('Today at');
  await expect(info.getByTestId('delivered-at')).toContainText('Today at');
  await shot(ana.page, 'message-info');
  await info.getByRole('button', { name: 'Back' }).click();
  await shot(ana.page, 'conversation');

  // A reload keeps the session, the open chat and its history in order.
  await bob.page.reload();
  await expect(bob.page.getByTestId('conv-name')).toHaveText('Ana Costa');
  await expect(bubbles(bob.page)).toHaveText([/This message was deleted/, /Hey Ana/, /edited text/, /Replying to you/]);
  await shot(bob.page, 'conversation-after-reload');

  await ana.context.close();
  await bob.context.close();
});
