// Measures what a first visit to /verify downloads (HTML + CSS + JS + WASM), raw and brotli-compressed
// at quality 11, against a running Verity. Usage: node scripts/first-load-size.mjs [base-url]
import { brotliCompressSync, constants } from "node:zlib";

const base = process.argv[2] ?? "http://127.0.0.1:3000";
const page = `${base}/verify?inquiry-template-id=itmpl_basic_kyc`;

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

const html = await fetchBytes(page);
const text = html.toString("utf8");
const assets = new Set();
for (const match of text.matchAll(/(?:href|src)="(\/pkg\/[^"]+)"/g)) assets.add(match[1]);
// The hydration script imports `${pkg}/${name}.js` and the wasm by name.
for (const match of text.matchAll(/\("([^"]*)", "([^"]+)", "([^"]+)", "([^"]+)"/g)) {
  assets.add(`${match[1]}/${match[2]}/${match[3]}.js`);
  assets.add(`${match[1]}/${match[2]}/${match[4]}.wasm`);
}

const rows = [["/verify (HTML)", html]];
for (const asset of assets) rows.push([asset, await fetchBytes(`${base}${asset}`)]);

let rawTotal = 0;
let brTotal = 0;
for (const [name, bytes] of rows) {
  const br = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  rawTotal += bytes.length;
  brTotal += br;
  console.log(`${name.padEnd(28)} raw ${String(bytes.length).padStart(9)} B   brotli ${String(br).padStart(8)} B`);
}
console.log(`${"total".padEnd(28)} raw ${String(rawTotal).padStart(9)} B   brotli ${String(brTotal).padStart(8)} B (${(brTotal / 1024).toFixed(1)} KiB)`);
