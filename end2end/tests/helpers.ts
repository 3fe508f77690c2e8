// Helpers for the hosted-flow tests: synthetic ID images drawn in the browser, and the steps a
// person takes, written with role and label locators only (the same names a screen reader hears).

import { expect, type Page } from '@playwright/test';

export const START_PATH = '/verify?inquiry-template-id=itmpl_basic_kyc';

/** The URL of a running inquiry carries its id (`/verify?inquiry-id=inq_…`). */
export const INQUIRY_URL = /[?&]inquiry-id=inq_/;

/** The outcome can take a moment: the checks run on the uploaded image. */
export const OUTCOME_TIMEOUT = 30_000;

export interface CardOptions {
  /** Gaussian blur radius in CSS pixels applied to the whole photo (8 is well past "blurry"). */
  blur?: number;
  /** Brighten everything and add a saturated glare spot over ~40% of the card. */
  overexpose?: boolean;
}

/**
 * A synthetic photo of the front of an ID card (1600×1000 JPEG): a light card with rounded
 * corners on a grey table, a dark header band, a portrait box with a plain silhouette (no real
 * face), lines of dark text and thin guilloche strokes. Drawn on a canvas in the browser so no
 * image file is committed.
 *
 * The drawing runs in `page`; it needs JavaScript there. When `page` has JavaScript disabled the
 * card is drawn in a scratch page of its own (a fresh context of the same browser).
 */
export async function idCardJpeg(page: Page, options: CardOptions = {}): Promise<Buffer> {
  let dataUrl: string;
  try {
    dataUrl = await page.evaluate(drawIdCard, options);
  } catch (err) {
    const browser = page.context().browser();
    if (!browser) throw err;
    const context = await browser.newContext({ javaScriptEnabled: true });
    try {
      const scratch = await context.newPage();
      dataUrl = await scratch.evaluate(drawIdCard, options);
    } finally {
      await context.close();
    }
  }
  const prefix = 'data:image/jpeg;base64,';
  if (!dataUrl.startsWith(prefix)) {
    throw new Error(`canvas did not produce a JPEG: ${dataUrl.slice(0, 40)}`);
  }
  return Buffer.from(dataUrl.slice(prefix.length), 'base64');
}

