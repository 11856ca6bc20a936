// Standard gain-map JPEGs in a real headless Chromium (Debian's `chromium` through
// playwright-core): every file of tests/web_gainmap_fixtures.py (and the third-party files
// the Python side found) decodes in the page's Web Worker within 1e-3 PQ of gainmlp's
// Python decoder, and the example gallery (web/examples/gallery.html) loads, decodes each
// photo in the worker and draws it; a screenshot goes to $GAINMLP_GALLERY_SCREENSHOT.
//
// Skipped, saying why, when Chromium or playwright-core is missing (`.ci/run` installs both).

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, normalize, resolve } from 'node:path';
import { after, before, test } from 'node:test';

import { WEB, gainmapFixtureDir, gainmapManifest } from './fixtures.mjs';

const TOLERANCE = 1e-3;
const CHROMIUM = process.env.GAINMLP_CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-dev-shm-usage', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

let chromium = null;
let skip = false;
if (!existsSync(CHROMIUM)) skip = `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
else {
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    skip = 'playwright-core is not installed (npm ci --prefix web)';
  }
}

const TYPES = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.json': 'application/json',
  '.jpg': 'image/jpeg' };

function serve(roots) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    for (const [prefix, root] of Object.entries(roots)) {
      if (!url.pathname.startsWith(prefix)) continue;
      const path = resolve(root, normalize(decodeURIComponent(url.pathname.slice(prefix.length))));
      if (!path.startsWith(resolve(root)) || !existsSync(path)) break;
      res.writeHead(200, { 'content-type': TYPES[extname(path)] || 'application/octet-stream' });
      res.end(readFileSync(path));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

let browser, page, server, base;

before(async () => {
  if (skip) return;
  server = await serve({ '/web/': WEB, '/fx/': gainmapFixtureDir() });
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(`${base}/web/examples/gallery.html?photos=`);
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.close();
});

test('every gain-map file decodes in the page\'s worker within 1e-3 PQ of Python', { skip }, async () => {
  // the full HDR and one headroom per file (the Node test covers all five)
  const entries = gainmapManifest().files.filter((e) => e.headroom === null || e.headroom === 1);
  const results = await page.evaluate(async (list) => {
    const gm = await import('/web/gainmlp.mjs');
    const out = [];
    for (const e of list) {
      const want = new Float32Array(await (await fetch(`/fx/${e.expected}`)).arrayBuffer());
      const r = await gm.decodeGainmlp(`/fx/${e.file}`, { headroom: e.headroom, use: e.use, name: e.file });
      let diff = r.hdr.length === want.length ? 0 : Infinity;
      for (let i = 0; i < want.length && diff < Infinity; i++) diff = Math.max(diff, Math.abs(r.hdr[i] - want[i]) || 0);
      if (r.hdr.some((v) => Number.isNaN(v))) diff = Infinity;
      out.push({ name: e.expected, source: r.source, thread: r.thread, diff });
    }
    return out;
  }, entries);
  assert.equal(results.length, entries.length);
  for (const r of results) {
    console.log(`# ${r.name}: ${r.source} in the ${r.thread} thread, max |Chromium - Python| = ${r.diff.toExponential(2)}`);
    assert.equal(r.thread, 'worker', r.name);
    assert.ok(r.diff <= TOLERANCE, `${r.name}: max |Chromium - Python| = ${r.diff}`);
  }
});

test('with the browser\'s own JPEG decoder (jpeg: \'browser\') too, within 1e-3 PQ of Python', { skip }, async () => {
  const entries = gainmapManifest().files.filter((e) => e.headroom === null && e.use === 'gainmap' ||
    (e.headroom === null && e.use === 'auto' && e.name !== 'gm-ultrahdr-mlp'));
  const results = await page.evaluate(async (list) => {
    const gm = await import('/web/gainmlp.mjs');
    const out = [];
    for (const e of list) {
      const want = new Float32Array(await (await fetch(`/fx/${e.expected}`)).arrayBuffer());
      const r = await gm.decodeGainmlp(`/fx/${e.file}`, { use: e.use, jpeg: 'browser', name: e.file });
      let diff = r.hdr.length === want.length ? 0 : Infinity;
      for (let i = 0; i < want.length && diff < Infinity; i++) diff = Math.max(diff, Math.abs(r.hdr[i] - want[i]) || 0);
      out.push({ name: e.expected, thread: r.thread, diff, jpeg: r.timings.jpeg, total: r.timings.total });
    }
    return out;
  }, entries);
  assert.ok(results.length >= 16);
  for (const r of results) {
    console.log(`# jpeg: 'browser' ${r.name}: max |Chromium - Python| = ${r.diff.toExponential(2)} (JPEG ${r.jpeg.toFixed(0)} of ${r.total.toFixed(0)} ms)`);
    assert.equal(r.thread, 'worker', r.name);
    assert.ok(r.diff <= TOLERANCE, `${r.name}: max |Chromium - Python| = ${r.diff}`);
  }
});

test('the example gallery loads, decodes every photo in the worker and draws it', { skip }, async () => {
  const names = [...new Set(gainmapManifest().files.map((e) => e.file))];
  const photos = names.map((n) => `/fx/${n}`).join(',');
  await page.goto(`${base}/web/examples/gallery.html?photos=${photos}`);
  await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 240000 });
  const results = await page.evaluate(() => window.galleryResults);
  assert.equal(results.length, names.length);
  for (const r of results) {
    assert.equal(r.error, undefined, `${r.name}: ${r.error}`);
    assert.equal(r.thread, 'worker', r.name);
    assert.ok(['canvas-pq', 'webgpu-hdr', 'sdr-tonemap'].includes(r.mode), `${r.name}: ${r.mode}`);
  }
  const sources = new Set(results.map((r) => r.source));
  assert.ok(sources.has('payload') && sources.has('gainmap'), 'gainmlp and standard gain-map photos');
  // every canvas holds a picture, not a blank
  const spread = await page.evaluate(() => [...document.querySelectorAll('canvas')].map((c) => {
    const probe = document.createElement('canvas');
    probe.width = c.width;
    probe.height = c.height;
    const ctx = probe.getContext('2d');
    ctx.drawImage(c, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let lo = 255, hi = 0;
    for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i + 1]); hi = Math.max(hi, d[i + 1]); }
    return hi - lo;
  }));
  assert.equal(spread.length, names.length);
  for (const s of spread) assert.ok(s > 20, `a canvas without a picture (green spread ${s})`);
  console.log(`# gallery: ${results.map((r) => `${r.name} ${r.source} ${r.mode} ${r.ms.toFixed(0)} ms`).join('; ')}`);
  // a display headroom of 1 stop: every photo decoded again for it
  await page.evaluate(() => { document.body.dataset.state = 'changing'; });
  await page.selectOption('#headroom', '1');
  await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 240000 });
  const again = await page.evaluate(() => window.galleryResults);
  assert.equal(again.length, names.length);
  for (const r of again) {
    assert.equal(r.error, undefined, `${r.name}: ${r.error}`);
    assert.equal(r.headroom.stops, 1, r.name);
    assert.ok(r.headroom.weight >= 0 && r.headroom.weight <= 1, r.name);
  }
  await page.selectOption('#headroom', '');
  await page.waitForFunction(() => document.body.dataset.state === 'done' &&
    window.galleryResults.every((r) => r.headroom === null), null, { timeout: 240000 });
  if (process.env.GAINMLP_GALLERY_SCREENSHOT) {
    await page.screenshot({ path: process.env.GAINMLP_GALLERY_SCREENSHOT, fullPage: false });
  }
});
