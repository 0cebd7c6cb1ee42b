// Two appliances of different organizations (a.test and b.test, federation on), peered through
// the admin API. Ana on a.test starts a chat with bob@b.test by typing his address, and the two
// chat both ways with read receipts and typing; everywhere a person is shown, people of the
// other organization carry its badge, which tells Bob Stone of b.test from Bob Stone of a.test.
// Then a group across both, and what the picker says for unknown addresses and an unreachable
// appliance.
import { expect, test, type Page } from '@playwright/test';
import { bubble, chatRow, register, send, sharedServer, shot, watchConsole, type Server } from './harness';

const fedEnv = (name: string) => ({
  PARLEY__SERVER_NAME: name,
  PARLEY__FEDERATION__ENABLED: 'true',
  PARLEY__FEDERATION__LISTEN: '127.0.0.1:0',
});

const a = sharedServer(fedEnv('a.test'));
const b = sharedServer(fedEnv('b.test'));
const watch = watchConsole();

/** A JSON call to the admin API as the dev admin `parley serve --dev` created (its password is in the log). */
async function admin<T>(server: Server, method: string, path: string, body?: unknown): Promise<T> {
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ login: 'admin', password: server.adminPassword }),
  });
  expect(login.status, 'admin login').toBe(200);
  const { access_token } = (await login.json()) as { access_token: string };
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${access_token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  expect(res.ok, `${method} ${path} answered ${res.status}: ${text}`).toBe(true);
  return (text ? JSON.parse(text) : undefined) as T;
}

interface FederationInfo {
  server_name: string;
  peers: { server_name: string; connected: boolean }[];
}

/** A invites, B accepts; both then see each other connected. */
async function peer(x: Server, y: Server) {
  const { invite } = await admin<{ invite: string }>(x, 'POST', '/api/admin/federation/invites', {});
  expect(invite).toMatch(/^parley-fed:/);
  await admin(y, 'POST', '/api/admin/federation/peers', { invite });
  for (const [s, other] of [[x, 'b.test'], [y, 'a.test']] as const) {
    await expect.poll(async () => {
      const info = await admin<FederationInfo>(s, 'GET', '/api/admin/federation');
      return info.peers.find((p) => p.server_name === other)?.connected ?? false;
    }, { timeout: 30_000, message: `peer ${other} connected` }).toBe(true);
  }
}

// After the servers' own beforeAll hooks (declared first): a.test and b.test trust each other.
test.beforeAll(async () => {
  test.setTimeout(90_000);
  await peer(a, b);
});

/** New chat (or group member) picker: the address typed, nothing else pressed. */
async function typeAddress(page: Page, address: string) {
  await page.getByLabel(/find a user by username/).fill(address);
}

