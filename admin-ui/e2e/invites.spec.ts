import { expect, test } from '@playwright/test';
import { adminPage, goTo, needs, setupSpec, shot } from './harness';

const { server, watch } = setupSpec();

test('create an invite: the link is shown with a copy button', async ({ browser }) => {
  const { context, page } = await adminPage(browser, server, watch);
  await goTo(page, 'Invites');
  const form = page.getByRole('form', { name: 'New invite' });
  await form.getByLabel('Expires in (hours)').fill('48');
  await form.getByLabel('Max uses').fill('3');
  await form.getByRole('button', { name: 'Create invite' }).click();
  const link = page.getByTestId('new-invite-link');
  await expect(link).toHaveText(/\/\?invite=\S+$/);
  await expect(page.getByRole('button', { name: 'Copy new invite link' })).toBeVisible();
  // The link really lets someone register (the chat client's route; checked through the API).
  const code = decodeURIComponent(/invite=(\S+)$/.exec((await link.textContent())!)![1]);
  const res = await fetch(`${server.url}/api/auth/register`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'invited1', password: 'correct horse battery', invite: code }),
  });
  expect(res.status).toBe(201);
  await context.close();
});

test('list and revoke invites', async ({ browser }) => {
  needs(server, 'GET /api/admin/invites');
  const { context, page } = await adminPage(browser, server, watch);
  await goTo(page, 'Invites');
  await page.getByRole('button', { name: 'Create invite' }).click();
  const code = decodeURIComponent(/invite=(\S+)$/.exec((await page.getByTestId('new-invite-link').textContent())!)![1]);
  const row = page.getByTestId('invite-row').filter({ hasText: code });
  await expect(row).toContainText('Valid');
  await expect(row).toContainText('1 / 1');
  await expect(row.getByRole('button', { name: `Copy link for invite ${code}` })).toBeVisible();
  await shot(page, '20-invites');
  await row.getByRole('button', { name: `Revoke invite ${code}` }).click();
  await page.getByRole('dialog', { name: 'Revoke invite?' }).getByRole('button', { name: 'Revoke' }).click();
  await expect(row).toHaveCount(0);
  await context.close();
});
