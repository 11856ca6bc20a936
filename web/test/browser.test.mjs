// The decoder in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
// the WebGL2 path decodes fixtures of every body version and must agree with gainmlp's
// Python decoder within 2e-3 PQ; corrupt files give Python's errors; the HTML report
// (tests/test_web.py writes one into $GAINMLP_REPORT_DIR) loads, its JavaScript decoder
// panel decodes, and a screenshot is taken ($GAINMLP_SCREENSHOT).
//
// Skipped, saying why, when Chromium or playwright-core is missing (`.ci/run` installs both).

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { after, before, test } from 'node:test';

import { fixtureDir, manifest, WEB } from './fixtures.mjs';

const GPU_TOLERANCE = 2e-3; // PQ; the WebGL path usually agrees to ~1e-6
const CHROMIUM = process.env.GAINMLP_CHROMIUM || '/usr/bin/chromium';
// Software GL (SwiftShader through ANGLE) unless $GAINMLP_CHROMIUM_GPU asks for the GPU.
const GL_ARGS = process.env.GAINMLP_CHROMIUM_GPU
  ? ['--use-angle=vulkan', '--enable-features=Vulkan', '--ignore-gpu-blocklist', '--enable-gpu']
  : ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'];
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-dev-shm-usage', ...GL_ARGS];

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

const TYPES = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.json': 'application/json' };

/** A static file server for web/ (at /web/) and the fixtures (at /fx/), on localhost. */
function serve(roots) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>gainmlp test</title><body></body>');
      return;
    }
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
  server = await serve({ '/web/': WEB, '/fx/': fixtureDir() });
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  page = await browser.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(`${base}/`);
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.close();
});

test('Chromium has WebGL2 with float render targets', { skip }, async () => {
  const info = await page.evaluate(async () => (await import('/web/gainmlp.mjs')).webglInfo());
  console.log(`# WebGL2: ${JSON.stringify(info)}`);
  assert.ok(info.available, info.reason);
});

test('the WebGL2 path agrees with the Python decoder on every body version', { skip }, async () => {
  const m = manifest();
  const mlp = m.payloads.filter((e) => e.method.endsWith('-mlp'));
  assert.ok(new Set(mlp.map((e) => e.body_version)).size === 3, 'fixtures of body versions 1, 2, 3');
  const results = await page.evaluate(async (entries) => {
    const gm = await import('/web/gainmlp.mjs');
    const out = [];
    for (const e of entries) {
      const expected = new Float32Array(await (await fetch(`/fx/${e.name}.f32`)).arrayBuffer());
      const r = await gm.decodeGainmlp(`/fx/${e.name}.jpg`, { backend: 'webgl', name: e.name });
      let diff = 0;
      for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(r.hdr[i] - expected[i]) || 0);
      if (r.hdr.some((v) => Number.isNaN(v))) diff = Infinity;
      out.push({ name: e.name, backend: r.backend, thread: r.thread, diff, n: r.hdr.length, want: expected.length });
    }
    return out;
  }, mlp);
  for (const r of results) {
    console.log(`# ${r.name}: ${r.backend} in the ${r.thread} thread, max |WebGL - Python| = ${r.diff.toExponential(2)}`);
    assert.equal(r.backend, 'webgl', r.name);
    assert.equal(r.thread, 'worker', r.name);
    assert.equal(r.n, r.want, r.name);
    assert.ok(r.diff <= GPU_TOLERANCE, `${r.name}: max |WebGL - Python| = ${r.diff}`);
  }
});

test('the worker and the main thread give the same pixels, CPU and WebGL2; progress; transfers', { skip }, async () => {
  const got = await page.evaluate(async () => {
    const gm = await import('/web/gainmlp.mjs');
    const bytes = new Uint8Array(await (await fetch('/fx/v3-gamma-mixed.jpg')).arrayBuffer());
    const out = {};
    for (const backend of ['cpu', 'webgl']) {
      const here = await gm.decodeGainmlp(bytes, { backend, worker: false });
      const progress = [];
      const there = await gm.decodeGainmlp(bytes, { backend, onProgress: (done, total) => progress.push([done, total]) });
      let same = here.hdr.length === there.hdr.length;
      for (let i = 0; same && i < here.hdr.length; i++) same = here.hdr[i] === there.hdr[i];
      out[backend] = { same, threads: [here.thread, there.thread], backends: [here.backend, there.backend],
        progress: progress.at(-1), sdr: there.sdr.length, kept: bytes.length };
    }
    // a Blob input is fetched here and its bytes transferred to the worker
    const blob = await gm.decodeGainmlp(new Blob([bytes]), { name: 'blob.jpg' });
    out.blob = blob.thread;
    return out;
  });
  for (const backend of ['cpu', 'webgl']) {
    const r = got[backend];
    assert.ok(r.same, `${backend}: worker and main thread differ`);
    assert.deepEqual(r.threads, ['main', 'worker']);
    assert.deepEqual(r.backends, [backend, backend]);
    assert.equal(r.progress[0], r.progress[1]);
    assert.ok(r.sdr > 0 && r.kept > 0, 'the caller keeps its bytes');
  }
  assert.equal(got.blob, 'worker');
});

