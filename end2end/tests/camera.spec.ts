// The camera view of the photo step. With a camera (Chromium's fake capture device, a moving test
// pattern), "Use the camera" shows a live preview with a frame guide, the shutter puts the photo
// into the form, and the upload is checked like a chosen file (the 640×480 test pattern is too
// small, so the checks ask for a better photo). Without a camera, the person reads why in plain
// words and keeps the file input.

import { chromium, expect, test, type Browser } from '@playwright/test';
import { OUTCOME_TIMEOUT, fillDetails, startFlow } from './helpers';

const JANE = { first: 'Jane', last: 'Doe', birthdate: '1990-01-31' };
const BASE_URL = `http://127.0.0.1:${Number(process.env.VERITY_E2E_PORT ?? 3107)}`;

async function launch(args: string[]): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.VERITY_E2E_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', ...args],
  });
}

test('with a camera, the shutter puts the photo in the form and it is checked', async () => {
  const browser = await launch(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
  try {
    const context = await browser.newContext({ baseURL: BASE_URL, permissions: ['camera'] });
    const page = await context.newPage();
    await startFlow(page);
    await fillDetails(page, JANE);
    await expect(page.getByRole('heading', { level: 1, name: 'Photograph your ID' })).toBeVisible();

    await page.getByRole('button', { name: 'Use the camera' }).click();
    await expect(page.getByText('Fit your ID inside the frame, then take the photo.')).toBeVisible();
    await expect(page.getByLabel('Camera preview')).toBeVisible();
    await page.getByRole('button', { name: 'Take photo' }).click();
    await expect(page.getByText('Photo taken. Upload it, or take another.')).toBeVisible();
    const taken = await page
      .getByLabel('Photo of the front of your ID', { exact: true })
      .evaluate((input: HTMLInputElement) => ({
        count: input.files?.length ?? 0,
        type: input.files?.[0]?.type,
        size: input.files?.[0]?.size ?? 0,
      }));
    expect(taken.count).toBe(1);
    expect(taken.type).toBe('image/jpeg');
    expect(taken.size).toBeGreaterThan(1000);

    await page.getByRole('button', { name: 'Upload photo', exact: true }).click();
    // The test pattern is smaller than an ID photo must be: the checks ask for another one.
    await expect(page.getByText('Attempt 2 of 3')).toBeVisible({ timeout: OUTCOME_TIMEOUT });
    await expect(page.getByRole('alert')).toBeVisible();
  } finally {
    await browser.close();
  }
});

test('without a camera, the person is told why and keeps the file input', async () => {
  const browser = await launch([]);
  try {
    const context = await browser.newContext({ baseURL: BASE_URL });
    const page = await context.newPage();
    await startFlow(page);
    await fillDetails(page, JANE);
    await expect(page.getByRole('heading', { level: 1, name: 'Photograph your ID' })).toBeVisible();

    await page.getByRole('button', { name: 'Use the camera' }).click();
    await expect(page.getByText(/choose a photo/i)).toBeVisible();
    await expect(page.getByLabel('Photo of the front of your ID', { exact: true })).toBeEnabled();
    await expect(page.getByRole('button', { name: 'Take photo' })).toBeHidden();
  } finally {
    await browser.close();
  }
});
