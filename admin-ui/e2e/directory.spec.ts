import { expect, test } from '@playwright/test';
import { adminPage, api, apiLogin, goTo, needs, setupSpec, shot } from './harness';

const { server, watch } = setupSpec();

test('units tree, a group with members, and its group chat', async ({ browser }) => {
  needs(server, 'GET /api/admin/directory');
  const token = await apiLogin(server.url, 'admin', server.adminPassword);
  for (const u of ['gina', 'hugo']) await api(server, token, 'POST', '/api/admin/users', { username: u, display_name: u.toUpperCase(), password: 'correct horse battery' });
  const { context, page } = await adminPage(browser, server, watch);
  await goTo(page, 'Directory');

  // Units: a root, a child under it, rename, and delete of the empty child.
  await page.getByRole('button', { name: 'New unit' }).click();
  let d = page.getByRole('dialog', { name: 'New unit' });
  await d.getByLabel('Name').fill('Engineering');
  await d.getByRole('button', { name: 'Create unit' }).click();
  await expect(page.getByTestId('unit-row').filter({ hasText: 'Engineering' })).toBeVisible();
  await page.getByRole('button', { name: 'Add unit under Engineering' }).click();
  d = page.getByRole('dialog', { name: 'New unit in Engineering' });
  await d.getByLabel('Name').fill('Backend');
  await d.getByRole('button', { name: 'Create unit' }).click();
  const tree = page.getByRole('list', { name: 'Unit tree' });
  await expect(tree.locator('li li').filter({ hasText: 'Backend' })).toBeVisible();
  await page.getByRole('button', { name: 'Rename Backend' }).click();
  d = page.getByRole('dialog', { name: 'Rename Backend' });
  await d.getByLabel('Name').fill('Platform');
  await d.getByRole('button', { name: 'Rename' }).click();
  await expect(tree.locator('li li').filter({ hasText: 'Platform' })).toBeVisible();

  // A user placed in the unit shows in its count (through the user dialog's unit select).
  await goTo(page, 'Users');
  await page.getByRole('button', { name: 'Manage gina' }).click();
  const manage = page.getByRole('dialog', { name: 'Manage gina' });
  await manage.getByLabel('Unit').selectOption({ label: 'Engineering › Platform' });
  await manage.getByLabel('Title').fill('Engineer');
  await manage.getByRole('button', { name: 'Save profile' }).click();
  await expect(manage.getByText('Saved')).toBeVisible();
  await manage.getByRole('button', { name: 'Close' }).click();
  await expect(page.getByTestId('user-row').filter({ hasText: 'gina' })).toContainText('Engineering › Platform');
  await goTo(page, 'Directory');
  await expect(page.getByTestId('unit-row').filter({ hasText: 'Platform' })).toContainText('1 user');
  // Deleting a unit with a user is refused (409) and the message shown.
  await page.getByRole('button', { name: 'Delete Platform' }).click();
  d = page.getByRole('dialog', { name: 'Delete unit Platform?' });
  await d.getByRole('button', { name: 'Delete unit' }).click();
  await expect(d.getByRole('alert')).toBeVisible();
  watch.allow(/status of 409/);
  await d.getByRole('button', { name: 'Cancel' }).click();

  // Groups: create, add two members with the picker, remove one, make the group chat.
  await page.getByRole('button', { name: 'New group' }).click();
  d = page.getByRole('dialog', { name: 'New group' });
  await d.getByLabel('Name').fill('On-call');
  await d.getByLabel('Description').fill('Pager rota');
  await d.getByRole('button', { name: 'Create group' }).click();
  const card = page.getByRole('article', { name: 'Group On-call' });
  await expect(card).toContainText('Pager rota');
  for (const u of ['gina', 'hugo']) {
    await card.getByRole('searchbox', { name: 'Add member to On-call' }).fill(u);
    await card.getByRole('button', { name: `Add ${u}` }).click();
  }
  const members = card.getByRole('list', { name: 'Members of On-call' });
  await expect(members.getByRole('listitem')).toHaveCount(2);
  await card.getByRole('button', { name: 'Remove HUGO from On-call' }).click();
  await expect(members.getByRole('listitem')).toHaveCount(1);
  await card.getByRole('button', { name: 'Create group chat' }).click();
  await expect(card.getByText('Group chat:')).toBeVisible();
  await expect(card.getByRole('button', { name: 'Update group chat' })).toBeVisible();
  await shot(page, '30-directory');

  // Edit and delete the group.
  await card.getByRole('button', { name: 'Edit group On-call' }).click();
  d = page.getByRole('dialog', { name: 'Edit group On-call' });
  await d.getByLabel('Name').fill('Incident');
  await d.getByRole('button', { name: 'Save' }).click();
  const renamed = page.getByRole('article', { name: 'Group Incident' });
  await expect(renamed).toBeVisible();
  await renamed.getByRole('button', { name: 'Delete group Incident' }).click();
  await page.getByRole('dialog', { name: 'Delete group Incident?' }).getByRole('button', { name: 'Delete group' }).click();
  await expect(renamed).toHaveCount(0);
  await context.close();
});
