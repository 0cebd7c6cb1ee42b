// Test harness: starts the real parley binary on a fresh data dir, opens users in separate
// browser contexts, fails on console errors and saves screenshots of the main screens.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';

export const BIN =
  process.env.PARLEY_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'parley-target'), 'debug', 'parley');

export interface Server {
  url: string;
  adminPassword: string | null;
  /** The Prometheus listener `--dev` opens (null if it printed none). */
  metricsUrl: string | null;
  stop(): Promise<void>;
}

const ANSI = /\u001b\[[0-9;]*m/g;

/** Starts `parley serve --dev`; `env` adds settings (e.g. PARLEY__MEDIA__MAX_UPLOAD_MIB). */
export async function startServer(env: Record<string, string> = {}): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-e2e-'));
  const child: ChildProcess = spawn(BIN, ['serve', '--dev'], {
    cwd: dir,
    env: {
      ...process.env,
      PARLEY__STORAGE__DATA_DIR: dir,
      PARLEY__HTTP__LISTEN: '127.0.0.1:0',
      PARLEY__AUTH__LOGIN_PER_IP_PER_MINUTE: '10000',
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`parley did not start within 30 s:\n${log}`)), 30_000);
    const onData = (d: Buffer) => {
      log += d.toString().replace(ANSI, '');
      const m = /listening on (http:\/\/[\d.:]+)\r?\n/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stderr!.on('data', onData);
    child.stdout!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`parley exited (${code}) before listening (binary: ${BIN}):\n${log}`));
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${BIN}: ${e.message}`));
    });
  });
  const pw = /password:\s+(\S+)/.exec(log);
  const metrics = /metrics at (http:\/\/\S+)/.exec(log);
  return {
    url,
    adminPassword: pw ? pw[1] : null,
    metricsUrl: metrics ? metrics[1] : null,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const SHOTS = join(import.meta.dirname, '..', 'test-results', 'screenshots');
mkdirSync(SHOTS, { recursive: true });

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

export interface User {
  name: string;
  username: string;
  password: string;
  context: BrowserContext;
  page: Page;
}

/** Console errors seen by any page; tests assert it stays empty (expected ones allowed). */
export class ConsoleWatch {
  errors: string[] = [];
  allowed: RegExp[] = [];
  watch(page: Page, who: string) {
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      // 404 is GET /api/webtransport's documented answer when the server has WebTransport off
      // (the client then uses WebSocket); Chromium logs every failed fetch.
      if (/\/api\/webtransport$/.test(m.location().url) && / 404 /.test(m.text())) return;
      this.errors.push(`[${who}] ${m.text()}`);
    });
    page.on('pageerror', (e) => this.errors.push(`[${who}] page error: ${e.message}`));
  }
  allow(re: RegExp) {
    this.allowed.push(re);
  }
  check() {
    const bad = this.errors.filter((e) => !this.allowed.some((re) => re.test(e)));
    this.errors = [];
    this.allowed = [];
    expect(bad, 'browser console errors').toEqual([]);
  }
}

/** Registers an afterEach hook that fails the test on unexpected browser console errors. */
export function watchConsole(): ConsoleWatch {
  const watch = new ConsoleWatch();
  test.afterEach(() => watch.check());
  return watch;
}

/**
 * One fresh server for the tests of the enclosing file (or describe block): started in beforeAll,
 * stopped in afterAll. The handle forwards to it, so use it inside tests and hooks only.
 */
export function sharedServer(env: Record<string, string> = {}): Server {
  let server: Server | undefined;
  test.beforeAll(async () => {
    server = await startServer(env);
  });
  test.afterAll(async () => {
    await server?.stop();
  });
  const live = () => {
    if (!server) throw new Error('the shared server only runs inside tests and hooks');
    return server;
  };
  return {
    get url() { return live().url; },
    get adminPassword() { return live().adminPassword; },
    get metricsUrl() { return live().metricsUrl; },
    stop: () => live().stop(),
  };
}

/** The usual top of a spec: a shared server for the file and the console check after each test. */
export function setupSpec(env: Record<string, string> = {}): { server: Server; watch: ConsoleWatch } {
  return { server: sharedServer(env), watch: watchConsole() };
}

export async function openPage(browser: Browser, server: Server, watch: ConsoleWatch, who: string, viewport?: { width: number; height: number }) {
  const context = await browser.newContext({ baseURL: server.url, viewport });
  const page = await context.newPage();
  watch.watch(page, who);
  await page.goto('/');
  return { context, page };
}

export async function register(browser: Browser, server: Server, watch: ConsoleWatch, username: string, displayName: string, extra: { phone?: string } = {}): Promise<User> {
  const { context, page } = await openPage(browser, server, watch, username);
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Display name').fill(displayName);
  if (extra.phone) await page.getByLabel('Phone').fill(extra.phone);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('button', { name: 'New chat' })).toBeVisible();
  await expect(page.getByText('Connecting…')).toBeHidden();
  return { name: displayName, username, password: 'correct horse battery', context, page };
}

export async function login(browser: Browser, server: Server, watch: ConsoleWatch, username: string, who = username): Promise<{ context: BrowserContext; page: Page }> {
  const { context, page } = await openPage(browser, server, watch, who);
  await page.getByLabel('Username, email or phone').fill(username);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('button', { name: 'New chat' })).toBeVisible();
  return { context, page };
}

/** Opens a 1:1 chat with `username` through New chat and the directory search. */
export async function startChatWith(page: Page, username: string, displayName: string) {
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.getByLabel(/find a user by username/).fill(username);
  await page.getByRole('button', { name: 'Find' }).click();
  await page.getByRole('button', { name: `Chat with ${displayName}` }).click();
  await expect(page.getByTestId('conv-name')).toHaveText(displayName);
}

export async function send(page: Page, text: string) {
  const box = page.getByRole('textbox', { name: 'Type a message' });
  await box.fill(text);
  await box.press('Enter');
}

export function bubbles(page: Page) {
  return page.getByRole('log', { name: 'Messages' }).getByTestId('bubble');
}

/** The bubble whose own text (not a quote, not the time) contains `text`. */
export function bubble(page: Page, text: string) {
  return bubbles(page).filter({ has: page.locator('.text', { hasText: text }) });
}

export function chatRow(page: Page, name: string | RegExp) {
  return page.getByRole('navigation', { name: 'Chat list' }).getByRole('button', { name });
}
