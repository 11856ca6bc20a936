// Timings of the JavaScript decoder on one gainmlp JPEG, run by benchmarks/web_decode.py:
//   node benchmarks/web_decode.mjs PHOTO.jpg PYTHON.f32 [--gpu] [--skip-browser] [--skip-node]
//                                  [--js-jpeg-only] [--weight-modes]
// prints one JSON line per measurement: the CPU path in Node (decodeGainmlpSync: per-colour
// tables and the WebAssembly SIMD kernel; --node-kernels adds the generated-JavaScript
// kernel; then the network on every core, as web/cli.mjs decodes), then decodeGainmlp in a headless Chromium, in its Web Worker: WebGL2 on
// SwiftShader (or on the GPU with --gpu) with the JavaScript and with the browser's JPEG
// decoder, and the CPU path. Each is compared with PYTHON.f32 (the Python decoder's
// output, float32 H x W x 3).

import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'web');
const { decodeGainmlpSync } = await import(join(WEB, 'gainmlp.mjs'));
const { decodeGainmlpThreads } = await import(join(WEB, 'threads_node.mjs'));

const [photoPath, pythonPath, ...flags] = process.argv.slice(2);
const photo = new Uint8Array(readFileSync(photoPath));
const python = (() => {
  const b = readFileSync(pythonPath);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
})();

function maxDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

// 1. Node, CPU (one thread)
if (!flags.includes('--skip-node')) {
  for (const kernel of flags.includes('--node-kernels') ? ['auto', 'generated'] : ['auto']) {
    const cpu0 = process.cpuUsage();
    const r = decodeGainmlpSync(photo, { name: photoPath, cpuKernel: kernel });
    const cpu = process.cpuUsage(cpu0);
    console.log(JSON.stringify({ label: `Node ${process.version}, CPU path (${r.timings.kernel} kernel)`,
      timings: r.timings, cpu_s: (cpu.user + cpu.system) / 1e6, max_diff: maxDiff(r.hdr, python) }));
  }
  // the command line's way: the network on every core (worker_threads)
  const r = await decodeGainmlpThreads(photo, { name: photoPath });
  console.log(JSON.stringify({ label: `Node ${process.version}, CPU path, ${r.thread} (cli.mjs)`,
    timings: r.timings, max_diff: maxDiff(r.hdr, python) }));
}

// 2. headless Chromium, WebGL2
const CHROMIUM = process.env.GAINMLP_CHROMIUM || '/usr/bin/chromium';
if (!flags.includes('--skip-browser') && existsSync(CHROMIUM)) {
  const { chromium } = await import(join(WEB, 'node_modules', 'playwright-core', 'index.mjs'));
  const gpu = flags.includes('--gpu');
  const server = createServer((req, res) => {
    const path = req.url.startsWith('/web/') ? join(WEB, req.url.slice(5))
      : req.url === '/photo.jpg' ? photoPath : req.url === '/python.f32' ? pythonPath : null;
    if (!path || !existsSync(path)) {
      res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>bench</title>');
      return;
    }
    res.writeHead(200, { 'content-type': path.endsWith('.mjs') ? 'text/javascript' : 'application/octet-stream' });
    res.end(readFileSync(path));
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const args = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-first-run', '--disable-dev-shm-usage', ...(gpu
      ? ['--use-angle=vulkan', '--enable-features=Vulkan', '--ignore-gpu-blocklist', '--enable-gpu']
      : ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'])];
  const browser = await chromium.launch({ executablePath: CHROMIUM, args });
  const page = await browser.newPage();
  page.setDefaultTimeout(0);
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  const runs = [['js', 'auto', 'webgl'], ['browser', 'auto', 'webgl'], ['js', 'auto', 'cpu']];
  if (flags.includes('--weight-modes')) runs.push(['js', 'const', 'webgl'], ['js', 'uniform', 'webgl'], ['js', 'texture', 'webgl']);
  for (const [jpeg, weights, backend] of flags.includes('--js-jpeg-only') ? [runs[0]] : runs) {
    const r = await page.evaluate(async ([jpegDecoder, webglWeights, backendWanted]) => {
      const gm = await import('/web/gainmlp.mjs');
      const bytes = new Uint8Array(await (await fetch('/photo.jpg')).arrayBuffer());
      const result = await gm.decodeGainmlp(bytes, { backend: backendWanted, jpeg: jpegDecoder, webglWeights });
      const python = new Float32Array(await (await fetch('/python.f32')).arrayBuffer());
      let m = 0;
      for (let i = 0; i < python.length; i++) {
        const d = Math.abs(result.hdr[i] - python[i]);
        if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
      }
      return { timings: result.timings, max_diff: m, renderer: result.renderer, backend: result.backend,
        thread: result.thread };
    }, [jpeg, weights, backend]);
    const how = weights === 'auto' ? '' : `, weights: ${r.timings.webgl.weights}`;
    const where = r.backend === 'webgl' ? `webgl (${gpu ? 'GPU' : 'SwiftShader'})` : `cpu (${r.timings.kernel} kernel)`;
    console.log(JSON.stringify({
      label: `Chromium ${browser.version()}, ${where}, ${jpeg} JPEG, ${r.thread}${how}`,
      ...r,
    }));
    if (r.renderer) console.log(`renderer: ${r.renderer}`);
  }
  await browser.close();
  server.close();
}
