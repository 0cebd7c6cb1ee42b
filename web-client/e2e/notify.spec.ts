// Browser notifications for messages arriving while the tab is hidden (permission asked from a
// visible control), and a send the server refuses showing "Not sent" with retry/delete.
import { expect, test } from '@playwright/test';
import { bubble, bubbles, chatRow, register, send, setupSpec, startChatWith } from './harness';

const { server, watch } = setupSpec();

// Headless Chromium has no notification UI and its tabs are never hidden, so the page gets a
// recording Notification and a switchable document.hidden.
const fakeNotifications = () => {
  const w = window as unknown as { __notes: { title: string; body: string }[]; __hidden: boolean; __perm: NotificationPermission };
  w.__notes = [];
  w.__hidden = false;
  w.__perm = 'default';
  class FakeNotification {
    static get permission() { return w.__perm; }
    static async requestPermission() { w.__perm = 'granted'; return w.__perm; }
    onclick: (() => void) | null = null;
    constructor(title: string, opts: { body: string }) { w.__notes.push({ title, body: opts.body }); }
    close() {}
  }
  (window as unknown as { Notification: unknown }).Notification = FakeNotification;
  Object.defineProperty(document, 'hidden', { get: () => w.__hidden });
  Object.defineProperty(document, 'visibilityState', { get: () => (w.__hidden ? 'hidden' : 'visible') });
};

test('a hidden tab shows a notification per message once the user turned them on', async ({ browser }) => {
  const ana = await register(browser, server, watch, 'lea', 'Lea Fox');
  const bob = await register(browser, server, watch, 'max', 'Max Roy');
  await bob.page.context().addInitScript(fakeNotifications);
  await bob.page.reload();
  await expect(bob.page.getByRole('button', { name: 'New chat' })).toBeVisible();

  await bob.page.getByRole('button', { name: 'Turn on desktop notifications' }).click();
  await expect(bob.page.getByText('Get notified of new messages')).toBeHidden();

  await startChatWith(ana.page, 'max', 'Max Roy');
  await send(ana.page, 'visible tab, no notification');
  await expect(chatRow(bob.page, /Lea Fox/)).toContainText('visible tab, no notification');
  await bob.page.evaluate(() => {
    (window as unknown as { __hidden: boolean }).__hidden = true;
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await send(ana.page, 'are you around?');
  await expect.poll(() => bob.page.evaluate(() => (window as unknown as { __notes: unknown[] }).__notes)).toEqual([
    { title: 'Lea Fox', body: 'are you around?' },
  ]);
  await expect(bob.page).toHaveTitle('(2) Parley');

  await ana.context.close();
  await bob.context.close();
});

test('a message the server refuses is marked "Not sent" and can be deleted or retried', async ({ browser }) => {
  const ana = await register(browser, server, watch, 'nia', 'Nia Park');
  const bob = await register(browser, server, watch, 'oto', 'Oto Kern');
  await startChatWith(ana.page, 'oto', 'Oto Kern');
  // Longer than limits.max_message_chars (16000): the server answers the send with an error.
  const long = 'x'.repeat(16_001);
  await send(ana.page, long);
  const failed = ana.page.locator('[data-pending]');
  await expect(failed.getByRole('alert')).toContainText('Not sent');
  await expect(failed.getByRole('img', { name: 'Not sent' })).toBeVisible();
  await failed.getByRole('button', { name: 'Retry' }).click();
  await expect(failed.getByRole('alert')).toContainText('Not sent');
  await failed.getByRole('button', { name: 'Delete' }).click();
  await expect(ana.page.locator('[data-pending]')).toHaveCount(0);
  // The chat still works afterwards.
  await send(ana.page, 'short one');
  await expect(bubble(ana.page, 'short one')).toHaveAttribute('data-tick', 'delivered');
  await expect(bubbles(ana.page)).toHaveCount(1);
  await ana.context.close();
  await bob.context.close();
});
