import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { adminPage, goTo, needs, setupSpec, shot } from './harness';

const { server, watch } = setupSpec();

test('back up now, list, download, schedule, delete; restore asks for the password', async ({ browser }) => {
  needs(server, 'GET /api/admin/backups');
  const { context, page } = await adminPage(browser, server, watch);
  await goTo(page, 'Backups');
  await page.getByRole('button', { name: 'Back up now' }).click();
  const rows = page.getByTestId('backup-row');
  await expect(rows).toHaveCount(1, { timeout: 30_000 });
  await expect(rows.first()).toContainText('manual');
  const name = (await rows.first().locator('td').first().textContent())!.trim();
  // Enabling the schedule below may add a scheduled backup: address this one by name.
  const row = rows.filter({ hasText: name });

  // Download goes through fetch + blob (the route needs the bearer header).
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.getByRole('button', { name: `Download ${name}` }).click(),
  ]);
  const file = await download.path();
  const bytes = readFileSync(file);
  expect(bytes.length).toBeGreaterThan(100);
  expect(bytes[0]).toBe(0x1f); // gzip magic
  expect(bytes[1]).toBe(0x8b);

  // Schedule round trip.
  const sched = page.getByRole('form', { name: 'Backup schedule' });
  await sched.getByLabel('Make backups automatically').check();
  await sched.getByLabel('Every (hours)').fill('12');
  await sched.getByLabel('Keep the newest').fill('5');
  await sched.getByRole('button', { name: 'Save schedule' }).click();
  await expect(sched.getByText('Saved')).toBeVisible();
  await page.reload();
  await expect(page.getByLabel('Every (hours)')).toHaveValue('12');
  await expect(page.getByLabel('Keep the newest')).toHaveValue('5');
  await shot(page, '60-backups');

  // Restore with a wrong password is refused and nothing happens.
  await row.getByRole('button', { name: `Restore ${name}` }).click();
  const restore = page.getByRole('dialog', { name: 'Restore this backup?' });
  await restore.getByLabel('Your password').fill('wrong password');
  await restore.getByRole('button', { name: 'Restore and restart' }).click();
  await expect(restore.getByRole('alert')).toBeVisible();
  watch.allow(/status of 403/);
  await restore.getByRole('button', { name: 'Cancel' }).click();

  // Delete with confirmation.
  await row.getByRole('button', { name: `Delete ${name}` }).click();
  await page.getByRole('dialog', { name: 'Delete backup?' }).getByRole('button', { name: 'Delete backup' }).click();
  await expect(row).toHaveCount(0);
  await context.close();
});
