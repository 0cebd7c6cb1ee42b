// Infinite scroll into history, jump-to-latest with an unread count, the chat filter, and the
// account screens: clear auth errors, profile edits, contacts add/remove.
import { expect, test } from '@playwright/test';
import { bubble, bubbles, chatRow, openPage, register, send, setupSpec, shot, startChatWith } from './harness';

const { server, watch } = setupSpec();

test('scrolling up loads older history; jump to latest shows what arrived meanwhile', async ({ browser }) => {
  const ana = await register(browser, server, watch, 'hana', 'Hana Berg');
  const bob = await register(browser, server, watch, 'ivan', 'Ivan Petrov');
  await startChatWith(ana.page, 'ivan', 'Ivan Petrov');
  await send(ana.page, 'history 0');
  await chatRow(bob.page, /Hana Berg/).click();
  await expect(bubble(bob.page, 'history 0')).toBeVisible();

  // 130 more messages through the REST API (three history pages' worth).
  const chatId = decodeURIComponent(new URL(ana.page.url()).pathname.split('/').pop()!);
  await ana.page.evaluate(async (id) => {
    const t = JSON.parse(localStorage.getItem('parley.tokens')!);
    for (let i = 1; i <= 130; i++) {
      const r = await fetch(`/api/chats/${encodeURIComponent(id)}/messages`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${t.access_token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ client_id: `bulk-${i}`, text: `history ${i}` }),
      });
      if (!r.ok) throw new Error(`send failed: ${r.status}`);
    }
  }, chatId);
  await expect(bubble(bob.page, 'history 130')).toBeVisible();

  // After a reload only the newest page is fetched; scrolling up brings the rest, in order.
  await bob.page.reload();
  await expect(bubble(bob.page, 'history 130')).toBeVisible();
  const log = bob.page.getByRole('log', { name: 'Messages' });
  expect(await bubbles(bob.page).count()).toBeLessThan(131);
  await expect
    .poll(async () => {
      await log.evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
      return bubbles(bob.page).count();
    }, { timeout: 20_000 })
    .toBe(131);
  const texts = await bubbles(bob.page).locator('.text').allTextContents();
  expect(texts).toEqual(Array.from({ length: 131 }, (_, i) => `history ${i}`));
  await expect(bob.page.getByText('Messages are stored on your Parley server.')).toBeVisible();

  // Scrolled up, a new message shows on the jump button instead of pulling the view down.
  await log.evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
  await send(ana.page, 'fresh news');
  const jump = bob.page.getByRole('button', { name: 'Jump to latest messages, 1 unread' });
  await expect(jump).toBeVisible();
  await expect(ana.page.locator('[data-tick]').filter({ hasText: 'fresh news' })).toHaveAttribute('data-tick', 'delivered');
  await shot(bob.page, 'conversation-jump-to-latest');
  await jump.click();
  await expect(bubble(bob.page, 'fresh news')).toBeInViewport();
  await expect(bob.page.getByRole('button', { name: /Jump to latest/ })).toBeHidden();
  await expect(bubble(ana.page, 'fresh news')).toHaveAttribute('data-tick', 'read');

  // The chat list filter.
  const filter = bob.page.getByRole('searchbox', { name: 'Search or filter chats' });
  await filter.fill('nobody here');
  await expect(bob.page.getByText('No results for “nobody here”.')).toBeVisible();
  await filter.fill('hana');
  await expect(chatRow(bob.page, /Hana Berg/)).toBeVisible();

  await ana.context.close();
  await bob.context.close();
});

test('auth errors are clear; profile and contacts can be edited', async ({ browser }) => {
  const jo = await register(browser, server, watch, 'jomarch', 'Jo March', { phone: '+15550001111' });
  // Registration problems are explained.
  const { context, page } = await openPage(browser, server, watch, 'visitor');
  watch.allow(/status of (401|409)/);
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.getByLabel('Username').fill('jomarch');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('alert')).toHaveText('Use a password of at least 8 characters.');
  await page.getByLabel('Password').fill('long enough password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('alert')).toHaveText('That username is already taken. Pick another one.');
  // Wrong password, then a login by phone number.
  await page.getByRole('tab', { name: 'Log in' }).click();
  await page.getByLabel('Username, email or phone').fill('jomarch');
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Wrong username, email, phone or password.');
  await shot(page, 'login-error');
  await page.getByLabel('Username, email or phone').fill('+15550001111');
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('button', { name: 'New chat' })).toBeVisible();
  await context.close();

  // Profile: name and about.
  await jo.page.getByRole('button', { name: 'Profile' }).first().click();
  await jo.page.getByRole('button', { name: 'Edit about' }).click();
  await jo.page.getByRole('textbox', { name: 'About' }).fill('Writing, mostly');
  await jo.page.getByRole('button', { name: 'Save about' }).click();
  await expect(jo.page.getByRole('region', { name: 'Profile' })).toContainText('Writing, mostly');
  await jo.page.getByRole('button', { name: 'Edit your name' }).click();
  await jo.page.getByRole('textbox', { name: 'Your name' }).fill('Josephine March');
  await jo.page.getByRole('button', { name: 'Save your name' }).click();
  await expect(jo.page.getByRole('region', { name: 'Profile' })).toContainText('Josephine March');
  await shot(jo.page, 'profile');
  await jo.page.getByRole('button', { name: 'Back' }).click();

  // Contacts: add by username, then remove.
  const kit = await register(browser, server, watch, 'kit', 'Kit Lane');
  await jo.page.getByRole('button', { name: 'Menu' }).click();
  await jo.page.getByRole('menuitem', { name: 'Contacts' }).click();
  await jo.page.getByRole('button', { name: 'Add contact' }).click();
  await jo.page.getByLabel(/find a user by username/).fill('kit');
  await jo.page.getByRole('button', { name: 'Find' }).click();
  await jo.page.getByRole('button', { name: 'Add Kit Lane to contacts' }).click();
  const list = jo.page.getByRole('list', { name: 'Contact list' });
  await expect(list.getByRole('listitem').filter({ hasText: 'Kit Lane' })).toBeVisible();
  await shot(jo.page, 'contacts');
  await list.getByRole('button', { name: 'Remove Kit Lane from contacts' }).click();
  await jo.page.getByRole('button', { name: 'Remove', exact: true }).click();
  await expect(list.getByRole('listitem').filter({ hasText: 'Kit Lane' })).toHaveCount(0);

  // Kit sees Jo's new name when a chat starts.
  await startChatWith(kit.page, 'jomarch', 'Josephine March');
  await kit.page.getByRole('button', { name: 'Contact info' }).first().click();
  await expect(kit.page.getByRole('complementary', { name: 'Contact info' })).toContainText('Writing, mostly');

  await jo.context.close();
  await kit.context.close();
});