test('headroom: the worker, the main thread and both backends render as gainmlp.display', { skip }, async () => {
  const cases = manifest().headroom.filter((h) => h.name === 'v2-gamma-default' || h.name === 'itm-fp16');
  const got = await page.evaluate(async (list) => {
    const gm = await import('/web/gainmlp.mjs');
    const out = [];
    for (const h of list) {
      const bytes = new Uint8Array(await (await fetch(`/fx/${h.name}.jpg`)).arrayBuffer());
      const expected = new Float32Array(await (await fetch(`/fx/headroom/${h.file}`)).arrayBuffer());
      for (const backend of ['cpu', 'webgl']) {
        if (backend === 'webgl' && h.name === 'itm-fp16') continue; // MLP-ITM decodes on the CPU
        const here = await gm.decodeGainmlp(bytes, { backend, headroom: h.stops, worker: false });
        const there = await gm.decodeGainmlp(bytes, { backend, headroom: h.stops });
        let same = here.hdr.length === there.hdr.length, diff = 0;
        for (let i = 0; same && i < here.hdr.length; i++) same = here.hdr[i] === there.hdr[i];
        for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(there.hdr[i] - expected[i]) || 0);
        out.push({ label: `${h.name} ${backend} ${h.stops}`, same, diff, backend: there.backend, thread: there.thread,
          weight: there.headroom.weight, want: h.weight });
      }
    }
    let error = null;
    try {
      await gm.decodeGainmlp('/fx/v2-gamma-default.jpg', { headroom: -1 });
    } catch (err) {
      error = `${err.name}: ${err.message}`;
    }
    return { out, error };
  }, cases);
  assert.ok(got.out.length >= 9);
  const worst = (backend) => Math.max(...got.out.filter((r) => r.backend === backend).map((r) => r.diff));
  console.log(`# headroom: max |JS - Python| = ${worst('cpu').toExponential(2)} (CPU), ` +
    `${worst('webgl').toExponential(2)} (WebGL2)`);
  for (const r of got.out) {
    assert.ok(r.same, `${r.label}: worker and main thread differ`);
    assert.equal(r.thread, 'worker');
    assert.ok(r.diff <= (r.backend === 'webgl' ? GPU_TOLERANCE : 1e-4), `${r.label}: ${r.diff}`);
    assert.ok(Math.abs(r.weight - r.want) <= 1e-6, `${r.label}: weight ${r.weight} vs ${r.want}`);
  }
  assert.equal(got.error, `GainMLPError: ${manifest().headroom_errors['-1.0']}`);
});

test('the three ways the shader can read the weights agree', { skip }, async () => {
  const results = await page.evaluate(async () => {
    const gm = await import('/web/gainmlp.mjs');
    const expected = new Float32Array(await (await fetch('/fx/v3-gamma-mixed.f32')).arrayBuffer());
    const out = {};
    for (const webglWeights of ['const', 'uniform', 'texture']) {
      const r = await gm.decodeGainmlp('/fx/v3-gamma-mixed.jpg', { backend: 'webgl', webglWeights });
      let diff = 0;
      for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(r.hdr[i] - expected[i]) || 0);
      out[webglWeights] = { diff, mode: r.timings.webgl.weights };
    }
    return out;
  });
  for (const [mode, r] of Object.entries(results)) {
    assert.equal(r.mode, mode);
    assert.ok(r.diff <= GPU_TOLERANCE, `${mode}: ${r.diff}`);
  }
});

test('the other bodies decode on the CPU path in the browser', { skip }, async () => {
  const m = manifest();
  const entries = m.payloads.filter((e) => e.method === 'mlp-itm' || e.method === 'gain-jpeg');
  const results = await page.evaluate(async (list) => {
    const gm = await import('/web/gainmlp.mjs');
    const out = [];
    for (const e of list) {
      const expected = new Float32Array(await (await fetch(`/fx/${e.name}.f32`)).arrayBuffer());
      const r = await gm.decodeGainmlp(`/fx/${e.name}.jpg`, { name: e.name });
      let diff = 0;
      for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(r.hdr[i] - expected[i]) || 0);
      out.push({ name: e.name, backend: r.backend, diff });
    }
    return out;
  }, entries);
  assert.ok(results.length >= 3);
  for (const r of results) assert.ok(r.diff <= 1e-4, `${r.name}: ${r.diff}`);
});

