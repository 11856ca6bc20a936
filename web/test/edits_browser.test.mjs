// Edited files (payload header version 2, a view of the original frame) in headless
// Chromium: the WebGL2 path and the CPU path decode the files that tests/test_web_edits.py
// writes into $GAINMLP_EDIT_FIXTURES (NAME.jpg, Python's decode NAME.f32, manifest.json) and
// must agree with Python within 2e-3 PQ (WebGL2, as browser.test.mjs) and 1e-5 (CPU).
// MLP-ITM has no WebGL2 shader: CPU only.
//
// Skipped, saying why, when Chromium, playwright-core or the fixtures are missing.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { after, before, test } from 'node:test';

import { WEB } from './fixtures.mjs';

const CHROMIUM = process.env.GAINMLP_CHROMIUM || '/usr/bin/chromium';
const FIXTURES = process.env.GAINMLP_EDIT_FIXTURES;
const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-dev-shm-usage', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

let chromium = null;
let skip = false;
if (!FIXTURES || !existsSync(join(FIXTURES, 'manifest.json'))) skip = 'no $GAINMLP_EDIT_FIXTURES (tests/test_web_edits.py)';
else if (!existsSync(CHROMIUM)) skip = `no Chromium at ${CHROMIUM}`;
else {
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    skip = 'playwright-core is not installed (npm ci --prefix web)';
  }
}

function serve(roots) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>gainmlp edits</title><body></body>');
      return;
    }
    for (const [prefix, root] of Object.entries(roots)) {
      if (!url.pathname.startsWith(prefix)) continue;
      const path = resolve(root, normalize(decodeURIComponent(url.pathname.slice(prefix.length))));
      if (!path.startsWith(resolve(root)) || !existsSync(path)) break;
      const type = extname(path) === '.mjs' || extname(path) === '.js' ? 'text/javascript' : 'application/octet-stream';
      res.writeHead(200, { 'content-type': type });
      res.end(readFileSync(path));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

let browser, page, server;

before(async () => {
  if (skip) return;
  server = await serve({ '/web/': WEB, '/fx/': FIXTURES });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  page = await browser.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.close();
});

test('WebGL2 and CPU decode edited files as Python does', { skip }, async () => {
  const files = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')).files;
  const results = await page.evaluate(async (list) => {
    const gm = await import('/web/gainmlp.mjs');
    const out = [];
    for (const { name, webgl } of list) {
      const expected = new Float32Array(await (await fetch(`/fx/${name}.f32`)).arrayBuffer());
      for (const backend of webgl ? ['webgl', 'cpu'] : ['cpu']) {
        const r = await gm.decodeGainmlp(`/fx/${name}.jpg`, { backend, name });
        let diff = r.hdr.length === expected.length ? 0 : Infinity;
        for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(r.hdr[i] - expected[i]) || 0);
        if (r.hdr.some((v) => Number.isNaN(v))) diff = Infinity;
        out.push({ name, backend, got: r.backend, diff });
      }
    }
    return out;
  }, files);
  for (const r of results) {
    console.log(`# ${r.name} ${r.backend}: max |JS - Python| = ${r.diff.toExponential(2)}`);
    assert.equal(r.got, r.backend, r.name);
    assert.ok(r.diff <= (r.backend === 'webgl' ? 2e-3 : 1e-5), `${r.name} ${r.backend}: ${r.diff}`);
  }
});
