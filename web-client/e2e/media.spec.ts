// Media between two users: an image with a caption (thumbnail, BlurHash, full-size viewer,
// download), a file card that downloads the exact bytes, audio with a player, upload progress
// and cancel (no message), a corrupt image refused with a clear error, and profile and group
// pictures seen by the other user.
import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { expect, test, type Page } from '@playwright/test';
import { bubbles, chatRow, register, setupSpec, shot, startChatWith, startServer, type User } from './harness';

const { server, watch } = setupSpec();

/** A real RGB PNG (a colour gradient), encoded here so the test needs no fixture files. */
function png(width: number, height: number, seed = 0): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0;
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = (x * 255) / width + seed;
      raw[row + 2 + x * 3] = (y * 255) / height;
      raw[row + 3 + x * 3] = 160 - seed;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A short mono 8 kHz WAV tone. */
function wav(seconds = 1): Buffer {
  const rate = 8000;
  const n = rate * seconds;
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0); b.writeUInt32LE(36 + n * 2, 4); b.write('WAVE', 8); b.write('fmt ', 12);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34); b.write('data', 36); b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(Math.sin((i * 2 * Math.PI * 440) / rate) * 8000), 44 + i * 2);
  return b;
}

async function attach(page: Page, files: { name: string; mimeType: string; buffer: Buffer }[], caption?: string) {
  await page.getByTestId('file-input').setInputFiles(files);
  const dialog = page.getByRole('dialog', { name: 'Send files' });
  await expect(dialog).toBeVisible();
  if (caption) await dialog.getByLabel('Add a caption').fill(caption);
  await dialog.getByRole('button', { name: 'Send files' }).click();
  await expect(dialog).toBeHidden();
}

/** Whether an <img> finished loading real pixels. */
async function loaded(page: Page, selector: string) {
  return page.locator(selector).first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0);
}

let ana: User;
let bob: User;

