// The embedded flow on another site: a host page on its own origin (a tiny node server on
// loopback) loads /sdk/verity.js from Verity, opens the flow in an iframe and gets its messages.
// Also: the same with third-party cookies blocked, without JavaScript (a plain iframe), and a
// host origin the template does not allow, which the browser refuses to show the flow to.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, expect, test, type FrameLocator, type Page } from '@playwright/test';
import { OUTCOME_TIMEOUT, idCardJpeg } from './helpers';

const VERITY = `http://127.0.0.1:${Number(process.env.VERITY_E2E_PORT ?? 3107)}`;
const JANE = { first: 'Jane', last: 'Doe', birthdate: '1990-01-31' };

/** The host page: loads the SDK, opens the flow on a click, records every callback. */
function sdkHostPage(options: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>Shop checkout</h1><button id="open">Verify my identity</button>
<p id="result" role="status"></p>
<script src="${VERITY}/sdk/verity.js"></script>
<script>
  window.calls = [];
  var client = new Verity.Client(Object.assign({
    templateId: 'itmpl_basic_kyc',
    referenceId: 'shop-user-1',
    onReady: function () { calls.push({ type: 'ready' }); },
    onEvent: function (name, meta) { calls.push({ type: 'event', name: name, meta: meta }); },
    onComplete: function (r) {
      calls.push({ type: 'complete', result: r });
      document.getElementById('result').textContent = 'Verification ' + r.status;
    },
    onCancel: function (r) { calls.push({ type: 'cancel', result: r }); },
    onError: function (e) { calls.push({ type: 'error', error: e }); }
  }, ${options}));
  document.getElementById('open').onclick = function () { client.open(); };
</script></body></html>`;
}

/** A host page with a plain iframe (no SDK), for the flow without JavaScript. */
function iframeHostPage(src: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>Shop checkout</h1>
<iframe title="Identity verification" src="${src}" style="width:600px;height:900px"></iframe>
</body></html>`;
}

interface Host {
  origin: string;
  close: () => Promise<void>;
  pages: Map<string, string>;
}

