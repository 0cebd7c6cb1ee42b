import { expect, test, type Locator, type Page } from '@playwright/test';
import { adminPage, goTo, setupSpec, shot } from './harness';

const { server, watch } = setupSpec();

/** Clicks Apply and waits for the filtered answer (the old rows stay on screen until then). */
async function apply(page: Page, filters: Locator, query: string) {
  const answered = page.waitForResponse((r) => r.url().includes('/api/admin/audit?') && decodeURIComponent(r.url()).includes(query));
  await filters.getByRole('button', { name: 'Apply' }).click();
  await answered;
}

test('the audit log shows the actions performed, with filters and details', async ({ browser }) => {
  const { context, page } = await adminPage(browser, server, watch);
  // Do something auditable through the console.
  await goTo(page, 'Users');
  await page.getByRole('button', { name: 'Create user' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create user' });
  await dialog.getByLabel('Username').fill('frank');
  await dialog.getByRole('button', { name: 'Create user' }).click();
  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByRole('button', { name: 'Manage frank' }).click();
  await page.getByRole('dialog', { name: 'Manage frank' }).getByRole('button', { name: 'Disable' }).click();
  await page.getByRole('dialog', { name: 'Disable frank?' }).getByRole('button', { name: 'Disable' }).click();
  await page.getByRole('dialog', { name: 'Manage frank' }).getByRole('button', { name: 'Close' }).click();

  await goTo(page, 'Audit log');
  const rows = page.getByTestId('audit-row');
  const created = rows.filter({ hasText: 'user.created' }).filter({ hasText: 'frank@' });
  await expect(created).toHaveCount(1);
  await expect(rows.filter({ hasText: 'user.disabled' }).filter({ hasText: 'frank@' })).toHaveCount(1);
  // Details expand to JSON.
  await created.getByText('Show').click();
  await expect(created.locator('pre.json')).toBeVisible();
  await shot(page, '70-audit');

  // Filter by actor and by an exact action name.
  const filters = page.getByRole('form', { name: 'Audit filters' });
  await filters.getByLabel('Action', { exact: true }).fill('user.disabled');
  await apply(page, filters, 'action=user.disabled');
  await expect(rows).toHaveCount(1);
  await filters.getByRole('button', { name: 'Clear' }).click();
  await filters.getByLabel('Actor').fill('nobody@localhost');
  await apply(page, filters, 'actor=nobody@localhost');
  await expect(page.getByText('No entries match.')).toBeVisible();
  // A date range ending yesterday excludes today's entries.
  await filters.getByRole('button', { name: 'Clear' }).click();
  const y = new Date(Date.now() - 86400_000);
  const ymd = `${y.getFullYear()}-${String(y.getMonth() + 1).padStart(2, '0')}-${String(y.getDate()).padStart(2, '0')}`;
  await filters.getByLabel('To', { exact: true }).fill(ymd);
  await apply(page, filters, 'to=');
  await expect(page.getByText('No entries match.')).toBeVisible();
  await context.close();
});

test('the action filter matches a prefix (docs/admin-api.md)', async ({ browser }) => {
  const { context, page } = await adminPage(browser, server, watch);
  await goTo(page, 'Audit log');
  const filters = page.getByRole('form', { name: 'Audit filters' });
  await filters.getByLabel('Action', { exact: true }).fill('user.');
  await apply(page, filters, 'action=user.');
  await expect(page.getByTestId('audit-row').filter({ hasText: 'user.created' }).first()).toBeVisible();
  await context.close();
});
