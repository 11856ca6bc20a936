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
import { colourResidual, colourTables, colourTerms, fillGridRows } from './mlp_fast.mjs';
import { wasmKernel } from './mlp_wasm.mjs';

const now = () => performance.now();

function shared(typed) {
  const copy = new typed.constructor(new SharedArrayBuffer(typed.byteLength));
  copy.set(typed);
  return copy;
}

// rows in chunks of CHUNK, taken in turn by the threads from the shared counter `next`
// (the threads run at different speeds: a start-up, the engine's compile in the background)
const CHUNK = 16;
function runBand({ body, view, kind, eps, width, height, count, term, res, zTaps, ids, out, next }) {
  const prep = prepareMlp(unpackMlpBody(body), width, height, view);
  const rows = wasmKernel(prep, kind, eps, { term, res, zTaps }, count);
  if (!rows) throw new Error('the WebAssembly kernel cannot run in this thread');
  for (let r = Atomics.add(next, 0, CHUNK); r < height; r = Atomics.add(next, 0, CHUNK)) {
    rows(r, Math.min(r + CHUNK, height), ids, out, (y, views) => fillGridRows(prep, views, y));
  }
}

// a thread's share of the colour terms, then (once every thread's share is in: `sync`
// counts them) its band of rows
function runShare(job, k, prep = prepareMlp(unpackMlpBody(job.body), job.width, job.height, job.view)) {
  const { count, n, sync } = job;
  const c0 = Math.floor((k * count) / n), c1 = Math.floor(((k + 1) * count) / n);
  if (job.rgb) {
    // S and the residual's part of this share of the colours too (no bilateral grids)
    sdr8ToHdrSpace(job.rgb.subarray(3 * c0, 3 * c1), c1 - c0, job.sdr, 3, job.s.subarray(3 * c0, 3 * c1), true);
    colourResidual(job.kind, job.s, job.eps, c0, c1, job.res);
  }
  colourTerms(prep, { s: job.s }, c0, c1, job.term);
  Atomics.add(sync, 0, 1);
  Atomics.notify(sync, 0);
}

if (!isMainThread && workerData && workerData.gainmlpBand) {
  // started before the JPEG is decoded; the job comes once the colours are known
  parentPort.once('message', (job) => {
    runShare(job, job.k);
    for (let v = Atomics.load(job.sync, 0); v < job.n; v = Atomics.load(job.sync, 0)) Atomics.wait(job.sync, 0, v);
    runBand(job);
    parentPort.postMessage('done');
  });
}

/**
 * decodeGainmlpSync's result, with the Gain-MLP network evaluated on `threads` threads
 * (default: the machine's available parallelism). `sharedHdr: true`: hdr may be a view of a
 * SharedArrayBuffer (no copy of the output).
 */
export async function decodeGainmlpThreads(bytes, options = {}) {
  const { name = 'photo', threads = availableParallelism() } = options;
  headroomOption(options.headroom);
  const { payload, jpeg: isJpeg } = readGainmlp(bytes, name, { bare: !!options.sdr });
  if (payload.family !== 'mlp' || threads < 2 || typeof WebAssembly === 'undefined') {
    return decodeGainmlpSync(bytes, options);
  }
  const { width, height, eps } = payload;
  const n = Math.min(threads, height);
  // the other threads start now, so that their start-up overlaps the JPEG decode
  const workers = [], others = [];
  for (let k = 1; k < n; k++) {
    const w = new Worker(new URL(import.meta.url), { workerData: { gainmlpBand: true } });
    workers.push(w);
    const ended = new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => (code ? reject(new Error(`decoder thread exited with ${code}`)) : resolve()));
    });
    ended.catch(() => {}); // awaited below; not when the decode fails first and ends the threads
    others.push(ended);
  }
  let done = false;
  try {
    const result = await decodeOnThreads(bytes, options, payload, isJpeg, workers, others, n);
    done = true;
    return result;
  } finally {
    if (!done) for (const w of workers) w.terminate();
  }
}

async function decodeOnThreads(bytes, options, payload, isJpeg, workers, others, n) {
  const { name = 'photo' } = options;
  const { width, height, eps } = payload;
  const timings = {};
  const t0 = now();
  let t = now();
  const base = isJpeg ? decodeJpeg(bytes, name) : options.sdr;
  timings.jpeg = now() - t;
  if (base.width !== payload.width || base.height !== payload.height) {
    for (const w of workers) w.terminate();
    return decodeGainmlpSync(bytes, options);
  }
  t = now();
  const index = indexColours(base.pixels, width * height);
  const prep = prepareMlp(unpackMlpBody(payload.body), width, height, payload.view);
  // without bilateral grids the threads compute S and the residual's part of their shares
  // of the colours too; with them (luma taps from S) this thread computes S first
  const split = prep.grids.every((g) => g.bins === 1);
  const count = index.count;
  const colours = { ids: shared(index.ids), count, s: split
    ? sdr8ToHdrSpace(index.rgb, 0, payload.sdr, 3, new Float32Array(new SharedArrayBuffer(count * 12)), true)
    : shared(sdr8ToHdrSpace(index.rgb, count, payload.sdr, 3, null, true)) };
  timings.colour = now() - t;
  timings.colours = count;
  t = now();
  const tables = split ? { res: new Float64Array(new SharedArrayBuffer(count * 24)), zTaps: prep.grids.map(() => null) }
    : colourTables(prep, payload.residual, colours, eps, { terms: false });
  const term = new Float32Array(new SharedArrayBuffer(count * prep.h1 * 4));
  const res = split ? tables.res : shared(tables.res);
  const zTaps = tables.zTaps.map((z) => z && { z0: shared(z.z0), z1: shared(z.z1), w: shared(z.w) });
  const out = new Float32Array(new SharedArrayBuffer(width * height * 12));
  const sync = new Int32Array(new SharedArrayBuffer(4)), next = new Int32Array(new SharedArrayBuffer(4));
  const job = { body: payload.body, view: payload.view, kind: payload.residual, eps, width, height, count: colours.count, term, res,
    zTaps, ids: colours.ids, s: colours.s, out, n, sync, next, rgb: split ? shared(index.rgb) : null, sdr: payload.sdr };
  workers.forEach((w, i) => w.postMessage({ ...job, k: i + 1 }));
  // this thread's share of the colour terms, then wait for the others' (or a failed thread)
  runShare(job, 0, prep);
  const failed = Promise.all(others).then(() => { throw new Error('a decoder thread ended early'); });
  failed.catch(() => {});
  for (let v = Atomics.load(sync, 0); v < n; v = Atomics.load(sync, 0)) {
    const wait = Atomics.waitAsync(sync, 0, v);
    if (wait.async) await Promise.race([wait.value, failed]);
  }
  const tablesMs = now() - t;
  t = now();
  runBand(job);
  await Promise.all(others);
  timings.cpu = { tables: tablesMs, kernel: 'wasm', pixels: now() - t, threads: n };
  timings.kernel = 'wasm';
  timings.network = tablesMs + timings.cpu.pixels;
  // a copy in an ordinary ArrayBuffer, unless the caller takes the shared one (cli.mjs)
  const decoded = options.sharedHdr ? out : new Float32Array(out);
  const { hdr, headroom } = forHeadroom(payload, colours, decoded, options.headroom, timings);
  timings.total = now() - t0;
  const { body, ...rest } = payload;
  return { width, height, hdr, sdr: base.pixels, payload: { ...rest, bodyBytes: body.length, bodyVersion: body[0] },
    backend: 'cpu', renderer: null, timings, thread: `${n} threads`, headroom };
}
