import { expect, test, type Page } from '@playwright/test';
import { adminPage, goTo, loginAs, needs, openConsole, setupSpec, shot, userRow } from './harness';

const { server, watch } = setupSpec();

async function createUser(page: Page, username: string, displayName: string) {
  await page.getByRole('button', { name: 'Create user' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create user' });
  await dialog.getByLabel('Username').fill(username);
  await dialog.getByLabel('Display name').fill(displayName);
  await dialog.getByRole('button', { name: 'Create user' }).click();
  const secret = page.getByRole('dialog', { name: `Temporary password for ${username}` });
  await expect(secret).toBeVisible();
  const password = (await secret.getByTestId('secret').textContent())!;
  expect(password.length).toBeGreaterThanOrEqual(8);
  return { secret, password };
}

test('create, search, disable, reset password, make admin', async ({ browser }) => {
  const { context, page } = await adminPage(browser, server, watch);
  await goTo(page, 'Users');
  await expect(userRow(page, 'admin')).toBeVisible();

  // Create: the temporary password is shown once, with a copy button.
  const { secret, password } = await createUser(page, 'carol', 'Carol Jones');
  await expect(secret.getByRole('button', { name: 'Copy temporary password' })).toBeVisible();
  await shot(page, '10-users-created');
  await secret.getByRole('button', { name: 'Done' }).click();
  await expect(userRow(page, 'carol')).toContainText('Carol Jones');
  await createUser(page, 'dave', 'Dave Smith');
  await page.getByRole('button', { name: 'Done' }).click();

  // The temporary password works for logging in (in a separate console session).
  const other = await openConsole(browser, server, watch, 'carol');
  await loginAs(other.page, 'carol', password);
  await expect(other.page.getByRole('heading', { name: 'This account is not an administrator' })).toBeVisible();
  await other.context.close();

  // Search (debounced) narrows the list.
  await page.getByRole('searchbox', { name: 'Search' }).fill('caro');
  await expect(page.getByTestId('user-row')).toHaveCount(1);
  await expect(userRow(page, 'carol')).toBeVisible();
  await page.getByRole('searchbox', { name: 'Search' }).fill('');
  await expect(page.getByTestId('user-row')).toHaveCount(3);

  // Sorting by username descending puts dave first.
  await page.getByRole('button', { name: 'Username' }).click();
  await expect(page.getByRole('columnheader', { name: /Username/ })).toHaveAttribute('aria-sort', 'descending');
  await expect(page.getByTestId('user-row').first()).toContainText('dave');

  // Disable carol (with confirmation), then filter by status.
  await userRow(page, 'carol').getByRole('button', { name: 'Manage carol' }).click();
  const manage = page.getByRole('dialog', { name: 'Manage carol' });
  await manage.getByRole('button', { name: 'Disable' }).click();
  await page.getByRole('dialog', { name: 'Disable carol?' }).getByRole('button', { name: 'Disable' }).click();
  await expect(manage.getByText('Disabled', { exact: true })).toBeVisible();

  // Reset password: a new temporary password, shown once.
  await manage.getByRole('button', { name: 'Reset password' }).click();
  await page.getByRole('dialog', { name: 'Reset the password of carol?' }).getByRole('button', { name: 'Reset password' }).click();
  const reset = page.getByRole('dialog', { name: 'Temporary password for carol' });
  await expect(reset.getByTestId('secret')).not.toHaveText(password);
  await shot(page, '11-users-reset-password');
  await reset.getByRole('button', { name: 'Done' }).click();

  // Make admin, and edit the profile.
  await manage.getByRole('button', { name: 'Make admin' }).click();
  await expect(manage.getByRole('button', { name: 'Remove admin' })).toBeVisible();
  await manage.getByLabel('Display name').fill('Carol J.');
  await manage.getByRole('button', { name: 'Save profile' }).click();
  await expect(manage.getByText('Saved')).toBeVisible();
  await manage.getByRole('button', { name: 'Close' }).click();

  await page.getByLabel('Status').selectOption('disabled');
  await expect(page.getByTestId('user-row')).toHaveCount(1);
  await expect(userRow(page, 'carol')).toContainText('Carol J.');
  await expect(userRow(page, 'carol')).toContainText('Admin');
  await page.getByLabel('Status').selectOption('admins');
  await expect(page.getByTestId('user-row')).toHaveCount(2);
  await page.getByLabel('Status').selectOption('all');
  await shot(page, '12-users');

  // The last admin keeps the role: removing it from the only other admin is fine, from admin
  // itself after that answers 409 and the message is shown.
  await userRow(page, 'carol').getByRole('button', { name: 'Manage carol' }).click();
  await manage.getByRole('button', { name: 'Remove admin' }).click();
  await expect(manage.getByRole('button', { name: 'Make admin' })).toBeVisible();
  await manage.getByRole('button', { name: 'Close' }).click();
  await userRow(page, 'admin').getByRole('button', { name: 'Manage admin' }).click();
  const self = page.getByRole('dialog', { name: 'Manage admin' });
  await self.getByRole('button', { name: 'Remove admin' }).click();
  await expect(self.getByRole('alert')).toBeVisible();
  watch.allow(/status of 409/);
  await self.getByRole('button', { name: 'Close' }).click();
  await context.close();
});

test('delete a user with the admin password', async ({ browser }) => {
  needs(server, 'DELETE /api/admin/users/{id}');
  const { context, page } = await adminPage(browser, server, watch);
  await goTo(page, 'Users');
  await createUser(page, 'erin', 'Erin Doe');
  await page.getByRole('button', { name: 'Done' }).click();
  await userRow(page, 'erin').getByRole('button', { name: 'Manage erin' }).click();
  await page.getByRole('dialog', { name: 'Manage erin' }).getByRole('button', { name: 'Delete user' }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete erin?' });
  await expect(confirm).toContainText('Their messages stay');
  await shot(page, '13-users-delete');
  await confirm.getByLabel('Your password').fill('not my password');
  await confirm.getByRole('button', { name: 'Delete user' }).click();
  await expect(confirm.getByRole('alert')).toBeVisible();
  watch.allow(/status of 403/);
  await confirm.getByLabel('Your password').fill(server.adminPassword);
  await confirm.getByRole('button', { name: 'Delete user' }).click();
  await expect(confirm).toBeHidden();
  await expect(userRow(page, 'erin')).toHaveCount(0);
  await context.close();
});
