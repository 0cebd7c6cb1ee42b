import { expect, test } from '@playwright/test';
import { api, apiLogin, loginAs, openConsole, setupSpec, shot, userRow } from './harness';

const { server, watch } = setupSpec();

test('admin logs in, sees the navigation, logs out', async ({ browser }) => {
  const { context, page } = await openConsole(browser, server, watch, 'admin');
  await expect(page.getByRole('heading', { name: 'Parley admin console' })).toBeVisible();
  await shot(page, '00-login');
  await loginAs(page, 'admin', 'wrong password');
  await expect(page.getByRole('alert')).toContainText(/./);
  watch.allow(/status of 401/); // the refused login is logged by Chromium
  await loginAs(page, 'admin', server.adminPassword);
  const nav = page.getByRole('navigation', { name: 'Console' });
  for (const name of ['Dashboard', 'Users', 'Invites', 'Directory', 'LDAP', 'Backups', 'Audit log', 'Settings']) {
    await expect(nav.getByRole('link', { name, exact: true })).toBeVisible();
  }
  await expect(nav.getByRole('link', { name: 'Dashboard' })).toHaveAttribute('aria-current', 'page');
  // A reload keeps the session (sessionStorage) and the page (hash).
  await nav.getByRole('link', { name: 'Users', exact: true }).click();
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Users' })).toBeVisible();
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('button', { name: 'Log in' })).toBeVisible();
  await context.close();
});

test('a non-admin account is refused', async ({ browser }) => {
  const token = await apiLogin(server.url, 'admin', server.adminPassword);
  await api(server, token, 'POST', '/api/admin/users', { username: 'nadia', display_name: 'Nadia', password: 'correct horse battery' });
  const { context, page } = await openConsole(browser, server, watch, 'nadia');
  await loginAs(page, 'nadia', 'correct horse battery');
  await expect(page.getByRole('heading', { name: 'This account is not an administrator' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Console' })).toHaveCount(0);
  await shot(page, '01-not-admin');
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('button', { name: 'Log in' })).toBeVisible();
  await context.close();
});

test('an expired access token is refreshed once; a dead session goes back to login', async ({ browser }) => {
  const { context, page } = await openConsole(browser, server, watch, 'admin');
  await loginAs(page, 'admin', server.adminPassword);
  await page.getByRole('link', { name: 'Users', exact: true }).click();
  await expect(userRow(page, 'admin')).toBeVisible();
  // Spoil the access token: the next request gets 401, the client refreshes and carries on.
  await page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('parley-admin-session')!);
    sessionStorage.setItem('parley-admin-session', JSON.stringify({ ...s, access_token: 'bogus' }));
  });
  await page.reload();
  await expect(userRow(page, 'admin')).toBeVisible();
  const fresh = await page.evaluate(() => JSON.parse(sessionStorage.getItem('parley-admin-session')!).access_token);
  expect(fresh).not.toBe('bogus');
  // Both tokens spoiled: refresh fails, so the login screen returns with a notice.
  await page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('parley-admin-session')!);
    sessionStorage.setItem('parley-admin-session', JSON.stringify({ ...s, access_token: 'bogus', refresh_token: 'bogus' }));
  });
  await page.reload();
  await expect(page.getByText('Your session ended. Please log in again.')).toBeVisible();
  watch.allow(/status of 401/);
  await context.close();
});

test('an admin whose role is taken away meanwhile gets the not-an-administrator screen', async ({ browser }) => {
  const token = await apiLogin(server.url, 'admin', server.adminPassword);
  const { user } = await api<{ user: { user_id: string } }>(server, token, 'POST', '/api/admin/users', {
    username: 'olga', password: 'correct horse battery', is_admin: true,
  });
  const { context, page } = await openConsole(browser, server, watch, 'olga');
  await loginAs(page, 'olga', 'correct horse battery');
  await expect(page.getByRole('navigation', { name: 'Console' })).toBeVisible();
  await api(server, token, 'DELETE', `/api/admin/users/${encodeURIComponent(user.user_id)}/admin`);
  await page.getByRole('link', { name: 'Users', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'This account is not an administrator' })).toBeVisible();
  watch.allow(/status of 403/);
  await context.close();
});
