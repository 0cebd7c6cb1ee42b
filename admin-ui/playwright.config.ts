import { defineConfig } from '@playwright/test';

// End-to-end tests in Debian's Chromium against the real `parley` binary (PARLEY_BIN). Each
// spec file starts its own server on a temp data dir (see e2e/harness.ts). Never downloads a
// browser: the executable is Debian's.
export default defineConfig({
  testDir: 'e2e',
  testMatch: '*.spec.ts',
  workers: Number(process.env.E2E_WORKERS ?? 1),
  fullyParallel: false,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  outputDir: 'test-results/artifacts',
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    actionTimeout: 10_000,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox', '--headless', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync',
      ],
    },
    trace: 'off',
    screenshot: 'only-on-failure',
  },
});
