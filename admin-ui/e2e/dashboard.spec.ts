import { expect, test } from '@playwright/test';
import { adminPage, needs, setupSpec, shot } from './harness';

const { server, watch } = setupSpec();

test('the dashboard shows figures and charts, and refreshes', async ({ browser }) => {
  needs(server, 'GET /api/admin/stats');
  const { context, page } = await adminPage(browser, server, watch);
  await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
  await expect(page.getByTestId('figure-Users')).toHaveText('1'); // the dev admin
  await expect(page.getByTestId('figure-Connections')).toHaveText(/^\d+$/);
  await expect(page.getByRole('img', { name: /Messages per minute/ })).toBeVisible();
  await expect(page.getByRole('img', { name: /Delivery latency/ })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Last backup' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'LDAP sync' })).toBeVisible();
  // A refresh comes within 5 s.
  const next = await page.waitForResponse((r) => r.url().endsWith('/api/admin/stats'), { timeout: 8000 });
  expect(next.status()).toBe(200);
  await shot(page, '05-dashboard');
  await context.close();
});
