import { expect, test } from '@playwright/test';
import { PAGES } from '../src/lib/router';
import { adminPage, setupSpec, shot } from './harness';

const { server, watch } = setupSpec();

test('every page renders at 1280 px and 800 px, and the navigation works by keyboard', async ({ browser }) => {
  const { context, page } = await adminPage(browser, server, watch);
  for (const p of PAGES) {
    await page.goto(`${server.adminUrl}#/${p.id}`);
    await expect(page.getByRole('heading', { level: 1, name: p.label })).toBeVisible();
    await page.waitForLoadState('networkidle');
    await shot(page, `page-1280-${p.id}`);
  }
  await page.setViewportSize({ width: 800, height: 900 });
  for (const p of PAGES) {
    await page.goto(`${server.adminUrl}#/${p.id}`);
    await expect(page.getByRole('heading', { level: 1, name: p.label })).toBeVisible();
    await page.waitForLoadState('networkidle');
    // Nothing wider than the window (tables scroll inside their own box).
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${p.id} overflows at 800 px`).toBeLessThanOrEqual(0);
    await shot(page, `page-800-${p.id}`);
  }
  // Keyboard: Tab to the nav, Enter follows the link.
  await page.goto(`${server.adminUrl}#/dashboard`);
  const link = page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Settings' });
  await link.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Settings' })).toBeVisible();
  await context.close();
});
