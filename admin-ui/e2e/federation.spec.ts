import { randomBytes } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { adminPage, apiLogin, goTo, needs, setupServers, shot, type Server } from './harness';

const FED = 'GET /api/admin/federation';

const fedEnv = (name: string) => ({
  PARLEY__SERVER_NAME: name,
  PARLEY__FEDERATION__ENABLED: 'true',
  PARLEY__FEDERATION__LISTEN: '127.0.0.1:0',
});

const tokens = new Map<string, string>();

/** A raw API call whose status and error body the test looks at (harness `api` throws on errors). */
async function call(server: Server, method: string, path: string, body?: unknown) {
  let token = tokens.get(server.url);
  if (!token) tokens.set(server.url, (token = await apiLogin(server.url, 'admin', server.adminPassword)));
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as { code?: string; message?: string } | undefined };
}

/** The row of `name` in the peers tables (active or revoked). */
const peerRow = (page: Page, name: string) => page.getByTestId('peer-row').filter({ hasText: name });

/** The same invite with another secret: well-formed, so only the inviter can refuse it. */
function withWrongSecret(invite: string): string {
  const o = JSON.parse(Buffer.from(invite.slice('parley-fed:'.length), 'base64url').toString()) as Record<string, unknown>;
  o.secret = randomBytes(32).toString('base64url');
  return `parley-fed:${Buffer.from(JSON.stringify(o)).toString('base64url')}`;
}

// Federation off (the default) first: it also tells whether this binary has the routes at all;
// when not, a.test and b.test are not started (an older binary refuses their settings).
const { servers: [plain, a, b], watch } = setupServers([{}, fedEnv('a.test'), fedEnv('b.test')], { needs: [FED] });

