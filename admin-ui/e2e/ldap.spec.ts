import { expect, test } from '@playwright/test';
import { adminPage, goTo, needs, setupSpec, shot } from './harness';

const { server, watch } = setupSpec();

test('LDAP settings round trip with a write-only bind password; test shows the error', async ({ browser }) => {
  needs(server, 'GET /api/admin/ldap');
  const { context, page } = await adminPage(browser, server, watch);
  await goTo(page, 'LDAP');
  const form = page.getByRole('form', { name: 'LDAP settings' });
  await form.getByLabel('Server URL').fill('ldap://127.0.0.1:1');
  await form.getByLabel('Bind DN').fill('cn=parley,dc=example,dc=org');
  await form.getByLabel('Bind password').fill('s3cret-bind');
  await form.getByLabel('Base DN').fill('dc=example,dc=org');
  await form.getByLabel('Username attribute').fill('uid');
  await form.getByLabel('Sync interval (minutes)').fill('30');
  // The page sends the password only when typed: check the request body.
  const put = page.waitForRequest((r) => r.url().endsWith('/api/admin/ldap') && r.method() === 'PUT');
  await form.getByRole('button', { name: 'Save' }).click();
  expect((await put).postDataJSON().settings.bind_password).toBe('s3cret-bind');
  await expect(page.getByText('Saved')).toBeVisible();

  await page.reload();
  const again = page.getByRole('form', { name: 'LDAP settings' });
  await expect(again.getByLabel('Server URL')).toHaveValue('ldap://127.0.0.1:1');
  await expect(again.getByLabel('Bind DN')).toHaveValue('cn=parley,dc=example,dc=org');
  await expect(again.getByLabel('Base DN')).toHaveValue('dc=example,dc=org');
  await expect(again.getByLabel('Sync interval (minutes)')).toHaveValue('30');
  // Write-only: never shown, only "set".
  await expect(again.getByLabel('Bind password')).toHaveValue('');
  await expect(again.getByText('A password is set.', { exact: false })).toBeVisible();

  // Saving again without typing it keeps it (the field is left out of the body).
  await again.getByLabel('User filter').fill('(objectClass=inetOrgPerson)');
  const put2 = page.waitForRequest((r) => r.url().endsWith('/api/admin/ldap') && r.method() === 'PUT');
  await again.getByRole('button', { name: 'Save' }).click();
  expect('bind_password' in (await put2).postDataJSON().settings).toBe(false);
  await expect(page.getByText('A password is set.', { exact: false })).toBeVisible();

  // Test connection against a closed port: the server's error message, verbatim.
  await page.getByRole('button', { name: 'Test connection' }).click();
  await expect(page.getByTestId('ldap-test-error')).not.toBeEmpty({ timeout: 30_000 });
  watch.allow(/status of (4|5)\d\d/);
  await shot(page, '40-ldap');
  await context.close();
});

test('turning LDAP sync off asks for the password again', async ({ browser }) => {
  needs(server, 'GET /api/admin/ldap');
  const { context, page } = await adminPage(browser, server, watch);
  await goTo(page, 'LDAP');
  const form = page.getByRole('form', { name: 'LDAP settings' });
  await form.getByLabel('Server URL').fill('ldap://127.0.0.1:1');
  await form.getByLabel('Base DN').fill('dc=example,dc=org');
  await form.getByLabel(/Enable LDAP sync/).check();
  await form.getByRole('button', { name: 'Save' }).click();
  // Enabling may be refused by a server that checks the connection first; then there is
  // nothing to turn off and the rest does not apply.
  const outcome = await Promise.race([
    page.getByText('Saved').waitFor().then(() => 'saved'),
    form.getByRole('alert').waitFor().then(() => 'refused'),
  ]);
  watch.allow(/status of (4|5)\d\d/);
  test.skip(outcome === 'refused', 'the server refuses to enable LDAP with an unreachable URL');
  await form.getByLabel(/Enable LDAP sync/).uncheck();
  await form.getByRole('button', { name: 'Save' }).click();
  const d = page.getByRole('dialog', { name: 'Turn LDAP sync off?' });
  await d.getByLabel('Your password').fill('wrong');
  await d.getByRole('button', { name: 'Turn off and save' }).click();
  await expect(d.getByRole('alert')).toBeVisible();
  await d.getByLabel('Your password').fill(server.adminPassword);
  await d.getByRole('button', { name: 'Turn off and save' }).click();
  await expect(d).toBeHidden();
  await expect(page.getByRole('heading', { name: /Sync/ })).toContainText('Off');
  await context.close();
});
