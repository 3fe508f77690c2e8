// The hosted verification flow as a person goes through it: start, details, photo of the ID.
//
// Pages are rendered on the server and hydrated later; every form also works as a plain HTML
// form post. So the JavaScript tests may click before hydration: after each action they wait for
// what the next screen shows, never for a fixed time.

import { expect, test, type Page } from '@playwright/test';
import {
  INQUIRY_URL,
  OUTCOME_TIMEOUT,
  fillDetails,
  idCardJpeg,
  isoDateYearsFromNow,
  startFlow,
  uploadId,
} from './helpers';

const JANE = { first: 'Jane', last: 'Doe', birthdate: '1990-01-31' };

const detailsHeading = (page: Page) =>
  page.getByRole('heading', { level: 1, name: 'Your details' });
const idHeading = (page: Page) =>
  page.getByRole('heading', { level: 1, name: 'Photograph your ID' });
const completedHeading = (page: Page) =>
  page.getByRole('heading', { level: 1, name: 'Verification complete' });
const failedHeading = (page: Page) =>
  page.getByRole('heading', { level: 1, name: "We couldn't verify your identity" });

/** Start to completed with a sharp photo, checking that a refresh resumes where the person was. */
async function completesWithSharpPhoto(page: Page): Promise<void> {
  const sharp = await idCardJpeg(page);

  await startFlow(page);
  const inquiryUrl = page.url();

  // Refreshing the details step shows the same step of the same inquiry.
  await page.reload();
  await expect(detailsHeading(page)).toBeVisible();
  expect(page.url()).toBe(inquiryUrl);

  await fillDetails(page, JANE);
  await expect(idHeading(page)).toBeVisible();

  await uploadId(page, sharp);
  await expect(completedHeading(page)).toBeVisible({ timeout: OUTCOME_TIMEOUT });
  await expect(page).toHaveURL(INQUIRY_URL);

  // The outcome survives a refresh.
  await page.reload();
  await expect(completedHeading(page)).toBeVisible();
}

/** Invalid details are refused with messages by the fields and in a summary; typed text stays. */
async function refusesInvalidDetails(page: Page): Promise<void> {
  await startFlow(page);

  await fillDetails(page, { ...JANE, birthdate: isoDateYearsFromNow(1) });
  const summary = page.getByRole('alert');
  await expect(summary).toContainText('past');
  const birthdate = page.getByLabel('Date of birth', { exact: true });
  await expect(birthdate).toHaveAccessibleDescription(/past/);
  await expect(detailsHeading(page)).toBeVisible();
  await expect(page.getByLabel('First name', { exact: true })).toHaveValue(JANE.first);
  await expect(page.getByLabel('Last name', { exact: true })).toHaveValue(JANE.last);

  // A ten-year-old is refused as well, with a message about the minimum age.
  await fillDetails(page, { ...JANE, birthdate: isoDateYearsFromNow(-10) });
  await expect(summary).toContainText('18');
  await expect(birthdate).toHaveAccessibleDescription(/18/);
  await expect(page.getByLabel('First name', { exact: true })).toHaveValue(JANE.first);

  // Corrected details are accepted.
  await fillDetails(page, JANE);
  await expect(idHeading(page)).toBeVisible();
}

test.describe('with JavaScript', () => {
  test('a person completes the flow with a sharp ID photo', async ({ page }) => {
    await completesWithSharpPhoto(page);
  });

  test('a person fails three times with a blurred photo and sees the failed screen', async ({
    page,
  }) => {
    const blurred = await idCardJpeg(page, { blur: 8 });

    await startFlow(page);
    await fillDetails(page, JANE);
    await expect(idHeading(page)).toBeVisible();

    await uploadId(page, blurred);
    await expect(page.getByText('Attempt 2 of 3')).toBeVisible({ timeout: OUTCOME_TIMEOUT });
    await expect(page.getByRole('alert')).toContainText('blurry');
    await expect(idHeading(page)).toBeVisible();

    await uploadId(page, blurred);
    await expect(page.getByText('Attempt 3 of 3')).toBeVisible({ timeout: OUTCOME_TIMEOUT });
    await expect(page.getByRole('alert')).toContainText('blurry');
    await expect(idHeading(page)).toBeVisible();

    await uploadId(page, blurred);
    await expect(failedHeading(page)).toBeVisible({ timeout: OUTCOME_TIMEOUT });
    await expect(page.getByLabel('Photo of the front of your ID', { exact: true })).toHaveCount(0);
  });

  test('invalid details show errors and keep what was typed', async ({ page }) => {
    await refusesInvalidDetails(page);
  });
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a person completes the flow with a sharp ID photo', async ({ page }) => {
    await completesWithSharpPhoto(page);
  });

  test('invalid details show errors and keep what was typed', async ({ page }) => {
    await refusesInvalidDetails(page);
  });
});
