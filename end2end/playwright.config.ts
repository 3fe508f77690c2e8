// End-to-end tests of the hosted verification flow: real server binary, real headless Chromium.
//
// Build first (`cargo leptos build`, which writes target/debug/verity and target/site), then run
// `npm test` in end2end/. The server is started here with a fresh data directory on its own port;
// `reuseExistingServer` is off so a stale server on that port is an error, not a silent reuse.
//
// Environment:
//   VERITY_BIN            server binary (default ../target/debug/verity, relative to end2end/);
//                         a relative value is taken relative to the directory the command runs in
//   VERITY_E2E_PORT       port for the server (default 3107)
//   VERITY_E2E_SMTP_PORT  port of the loopback SMTP server the email tests start (default 3108)
//   VERITY_E2E_CHROMIUM   browser executable (default /usr/bin/chromium, Debian's package)
//   VERITY_E2E_KEEP_DATA  set to 1 to keep the server's temporary data directory after the run
//   VERITY_E2E_SERVER_LOG set to 1 to show the server's stdout (its stderr is always shown)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from '@playwright/test';

const PORT = Number(process.env.VERITY_E2E_PORT ?? 3107);
const BASE_URL = `http://127.0.0.1:${PORT}`;
const SMTP_PORT = Number(process.env.VERITY_E2E_SMTP_PORT ?? 3108);
const REPO_ROOT = path.resolve(__dirname, '..');
const SERVER_BIN = process.env.VERITY_BIN
  ? path.resolve(process.env.VERITY_BIN)
  : path.resolve(__dirname, '../target/debug/verity');
const CHROMIUM = process.env.VERITY_E2E_CHROMIUM ?? '/usr/bin/chromium';

// Playwright loads this file in the runner and again in every worker process. Only the runner
// starts the server, so only the runner creates the data directory; the workers inherit its path
// through the environment instead of each leaving an empty directory behind.
const DATA_DIR_ENV = 'VERITY_E2E_DATA_DIR';
function dataDir(): string {
  const inherited = process.env[DATA_DIR_ENV];
  if (inherited) return inherited;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verity-e2e-'));
  process.env[DATA_DIR_ENV] = dir;
  if (process.env.VERITY_E2E_KEEP_DATA !== '1') {
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return dir;
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export default defineConfig({
  testDir: './tests',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  use: {
    baseURL: BASE_URL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: CHROMIUM,
          args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        },
      },
    },
  ],
  webServer: {
    command: `${shellQuote(SERVER_BIN)} serve`,
    cwd: REPO_ROOT,
    url: `${BASE_URL}/healthz`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: process.env.VERITY_E2E_SERVER_LOG === '1' ? 'pipe' : 'ignore',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${PORT}`,
      LEPTOS_SITE_ROOT: 'target/site',
      LEPTOS_OUTPUT_NAME: 'verity',
      VERITY_DATA_DIR: dataDir(),
      VERITY_TEMPLATES_DIR: 'templates',
      VERITY_PUBLIC_URL: BASE_URL,
      VERITY_SMTP_URL: `smtp://127.0.0.1:${SMTP_PORT}`,
      VERITY_ORGANIZATION_NAME: 'Acme Test Bank',
      RUST_LOG: 'info',
    },
  },
});