test('people of two organizations chat by address, with organization badges, receipts and typing', async ({ browser }) => {
  test.setTimeout(180_000);
  // A colleague of Ana's with the same name as Bob of b.test (never logs in).
  await admin(a, 'POST', '/api/admin/users', { username: 'bob', display_name: 'Bob Stone', password: 'correct horse battery' });

  const bob = await register(browser, b, watch, 'bob', 'Bob Stone');
  const ana = await register(browser, a, watch, 'ana', 'Ana Costa');

  // The new chat picker explains addresses.
  await ana.page.getByRole('button', { name: 'New chat' }).click();
  const panel = ana.page.getByRole('region', { name: 'New chat' });
  await expect(panel.getByText('People at other organizations: enter their address, e.g. name@their-domain')).toBeVisible();
  await expect(panel.getByLabel(/find a user by username/)).toHaveAccessibleDescription(/enter their address/);

  // Bob's address: looked up at b.test once the local directory has not got it, shown with his organization.
  await typeAddress(ana.page, 'bob@b.test');
  const remote = panel.getByRole('region', { name: 'Other organization' });
  await expect(remote.getByRole('heading', { name: 'Found at b.test' })).toBeVisible();
  const pick = remote.getByRole('button', { name: 'Chat with Bob Stone (b.test)' });
  await expect(pick.getByTestId('org-badge')).toHaveText(/b\.test/);
  await expect(pick).toContainText('bob@b.test');
  await expect(panel.getByTestId('lookup-error')).toHaveCount(0);
  await shot(ana.page, 'federation-address-found');
  await pick.click();

  // The chat header names Bob with his organization.
  await expect(ana.page.getByTestId('conv-name')).toHaveText('Bob Stone');
  const conv = ana.page.getByRole('main', { name: 'Conversation with Bob Stone (b.test)' });
  await expect(conv.getByRole('button', { name: 'Contact info' }).getByTestId('org-badge')).toHaveText(/b\.test/);
  await expect(conv.getByRole('log', { name: 'Messages' })).toContainText('Messages are stored on the Parley servers of your organization and of b.test.');
  await send(ana.page, 'Hello from a.test!');
  // Acknowledged once the chat's home (a.test) ordered it; delivered once Bob's appliance and device have it.
  await expect(bubble(ana.page, 'Hello from a.test!')).toHaveAttribute('data-tick', /sent|delivered/, { timeout: 20_000 });

  // Bob sees the chat appear, with Ana's organization. (Soft: the name is the summary's, which
  // comes from b.test; the rest of the test still runs when that is wrong.)
  const row = chatRow(bob.page, /\(a\.test\), 1 unread message$/);
  await expect(row).toBeVisible({ timeout: 20_000 });
  await expect.soft(row, "b.test names the new chat with Ana's display name").toHaveAccessibleName('Ana Costa (a.test), 1 unread message');
  await expect(row).toContainText('Hello from a.test!');
  await expect(row.getByTestId('org-badge')).toHaveText(/a\.test/);
  await expect(bubble(ana.page, 'Hello from a.test!')).toHaveAttribute('data-tick', 'delivered', { timeout: 20_000 });
  await shot(bob.page, 'federation-chat-list-b');
  await row.click();
  await expect(bubble(bob.page, 'Hello from a.test!')).toBeVisible();
  await expect.soft(bob.page.getByTestId('conv-name')).toHaveText('Ana Costa');
  await expect(bob.page.getByRole('main', { name: /^Conversation with .* \(a\.test\)$/ })).toBeVisible();

  // Bob read it: Ana's ticks turn blue.
  await expect(bubble(ana.page, 'Hello from a.test!')).toHaveAttribute('data-tick', 'read', { timeout: 20_000 });
  await expect(bubble(ana.page, 'Hello from a.test!').getByRole('img', { name: 'Read' })).toBeVisible();

  // Bob types: Ana sees it; then his reply arrives.
  await bob.page.getByRole('textbox', { name: 'Type a message' }).pressSequentially('Hi Ana, greetings from b.test', { delay: 20 });
  await expect(ana.page.getByTestId('conv-status')).toHaveText('typing…', { timeout: 10_000 });
  await shot(ana.page, 'federation-typing');
  await bob.page.getByRole('textbox', { name: 'Type a message' }).press('Enter');
  await expect(bubble(ana.page, 'Hi Ana, greetings from b.test')).toBeVisible({ timeout: 20_000 });
  await expect(bubble(bob.page, 'Hi Ana, greetings from b.test')).toHaveAttribute('data-tick', 'read', { timeout: 20_000 });
  await expect(ana.page.getByTestId('conv-status')).not.toHaveText('typing…');

  // Ana's chat list, message info and contact info show Bob of b.test as such.
  const anaRow = chatRow(ana.page, /^Bob Stone \(b\.test\)$/);
  await expect(anaRow.getByTestId('org-badge')).toHaveText(/b\.test/);
  const mine = bubble(ana.page, 'Hello from a.test!');
  await mine.hover();
  await mine.getByRole('button', { name: 'Message options' }).click();
  await ana.page.getByRole('menuitem', { name: 'Message info' }).click();
  const info = ana.page.getByRole('complementary', { name: 'Message info' });
  await expect(info.getByTestId('read-at')).toContainText('Today at');
  await info.getByRole('button', { name: 'Back' }).click();
  await ana.page.getByRole('button', { name: 'Contact info' }).click();
  const contact = ana.page.getByRole('complementary', { name: 'Contact info' });
  await expect(contact).toContainText('From b.test, another organization');
  await expect(contact).toContainText('bob@b.test');
  await shot(ana.page, 'federation-contact-info');
  await contact.getByRole('button', { name: 'Back' }).click();

  await shot(ana.page, 'federation-conversation-a-1280');
  await shot(bob.page, 'federation-conversation-b-1280');
  await ana.page.setViewportSize({ width: 800, height: 800 });
  await bob.page.setViewportSize({ width: 800, height: 800 });
  await shot(ana.page, 'federation-conversation-a-800');
  await shot(bob.page, 'federation-conversation-b-800');
  await ana.page.setViewportSize({ width: 1280, height: 800 });
  await bob.page.setViewportSize({ width: 1280, height: 800 });

  // A group across both organizations: Ana, her colleague Bob Stone and Bob Stone of b.test.
  await ana.page.getByRole('button', { name: 'Menu', exact: true }).click();
  await ana.page.getByRole('menuitem', { name: 'New group' }).click();
  const members = ana.page.getByRole('region', { name: 'Add group members' });
  await typeAddress(ana.page, 'bob@b.test');
  // Bob of b.test is a contact now (from the 1:1 chat), listed with his badge.
  await members.getByRole('region', { name: 'Contacts' }).getByRole('button', { name: 'Select Bob Stone (b.test)' }).click();
  await typeAddress(ana.page, 'bob');
  await members.getByRole('button', { name: 'Find' }).click();
  await members.getByRole('region', { name: 'Directory results' }).getByRole('button', { name: 'Select Bob Stone', exact: true }).click();
  await expect(members.getByRole('list', { name: 'Selected members' })).toHaveText(/Bob Stone \(b\.test\).*Bob Stone/);
  await ana.page.getByRole('button', { name: 'Next: name the group' }).click();
  await ana.page.getByLabel('Group name').fill('Two orgs');
  await ana.page.getByRole('button', { name: 'Create group' }).click();
  await expect(ana.page.getByTestId('conv-name')).toHaveText('Two orgs');
  await expect(ana.page.getByTestId('conv-status')).toHaveText('Bob Stone, Bob Stone (b.test), You');
  await send(ana.page, 'Welcome to both Bobs');

  await chatRow(bob.page, /^Two orgs/).click({ timeout: 20_000 });
  const fromAna = bubble(bob.page, 'Welcome to both Bobs');
  await expect(fromAna.locator('.sender')).toHaveText(/Ana Costa.*a\.test/);
  // Bob's side: his namesake at a.test carries the a.test badge, and he is "You".
  await expect(bob.page.getByTestId('conv-status')).toHaveText('Ana Costa (a.test), Bob Stone (a.test), You');
  await send(bob.page, 'Thanks from b.test');
  const fromBob = bubble(ana.page, 'Thanks from b.test');
  await expect(fromBob.locator('.sender')).toHaveText(/Bob Stone.*b\.test/, { timeout: 20_000 });
  await expect(fromBob.locator('.sender').getByTestId('org-badge')).toHaveText(/b\.test/);

  await ana.page.getByRole('button', { name: 'Group info' }).first().click();
  const list = ana.page.getByRole('complementary', { name: 'Group info' }).getByRole('list', { name: 'Member list' });
  await expect(list.getByRole('listitem')).toHaveCount(3);
  await expect(list.locator('[data-member="bob@b.test"]').getByTestId('org-badge')).toHaveText(/b\.test/);
  await expect(list.locator('[data-member="bob@b.test"]')).toContainText('bob@b.test');
  await expect(list.locator('[data-member="bob@a.test"]').getByTestId('org-badge')).toHaveCount(0);
  await shot(ana.page, 'federation-group-a');
  await shot(bob.page, 'federation-group-b');

  await ana.context.close();
  await bob.context.close();
});

