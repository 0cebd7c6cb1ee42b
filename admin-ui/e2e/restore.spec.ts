import { expect, test } from '@playwright/test';
import { adminPage, api, apiLogin, goTo, loginAs, needs, setupSpec, shot, userRow } from './harness';

const { server, watch } = setupSpec();

test('restore a backup: the console waits for the restart and shows the restored state', async ({ browser }) => {
  needs(server, 'GET /api/admin/backups');
  const token = await apiLogin(server.url, 'admin', server.adminPassword);
  await api(server, token, 'POST', '/api/admin/users', { username: 'kept', password: 'correct horse battery' });
  const { context, page } = await adminPage(browser, server, watch);
  await goTo(page, 'Backups');
  await page.getByRole('button', { name: 'Back up now' }).click();
  const row = page.getByTestId('backup-row').first();
  await expect(row).toBeVisible({ timeout: 30_000 });
  const name = (await row.locator('td').first().textContent())!.trim();
  // Made after the backup: gone once it is restored.
  await api(server, token, 'POST', '/api/admin/users', { username: 'later', password: 'correct horse battery' });

  await row.getByRole('button', { name: `Restore ${name}` }).click();
  const d = page.getByRole('dialog', { name: 'Restore this backup?' });
  await d.getByLabel('Your password').fill(server.adminPassword);
  await d.getByRole('button', { name: 'Restore and restart' }).click();
  await expect(page.getByText('Restarting, reconnecting…')).toBeVisible();
  await shot(page, '61-backups-restoring');

  // The page reloads by itself once the appliance answers again; the session may or may not
  // have survived (it is whatever the archive holds).
  const nav = page.getByRole('navigation', { name: 'Console' });
  const login = page.getByRole('button', { name: 'Log in' });
  await expect(nav.or(login)).toBeVisible({ timeout: 60_000 });
  await expect(page.getByText('Restarting, reconnecting…')).toHaveCount(0);
  if (await login.isVisible()) await loginAs(page, 'admin', server.adminPassword);
  watch.allow(/status of 401/);
  await goTo(page, 'Users');
  await expect(userRow(page, 'kept')).toBeVisible();
  await expect(userRow(page, 'later')).toHaveCount(0);
  await context.close();
});