test('an image with a caption: thumbnail with BlurHash, full-size viewer, download', async ({ browser }) => {
  ana = await register(browser, server, watch, 'ana', 'Ana Costa');
  bob = await register(browser, server, watch, 'bob', 'Bob Stone');
  await startChatWith(ana.page, 'bob', 'Bob Stone');
  await expect(ana.page.getByRole('button', { name: 'Attach' })).toBeEnabled();

  const image = png(640, 480);
  await ana.page.getByTestId('file-input').setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: image });
  const dialog = ana.page.getByRole('dialog', { name: 'Send files' });
  await expect(dialog.getByRole('img', { name: 'sunset.png' })).toBeVisible();
  await dialog.getByLabel('Add a caption').fill('Sunset at the beach');
  await shot(ana.page, 'media-attach-preview');
  await dialog.getByLabel('Add a caption').press('Enter');

  const mine = bubbles(ana.page).filter({ has: ana.page.getByTestId('media-image') });
  await expect(mine).toHaveAttribute('data-kind', 'image');
  await expect(mine).toContainText('Sunset at the beach');
  await expect(mine).toHaveAttribute('data-tick', /sent|delivered/);

  // Bob: the chat list previews it, the bubble shows the thumbnail over its placeholder.
  const row = chatRow(bob.page, /Ana Costa, 1 unread message/);
  await expect(row).toContainText('📷 Sunset at the beach');
  await row.click();
  const theirs = bubbles(bob.page).filter({ has: bob.page.getByTestId('media-image') });
  await expect(theirs).toContainText('Sunset at the beach');
  const thumb = theirs.getByTestId('media-image');
  await expect(thumb.locator('img.loaded')).toBeVisible();
  expect(await thumb.locator('img').getAttribute('src')).toMatch(/^\/api\/media\/[^/]+\/thumbnail$/);
  await expect.poll(() => loaded(bob.page, '[data-testid=media-image] img')).toBe(true);
  // 640×480 fits the bubble as 330×248.
  const box = await thumb.boundingBox();
  expect(Math.round(box!.width)).toBe(330);
  expect(Math.round(box!.height)).toBe(248);
  await shot(bob.page, 'media-image-bubble');

  // The full-size viewer: original bytes, download button, Escape closes.
  await thumb.click();
  const viewer = bob.page.getByRole('dialog', { name: 'Photo viewer' });
  await expect(viewer).toBeVisible();
  await expect(viewer.getByTestId('viewer-image')).toHaveClass(/loaded/);
  expect(await viewer.getByTestId('viewer-image').evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([640, 480]);
  await expect(viewer).toContainText('Ana Costa');
  await shot(bob.page, 'media-viewer');
  const [download] = await Promise.all([
    bob.page.waitForEvent('download'),
    viewer.getByRole('link', { name: 'Download sunset.png' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('sunset.png');
  expect(readFileSync((await download.path())!).equals(image)).toBe(true);
  await bob.page.keyboard.press('Escape');
  await expect(viewer).toBeHidden();
  // Escape closed the viewer only: the chat is still open.
  await expect(bob.page.getByTestId('conv-name')).toHaveText('Ana Costa');
});

test('a file arrives as a card with its name and size and downloads the same bytes; audio gets a player', async () => {
  const text = Buffer.from('Shopping list\n- bread\n- cheese\n'.repeat(60));
  await attach(ana.page, [{ name: 'notes.txt', mimeType: 'text/plain', buffer: text }]);
  const card = bubbles(bob.page).getByTestId('file-card').filter({ hasText: 'notes.txt' });
  await expect(card).toBeVisible();
  await expect(card).toContainText('1.8 KB');
  await expect(card).toContainText('TXT');
  await expect(chatRow(bob.page, /Ana Costa/)).toContainText('📄 notes.txt');
  const [download] = await Promise.all([
    bob.page.waitForEvent('download'),
    card.getByRole('link', { name: 'Download notes.txt' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('notes.txt');
  expect(readFileSync((await download.path())!).equals(text)).toBe(true);

  // Several files at once (drag-and-drop and the picker share the attach step).
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
  await attach(ana.page, [
    { name: 'plan.pdf', mimeType: 'application/pdf', buffer: pdf },
    { name: 'tone.wav', mimeType: 'audio/wav', buffer: wav() },
  ], 'Plan and a tone');
  await expect(bubbles(bob.page).getByTestId('file-card').filter({ hasText: 'plan.pdf' })).toContainText(`${pdf.length} B`);
  await expect(bubbles(bob.page).filter({ hasText: 'plan.pdf' })).toContainText('Plan and a tone');
  const audio = bubbles(bob.page).getByTestId('media-audio');
  await expect(audio).toContainText('tone.wav');
  await expect(audio.locator('audio')).toHaveAttribute('src', /^\/api\/media\/[^/]+$/);
  await expect.poll(() => audio.locator('audio').evaluate((a: HTMLAudioElement) => a.readyState >= 1 ? a.duration : 0)).toBeCloseTo(1, 1);
  await shot(bob.page, 'media-file-cards');
});

test('an upload shows its progress and can be cancelled: no message is sent', async () => {
  // Throttle Ana's uploads so the progress bar is visible long enough to cancel.
  const cdp = await ana.context.newCDPSession(ana.page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
  const before = await bubbles(bob.page).count();
  await ana.page.getByTestId('file-input').setInputFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(8 * 1024 * 1024, 7) });
  await ana.page.getByRole('dialog', { name: 'Send files' }).getByRole('button', { name: 'Send files' }).click();
  const bar = ana.page.getByRole('progressbar', { name: 'Uploading big.bin' });
  await expect(bar).toBeVisible();
  await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow'))).toBeGreaterThan(0);
  await shot(ana.page, 'media-upload-progress');
  await ana.page.getByRole('button', { name: 'Cancel upload of big.bin' }).click();
  await expect(ana.page.getByTestId('upload')).toHaveCount(0);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await cdp.detach();
  // A message sent afterwards arrives, the cancelled file never does.
  const box = ana.page.getByRole('textbox', { name: 'Type a message' });
  await box.fill('after the cancel');
  await box.press('Enter');
  await expect(bubbles(bob.page).filter({ hasText: 'after the cancel' })).toBeVisible();
  await expect(bubbles(bob.page)).toHaveCount(before + 1);
  await expect(bubbles(ana.page).filter({ hasText: 'big.bin' })).toHaveCount(0);
});

test('a corrupt image is refused with a clear error, Retry and Delete', async () => {
  watch.allow(/status of 422/);
  const broken = Buffer.concat([png(64, 64).subarray(0, 40), Buffer.alloc(200, 1)]);
  await attach(ana.page, [{ name: 'broken.png', mimeType: 'image/png', buffer: broken }]);
  const failed = ana.page.locator('[data-upload]').filter({ hasText: 'broken.png' });
  await expect(failed.getByRole('alert')).toContainText('This image is damaged or too large to open');
  await shot(ana.page, 'media-upload-error');
  await failed.getByRole('button', { name: 'Delete' }).click();
  await expect(failed).toHaveCount(0);
});

test('profile pictures show in the other user\'s chat list; group admins set a group picture', async () => {
  await ana.page.getByRole('button', { name: 'Profile', exact: true }).click();
  const panel = ana.page.getByRole('region', { name: 'Profile' });
  await expect(panel.getByRole('button', { name: 'Add profile photo' })).toBeVisible();
  await panel.getByTestId('avatar-input').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png(400, 400, 60) });
  await expect(panel.getByRole('button', { name: 'Change profile photo' })).toBeVisible();
  const avatar = panel.locator('img.avatar');
  await expect(avatar).toHaveAttribute('src', /^\/api\/media\/[^/]+\/thumbnail$/);
  const id = (await avatar.getAttribute('data-avatar'))!;
  await expect.poll(() => loaded(ana.page, '[aria-label=Profile] img.avatar')).toBe(true);
  await shot(ana.page, 'media-profile-picture');
  await ana.page.getByRole('region', { name: 'Profile' }).getByRole('button', { name: 'Back' }).click();
  await expect(ana.page.getByRole('button', { name: 'Profile', exact: true }).locator('img.avatar')).toHaveAttribute('data-avatar', id);

  // Bob sees it in his chat list and in the conversation header.
  const bobRow = chatRow(bob.page, /Ana Costa/);
  await expect(bobRow.locator('img.avatar')).toHaveAttribute('data-avatar', id);
  await expect.poll(() => loaded(bob.page, 'nav[aria-label="Chat list"] img.avatar')).toBe(true);
  await expect(bob.page.locator('.conv-header img.avatar')).toHaveAttribute('data-avatar', id);
  await shot(bob.page, 'media-avatar-chat-list');

  // Removing it brings the initials back.
  await ana.page.getByRole('button', { name: 'Profile', exact: true }).click();
  await panel.getByRole('button', { name: 'Remove profile photo' }).click();
  await expect(panel.getByRole('button', { name: 'Add profile photo' })).toBeVisible();
  await expect(panel.locator('img.avatar')).toHaveCount(0);
  await expect(chatRow(bob.page, /Ana Costa/).locator('img.avatar')).toHaveCount(0);
  await expect(chatRow(bob.page, /Ana Costa/).locator('.avatar')).toHaveText('AC');
  await panel.getByRole('button', { name: 'Back' }).click();

  // A group picture set by the admin shows for the other member.
  await ana.page.getByRole('button', { name: 'Menu', exact: true }).click();
  await ana.page.getByRole('menuitem', { name: 'New group' }).click();
  await ana.page.getByLabel(/find a user by username/).fill('bob');
  await ana.page.getByRole('button', { name: 'Find' }).click();
  await ana.page.getByRole('button', { name: 'Select Bob Stone' }).first().click();
  await ana.page.getByRole('button', { name: 'Next: name the group' }).click();
  await ana.page.getByLabel('Group name').fill('Beach trip');
  await ana.page.getByRole('button', { name: 'Create group' }).click();
  await expect(ana.page.getByTestId('conv-name')).toHaveText('Beach trip');
  await ana.page.getByRole('button', { name: 'Group info' }).click();
  const info = ana.page.getByRole('complementary', { name: 'Group info' });
  await info.getByTestId('avatar-input').setInputFiles({ name: 'group.png', mimeType: 'image/png', buffer: png(300, 200, 90) });
  await expect(info.getByRole('button', { name: 'Change group photo' })).toBeVisible();
  const gid = (await info.locator('img.avatar').getAttribute('data-avatar'))!;
  await expect(chatRow(bob.page, /Beach trip/).locator('img.avatar')).toHaveAttribute('data-avatar', gid);
  await shot(bob.page, 'media-group-picture');
  // Bob is not an admin: no photo buttons in his group info.
  await chatRow(bob.page, /Beach trip/).click();
  await bob.page.getByRole('button', { name: 'Group info' }).click();
  const bobInfo = bob.page.getByRole('complementary', { name: 'Group info' });
  await expect(bobInfo.locator('img.avatar').first()).toHaveAttribute('data-avatar', gid);
  await expect(bobInfo.getByRole('button', { name: /group photo/ })).toHaveCount(0);
});

test('files dropped on the conversation or pasted into the message box go through the attach step', async () => {
  await chatRow(ana.page, /Bob Stone/).click();
  await expect(ana.page.getByTestId('conv-name')).toHaveText('Bob Stone');
  await chatRow(bob.page, /Ana Costa/).click();
  await expect(bob.page.getByTestId('conv-name')).toHaveText('Ana Costa');
  await expect(bubbles(bob.page).filter({ hasText: 'after the cancel' })).toBeVisible();
  const count = await bubbles(bob.page).count();
  // Drag-and-drop: a DataTransfer with a file, dragged over and dropped on the conversation.
  const drop = await ana.page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' }));
    return dt;
  });
  const conv = ana.page.getByRole('main', { name: 'Conversation with Bob Stone' });
  await conv.dispatchEvent('dragover', { dataTransfer: drop });
  await expect(ana.page.locator('.drop-overlay')).toBeVisible();
  await shot(ana.page, 'media-drop-overlay');
  await conv.dispatchEvent('drop', { dataTransfer: drop });
  await expect(ana.page.locator('.drop-overlay')).toBeHidden();
  const dialog = ana.page.getByRole('dialog', { name: 'Send files' });
  await expect(dialog).toContainText('dropped.txt');
  await dialog.getByRole('button', { name: 'Send files' }).click();
  await expect(bubbles(bob.page).getByTestId('file-card').filter({ hasText: 'dropped.txt' })).toContainText('13 B');

  // Bob's media cookie is gone (expired while his laptop slept): the next picture renews it.
  await bob.context.clearCookies();
  watch.allow(/\[bob\] Failed to load resource: the server responded with a status of (401|403|404)/);

  // Paste of an image (a screenshot) into the message box.
  const image = png(120, 90, 30);
  await ana.page.getByRole('textbox', { name: 'Type a message' }).evaluate((el, bytes) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));
    el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, [...image]);
  await expect(dialog.getByRole('img', { name: 'image.png' })).toBeVisible();
  await dialog.getByLabel('Add a caption').fill('pasted');
  await dialog.getByLabel('Add a caption').press('Enter');
  const pasted = bubbles(bob.page).filter({ hasText: 'pasted' });
  await expect(pasted.getByTestId('media-image').locator('img.loaded')).toBeVisible();
  // It did fail once without the cookie, then loaded after the renewal.
  expect(watch.errors.filter((e) => e.startsWith('[bob] Failed to load resource')).length).toBeGreaterThan(0);
  await expect(bubbles(bob.page)).toHaveCount(count + 2);
  // Cancel in the attach step sends nothing.
  await ana.page.getByTestId('file-input').setInputFiles({ name: 'never.txt', mimeType: 'text/plain', buffer: Buffer.from('x') });
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
  await expect(ana.page.getByTestId('upload')).toHaveCount(0);
});