test('an unknown address at another organization is reported inline', async ({ browser }) => {
  const ana = await register(browser, a, watch, 'ana2', 'Ana Two');
  await ana.page.getByRole('button', { name: 'New chat' }).click();
  const panel = ana.page.getByRole('region', { name: 'New chat' });
  watch.allow(/status of 404/); // the lookup's answer
  await typeAddress(ana.page, 'nobody@b.test');
  await expect(panel.getByTestId('lookup-error')).toHaveText(
    'No one found with the address nobody@b.test. Check the address; people at another organization can be found only when it is connected to yours.');
  await expect(panel.getByRole('region', { name: 'Other organization' })).toHaveCount(0);
  await shot(ana.page, 'federation-address-not-found');
  await ana.context.close();
});

test('an appliance that cannot be reached: the picker shows the server\'s error', async ({ browser }) => {
  test.setTimeout(120_000);
  const ana = await register(browser, a, watch, 'ana3', 'Ana Three');
  await b.stop();
  await ana.page.getByRole('button', { name: 'New chat' }).click();
  const panel = ana.page.getByRole('region', { name: 'New chat' });
  watch.allow(/status of 502/);
  await typeAddress(ana.page, 'carol@b.test');
  const alert = panel.getByTestId('lookup-error');
  await expect(alert).toContainText('b.test', { timeout: 60_000 });
  await expect(alert).not.toContainText('No one found');
  await shot(ana.page, 'federation-unreachable');
  await ana.context.close();
});
