// Node only (like cli.mjs): the CPU decode with the per-pixel kernel split over threads
// (node:worker_threads). The main thread decodes the JPEG, indexes the colours and builds
// the per-colour tables (mlp_fast.mjs); the tables, the colour numbers and the output live
// in SharedArrayBuffers; each thread runs the same WebAssembly kernel on its band of rows,
// so the pixels are those of decodeGainmlpSync, bit for bit. Bodies other than Gain-MLP,
// one thread, or no WebAssembly: decodeGainmlpSync.

import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { unpackMlpBody } from './body.mjs';
import { indexColours, sdr8ToHdrSpace } from './colour.mjs';
import { decodeGainmlpSync, forHeadroom, headroomOption, readGainmlp } from './gainmlp.mjs';
import { decodeJpeg } from './jpeg.mjs';
import { prepareMlp } from './mlp_cpu.mjs';
import { colourTables, fillGridRows } from './mlp_fast.mjs';
import { wasmKernel } from './mlp_wasm.mjs';

const now = () => performance.now();

function shared(typed) {
  const copy = new typed.constructor(new SharedArrayBuffer(typed.byteLength));
  copy.set(typed);
  return copy;
}

function runBand({ body, kind, eps, width, height, count, term, res, zTaps, ids, out, r0, r1 }) {
  const prep = prepareMlp(unpackMlpBody(body), width, height);
  const rows = wasmKernel(prep, kind, eps, { term, res, zTaps }, count);
  if (!rows) throw new Error('the WebAssembly kernel cannot run in this thread');
  rows(r0, r1, ids, out, (r, views) => fillGridRows(prep, views, r));
}

if (!isMainThread && workerData && workerData.gainmlpBand) {
  runBand(workerData);
  parentPort.postMessage('done');
}

/**
 * decodeGainmlpSync's result, with the Gain-MLP network evaluated on `threads` threads
 * (default: the machine's available parallelism).
 */
export async function decodeGainmlpThreads(bytes, options = {}) {
  const { name = 'photo', threads = availableParallelism() } = options;
  headroomOption(options.headroom);
  const { payload, jpeg: isJpeg } = readGainmlp(bytes, name, { bare: !!options.sdr });
  if (payload.family !== 'mlp' || threads < 2 || typeof WebAssembly === 'undefined') {
    return decodeGainmlpSync(bytes, options);
  }
  const timings = {};
  const t0 = now();
  let t = now();
  const base = isJpeg ? decodeJpeg(bytes, name) : options.sdr;
  timings.jpeg = now() - t;
  if (base.width !== payload.width || base.height !== payload.height) return decodeGainmlpSync(bytes, options);
  t = now();
  const { width, height, eps } = payload;
  const index = indexColours(base.pixels, width * height);
  const colours = { ids: shared(index.ids), count: index.count,
    s: sdr8ToHdrSpace(index.rgb, index.count, payload.sdr, 3, null, true) };
  timings.colour = now() - t;
  timings.colours = colours.count;
  t = now();
  const prep = prepareMlp(unpackMlpBody(payload.body), width, height);
  const tables = colourTables(prep, payload.residual, colours, eps);
  const term = shared(tables.term), res = shared(tables.res);
  const zTaps = tables.zTaps.map((z) => z && { z0: shared(z.z0), z1: shared(z.z1), w: shared(z.w) });
  const out = new Float32Array(new SharedArrayBuffer(width * height * 12));
  const tablesMs = now() - t;
  t = now();
  const n = Math.min(threads, height);
  const band = (k) => [Math.floor((k * height) / n), Math.floor(((k + 1) * height) / n)];
  const job = { body: payload.body, kind: payload.residual, eps, width, height, count: colours.count, term, res,
    zTaps, ids: colours.ids, out };
  const others = [];
  for (let k = 1; k < n; k++) {
    const [r0, r1] = band(k);
    const w = new Worker(new URL(import.meta.url), { workerData: { ...job, r0, r1, gainmlpBand: true } });
    others.push(new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => (code ? reject(new Error(`decoder thread exited with ${code}`)) : resolve()));
    }));
  }
  const [r0, r1] = band(0);
  runBand({ ...job, r0, r1 });
  await Promise.all(others);
  timings.cpu = { tables: tablesMs, kernel: 'wasm', pixels: now() - t, threads: n };
  timings.kernel = 'wasm';
  timings.network = tablesMs + timings.cpu.pixels;
  const decoded = new Float32Array(out.length);
  decoded.set(out);
  const { hdr, headroom } = forHeadroom(payload, colours, decoded, options.headroom, timings);
  timings.total = now() - t0;
  const { body, ...rest } = payload;
  return { width, height, hdr, sdr: base.pixels, payload: { ...rest, bodyBytes: body.length, bodyVersion: body[0] },
    backend: 'cpu', renderer: null, timings, thread: `${n} threads`, headroom };
}
