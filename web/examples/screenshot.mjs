// A screenshot of the example gallery showing a folder of photos, in headless Chromium
// (Debian's `chromium` through playwright-core, as the tests drive it):
//
//   node web/examples/screenshot.mjs PHOTO_DIR OUT.png [WIDTH HEIGHT]
//
// docs/images/web-gallery.png was made this way (docs/web.md says from which photos).

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const [dir, out, width = '1280', height = '860'] = process.argv.slice(2);
if (!dir || !out) {
  console.error('usage: node web/examples/screenshot.mjs PHOTO_DIR OUT.png [WIDTH HEIGHT]');
  process.exit(2);
}
const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TYPES = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.jpg': 'image/jpeg' };
const roots = { '/web/': WEB, '/photos/': resolve(dir) };
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  for (const [prefix, root] of Object.entries(roots)) {
    if (!url.pathname.startsWith(prefix)) continue;
    const path = resolve(root, normalize(decodeURIComponent(url.pathname.slice(prefix.length))));
    if (!path.startsWith(root) || !existsSync(path)) break;
    res.writeHead(200, { 'content-type': TYPES[extname(path)] || 'application/octet-stream' });
    res.end(readFileSync(path));
    return;
  }
  res.writeHead(404);
  res.end();
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: process.env.GAINMLP_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'] });
try {
  const page = await browser.newPage({ viewport: { width: Number(width), height: Number(height) } });
  const photos = readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => `/photos/${f}`);
  await page.goto(`http://127.0.0.1:${server.address().port}/web/examples/gallery.html?photos=${photos.join(',')}`);
  await page.waitForFunction(() => document.body.dataset.state === 'done', null, { timeout: 300000 });
  const results = await page.evaluate(() => window.galleryResults);
  for (const r of results) console.log(JSON.stringify(r));
  await page.screenshot({ path: out });
} finally {
  await browser.close();
  server.close();
}
