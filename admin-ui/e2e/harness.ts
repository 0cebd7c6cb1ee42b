// Test harness: starts the real parley binary on a fresh data dir and opens the console in
// Debian's Chromium; fails on console errors and saves screenshots of each page.
//
// Where the console is served from: when the binary serves the built console at /admin/
// (its index.html carries <meta name="parley-app" content="admin">) the tests use it directly.
// Until then a Vite preview server serves dist/ at /admin/ and proxies /api and /health to the
// binary. ADMIN_UI_SERVE=binary|preview forces one.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { preview, type PreviewServer } from 'vite';

export const BIN =
  process.env.PARLEY_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'parley-target'), 'debug', 'parley');
const ROOT = join(import.meta.dirname, '..');

export interface Server {
  /** The appliance itself (API). */
  url: string;
  /** Where the console is opened: `.../admin/`. */
  adminUrl: string;
  adminPassword: string;
  /** Admin routes this binary does not have yet ("GET /api/admin/stats"): tests needing them skip. */
  missing: Set<string>;
  stop(): Promise<void>;
}

const ANSI = /\u001b\[[0-9;]*m/g;

async function startBinary(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-admin-e2e-'));
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
  if (!pw) throw new Error(`parley printed no admin password:\n${log}`);
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, adminPassword: pw[1], stop };
}

async function binaryServesConsole(url: string): Promise<boolean> {
  const res = await fetch(`${url}/admin/`);
  return res.ok && /name="parley-app" content="admin"/.test(await res.text());
}

async function startPreview(target: string): Promise<PreviewServer> {
  if (!existsSync(join(ROOT, 'dist', 'index.html'))) throw new Error('admin-ui/dist is missing: run `npm run build` before `npm run e2e`');
  const proxy = { '/api': { target, changeOrigin: true }, '/health': { target, changeOrigin: true } };
  return preview({
    configFile: false,
    root: ROOT,
    base: '/admin/',
    logLevel: 'warn',
    build: { outDir: 'dist' },
    preview: { host: '127.0.0.1', port: 0, strictPort: false, proxy, open: false },
  });
}

