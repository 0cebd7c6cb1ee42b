// WebTransport (docs/protocol.md §2.0) in real Chromium against the real binary: a WebTransport
// user chats with a WebSocket user both ways with receipts; without WebTransport (listener off,
// or UDP swallowed) the client falls back to WebSocket within its time limit and remembers it;
// a certificate rotation during a live WebTransport session loses nothing.
import { createSocket, type Socket } from 'node:dgram';
import { expect, test, type Page } from '@playwright/test';
import { bubble, chatRow, register, send, sharedServer, shot, startChatWith, startServer, watchConsole, type Server } from './harness';

const watch = watchConsole();

/** Opens the connection diagnostics panel (Menu → Connection). */
async function diagnostics(page: Page) {
  const panel = page.getByRole('region', { name: 'Connection' });
  if (!(await panel.isVisible())) {
    await page.getByRole('button', { name: 'Menu', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Connection' }).click();
  }
  await expect(panel.getByTestId('diag-status')).toHaveText('Online');
  return panel;
}

async function closeDiagnostics(page: Page) {
  await page.getByRole('region', { name: 'Connection' }).getByRole('button', { name: 'Back' }).click();
}

/** GET /api/webtransport from the page, with its session's token. */
async function wtInfo(page: Page): Promise<{ status: number; body: { port?: number; certificate_hashes?: { value: string }[] } }> {
  return page.evaluate(async () => {
    const t = JSON.parse(localStorage.getItem('parley.tokens') ?? 'null');
    const r = await fetch('/api/webtransport', { headers: { Authorization: `Bearer ${t.access_token}` } });
    return { status: r.status, body: await r.json() };
  });
}

async function metric(server: Server, name: string, transport: string): Promise<number | null> {
  if (!server.metricsUrl) return null;
  const text = await (await fetch(server.metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes(`transport="${transport}"`));
  return line ? Number(line.split(' ').pop()) : null;
}

test.describe('WebTransport and WebSocket users', () => {
  const server = sharedServer();

  test('a WebTransport user and a WebSocket user chat both ways with read receipts', async ({ browser }) => {
    const ana = await register(browser, server, watch, 'ana', 'Ana Costa');
    const bob = await register(browser, server, watch, 'bob', 'Bob Stone');

    // Ana: WebTransport, nothing to explain, connected once.
    const anaDiag = await diagnostics(ana.page);
    await expect(anaDiag.getByTestId('diag-transport')).toHaveAttribute('data-kind', 'webtransport');
    await expect(anaDiag.getByTestId('diag-transport')).toHaveText('WebTransport (HTTP/3 over QUIC)');
    await expect(anaDiag.getByTestId('diag-reason')).toHaveText('—');
    await expect(anaDiag.getByTestId('diag-reconnects')).toHaveText('0');
    await expect(anaDiag.getByTestId('diag-connect')).toHaveText(/^\d+ ms$/);

    // Bob: the connection setting forces WebSocket; the client reconnects over it.
    const bobDiag = await diagnostics(bob.page);
    await expect(bobDiag.getByTestId('diag-transport')).toHaveAttribute('data-kind', 'webtransport');
    await bobDiag.getByRole('checkbox', { name: /Always use WebSocket/ }).check();
    await expect(bobDiag.getByTestId('diag-transport')).toHaveAttribute('data-kind', 'websocket');
    await expect(bobDiag.getByTestId('diag-transport')).toHaveText('WebSocket');
    await expect(bobDiag.getByTestId('diag-reason')).toHaveText('WebSocket chosen in the connection settings');
    await expect(bobDiag.getByTestId('diag-reconnects')).toHaveText('1');
    await expect(bobDiag.getByTestId('diag-status')).toHaveText('Online');

    // The server sees one live session per transport (Bob's WebTransport one is gone).
    expect(server.metricsUrl).not.toBeNull();
    await expect.poll(() => metric(server, 'parley_connected_clients', 'webtransport')).toBe(1);
    await expect.poll(() => metric(server, 'parley_connected_clients', 'websocket')).toBe(1);

    // Ana (WebTransport) → Bob (WebSocket): delivered, then read when Bob opens the chat.
    await closeDiagnostics(ana.page);
    await startChatWith(ana.page, 'bob', 'Bob Stone');
    await send(ana.page, 'Hello over QUIC 🚀');
    await expect(bubble(ana.page, 'Hello over QUIC 🚀')).toHaveAttribute('data-tick', 'delivered');
    await closeDiagnostics(bob.page);
    await chatRow(bob.page, /Ana Costa, 1 unread message/).click();
    await expect(bubble(bob.page, 'Hello over QUIC 🚀')).toBeVisible();
    await expect(bubble(ana.page, 'Hello over QUIC 🚀')).toHaveAttribute('data-tick', 'read');

    // Bob (WebSocket) → Ana (WebTransport, chat open): read at once.
    await send(bob.page, 'Hi Ana, WebSocket here — ça va?');
    await expect(bubble(ana.page, 'Hi Ana, WebSocket here — ça va?')).toBeVisible();
    await expect(bubble(bob.page, 'Hi Ana, WebSocket here — ça va?')).toHaveAttribute('data-tick', 'read');
    await expect(ana.page.getByTestId('conv-status')).toHaveText('online');

    // Typing crosses transports too.
    await ana.page.getByRole('textbox', { name: 'Type a message' }).pressSequentially('typing', { delay: 20 });
    await expect(bob.page.getByTestId('conv-status')).toHaveText('typing…');
    await ana.page.getByRole('textbox', { name: 'Type a message' }).press('Enter');
    await expect(bubble(bob.page, 'typing')).toBeVisible();
    await expect(bubble(ana.page, 'typing')).toHaveAttribute('data-tick', 'read');

    // The diagnostics panels next to the conversation, one per transport.
    await diagnostics(ana.page);
    await shot(ana.page, 'diagnostics-webtransport');
    await diagnostics(bob.page);
    await shot(bob.page, 'diagnostics-websocket');

    // Unticking goes back to WebTransport first.
    const diag = bob.page.getByRole('region', { name: 'Connection' });
    await diag.getByRole('checkbox', { name: /Always use WebSocket/ }).uncheck();
    await expect(diag.getByTestId('diag-transport')).toHaveAttribute('data-kind', 'webtransport');
    await expect(diag.getByTestId('diag-reconnects')).toHaveText('2');

    await ana.context.close();
    await bob.context.close();
  });
});

test.describe('without WebTransport', () => {
  test('the listener is off: the client uses WebSocket at once and chats normally', async ({ browser }) => {
    const server = await startServer({ PARLEY__WEBTRANSPORT__ENABLED: 'false' });
    try {
      const ana = await register(browser, server, watch, 'ana', 'Ana Costa');
      const bob = await register(browser, server, watch, 'bob', 'Bob Stone');
      expect((await wtInfo(ana.page)).status).toBe(404);
      for (const u of [ana, bob]) {
        const d = await diagnostics(u.page);
        await expect(d.getByTestId('diag-transport')).toHaveAttribute('data-kind', 'websocket');
        await expect(d.getByTestId('diag-reason')).toHaveText('WebTransport is off on this server');
        await closeDiagnostics(u.page);
      }
      await startChatWith(ana.page, 'bob', 'Bob Stone');
      await send(ana.page, 'Plain old WebSocket');
      await chatRow(bob.page, /Ana Costa, 1 unread message/).click();
      await expect(bubble(bob.page, 'Plain old WebSocket')).toBeVisible();
      await expect(bubble(ana.page, 'Plain old WebSocket')).toHaveAttribute('data-tick', 'read');
      await send(bob.page, 'Works for me');
      await expect(bubble(ana.page, 'Works for me')).toBeVisible();
      await expect(bubble(bob.page, 'Works for me')).toHaveAttribute('data-tick', 'read');

      // Remembered: a reload goes straight to WebSocket without asking again.
      await ana.page.reload();
      const d = await diagnostics(ana.page);
      await expect(d.getByTestId('diag-reason')).toHaveText('WebTransport is off on this server (remembered from an earlier try)');
      await shot(ana.page, 'diagnostics-listener-off');
      await ana.context.close();
      await bob.context.close();
    } finally {
      await server.stop();
    }
  });

  test('UDP is swallowed: the client gives up on WebTransport within 3 s, falls back and remembers it', async ({ browser }) => {
    const server = await startServer();
    // A UDP port that reads datagrams and never answers: QUIC's handshake goes nowhere, as when
    // a firewall drops UDP. The page is told WebTransport lives there.
    const hole: Socket = createSocket('udp4');
    let datagrams = 0;
    hole.on('message', () => datagrams++);
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', r));
    const holePort = hole.address().port;
    // Chromium reports the abandoned QUIC attempt when it times out (expected here, and only here).
    watch.allow(new RegExp(`Failed to establish a connection to https://127\\.0\\.0\\.1:${holePort}/api/wt: .*QUIC_NETWORK_IDLE_TIMEOUT`));
    try {
      const ana = await register(browser, server, watch, 'ana', 'Ana Costa');
      const bob = await register(browser, server, watch, 'bob', 'Bob Stone');
      const real = await wtInfo(ana.page);
      expect(real.status).toBe(200);
      await ana.context.route('**/api/webtransport', async (route) => {
        const r = await route.fetch();
        const body = await r.json();
        await route.fulfill({ response: r, json: { ...body, port: holePort } });
      });
      // Chromium keeps retransmitting the abandoned handshake until its idle timeout, which it
      // then reports; datagrams counted before that may still be stragglers of this attempt.
      const abandoned = ana.page
        .waitForEvent('console', { predicate: (m) => m.text().includes('QUIC_NETWORK_IDLE_TIMEOUT'), timeout: 30_000 })
        .catch(() => undefined);
      await ana.page.evaluate(() => localStorage.removeItem('parley.transport'));
      await ana.page.reload();
      const d = await diagnostics(ana.page);
      await expect(d.getByTestId('diag-transport')).toHaveAttribute('data-kind', 'websocket');
      await expect(d.getByTestId('diag-reason')).toHaveText('WebTransport did not connect within 3 s (UDP blocked?)');
      const ms = Number((await d.getByTestId('diag-connect').textContent())!.replace(/\D/g, ''));
      expect(ms).toBeGreaterThanOrEqual(2900);
      expect(ms).toBeLessThan(6000);
      expect(datagrams).toBeGreaterThan(0);
      await shot(ana.page, 'diagnostics-fallback');
      await closeDiagnostics(ana.page);

      await startChatWith(ana.page, 'bob', 'Bob Stone');
      await send(ana.page, 'QUIC is blocked here');
      await chatRow(bob.page, /Ana Costa, 1 unread message/).click();
      await expect(bubble(bob.page, 'QUIC is blocked here')).toBeVisible();
      await expect(bubble(ana.page, 'QUIC is blocked here')).toHaveAttribute('data-tick', 'read');
      await send(bob.page, 'Got it over QUIC');
      await expect(bubble(ana.page, 'Got it over QUIC')).toBeVisible();
      await expect(bubble(bob.page, 'Got it over QUIC')).toHaveAttribute('data-tick', 'read');

      // The fallback is remembered: the next load does not wait 3 s again (nor send UDP).
      await abandoned;
      const before = datagrams;
      await ana.page.reload();
      const again = await diagnostics(ana.page);
      await expect(again.getByTestId('diag-reason')).toHaveText(/did not connect within 3 s .*\(remembered from an earlier try\)$/);
      const ms2 = Number((await again.getByTestId('diag-connect').textContent())!.replace(/\D/g, ''));
      expect(ms2).toBeLessThan(2000);
      expect(datagrams).toBe(before);
      await ana.context.close();
      await bob.context.close();
    } finally {
      hole.close();
      await server.stop();
    }
  });
});

test('a certificate rotation during a WebTransport session loses no message', async ({ browser }) => {
  const server = await startServer({ PARLEY__WEBTRANSPORT__CERT_ROTATE_SECS: '3' });
  try {
    const ana = await register(browser, server, watch, 'ana', 'Ana Costa');
    const bob = await register(browser, server, watch, 'bob', 'Bob Stone');
    for (const u of [ana, bob]) {
      const d = await diagnostics(u.page);
      await expect(d.getByTestId('diag-transport')).toHaveAttribute('data-kind', 'webtransport');
      await closeDiagnostics(u.page);
    }
    const first = await wtInfo(ana.page);
    const hashesBefore = first.body.certificate_hashes!.map((h) => h.value);
    expect(hashesBefore.length).toBeGreaterThanOrEqual(1);

    const sent: string[] = [];
    /** Sends from one side and waits until the other side has it, so the order is known. */
    const say = async (from: 'ana' | 'bob', t: string) => {
      const [a, b] = from === 'ana' ? [ana.page, bob.page] : [bob.page, ana.page];
      await send(a, t);
      sent.push(t);
      await expect(bubble(b, t)).toBeVisible();
    };
    await startChatWith(ana.page, 'bob', 'Bob Stone');
    await send(ana.page, 'before rotation 1');
    sent.push('before rotation 1');
    await chatRow(bob.page, /Ana Costa/).click();
    await expect(bubble(bob.page, 'before rotation 1')).toBeVisible();
    await say('bob', 'before rotation 2');
    await say('ana', 'before rotation 3');
    // Wait until the certificate has rotated (the current hash is a new one), then a bit more.
    await expect
      .poll(async () => (await wtInfo(ana.page)).body.certificate_hashes![0].value, { timeout: 15_000, intervals: [500] })
      .not.toBe(hashesBefore[0]);
    await say('bob', 'after rotation 1');
    await say('ana', 'after rotation 2');
    await say('bob', 'after rotation 3');
    // Another rotation with messages in flight.
    const mid = (await wtInfo(ana.page)).body.certificate_hashes![0].value;
    const during = (async () => {
      for (let i = 1; i <= 5; i++) {
        const t = `during rotation ${i}`;
        await send(ana.page, t);
        sent.push(t);
        await ana.page.waitForTimeout(700);
      }
    })();
    await expect.poll(async () => (await wtInfo(bob.page)).body.certificate_hashes![0].value, { timeout: 15_000, intervals: [500] }).not.toBe(mid);
    await during;

    // Every message on both sides, once, in order; both sessions are still the first ones.
    for (const p of [ana.page, bob.page]) {
      const texts = p.getByRole('log', { name: 'Messages' }).getByTestId('bubble').locator('.text');
      await expect(texts).toHaveText(sent);
      const d = await diagnostics(p);
      await expect(d.getByTestId('diag-transport')).toHaveAttribute('data-kind', 'webtransport');
      await expect(d.getByTestId('diag-reconnects')).toHaveText('0');
    }
    await expect(bubble(ana.page, 'during rotation 5')).toHaveAttribute('data-tick', 'read');

    // A fresh page load after the rotations connects over WebTransport with the new hashes.
    await ana.page.reload();
    const d = await diagnostics(ana.page);
    await expect(d.getByTestId('diag-transport')).toHaveAttribute('data-kind', 'webtransport');
    await expect(d.getByTestId('diag-reason')).toHaveText('—');
    await shot(ana.page, 'diagnostics-after-rotation');
    await ana.context.close();
    await bob.context.close();
  } finally {
    await server.stop();
  }
});
