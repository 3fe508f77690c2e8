// Hosted links: a one-time link sent by email through a real SMTP server on loopback (Debian's
// python3-aiosmtpd, scripts/smtp-sink.py), followed in Chromium to completion and refused the
// second time; and the redirect URI the flow offers at its end, only when the template allows it.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { OUTCOME_TIMEOUT, fillDetails, idCardJpeg, uploadId } from './helpers';

const REPO_ROOT = path.resolve(__dirname, '../..');
const SMTP_PORT = Number(process.env.VERITY_E2E_SMTP_PORT ?? 3108);
const SERVER_BIN = process.env.VERITY_BIN
  ? path.resolve(process.env.VERITY_BIN)
  : path.resolve(__dirname, '../../target/debug/verity');
const JANE = { first: 'Jane', last: 'Doe', birthdate: '1990-01-31' };

let smtp: ChildProcess;
let mailDir: string;
let apiKey: string;

test.beforeAll(async () => {
  mailDir = fs.mkdtempSync(path.join(os.tmpdir(), 'verity-mail-'));
  smtp = spawn('/usr/bin/python3', [path.join(REPO_ROOT, 'scripts/smtp-sink.py'), '--port', String(SMTP_PORT), '--dir', mailDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    smtp.once('error', reject);
    smtp.stdout?.once('data', () => resolve());
  });
  // An API key in the server's own data folder (the config hands it to workers via the env).
  apiKey = execFileSync(SERVER_BIN, ['api-key', 'create', '--name', 'e2e-links'], {
    cwd: REPO_ROOT,
    env: { ...process.env, VERITY_DATA_DIR: process.env.VERITY_E2E_DATA_DIR },
  })
    .toString()
    .trim();
});

test.afterAll(async () => {
  smtp?.kill('SIGTERM');
  fs.rmSync(mailDir, { recursive: true, force: true });
});

async function createInquiry(request: APIRequestContext, attributes: object): Promise<{ id: string; token: string }> {
  const response = await request.post('/api/v1/inquiries', {
    headers: { Authorization: `Bearer ${apiKey}` },
    data: { data: { attributes: { 'inquiry-template-id': 'itmpl_basic_kyc', ...attributes } } },
  });
  expect(response.status()).toBe(201);
  const body = await response.json();
  return { id: body.data.id, token: body.meta['session-token'] };
}

/** The text of a MIME message with quoted-printable soft breaks and escapes undone. */
function decodeQuotedPrintable(raw: string): string {
  return raw
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

async function waitForMail(): Promise<string> {
  let file: string | undefined;
  await expect
    .poll(() => {
      file = fs.readdirSync(mailDir).find((name) => name.endsWith('.eml'));
      return file;
    }, { timeout: 15_000 })
    .toBeTruthy();
  return fs.readFileSync(path.join(mailDir, file!), 'utf8');
}

async function completeHosted(page: Page, jpeg: Buffer): Promise<void> {
  await expect(page.getByRole('heading', { level: 1, name: 'Your details' })).toBeVisible();
  await fillDetails(page, JANE);
  await expect(page.getByRole('heading', { level: 1, name: 'Photograph your ID' })).toBeVisible();
  await uploadId(page, jpeg);
  await expect(page.getByRole('heading', { level: 1, name: 'Verification complete' })).toBeVisible({
    timeout: OUTCOME_TIMEOUT,
  });
}

test('send-link emails a one-time link that completes the flow once', async ({ page, request }) => {
  const jpeg = await idCardJpeg(page);
  const { id } = await createInquiry(request, { 'reference-id': 'mail-user-1' });

  const invalid = await request.post(`/api/v1/inquiries/${id}/send-link`, {
    headers: { Authorization: `Bearer ${apiKey}` },
    data: { data: { attributes: { 'email-address': 'not an address' } } },
  });
  expect(invalid.status()).toBe(422);
  expect((await invalid.json()).errors[0].source.pointer).toBe('/data/attributes/email-address');

  const sent = await request.post(`/api/v1/inquiries/${id}/send-link`, {
    headers: { Authorization: `Bearer ${apiKey}` },
    data: { data: { attributes: { 'email-address': 'jane@example.com' } } },
  });
  expect(sent.status()).toBe(200);
  expect(JSON.stringify(await sent.json())).not.toContain('code=');

  const mail = decodeQuotedPrintable(await waitForMail());
  expect(mail).toMatch(/^To: jane@example\.com/m);
  expect(mail).toMatch(/^Subject: Acme Test Bank: verify your identity/m);
  expect(mail).toContain('text/plain');
  expect(mail).toContain('text/html');
  const link = mail.match(/http:\/\/127\.0\.0\.1:\d+\/verify\?code=[A-Za-z0-9_-]+/)?.[0];
  expect(link).toBeTruthy();

  await page.goto(link!);
  await completeHosted(page, jpeg);
  await expect(page).toHaveURL(new RegExp(`inquiry-id=${id}`));

  // The code was spent: a second visit (another browser, say) is refused.
  const other = await page.context().browser()!.newContext();
  try {
    const second = await other.newPage();
    await second.goto(link!);
    await expect(second.getByRole('heading', { level: 1, name: 'This link has already been used' })).toBeVisible();
  } finally {
    await other.close();
  }
});

test('the flow offers the allowed redirect URI at its end, and no other', async ({ page, request }) => {
  const jpeg = await idCardJpeg(page);
  const back = 'http://localhost:4321/verified';
  const allowed = await createInquiry(request, { 'reference-id': 'shop-user-7', 'redirect-uri': back });
  await page.goto(`/verify?inquiry-id=${allowed.id}&session-token=${allowed.token}`);
  await completeHosted(page, jpeg);
  await expect(page.getByRole('link', { name: 'Continue' })).toHaveAttribute(
    'href',
    `${back}?inquiry-id=${allowed.id}&reference-id=shop-user-7`,
  );

  // The hosted start page's own redirect-uri parameter, for a foreign host: never offered.
  await page.goto('/verify?inquiry-template-id=itmpl_basic_kyc&redirect-uri=' + encodeURIComponent('https://evil.example/x'));
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await completeHosted(page, jpeg);
  await expect(page.getByRole('link', { name: 'Continue' })).toHaveCount(0);
});