/** Logs in through the API (setup work that is not under test). */
export async function apiLogin(url: string, login: string, password: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login, password }) });
  if (!res.ok) throw new Error(`login ${login}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** An authenticated API call for test setup; returns the parsed JSON body. */
export async function api<T = unknown>(server: Pick<Server, 'url'>, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

// GET routes whose absence the harness detects (404/405 = not built into this binary yet).
const PROBES = ['stats', 'users', 'invites', 'directory', 'ldap', 'federation', 'backups', 'audit', 'settings'];

async function probe(url: string, token: string): Promise<Set<string>> {
  const missing = new Set<string>();
  for (const p of PROBES) {
    const res = await fetch(`${url}/api/admin/${p}`, { headers: { Authorization: `Bearer ${token}` } });
    if (res.status === 404 || res.status === 405) missing.add(`GET /api/admin/${p}`);
    await res.body?.cancel();
  }
  // A route that exists answers 403 reauth_required (or 404 no such user); an absent one 405.
  const del = await fetch(`${url}/api/admin/users/${encodeURIComponent('nobody@nowhere')}`, {
    method: 'DELETE', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{"password":""}',
  });
  const text = await del.text();
  if (del.status === 405 || (del.status === 404 && /endpoint/.test(text))) missing.add('DELETE /api/admin/users/{id}');
  return missing;
}

export async function startServer(env: Record<string, string> = {}): Promise<Server> {
  const bin = await startBinary(env);
  let pv: PreviewServer | null = null;
  try {
    const mode = process.env.ADMIN_UI_SERVE ?? ((await binaryServesConsole(bin.url)) ? 'binary' : 'preview');
    let adminUrl = `${bin.url}/admin/`;
    if (mode === 'preview') {
      pv = await startPreview(bin.url);
      const local = pv.resolvedUrls?.local[0];
      if (!local) throw new Error('vite preview has no URL');
      adminUrl = new URL('/admin/', local).toString();
    }
    const token = await apiLogin(bin.url, 'admin', bin.adminPassword);
    const missing = await probe(bin.url, token);
    return {
      url: bin.url,
      adminUrl,
      adminPassword: bin.adminPassword,
      missing,
      async stop() {
        await pv?.close();
        await bin.stop();
      },
    };
  } catch (e) {
    await pv?.close();
    await bin.stop();
    throw e;
  }
}

export const SHOTS = join(ROOT, 'test-results', 'screenshots');
mkdirSync(SHOTS, { recursive: true });

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Console errors seen by any page; tests assert it stays empty (expected ones allowed). */
export class ConsoleWatch {
  errors: string[] = [];
  allowed: RegExp[] = [];
  /** Failed loads of routes the binary lacks are expected until they land. */
  missing = new Set<string>();
  watch(page: Page, who: string) {
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const where = m.location().url;
      const path = where ? new URL(where).pathname : '';
      if (/status of 40[45]/.test(m.text()) && this.missing.has(`GET ${path}`)) return;
      this.errors.push(`[${who}] ${m.text()} (${where})`);
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

/**
 * The usual top of a spec: one fresh server for the file (started in beforeAll, stopped in
 * afterAll) and the console check after each test. The handle forwards to the live server.
 */
export function setupSpec(env: Record<string, string> = {}): { server: Server; watch: ConsoleWatch } {
  const { servers: [server], watch } = setupServers([env]);
  return { server, watch };
}

/**
 * Like setupSpec with several servers, one per `envs` entry (federation tests start appliances
 * with different server names), started one after the other; a route missing from any of them
 * counts as missing. With `needs`, the first server (start it with an env every binary accepts)
 * decides: when its binary lacks one of those routes the others are not started (their env may
 * name settings that binary does not know) and stand in with its missing routes, so tests that
 * call needs() on them skip.
 */
export function setupServers(envs: Record<string, string>[], opts: { needs?: string[] } = {}): { servers: Server[]; watch: ConsoleWatch } {
  const started: (Server | undefined)[] = envs.map(() => undefined);
  const watch = new ConsoleWatch();
  test.beforeAll(async () => {
    test.setTimeout(60_000 * envs.length);
    for (const [i, env] of envs.entries()) {
      const first = started[0];
      if (first && opts.needs?.some((r) => first.missing.has(r))) {
        const unavailable = () => { throw new Error('this server was not started: the binary lacks its routes'); };
        started[i] = {
          get url() { return unavailable(); }, get adminUrl() { return unavailable(); }, get adminPassword() { return unavailable(); },
          missing: first.missing, stop: async () => {},
        };
      } else {
        started[i] = await startServer(env);
      }
    }
    watch.missing = new Set(started.flatMap((s) => [...s!.missing]));
  });
  test.afterAll(async () => {
    await Promise.all(started.map((s) => s?.stop()));
  });
  test.afterEach(() => watch.check());
  const handle = (i: number): Server => {
    const live = () => {
      const s = started[i];
      if (!s) throw new Error('the shared servers only run inside tests and hooks');
      return s;
    };
    return {
      get url() { return live().url; },
      get adminUrl() { return live().adminUrl; },
      get adminPassword() { return live().adminPassword; },
      get missing() { return live().missing; },
      stop: () => live().stop(),
    };
  };
  return { servers: envs.map((_, i) => handle(i)), watch };
}

/** Skips the current test when the binary lacks one of `routes` (e.g. 'GET /api/admin/stats'). */
export function needs(server: Server, ...routes: string[]) {
  const gone = routes.filter((r) => server.missing.has(r));
  test.skip(gone.length > 0, `not in this parley binary yet: ${gone.join(', ')}`);
}

export async function openConsole(browser: Browser, server: Server, watch: ConsoleWatch, who: string, viewport?: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  watch.watch(page, who);
  await page.goto(server.adminUrl);
  return { context, page };
}

export async function loginAs(page: Page, login: string, password: string) {
  await page.getByLabel('Username, email or phone').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** Opens the console and logs in as the dev admin; lands on the dashboard. `who` labels console errors. */
export async function adminPage(browser: Browser, server: Server, watch: ConsoleWatch, viewport?: { width: number; height: number }, who = 'admin') {
  const { context, page } = await openConsole(browser, server, watch, who, viewport);
  await loginAs(page, 'admin', server.adminPassword);
  await expect(page.getByRole('navigation', { name: 'Console' })).toBeVisible();
  return { context, page };
}

export async function goTo(page: Page, label: string) {
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: label, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: label })).toBeVisible();
}

/** The users-table row of `username`. */
export function userRow(page: Page, username: string) {
  return page.getByTestId('user-row').filter({ has: page.getByText(username, { exact: true }) });
}
