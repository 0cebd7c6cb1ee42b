// A group of three: creation, group ticks (blue only once everyone read), typing with names,
// admin badges, promotion, renaming, and the admin removing one member.
import { expect, test, type Page } from '@playwright/test';
import { bubble, bubbles, chatRow, register, send, setupSpec, shot } from './harness';

const { server, watch } = setupSpec();

async function pick(page: Page, username: string, displayName: string) {
  await page.getByLabel(/find a user by username/).fill(username);
  await page.getByRole('button', { name: 'Find' }).click();
  await page.getByRole('button', { name: `Select ${displayName}` }).click();
}

test('a group of three, with a member removed by the admin', async ({ browser }) => {
  const ana = await register(browser, server, watch, 'ana', 'Ana Costa');
  const bob = await register(browser, server, watch, 'bob', 'Bob Stone');
  const carla = await register(browser, server, watch, 'carla', 'Carla Diaz');

  // Ana creates the group from the menu.
  await ana.page.getByRole('button', { name: 'Menu' }).click();
  await ana.page.getByRole('menuitem', { name: 'New group' }).click();
  await pick(ana.page, 'bob', 'Bob Stone');
  await pick(ana.page, 'carla', 'Carla Diaz');
  await expect(ana.page.getByRole('list', { name: 'Selected members' }).getByRole('listitem')).toHaveCount(2);
  await ana.page.getByRole('button', { name: 'Next: name the group' }).click();
  await ana.page.getByLabel('Group name').fill('Climbing');
  await ana.page.getByRole('button', { name: 'Create group' }).click();
  await expect(ana.page.getByTestId('conv-name')).toHaveText('Climbing');
  await expect(ana.page.getByTestId('conv-status')).toHaveText('Bob Stone, Carla Diaz, You');
  await expect(ana.page.getByRole('log', { name: 'Messages' }).getByText('You created group "Climbing"')).toBeVisible();

  // The others get the new group live.
  await expect(chatRow(bob.page, /Climbing/)).toBeVisible();
  await expect(chatRow(carla.page, /Climbing/)).toBeVisible();

  await send(ana.page, 'Welcome, both of you');
  await expect(bubble(ana.page, 'Welcome, both of you')).toHaveAttribute('data-tick', 'delivered');
  await expect(chatRow(bob.page, /Climbing, 1 unread message/)).toContainText('Ana Costa: Welcome, both of you');

  // Read by Bob only: still grey. Read by Carla too: blue.
  await chatRow(bob.page, /Climbing/).click();
  await expect(bubble(bob.page, 'Welcome, both of you')).toContainText('Ana Costa');
  await expect(chatRow(bob.page, /^Climbing$/)).toBeVisible(); // no unread count in its name any more
  await expect(bubble(ana.page, 'Welcome, both of you')).toHaveAttribute('data-tick', 'delivered');
  await chatRow(carla.page, /Climbing/).click();
  await expect(bubble(carla.page, 'Welcome, both of you')).toBeVisible();
  await expect(bubble(ana.page, 'Welcome, both of you')).toHaveAttribute('data-tick', 'read');

  // Typing in a group names the typist.
  await carla.page.getByRole('textbox', { name: 'Type a message' }).pressSequentially('Hello', { delay: 20 });
  await expect(ana.page.getByTestId('conv-status')).toHaveText('Carla Diaz is typing…');
  await expect(bob.page.getByTestId('conv-status')).toHaveText('Carla Diaz is typing…');
  await carla.page.getByRole('textbox', { name: 'Type a message' }).press('Enter');
  await expect(bubble(bob.page, 'Hello')).toContainText('Carla Diaz');

  // Group info: admin badge, promote Bob, rename.
  await ana.page.getByRole('button', { name: 'Group info' }).first().click();
  const info = ana.page.getByRole('complementary', { name: 'Group info' });
  const members = info.getByRole('list', { name: 'Member list' });
  await expect(members.getByRole('listitem')).toHaveCount(3);
  await expect(members.locator('[data-member="ana@localhost"]')).toContainText('Group admin');
  await expect(members.locator('[data-member="bob@localhost"]')).not.toContainText('Group admin');
  await info.getByRole('button', { name: 'Options for Bob Stone' }).click();
  await ana.page.getByRole('menuitem', { name: 'Make group admin' }).click();
  await expect(members.locator('[data-member="bob@localhost"]')).toContainText('Group admin');
  await expect(bob.page.getByRole('log', { name: 'Messages' }).getByText('Ana Costa made you a group admin')).toBeVisible();

  await info.getByRole('button', { name: 'Rename group' }).click();
  await info.getByRole('textbox', { name: 'Group name' }).fill('Climbing crew');
  await info.getByRole('button', { name: 'Save group name' }).click();
  await expect(bob.page.getByTestId('conv-name')).toHaveText('Climbing crew');
  await expect(bob.page.getByRole('log', { name: 'Messages' }).getByText('Ana Costa changed the group name to "Climbing crew"')).toBeVisible();
  await shot(ana.page, 'group-info');

  // Carla, not an admin, has no admin controls.
  await carla.page.getByRole('button', { name: 'Group info' }).first().click();
  const carlaInfo = carla.page.getByRole('complementary', { name: 'Group info' });
  await expect(carlaInfo.getByRole('button', { name: 'Add member' })).toHaveCount(0);
  await expect(carlaInfo.getByRole('button', { name: 'Rename group' })).toHaveCount(0);
  await carlaInfo.getByRole('button', { name: 'Back' }).click();

  // Ana removes Carla.
  await info.getByRole('button', { name: 'Options for Carla Diaz' }).click();
  await ana.page.getByRole('menuitem', { name: 'Remove from group' }).click();
  await ana.page.getByRole('button', { name: 'Remove', exact: true }).click();
  await expect(members.getByRole('listitem')).toHaveCount(2);
  await expect(ana.page.getByRole('log', { name: 'Messages' }).getByText('You removed Carla Diaz')).toBeVisible();
  await expect(bob.page.getByRole('log', { name: 'Messages' }).getByText('Ana Costa removed Carla Diaz')).toBeVisible();
  await expect(carla.page.getByRole('log', { name: 'Messages' }).getByText('Ana Costa removed you')).toBeVisible();
  await expect(carla.page.getByText("You can't send messages to this group because you're no longer a participant.")).toBeVisible();
  await expect(carla.page.getByRole('textbox', { name: 'Type a message' })).toHaveCount(0);
  await shot(carla.page, 'group-removed-member');

  // Later messages reach Bob but not Carla.
  await send(ana.page, 'Just the two of us now');
  await expect(bubble(bob.page, 'Just the two of us now')).toBeVisible();
  await expect(bubble(ana.page, 'Just the two of us now')).toHaveAttribute('data-tick', 'read');
  await bob.page.waitForTimeout(300); // give a wrongly delivered frame time to show up
  await expect(bubbles(carla.page).filter({ hasText: 'Just the two of us now' })).toHaveCount(0);

  for (const u of [ana, bob, carla]) await u.context.close();
});