/** A web server on `address` that serves the HTML in `pages` by path. */
async function startHost(address: string, hostname: string): Promise<Host> {
  const pages = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const body = pages.get((req.url ?? '/').split('?')[0]);
    res.writeHead(body ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${hostname}:${port}`,
    pages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let host: Host; // http://localhost:<port>: allowed by the example templates
let stranger: Host; // http://127.0.0.2:<port>: not allowed

test.beforeAll(async () => {
  host = await startHost('127.0.0.1', 'localhost');
  stranger = await startHost('127.0.0.2', '127.0.0.2');
  host.pages.set('/', sdkHostPage('{}'));
  stranger.pages.set('/', sdkHostPage('{}'));
});

test.afterAll(async () => {
  await host?.close();
  await stranger?.close();
});

const flowFrame = (page: Page) => page.frameLocator('iframe[title="Identity verification"]');

/** Start → details, inside the iframe, up to the ID photo step. */
async function toThePhotoStepInFrame(frame: FrameLocator): Promise<void> {
  await expect(frame.getByRole('heading', { level: 1, name: 'Verify your identity' })).toBeVisible();
  await frame.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(frame.getByRole('heading', { level: 1, name: 'Your details' })).toBeVisible();
  const first = frame.getByLabel('First name', { exact: true });
  await first.fill(JANE.first);
  await frame.getByLabel('Last name', { exact: true }).fill(JANE.last);
  await frame.getByLabel('Date of birth', { exact: true }).fill(JANE.birthdate);
  await expect(first).toHaveValue(JANE.first);
  await frame.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(frame.getByRole('heading', { level: 1, name: 'Photograph your ID' })).toBeVisible();
}

/** Start → details → ID photo → completed, inside the iframe. */
async function completeInFrame(frame: FrameLocator, jpeg: Buffer): Promise<void> {
  await toThePhotoStepInFrame(frame);
  await frame
    .getByLabel('Photo of the front of your ID', { exact: true })
    .setInputFiles({ name: 'id-front.jpg', mimeType: 'image/jpeg', buffer: jpeg });
  await frame.getByRole('button', { name: 'Upload photo', exact: true }).click();
  await expect(
    frame.getByRole('heading', { level: 1, name: 'Verification complete' }),
  ).toBeVisible({ timeout: OUTCOME_TIMEOUT });
}

async function sdkCompletesTheFlow(page: Page): Promise<void> {
  const jpeg = await idCardJpeg(page);
  await page.goto(host.origin + '/');
  await page.getByRole('button', { name: 'Verify my identity' }).click();
  await expect(page.getByRole('dialog', { name: 'Identity verification' })).toBeVisible();
  const iframe = page.locator('iframe[title="Identity verification"]');
  await expect(iframe).toHaveAttribute('allow', 'camera');
  await expect(iframe).toHaveAttribute('sandbox', 'allow-scripts allow-same-origin allow-forms allow-popups');
  await completeInFrame(flowFrame(page), jpeg);
  await expect(page.getByRole('status')).toHaveText('Verification completed');

  const calls = await page.evaluate(() => (window as unknown as { calls: any[] }).calls);
  expect(calls.filter((c) => c.type === 'ready')).toHaveLength(1);
  const steps = calls.filter((c) => c.type === 'event' && c.name === 'step-change').map((c) => c.meta.step);
  expect(steps).toContain('details');
  expect(steps).toContain('government-id');
  const complete = calls.filter((c) => c.type === 'complete');
  expect(complete).toHaveLength(1);
  expect(complete[0].result.status).toBe('completed');
  expect(complete[0].result.inquiryId).toMatch(/^inq_/);
  expect(complete[0].result.fields).toMatchObject({ 'name-first': 'Jane', 'name-last': 'Doe' });
  expect(calls.filter((c) => c.type === 'error')).toHaveLength(0);

  // No session cookie was needed: the embed page keeps its session in its URLs and forms.
  const cookies = await page.context().cookies(VERITY);
  expect(cookies.filter((c) => c.name.startsWith('verity_'))).toHaveLength(0);
}

test('the SDK opens the flow on another site and reports completion', async ({ page }) => {
  await sdkCompletesTheFlow(page);
});

test('the embedded flow works with third-party cookies blocked', async () => {
  const browser = await chromium.launch({
    executablePath: process.env.VERITY_E2E_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--test-third-party-cookie-phaseout'],
  });
  try {
    const page = await browser.newPage();
    await sdkCompletesTheFlow(page);
  } finally {
    await browser.close();
  }
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a plain iframe of /embed completes every step with form posts', async ({ page }) => {
    const jpeg = await idCardJpeg(page);
    const src = `${VERITY}/embed?inquiry-template-id=itmpl_basic_kyc&parent-origin=${encodeURIComponent(host.origin)}`;
    host.pages.set('/plain', iframeHostPage(src));
    await page.goto(host.origin + '/plain');
    await completeInFrame(flowFrame(page), jpeg);
  });
});

test('a site the template does not allow is refused by the browser', async ({ page }) => {
  // The SDK on 127.0.0.2 tells the truth: the server answers frame-ancestors 'none'.
  const refused = page.waitForResponse((r) => r.url().startsWith(`${VERITY}/embed?`));
  await page.goto(stranger.origin + '/');
  await page.getByRole('button', { name: 'Verify my identity' }).click();
  const response = await refused;
  expect(response.headers()['content-security-policy']).toBe("frame-ancestors 'none'");
  expect(response.headers()['x-frame-options']).toBe('DENY');
  await page.waitForTimeout(1000);
  await expect(flowFrame(page).getByRole('heading', { name: 'Verify your identity' })).toHaveCount(0);

  // A page that claims an allowed origin gets the template's origins, which do not include its
  // own: the browser still refuses to show the flow.
  const src = `${VERITY}/embed?inquiry-template-id=itmpl_basic_kyc&parent-origin=${encodeURIComponent(host.origin)}`;
  stranger.pages.set('/liar', iframeHostPage(src));
  const lied = page.waitForResponse((r) => r.url().startsWith(`${VERITY}/embed?`));
  await page.goto(stranger.origin + '/liar');
  expect((await lied).headers()['content-security-policy']).toBe(
    'frame-ancestors http://localhost:* http://127.0.0.1:*',
  );
  await page.waitForTimeout(1000);
  await expect(flowFrame(page).getByRole('heading', { name: 'Verify your identity' })).toHaveCount(0);

  // The hosted page itself may never be framed.
  const hosted = await page.request.get(`${VERITY}/verify?inquiry-template-id=itmpl_basic_kyc`);
  expect(hosted.headers()['x-frame-options']).toBe('DENY');
  expect(hosted.headers()['content-security-policy']).toBe("frame-ancestors 'none'");
});

test('the SDK is small, cacheable JavaScript', async ({ request }) => {
  const response = await request.get(`${VERITY}/sdk/verity.js`);
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toMatch(/^text\/javascript/);
  expect(response.headers()['cache-control']).toContain('max-age=');
  expect((await response.body()).length).toBeLessThan(8 * 1024);
});

test('when the camera cannot start in the iframe, the host page hears camera-unavailable', async ({ page }) => {
  await page.goto(host.origin + '/');
  await page.getByRole('button', { name: 'Verify my identity' }).click();
  const frame = flowFrame(page);
  await toThePhotoStepInFrame(frame);

  // This browser has no camera: the person reads why, the host page is told the reason.
  await frame.getByRole('button', { name: 'Use the camera' }).click();
  await expect(frame.getByText(/choose a photo/i)).toBeVisible();
  await expect
    .poll(async () => {
      const calls = await page.evaluate(() => (window as unknown as { calls: any[] }).calls);
      return calls.filter((c) => c.type === 'event' && c.name === 'camera-unavailable').map((c) => c.meta.reason);
    })
    .toEqual([expect.stringMatching(/^(no-camera|permission-denied|blocked-by-page|unsupported|camera-busy)$/)]);
});
