// What hydration adds on top of the server-rendered forms: instant field checks with the same
// rules as the server, and a background upload with progress. These tests wait for the wasm.

import { expect, test, type Page } from '@playwright/test';
import { idCardJpeg, isoDateYearsFromNow, OUTCOME_TIMEOUT, START_PATH } from './helpers';

async function waitForHydration(page: Page): Promise<void> {
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached({ timeout: 30_000 });
}

test('once hydrated, fields are checked as the person types and the photo uploads in the background', async ({
  page,
}) => {
  const posts: string[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST') posts.push(new URL(request.url()).pathname);
  });
  const sharp = await idCardJpeg(page);

  await page.goto(START_PATH);
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Your details' })).toBeVisible();
  await waitForHydration(page);

  // A birthdate in the future is refused the moment the field is left, without asking the server.
  const birthdate = page.getByLabel('Date of birth', { exact: true });
  await birthdate.fill(isoDateYearsFromNow(1));
  await birthdate.blur();
  await expect(birthdate).toHaveAccessibleDescription(/past/);
  await expect(birthdate).toHaveAttribute('aria-invalid', 'true');
  expect(posts.filter((path) => path === '/flow/details')).toHaveLength(0);

  // Corrected, the message goes away.
  await birthdate.fill('1990-01-31');
  await birthdate.blur();
  await expect(birthdate).toHaveAttribute('aria-invalid', 'false');

  await page.getByLabel('First name', { exact: true }).fill('Jane');
  await page.getByLabel('Last name', { exact: true }).fill('Doe');
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Photograph your ID' })).toBeVisible();
  await waitForHydration(page);

  // The upload goes through XMLHttpRequest (asking for JSON), so the page can show progress.
  const upload = page.waitForRequest(
    (request) =>
      request.url().endsWith('/flow/id-photo') && (request.headers()['accept'] ?? '').includes('application/json'),
  );
  await page
    .getByLabel('Photo of the front of your ID', { exact: true })
    .setInputFiles({ name: 'id-front.jpg', mimeType: 'image/jpeg', buffer: sharp });
  await page.getByRole('button', { name: 'Upload photo', exact: true }).click();
  await upload;
  await expect(page.getByRole('heading', { level: 1, name: 'Verification complete' })).toBeVisible({
    timeout: OUTCOME_TIMEOUT,
  });
});

test('once hydrated, a file that is not a photo is refused with a plain message and nothing is lost', async ({
  page,
}) => {
  await page.goto(START_PATH);
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Your details' })).toBeVisible();
  await page.getByLabel('First name', { exact: true }).fill('Jane');
  await page.getByLabel('Last name', { exact: true }).fill('Doe');
  await page.getByLabel('Date of birth', { exact: true }).fill('1990-01-31');
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Photograph your ID' })).toBeVisible();
  await waitForHydration(page);

  await page
    .getByLabel('Photo of the front of your ID', { exact: true })
    .setInputFiles({ name: 'statement.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.7\n%…\n') });
  await page.getByRole('button', { name: 'Upload photo', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'not a photo' })).toBeVisible({ timeout: OUTCOME_TIMEOUT });
  // No attempt was used.
  await expect(page.getByText('Attempt 1 of 3')).toBeVisible();
});