test('uploads over the size limit or the storage quota are refused with a clear message', async ({ browser }) => {
  const small = await startServer({ PARLEY__MEDIA__MAX_UPLOAD_MIB: '1', PARLEY__MEDIA__QUOTA_MIB: '2' });
  try {
    watch.allow(/status of 413/);
    const cleo = await register(browser, small, watch, 'cleo', 'Cleo Park');
    await register(browser, small, watch, 'dan', 'Dan Ruiz');
    await startChatWith(cleo.page, 'dan', 'Dan Ruiz');
    await attach(cleo.page, [{ name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(1536 * 1024, 1) }]);
    const huge = cleo.page.locator('[data-upload]').filter({ hasText: 'huge.bin' });
    await expect(huge.getByRole('alert')).toContainText('This file is too large to send.');
    await huge.getByRole('button', { name: 'Delete' }).click();
    // 0.9 MiB twice fits the 2 MiB quota, the third does not.
    for (const n of [1, 2]) {
      await attach(cleo.page, [{ name: `part${n}.bin`, mimeType: 'application/octet-stream', buffer: Buffer.alloc(900 * 1024, n) }]);
      await expect(bubbles(cleo.page).getByTestId('file-card').filter({ hasText: `part${n}.bin` })).toBeVisible();
    }
    await attach(cleo.page, [{ name: 'part3.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(900 * 1024, 3) }]);
    const over = cleo.page.locator('[data-upload]').filter({ hasText: 'part3.bin' });
    await expect(over.getByRole('alert')).toContainText('Your storage space on this server is full.');
    await shot(cleo.page, 'media-quota-error');
    await cleo.context.close();
  } finally {
    await small.stop();
  }
});