/** Runs inside the browser (serialised by `page.evaluate`): must not close over anything. */
function drawIdCard(options: CardOptions): string {
  const W = 1600;
  const H = 1000;

  // 1. The scene, sharp and at normal exposure.
  const scene = document.createElement('canvas');
  scene.width = W;
  scene.height = H;
  const s = scene.getContext('2d');
  if (!s) throw new Error('no 2d context');

  s.fillStyle = '#6b7280';
  s.fillRect(0, 0, W, H);

  // Card: 1360×850 (85% of the frame), centred, rounded corners, a soft shadow on the table.
  const cx = 120;
  const cy = 75;
  const cw = 1360;
  const ch = 850;
  const radius = 44;
  const cardPath = new Path2D();
  cardPath.roundRect(cx, cy, cw, ch, radius);
  s.save();
  s.shadowColor = 'rgba(0, 0, 0, 0.45)';
  s.shadowBlur = 30;
  s.shadowOffsetX = 8;
  s.shadowOffsetY = 12;
  s.fillStyle = '#f1f5f9';
  s.fill(cardPath);
  s.restore();

  s.save();
  s.clip(cardPath);

  // Guilloche: overlapping hypotrochoids and fine waves, as on security printing.
  s.lineWidth = 1.2;
  const rosette = (ox: number, oy: number, R: number, r: number, d: number, colour: string) => {
    s.strokeStyle = colour;
    s.beginPath();
    for (let t = 0; t <= Math.PI * 2 * 14; t += 0.01) {
      const x = ox + (R - r) * Math.cos(t) + d * Math.cos(((R - r) / r) * t);
      const y = oy + (R - r) * Math.sin(t) - d * Math.sin(((R - r) / r) * t);
      if (t === 0) s.moveTo(x, y);
      else s.lineTo(x, y);
    }
    s.stroke();
  };
  rosette(cx + 930, cy + 470, 300, 107, 150, 'rgba(37, 99, 235, 0.28)');
  rosette(cx + 930, cy + 470, 240, 71, 120, 'rgba(22, 163, 74, 0.22)');
  rosette(cx + 300, cy + 640, 200, 53, 90, 'rgba(219, 39, 119, 0.18)');
  s.strokeStyle = 'rgba(30, 58, 138, 0.22)';
  s.lineWidth = 1;
  for (let k = 0; k < 40; k++) {
    s.beginPath();
    for (let x = cx; x <= cx + cw; x += 6) {
      const y = cy + 160 + k * 17 + 9 * Math.sin(x / 37 + k * 0.6) + 4 * Math.sin(x / 11 - k);
      if (x === cx) s.moveTo(x, y);
      else s.lineTo(x, y);
    }
    s.stroke();
  }

  // Header band.
  s.fillStyle = '#1e3a8a';
  s.fillRect(cx, cy, cw, 140);
  s.fillStyle = '#f8fafc';
  s.font = 'bold 56px sans-serif';
  s.textBaseline = 'middle';
  s.fillText('DRIVER LICENSE', cx + 60, cy + 58);
  s.font = '28px sans-serif';
  s.fillText('STATE OF EXAMPLE  ·  SPECIMEN  ·  NOT A REAL DOCUMENT', cx + 62, cy + 112);
  s.font = 'bold 40px sans-serif';
  s.textAlign = 'right';
  s.fillText('EX', cx + cw - 60, cy + 70);
  s.textAlign = 'left';

  // Portrait box with a plain silhouette.
  const px = cx + 60;
  const py = cy + 190;
  const pw = 340;
  const ph = 430;
  s.fillStyle = '#cbd5e1';
  s.fillRect(px, py, pw, ph);
  s.save();
  s.beginPath();
  s.rect(px, py, pw, ph);
  s.clip();
  s.fillStyle = '#475569';
  s.beginPath();
  s.arc(px + pw / 2, py + 165, 85, 0, Math.PI * 2);
  s.fill();
  s.beginPath();
  s.ellipse(px + pw / 2, py + ph + 40, 170, 190, 0, Math.PI, 0);
  s.fill();
  s.restore();
  s.strokeStyle = '#334155';
  s.lineWidth = 3;
  s.strokeRect(px, py, pw, ph);

  // Text fields.
  s.textBaseline = 'alphabetic';
  const tx = cx + 460;
  let ty = cy + 215;
  const line = (label: string, value: string, size = 36) => {
    s.fillStyle = '#b91c1c';
    s.font = '24px sans-serif';
    s.fillText(label, tx, ty);
    s.fillStyle = '#0f172a';
    s.font = `bold ${size}px sans-serif`;
    s.fillText(value, tx + 120, ty);
    ty += size + 22;
  };
  line('DL', 'D123 456 789 012', 40);
  line('EXP', '2031-01-31');
  line('LN', 'DOE', 40);
  line('FN', 'JANE', 40);
  line('DOB', '1990-01-31', 40);
  line('ADDR', '123 EXAMPLE STREET', 32);
  line('', 'SPRINGFIELD, EX 12345-6789', 32);
  line('SEX', 'F    HGT 5-07    EYES BRN', 30);
  line('CLASS', 'C    REST NONE    END NONE', 30);
  line('ISS', '2023-02-14    DD 0042 7781 9931 55', 28);

  // Signature and small print under the portrait.
  s.fillStyle = '#1e293b';
  s.font = 'italic 44px serif';
  s.fillText('Jane Doe', px + 20, py + ph + 70);
  s.strokeStyle = '#1e293b';
  s.lineWidth = 2;
  s.beginPath();
  s.moveTo(px, py + ph + 84);
  s.lineTo(px + pw, py + ph + 84);
  s.stroke();
  s.font = '20px sans-serif';
  s.fillStyle = '#334155';
  const microprint = 'EXAMPLE DEPARTMENT OF MOTOR VEHICLES  0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  for (let k = 0; k < 3; k++) {
    s.fillText(microprint, cx + 60, cy + ch - 80 + k * 24);
  }
  s.restore();

  // 2. The photo: the scene as the camera saw it.
  const out = document.createElement('canvas');
  out.width = W;
  out.height = H;
  const o = out.getContext('2d');
  if (!o) throw new Error('no 2d context');
  const filters: string[] = [];
  if (options.blur) filters.push(`blur(${options.blur}px)`);
  if (options.overexpose) filters.push('brightness(2.2)');
  o.fillStyle = '#6b7280';
  o.fillRect(0, 0, W, H); // blur pulls in transparent edges otherwise
  o.filter = filters.length ? filters.join(' ') : 'none';
  o.drawImage(scene, 0, 0);
  o.filter = 'none';
  if (options.overexpose) {
    // A glare spot over ~40% of the card: pure white in its core, fading out at its rim.
    const gx = cx + cw * 0.58;
    const gy = cy + ch * 0.45;
    const gr = 0.36 * Math.sqrt(cw * ch);
    const glare = o.createRadialGradient(gx, gy, 0, gx, gy, gr);
    glare.addColorStop(0, 'rgba(255, 255, 255, 1)');
    glare.addColorStop(0.55, 'rgba(255, 255, 255, 1)');
    glare.addColorStop(1, 'rgba(255, 255, 255, 0)');
    o.fillStyle = glare;
    o.fillRect(0, 0, W, H);
  }
  return out.toDataURL('image/jpeg', 0.9);
}

/** Opens the hosted flow for the basic KYC template and starts an inquiry. */
export async function startFlow(page: Page): Promise<void> {
  await page.goto(START_PATH);
  await expect(page.getByRole('heading', { level: 1, name: 'Verify your identity' })).toBeVisible();
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Your details' })).toBeVisible();
  await expect(page).toHaveURL(INQUIRY_URL);
}

export interface Details {
  first: string;
  last: string;
  /** `YYYY-MM-DD`, the value format of `<input type=date>`. */
  birthdate: string;
}

/** Fills the details step and submits it; the caller asserts what comes next. */
export async function fillDetails(page: Page, details: Details): Promise<void> {
  const first = page.getByLabel('First name', { exact: true });
  const last = page.getByLabel('Last name', { exact: true });
  const birthdate = page.getByLabel('Date of birth', { exact: true });
  await first.fill(details.first);
  await last.fill(details.last);
  await birthdate.fill(details.birthdate);
  // If hydration finished between filling and here and reset the fields, fail here, clearly.
  await expect(first).toHaveValue(details.first);
  await expect(last).toHaveValue(details.last);
  await expect(birthdate).toHaveValue(details.birthdate);
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
}

/** Chooses the photo of the front of the ID and uploads it; the caller asserts what comes next. */
export async function uploadId(page: Page, jpeg: Buffer): Promise<void> {
  await page
    .getByLabel('Photo of the front of your ID', { exact: true })
    .setInputFiles({ name: 'id-front.jpg', mimeType: 'image/jpeg', buffer: jpeg });
  await page.getByRole('button', { name: 'Upload photo', exact: true }).click();
}

/** A `YYYY-MM-DD` date `years` years from today (negative: in the past), in UTC. */
export function isoDateYearsFromNow(years: number): string {
  const d = new Date();
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d.toISOString().slice(0, 10);
}