test('corrupt and truncated files give the errors Python gives, in the browser', { skip }, async () => {
  const m = manifest();
  const got = await page.evaluate(async (cases) => {
    const gm = await import('/web/gainmlp.mjs');
    const out = {};
    for (const c of cases) {
      try {
        await gm.decodeGainmlp(`/fx/errors/${c.name}.jpg`, { name: `${c.name}.jpg` });
        out[c.name] = null;
      } catch (err) {
        out[c.name] = `${err.name}: ${err.message}`;
      }
    }
    return out;
  }, m.errors);
  for (const c of m.errors) assert.equal(got[c.name], `GainMLPError: ${c.message}`, c.name);
});

test("Chromium's own JPEG decoder, compared with libjpeg-turbo/Pillow", { skip }, async () => {
  // Informational: the default ('js') decoder is bit-exact; this measures the 'browser' one.
  const m = manifest();
  const stats = await page.evaluate(async (entries) => {
    const gm = await import('/web/gainmlp.mjs');
    const out = [];
    for (const e of entries) {
      const bytes = new Uint8Array(await (await fetch(`/fx/${e.name}.jpg`)).arrayBuffer());
      const a = gm.decodeJpeg(bytes);
      const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/jpeg' }),
        { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
      const c = new OffscreenCanvas(bmp.width, bmp.height).getContext('2d');
      c.drawImage(bmp, 0, 0);
      const d = c.getImageData(0, 0, bmp.width, bmp.height).data;
      let n = 0, worst = 0;
      for (let i = 0; i < a.width * a.height; i++) {
        for (let k = 0; k < 3; k++) {
          const diff = Math.abs(d[4 * i + k] - a.pixels[3 * i + k]);
          if (diff) n++;
          worst = Math.max(worst, diff);
        }
      }
      out.push({ name: e.name, quality: e.quality, progressive: e.progressive, differing: n, worst });
    }
    return out;
  }, m.payloads.slice(0, 4));
  for (const s of stats) {
    console.log(`# browser JPEG decode of ${s.name} (q${s.quality}${s.progressive ? ', progressive' : ''}): ` +
      `${s.differing} samples differ from Pillow, by at most ${s.worst}`);
  }
  assert.equal(stats.length, 4);
});

test('the HTML report loads, its JavaScript decoder panel decodes, screenshot', { skip: skip || (!process.env.GAINMLP_REPORT_DIR && 'no report ($GAINMLP_REPORT_DIR)') }, async () => {
  const dir = process.env.GAINMLP_REPORT_DIR;
  const report = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  report.on('pageerror', (err) => errors.push(err.message));
  await report.goto(`file://${join(dir, 'index.html')}`);
  await report.waitForSelector('#js-status[data-state="done"], #js-status[data-state="error"]', { timeout: 120000 });
  const status = await report.$eval('#js-status', (el) => ({ state: el.dataset.state, text: el.textContent }));
  console.log(`# report JS panel: ${status.text}`);
  assert.equal(status.state, 'done', status.text);
  // decoded off the main thread: the bundle started itself as a worker from a Blob URL
  const thread = await report.evaluate(() => window.gainmlpReport.result.thread);
  console.log(`# report JS panel decoded in the ${thread} thread`);
  assert.equal(thread, 'worker');
  assert.deepEqual(errors, []);
  // the panel's decode agrees with the Python decoder's reconstruction shipped beside it
  const agree = await report.evaluate(() => window.gainmlpReport.checkAgainstPython());
  console.log(`# report JS panel vs Python: max |diff| = ${agree.maxDiff}`);
  assert.ok(agree.maxDiff <= GPU_TOLERANCE, JSON.stringify(agree));
  // synchronized zoom: zooming one panel moves every panel
  const transforms = await report.evaluate(() => {
    window.gainmlpReport.zoomTo(4, 0.5, 0.5);
    return [...document.querySelectorAll('.view .layer')].map((el) => el.style.transform);
  });
  assert.ok(transforms.length >= 4 && transforms.every((t) => t === transforms[0] && t.includes('scale(4')),
    JSON.stringify(transforms));
  await report.evaluate(() => window.gainmlpReport.zoomTo(1, 0.5, 0.5));
  if (process.env.GAINMLP_SCREENSHOT) {
    await report.screenshot({ path: process.env.GAINMLP_SCREENSHOT, fullPage: true });
  }
  await report.close();
});
