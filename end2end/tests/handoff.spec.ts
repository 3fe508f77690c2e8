// Continue on another device: a desktop browser starts the flow, asks for a code on the photo
// step, and a second browser (the "phone", a separate context with no shared cookies) opens the
// link, uploads the photo and completes; the desktop page follows along to the same end screen.
// The link opens the inquiry once only.

import { expect, test } from '@playwright/test';
import { OUTCOME_TIMEOUT, fillDetails, idCardJpeg, startFlow, uploadId } from './helpers';

const JANE = { first: 'Jane', last: 'Doe', birthdate: '1990-01-31' };

test('the photo step continues on a phone and the desktop follows to completion', async ({ browser }) => {
  const desktopContext = await browser.newContext();
  const phoneContext = await browser.newContext();
  const laterContext = await browser.newContext();
  try {
    const desktop = await desktopContext.newPage();
    await startFlow(desktop);
    await fillDetails(desktop, JANE);
    await expect(desktop.getByRole('heading', { level: 1, name: 'Photograph your ID' })).toBeVisible();

    // The offer appears once the page is interactive.
    await desktop.getByText('Continue on your phone', { exact: true }).click();
    await desktop.getByRole('button', { name: 'Show a code for my phone' }).click();
    await expect(desktop.getByRole('img', { name: 'QR code for your phone' })).toBeVisible();
    const link = desktop.getByRole('link', { name: /\/verify\?code=/ });
    const url = await link.getAttribute('href');
    expect(url).toMatch(/\/verify\?code=[A-Za-z0-9_-]+$/);
    await expect(desktop.getByRole('status').filter({ hasText: 'Waiting for your phone' })).toBeVisible();

    // The phone opens the same inquiry at the same step, in a session of its own.
    const phone = await phoneContext.newPage();
    await phone.goto(url!);
    await expect(phone.getByRole('heading', { level: 1, name: 'Photograph your ID' })).toBeVisible();
    await uploadId(phone, await idCardJpeg(phone));
    await expect(phone.getByRole('heading', { level: 1, name: 'Verification complete' })).toBeVisible({
      timeout: OUTCOME_TIMEOUT,
    });

    // The desktop page notices and shows the end screen by itself.
    await expect(desktop.getByRole('heading', { level: 1, name: 'Verification complete' })).toBeVisible({
      timeout: OUTCOME_TIMEOUT,
    });

    // The code was spent: another device cannot open the inquiry with it.
    const later = await laterContext.newPage();
    await later.goto(url!);
    await expect(later.getByRole('heading', { level: 1, name: 'Photograph your ID' })).toHaveCount(0);
    await expect(later.getByRole('heading', { level: 1, name: 'Verification complete' })).toHaveCount(0);
    await expect(later.getByRole('heading', { level: 1 })).toContainText(/link|used|opened/i);
  } finally {
    await desktopContext.close();
    await phoneContext.close();
    await laterContext.close();
  }
});