test('the page explains how to turn federation on, and offers no actions', async ({ browser }) => {
  needs(plain, FED);
  const refused = await call(plain, 'POST', '/api/admin/federation/invites', { ttl_hours: 24 });
  expect(refused.status).toBe(409);
  expect(refused.body?.code).toBe('conflict');
  const { context, page } = await adminPage(browser, plain, watch);
  await goTo(page, 'Federation');
  const notice = page.getByRole('region', { name: 'Federation is off' });
  await expect(notice).toContainText('/etc/parley/parley.toml');
  await expect(notice.getByLabel('Configuration to add')).toHaveText('[federation]\nenabled = true');
  await expect(notice).toContainText('restart');
  await expect(page.getByRole('button', { name: 'Create invite' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Add peer' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: /^Revoke/ })).toHaveCount(0);
  await shot(page, '57-federation-off-1280');
  await page.setViewportSize({ width: 800, height: 900 });
  await shot(page, '58-federation-off-800');
  await context.close();
});

test('peer by invite, both see each other connected, revoke needs the password', async ({ browser }) => {
  needs(a, FED);
  test.setTimeout(180_000);
  const A = await adminPage(browser, a, watch, undefined, 'admin of a.test');
  await goTo(A.page, 'Federation');
  const identity = A.page.getByRole('region', { name: 'This appliance' });
  await expect(identity.getByTestId('fed-server-name')).toHaveText('a.test');
  await expect(identity.getByTestId('fed-address')).toHaveText(/^\S+:\d+$/);
  await expect(identity.getByTestId('fed-fingerprint')).toHaveText(/^[0-9a-f]{4}( [0-9a-f]{4}){15}$/);
  await expect(identity.getByRole('button', { name: 'Copy fingerprint' })).toBeVisible();
  await expect(identity).toContainText('open');
  await expect(A.page.getByTestId('peer-row')).toHaveCount(0);

  // Create an invite on A: the validity is checked before anything is sent.
  const form = A.page.getByRole('form', { name: 'Create invite' });
  for (const bad of ['0', '721']) {
    await form.getByLabel('Valid for (hours)').fill(bad);
    await form.getByRole('button', { name: 'Create invite' }).click();
    await expect(A.page.getByRole('region', { name: 'Invite another appliance' }).getByRole('alert')).toContainText('720');
  }
  await expect(form.getByLabel('Valid for (hours)')).toHaveAttribute('aria-invalid', 'true');
  await form.getByLabel('Valid for (hours)').fill('48');
  await form.getByRole('button', { name: 'Create invite' }).click();
  const created = A.page.getByRole('group', { name: 'New invite' });
  await expect(created.getByLabel('Invite string')).toHaveValue(/^parley-fed:[A-Za-z0-9_-]+$/);
  await expect(created).toContainText('Shown once, works once');
  await expect(created).toContainText(/Expires .*\(in 2 d\)/);
  await expect(created.getByRole('button', { name: 'Copy invite' })).toBeVisible();
  const invite = await created.getByLabel('Invite string').inputValue();
  await shot(A.page, '50-federation-invite');

  // B pastes it. First what is not an invite, then what the server refuses: its message shows.
  const B = await adminPage(browser, b, watch, undefined, 'admin of b.test');
  await goTo(B.page, 'Federation');
  const add = B.page.getByRole('form', { name: 'Add peer' });
  const field = add.getByLabel('Invite from the other appliance');
  await field.fill('https://a.test/?invite=abc');
  await add.getByRole('button', { name: 'Add peer' }).click();
  await expect(add.getByRole('alert')).toContainText('parley-fed:');

  const malformed = 'parley-fed:bm90IGpzb24'; // "not json"
  const refused400 = await call(b, 'POST', '/api/admin/federation/peers', { invite: malformed });
  expect(refused400.status).toBe(400);
  expect(refused400.body?.code).toBe('invalid_input');
  await field.fill(malformed);
  await add.getByRole('button', { name: 'Add peer' }).click();
  await expect(add.getByRole('alert')).toHaveText(refused400.body!.message!);
  await expect(add.getByRole('alert')).toHaveAttribute('data-code', 'invalid_input');
  watch.allow(/status of 400/);

  // A well-formed invite with a secret A never issued: A refuses it, B answers 502.
  await field.fill(withWrongSecret(invite));
  await add.getByRole('button', { name: 'Add peer' }).click();
  await expect(add.getByRole('alert')).toHaveAttribute('data-code', 'federation_error', { timeout: 40_000 });
  watch.allow(/status of 502/);
  await expect(B.page.getByTestId('peer-row')).toHaveCount(0);

  // The real one: its issuer is shown before adding, then the peer appears, connected.
  await field.fill(invite);
  await expect(add.getByRole('group', { name: 'Invite details' })).toContainText('a.test');
  await add.getByRole('button', { name: 'Add peer' }).click();
  await expect(add.getByRole('status')).toHaveText('Peered with a.test', { timeout: 40_000 });
  await expect(field).toHaveValue('');
  const onB = peerRow(B.page, 'a.test');
  await expect(onB).toHaveAttribute('data-status', 'connected', { timeout: 20_000 });
  await expect(onB).toContainText('pinned');
  await shot(B.page, '51-federation-peered-b');

  // A's page picks up the new peer by itself (refresh every 5 s), connected.
  const onA = peerRow(A.page, 'b.test');
  await expect(onA).toHaveAttribute('data-status', 'connected', { timeout: 20_000 });
  await expect(onA.getByText('connected', { exact: true })).toBeVisible();
  await A.page.waitForLoadState('networkidle');
  await shot(A.page, '52-federation-1280');
  await A.page.setViewportSize({ width: 800, height: 900 });
  const overflow = await A.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, 'the federation page overflows at 800 px').toBeLessThanOrEqual(0);
  await shot(A.page, '53-federation-800');
  await A.page.setViewportSize({ width: 1280, height: 800 });

  // Revoke b.test on A. Without a password the route refuses (the dialog cannot even send).
  const noPassword = await call(a, 'DELETE', `/api/admin/federation/peers/b.test`, {});
  expect(noPassword.status).toBe(403);
  expect(noPassword.body?.code).toBe('reauth_required');
  await onA.getByRole('button', { name: 'Revoke b.test' }).click();
  const confirm = A.page.getByRole('dialog', { name: 'Revoke b.test?' });
  await expect(confirm).toContainText('connections are closed now');
  await expect(confirm).toContainText('nothing more is sent to it or accepted from it');
  await expect(confirm).toContainText('stop receiving');
  await expect(confirm.getByRole('button', { name: 'Revoke peer' })).toBeDisabled();
  await confirm.getByLabel('Your password').fill('not my password');
  await confirm.getByRole('button', { name: 'Revoke peer' }).click();
  await expect(confirm.getByRole('alert')).toHaveAttribute('data-code', 'reauth_required');
  watch.allow(/status of 403/);
  await shot(A.page, '54-federation-revoke');
  await expect(onA).toHaveAttribute('data-status', 'connected');
  await confirm.getByLabel('Your password').fill(a.adminPassword);
  await confirm.getByRole('button', { name: 'Revoke peer' }).click();
  await expect(confirm).toBeHidden();
  const revoked = A.page.getByRole('region', { name: 'Revoked peers' });
  await expect(revoked.getByTestId('peer-row').filter({ hasText: 'b.test' })).toHaveAttribute('data-status', 'revoked');
  await expect(revoked).toContainText('revoked');
  await expect(A.page.getByRole('button', { name: 'Revoke b.test' })).toHaveCount(0);
  await expect(A.page.getByRole('region', { name: 'Peers', exact: true }).getByTestId('peer-row')).toHaveCount(0);
  await shot(A.page, '55-federation-revoked');

  // B, after a reload, sees a.test disconnected (A refuses it from now on).
  await expect(async () => {
    await B.page.reload();
    await expect(peerRow(B.page, 'a.test')).toHaveAttribute('data-status', 'disconnected', { timeout: 2000 });
  }).toPass({ timeout: 30_000 });
  await shot(B.page, '56-federation-b-after-revoke');
  await A.context.close();
  await B.context.close();
});
