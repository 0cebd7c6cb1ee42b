import { expect, test } from '@playwright/test';
import { adminPage, goTo, needs, setupSpec, shot } from './harness';

const { server, watch } = setupSpec();

test('settings change persists after a reload; server validation is shown next to the field', async ({ browser }) => {
  needs(server, 'GET /api/admin/settings');
  const { context, page } = await adminPage(browser, server, watch);
  await goTo(page, 'Settings');
  const form = page.getByRole('form', { name: 'Settings' });
  await form.getByLabel('Registration').selectOption('invite_only');
  await form.getByLabel('Upload limit (MiB)').fill('250');
  await form.getByLabel('Delete messages older than').check();
  await form.getByLabel('Retention days').fill('90');
  await form.getByLabel('New origin').fill('https://chat.example.org');
  await form.getByRole('button', { name: 'Add origin' }).click();
  await form.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByText('Saved', { exact: true })).toBeVisible();
  await page.reload();
  const again = page.getByRole('form', { name: 'Settings' });
  await expect(again.getByLabel('Registration')).toHaveValue('invite_only');
  await expect(again.getByLabel('Upload limit (MiB)')).toHaveValue('250');
  await expect(again.getByLabel('Retention days')).toHaveValue('90');
  await expect(again.getByRole('list', { name: 'Allowed origins' })).toContainText('https://chat.example.org');
  await shot(page, '80-settings');

  // Out of range: the server's 400 message is shown (next to the field it names).
  await again.getByLabel('Upload limit (MiB)').fill('999999');
  await again.getByRole('button', { name: 'Save settings' }).click();
  await expect(again.getByRole('alert')).toBeVisible();
  watch.allow(/status of 400/);
  await shot(page, '81-settings-invalid');

  // Back to keeping messages forever and no extra origins.
  await again.getByLabel('Upload limit (MiB)').fill('250');
  await again.getByLabel('Keep messages forever').check();
  await again.getByRole('button', { name: 'Remove origin https://chat.example.org' }).click();
  await again.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByText('Saved', { exact: true })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel('Keep messages forever')).toBeChecked();
  await expect(page.getByRole('list', { name: 'Allowed origins' })).not.toContainText('chat.example.org');
  await context.close();
});
