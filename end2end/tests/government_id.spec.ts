// The hosted flow of a template that asks for the type of ID (templates/kyc-government-id.toml):
// details, "Choose your ID" (country and type), the front, the back, then every government-ID
// check (barcode, consistency with the typed details, expiry, age, …).
//
// The photos are a generated US driver licence of Alex Morgan, born 1990-04-15, written by the
// Rust example `checks/examples/flow_photos.rs` (the same fixtures the Rust tests use).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { INQUIRY_URL, OUTCOME_TIMEOUT, fillDetails } from './helpers';

const START = '/verify?inquiry-template-id=itmpl_kyc_government_id';
const ALEX = { first: 'Alex', last: 'Morgan', birthdate: '1990-04-15' };
const BARCODE_HINT = 'We could not read the barcode on the back of your ID';
const NAME_HINT = 'The name you entered does not match your ID';

let front: Buffer;
let back: Buffer;
/** The back of another person's licence (Jordan Morgan): its name does not match. */
let otherHoldersBack: Buffer;

test.beforeAll(() => {
  // Compiling the example the first time takes a while; later runs only start it.
  test.setTimeout(600_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verity-e2e-photos-'));
  try {
    execFileSync(
      'bash',
      ['-c', 'source scripts/env.sh && cargo run -q -p checks --example flow_photos -- "$1"', 'bash', dir],
      { cwd: path.resolve(__dirname, '../..'), stdio: ['ignore', 'inherit', 'inherit'] },
    );
    front = fs.readFileSync(path.join(dir, 'licence_front.jpg'));
    back = fs.readFileSync(path.join(dir, 'licence_back.jpg'));
    otherHoldersBack = fs.readFileSync(path.join(dir, 'licence_back_other_holder.jpg'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const heading = (page: Page, name: string) => page.getByRole('heading', { level: 1, name });

async function startAndTypeDetails(page: Page): Promise<void> {
  await page.goto(START);
  await expect(heading(page, 'Verify your identity')).toBeVisible();
  await expect(page.getByText('Photos of your ID')).toBeVisible();
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(heading(page, 'Your details')).toBeVisible();
  await expect(page).toHaveURL(INQUIRY_URL);
  await fillDetails(page, ALEX);
  await expect(heading(page, 'Choose your ID')).toBeVisible();
}

/** Chooses a US driver's licence on the "Choose your ID" step. */
async function chooseUsLicence(page: Page): Promise<void> {
  const country = page.getByLabel('Country', { exact: true });
  await country.selectOption('US');
  const licence = page
    .getByRole('group', { name: 'Type of ID' })
    .getByRole('radio', { name: "Driver's licence" });
  await licence.check();
  await expect(country).toHaveValue('US');
  await expect(licence).toBeChecked();
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(heading(page, 'Photograph the front of your ID')).toBeVisible();
  await expect(page.getByText("Driver's licence from United States")).toBeVisible();
}

async function uploadSide(page: Page, side: 'front' | 'back', jpeg: Buffer): Promise<void> {
  await page
    .getByLabel(`Photo of the ${side} of your ID`, { exact: true })
    .setInputFiles({ name: `id-${side}.jpg`, mimeType: 'image/jpeg', buffer: jpeg });
  await page.getByRole('button', { name: 'Upload photo', exact: true }).click();
}

async function completesWithFrontAndBack(page: Page): Promise<void> {
  await startAndTypeDetails(page);
  // Only the template's countries and types are offered.
  await expect(page.getByLabel('Country', { exact: true }).locator('option')).toHaveText([
    'United States',
    'Canada',
  ]);
  await expect(page.getByRole('group', { name: 'Type of ID' }).getByRole('radio')).toHaveCount(3);
  await chooseUsLicence(page);

  await uploadSide(page, 'front', front);
  await expect(heading(page, 'Photograph the back of your ID')).toBeVisible({
    timeout: OUTCOME_TIMEOUT,
  });
  // A refresh resumes at the back.
  await page.reload();
  await expect(heading(page, 'Photograph the back of your ID')).toBeVisible();

  await uploadSide(page, 'back', back);
  await expect(heading(page, 'Verification complete')).toBeVisible({ timeout: OUTCOME_TIMEOUT });
  await page.reload();
  await expect(heading(page, 'Verification complete')).toBeVisible();
}

async function retriesAfterTheWrongBack(page: Page): Promise<void> {
  await startAndTypeDetails(page);
  await chooseUsLicence(page);
  await uploadSide(page, 'front', front);
  await expect(heading(page, 'Photograph the back of your ID')).toBeVisible({
    timeout: OUTCOME_TIMEOUT,
  });
  // The front again instead of the back: there is no barcode to read.
  await uploadSide(page, 'back', front);
  await expect(heading(page, 'Choose your ID')).toBeVisible({ timeout: OUTCOME_TIMEOUT });
  await expect(page.getByText('Attempt 2 of 3')).toBeVisible();
  await expect(page.getByRole('alert')).toContainText(BARCODE_HINT);

  // The new attempt: the same choice, then the right back.
  await chooseUsLicence(page);
  await expect(page.getByText('Attempt 2 of 3')).toBeVisible();
  await expect(page.getByRole('alert')).toContainText(BARCODE_HINT);
  await uploadSide(page, 'front', front);
  await expect(heading(page, 'Photograph the back of your ID')).toBeVisible({
    timeout: OUTCOME_TIMEOUT,
  });
  await uploadSide(page, 'back', back);
  await expect(heading(page, 'Verification complete')).toBeVisible({ timeout: OUTCOME_TIMEOUT });
}

async function retriesAfterAMismatchingName(page: Page): Promise<void> {
  await startAndTypeDetails(page);
  await chooseUsLicence(page);
  await uploadSide(page, 'front', front);
  await expect(heading(page, 'Photograph the back of your ID')).toBeVisible({
    timeout: OUTCOME_TIMEOUT,
  });
  // A licence whose name is not the one typed: the checks say so in plain words.
  await uploadSide(page, 'back', otherHoldersBack);
  await expect(heading(page, 'Choose your ID')).toBeVisible({ timeout: OUTCOME_TIMEOUT });
  await expect(page.getByText('Attempt 2 of 3')).toBeVisible();
  await expect(page.getByRole('alert')).toContainText(NAME_HINT);

  // The retry with the person's own licence completes.
  await chooseUsLicence(page);
  await uploadSide(page, 'front', front);
  await expect(heading(page, 'Photograph the back of your ID')).toBeVisible({
    timeout: OUTCOME_TIMEOUT,
  });
  await uploadSide(page, 'back', back);
  await expect(heading(page, 'Verification complete')).toBeVisible({ timeout: OUTCOME_TIMEOUT });
}

test('a licence with another name shows the name hint, and a retry completes', async ({ page }) => {
  await retriesAfterAMismatchingName(page);
});

test.describe('with JavaScript', () => {
  test('a licence front and back matching the typed details complete the flow', async ({
    page,
  }) => {
    await completesWithFrontAndBack(page);
  });

  test('the front sent as the back shows its hint, and a new attempt completes', async ({
    page,
  }) => {
    await retriesAfterTheWrongBack(page);
  });
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a licence front and back matching the typed details complete the flow', async ({
    page,
  }) => {
    await completesWithFrontAndBack(page);
  });

  test('the front sent as the back shows its hint, and a new attempt completes', async ({
    page,
  }) => {
    await retriesAfterTheWrongBack(page);
  });
});
