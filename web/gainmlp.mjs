// gainmlp in JavaScript: decode a gainmlp JPEG (an SDR JPEG with the MLP payload in APP11
// segments) into its HDR rendition, PQ BT.2020 floats, in a browser or in Node. No build
// step and no dependencies. The format is docs/payload-format.md; docs/web.md says how to
// use this module and what it does not do.
//
//   import { decodeGainmlp, drawHdr } from './gainmlp.mjs';
//   const result = await decodeGainmlp('photo.jpg');        // URL, Blob, ArrayBuffer or bytes
//   await drawHdr(canvas, result, { exposure: 0 });           // HDR where the browser can
//   result.hdr;                                               // Float32Array, RGB, PQ BT.2020

import { GainMLPError } from './errors.mjs';
import { extractPayload, parsePayload, parseSegments } from './payload.mjs';
import { decodeJpeg } from './jpeg.mjs';
import { checkHeadroom, indexColours, renderForHeadroom, sdr8ToHdrSpace, toneMapToSrgb8 } from './colour.mjs';
import { decodeCpuColours } from './mlp_fast.mjs';
import { inflateGrids, unpackMlpBody } from './body.mjs';
import { decodeMlpWebgl, webglContext } from './mlp_webgl.mjs';
import { displayCapabilities, drawHdr } from './display.mjs';
import { decodeGainMapSync, decodeGainMapWith, gainMapWeight, isGainMapJpeg, pqToLinearNits, readGainMapJpeg, renderGainMap, takesGainMap } from './gainmap.mjs';
import { readLocalInput } from './source.mjs';

export { GainMLPError, decodeJpeg, displayCapabilities, drawHdr, parsePayload, renderForHeadroom, toneMapToSrgb8 };
export { decodeGainMapSync, gainMapWeight, isGainMapJpeg, pqToLinearNits, readGainMapJpeg, renderGainMap };

export const VERSION = '0.1.0';

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

async function toBytes(input) {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (typeof Blob !== 'undefined' && input instanceof Blob) return new Uint8Array(await input.arrayBuffer());
  if (typeof input === 'string' || (typeof URL !== 'undefined' && input instanceof URL)) {
    const local = await readLocalInput(input); // Node: a path or a file: URL
    if (local) return local;
    const response = await fetch(input);
    if (!response.ok) throw new GainMLPError(`${input}: cannot fetch (HTTP ${response.status})`);
    return new Uint8Array(await response.arrayBuffer());
  }
  throw new TypeError('decodeGainmlp takes a URL, Blob, ArrayBuffer or Uint8Array');
}

function startsWithBytes(bytes, text) {
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return bytes.length >= text.length;
}

/**
 * The payload of a gainmlp JPEG (or of a bare payload), checked, with the checks and
 * messages of gainmlp.photo.decode_file.
 * @returns {{payload: object, jpeg: boolean}}
 */
export function readGainmlp(bytes, name = 'photo', { bare = false } = {}) {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    const segments = parseSegments(bytes);
    const raw = extractPayload(bytes, segments);
    if (raw === null) {
      if (isGainMapJpeg(bytes)) { // only reached with use: 'payload' (else the map decodes)
        throw new GainMLPError(`${name}: JPEG carries a standard gain map but no gainmlp payload ` +
          "(use: 'auto' or 'gainmap' decodes the map)");
      }
      throw new GainMLPError(`${name}: JPEG carries neither a gainmlp payload nor a gain map ` +
        '(no hdrgm XMP, ISO 21496-1 or Apple HDRGainMap)');
    }
    return { payload: parsePayload(raw), jpeg: true };
  }
  if (!startsWithBytes(bytes, 'GMLP')) throw new GainMLPError(`${name}: neither a JPEG nor a gainmlp payload`);
  if (!bare) throw new GainMLPError(`${name} is a bare payload: give the SDR image with --sdr`);
  return { payload: parsePayload(bytes), jpeg: false };
}

/** The base JPEG's pixels through the browser's decoder (fast; see docs/web.md on exactness). */
async function decodeJpegBrowser(bytes, name) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/jpeg' }),
      { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new GainMLPError(`${name}: image data is corrupt or truncated`);
  }
  const { width, height } = bitmap;
  const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(width, height)
    : Object.assign(document.createElement('canvas'), { width, height });
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    pixels[3 * i] = rgba[4 * i];
    pixels[3 * i + 1] = rgba[4 * i + 1];
    pixels[3 * i + 2] = rgba[4 * i + 2];
  }
  return { width, height, pixels };
}

function checkSize(payload, base) {
  if (base.width !== payload.width || base.height !== payload.height) {
    throw new GainMLPError(`payload is for a ${payload.width}x${payload.height} image but the SDR is ` +
      `${base.width}x${base.height}`);
  }
}

let webgl = null; // one context for every decode (browsers cap the live contexts)

function sharedWebgl() {
  if (!webgl || (webgl.gl && webgl.gl.isContextLost())) webgl = webglContext();
  return webgl;
}

/** The base image's distinct colours and S (SDR in HDR space) per colour. */
function colourTable(payload, base) {
  const index = indexColours(base.pixels, base.width * base.height);
  return { ids: index.ids, count: index.count, s: sdr8ToHdrSpace(index.rgb, index.count, payload.sdr, 3, null, true) };
}

// WebGL2 on a software rasterizer is slower than the CPU path (docs/web.md, "Speed"), so
// 'auto' decodes on the CPU there
const SOFTWARE_GL = /SwiftShader|llvmpipe|softpipe|Software Rasterizer/i;

function evaluate(payload, base, backend, timings, onProgress, options = {}) {
  let t = now();
  const colours = colourTable(payload, base);
  timings.colour = now() - t;
  timings.colours = colours.count;
  t = now();
  let hdr = null;
  let used = 'cpu';
  let renderer = null;
  if (backend !== 'cpu' && payload.family === 'mlp') {
    const ctx = sharedWebgl();
    if (ctx.gl && backend === 'auto' && SOFTWARE_GL.test(ctx.renderer || '')) {
      timings.webglSkipped = `software GL (${ctx.renderer}): the CPU path is faster`;
    } else if (ctx.gl) {
      try {
        const params = Object.assign(unpackMlpBody(payload.body), { view: payload.view });
        const stats = {};
        hdr = decodeMlpWebgl(ctx.gl, params, payload.residual, colours, payload.width, payload.height, payload.eps,
          { onRows: onProgress, stats, weights: options.webglWeights || 'auto' });
        timings.webgl = stats;
        used = 'webgl';
        renderer = ctx.renderer;
      } catch (err) {
        if (backend === 'webgl') throw err;
        timings.webglError = err.message; // 'auto': the CPU path decodes (or gives the error)
      }
    } else if (backend === 'webgl') {
      throw new Error(`the WebGL2 path cannot run here: ${ctx.reason}`);
    }
  }
  if (!hdr) {
    const stats = {};
    hdr = decodeCpuColours(payload, colours, { onRows: onProgress, kernel: options.cpuKernel || 'auto', stats });
    if (stats.kernel) {
      timings.kernel = stats.kernel;
      timings.cpu = stats; // ms: tables (per colour), pixels (the kernel)
    }
  }
  timings.network = now() - t;
  const display = forHeadroom(payload, colours, hdr, options.headroom, timings);
  return { hdr: display.hdr, used, renderer, headroom: display.headroom };
}

/** A headroom option: undefined or null (the full HDR), else checked (a GainMLPError). */
export function headroomOption(headroom) {
  if (headroom === undefined || headroom === null) return null;
  checkHeadroom(headroom);
  return headroom;
}

/**
 * The decoded `hdr` rendered for a display with `headroom` stops of HDR headroom
 * (renderForHeadroom: gainmlp.display's rule); null or undefined: `hdr` unchanged.
 * @returns {{hdr: Float32Array, headroom: ?{stops, weight, capacity}}}
 */
export function forHeadroom(payload, colours, hdr, headroom, timings = {}) {
  if (headroomOption(headroom) === null) return { hdr, headroom: null };
  const t = now();
  const r = renderForHeadroom(hdr, colours.ids, colours.s, colours.count, headroom, payload.sdr.whiteNits);
  timings.headroom = now() - t;
  return { hdr: r.hdr, headroom: { stops: headroom, weight: r.weight, capacity: r.capacity } };
}

/**
 * Decode a gainmlp JPEG into its HDR rendition. In a browser page this runs in a Web Worker
 * (module worker; the report's one-script bundle makes its worker from its own source), so
 * the page stays responsive: the input's bytes go to the worker, the pixels come back as
 * transferred ArrayBuffers, errors as the same GainMLPError messages. Elsewhere (Node, a
 * worker, `worker: false`, or where no worker can start) it decodes in this thread.
 * @param input URL string, URL, Blob, ArrayBuffer or Uint8Array: a gainmlp JPEG, or a bare
 *   payload with `options.sdr` = {width, height, pixels (RGB uint8)}
 * @param options.backend 'auto' (WebGL2 when the browser has it on a GPU, else CPU) | 'webgl' | 'cpu'
 * @param options.jpeg 'js' (default: bit-exact with gainmlp's Python decoder) | 'browser'
 * @param options.name how error messages name the input
 * @param options.onProgress (rowsDone, rows) callback
 * @param options.worker 'auto' (default: a worker in a browser page) | true | false
 * @param options.webglWeights where the shader reads the weights: 'auto' (literals for
 *   networks of up to 16k weights, else a texture) | 'const' | 'uniform' | 'texture'
 * @param options.cpuKernel 'auto' | 'generated' | 'loop' | 'reference' (mlp_fast.mjs)
 * @param options.headroom a display's HDR headroom in stops (log2 of its peak over SDR
 *   white, >= 0): the rendition for that display, ISO 21496-1's weighting of the log-ratio
 *   the payload rebuilds, as `gainmlp decode --headroom` (gainmlp.display); undefined or
 *   null (default): the full HDR
 * @returns {Promise<{width, height, hdr: Float32Array, sdr: Uint8Array, payload, backend, renderer,
 *   timings, thread, headroom}>} hdr: PQ BT.2020 code values, RGB interleaved, row-major;
 *   thread: 'worker' or 'main'; headroom: null, or {stops, weight, capacity} (capacity: the
 *   content's largest log2 gain over the SDR; weight 1: the HDR unchanged)
 */
export async function decodeGainmlp(input, options = {}) {
  headroomOption(options.headroom);
  const want = options.worker === undefined ? 'auto' : options.worker;
  const page = typeof window !== 'undefined' && typeof Worker !== 'undefined';
  if (want === true || (want === 'auto' && page && workerState !== 'broken')) {
    const t0 = now();
    const owned = !(input instanceof Uint8Array || input instanceof ArrayBuffer || ArrayBuffer.isView(input));
    const bytes = await toBytes(input);
    try {
      const result = await decodeInWorker(bytes, owned, options);
      result.timings.total = now() - t0;
      return result;
    } catch (err) {
      if (!(err instanceof WorkerUnavailable) || want === true) throw err;
      return decodeGainmlpHere(bytes, options);
    }
  }
  return decodeGainmlpHere(input, options);
}

/** decodeGainmlp in this thread (the page's main thread, a worker, or Node). */
export async function decodeGainmlpHere(input, options = {}) {
  const { backend = 'auto', jpeg = 'js', name = 'photo', onProgress = null } = options;
  headroomOption(options.headroom);
  const timings = {};
  const t0 = now();
  const bytes = await toBytes(input);
  if (takesGainMap(bytes, options.use)) { // Ultra HDR, ISO, Adobe, Apple
    return jpeg === 'browser' ? decodeGainMapWith(bytes, options, decodeJpegBrowser) : decodeGainMapSync(bytes, options);
  }
  const { payload, jpeg: isJpeg } = readGainmlp(bytes, name, { bare: !!options.sdr });
  await inflateGrids(payload.body); // coded grids, where no synchronous inflater exists (browsers)
  let t = now();
  let base = options.sdr;
  if (isJpeg) base = jpeg === 'browser' ? await decodeJpegBrowser(bytes, name) : decodeJpeg(bytes, name);
  timings.jpeg = now() - t;
  checkSize(payload, base);
  const { hdr, used, renderer, headroom } = evaluate(payload, base, backend, timings, onProgress, options);
  timings.total = now() - t0;
  return { width: base.width, height: base.height, hdr: options.linear ? pqToLinearNits(hdr) : hdr, sdr: base.pixels,
    payload: summary(payload), source: 'payload', linear: !!options.linear, backend: used, renderer, timings,
    thread: 'main', headroom };
}

// ---------------------------------------------------------------- the worker

class WorkerUnavailable extends Error {}

let worker = null;
let workerState = 'none'; // 'none' | 'starting' | 'ready' | 'broken'
let workerUrl = null;
let nextJob = 1;
const jobs = new Map();

function createWorker() {
  /* global gainmlpBundle */
  if (typeof gainmlpBundle === 'function') {
    // the report's one-script bundle (gainmlp.evaluation.html_report.bundle_web): the
    // worker is the bundle itself, from a Blob URL, started in worker mode
    if (!workerUrl) {
      const source = `(function () {\n'use strict';\nconst gainmlpBundle = ${gainmlpBundle.toString()};\n` +
        'gainmlpBundle(true);\n})();\n';
      workerUrl = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    }
    return new Worker(workerUrl);
  }
  return new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' });
}

function failAll(err) {
  for (const job of jobs.values()) job.reject(err);
  jobs.clear();
}

function startWorker() {
  if (worker) return worker;
  try {
    worker = createWorker();
  } catch (err) {
    workerState = 'broken';
    throw new WorkerUnavailable(`no worker: ${err.message}`);
  }
  workerState = 'starting';
  worker.onmessage = (event) => {
    const m = event.data;
    if (m.type === 'ready') {
      workerState = 'ready';
      return;
    }
    const job = jobs.get(m.id);
    if (!job) return;
    if (m.type === 'progress') {
      if (job.onProgress) job.onProgress(m.rows, m.total);
      return;
    }
    jobs.delete(m.id);
    if (m.type === 'done') job.resolve(m.result);
    else {
      const err = m.name === 'GainMLPError' ? new GainMLPError(m.message) : new Error(m.message);
      if (m.name !== 'GainMLPError' && m.name) err.name = m.name;
      job.reject(err);
    }
  };
  worker.onerror = (event) => {
    // a worker that cannot load (a file:// page, a Content-Security-Policy) fails its jobs
    // with WorkerUnavailable, so that they run in this thread; a crash later is an error
    const loading = workerState === 'starting';
    if (event && event.preventDefault) event.preventDefault();
    worker.terminate();
    worker = null;
    workerState = loading ? 'broken' : 'none';
    failAll(loading ? new WorkerUnavailable('the decoder worker did not start')
      : new Error(`the decoder worker failed: ${(event && event.message) || 'unknown error'}`));
  };
  return worker;
}

function decodeInWorker(bytes, owned, options) {
  const w = startWorker();
  const id = nextJob++;
  const { onProgress = null, worker: _, sdr = null, ...rest } = options;
  const message = { id, bytes, options: { ...rest, sdr, progress: !!onProgress } };
  return new Promise((resolve, reject) => {
    jobs.set(id, { resolve, reject, onProgress });
    try {
      w.postMessage(message, owned ? [bytes.buffer] : []);
    } catch (err) {
      jobs.delete(id);
      reject(err);
    }
  });
}

/** The worker's side: decode the jobs `scope` receives (worker.mjs, or the bundle). */
export function serveDecodes(scope) {
  scope.onmessage = async (event) => {
    const { id, bytes, options } = event.data;
    const { progress, ...rest } = options;
    let last = 0;
    const onProgress = progress ? (rows, total) => {
      const t = now();
      if (rows === total || t - last > 50) {
        last = t;
        scope.postMessage({ id, type: 'progress', rows, total });
      }
    } : null;
    try {
      const result = await decodeGainmlpHere(bytes, { ...rest, onProgress, worker: false });
      result.thread = 'worker';
      const transfer = [result.hdr.buffer];
      if (result.sdr && result.sdr.buffer !== bytes.buffer) transfer.push(result.sdr.buffer);
      scope.postMessage({ id, type: 'done', result }, transfer);
    } catch (err) {
      scope.postMessage({ id, type: 'error', name: err.name, message: err.message });
    }
  };
  scope.postMessage({ type: 'ready' });
}

/** decodeGainmlp for bytes already in memory, on the CPU with the JavaScript JPEG decoder. */
export function decodeGainmlpSync(bytes, options = {}) {
  const { name = 'photo', onProgress = null } = options;
  headroomOption(options.headroom);
  if (takesGainMap(bytes, options.use)) return decodeGainMapSync(bytes, options); // Ultra HDR, ISO, Adobe, Apple
  const timings = {};
  const t0 = now();
  const { payload, jpeg: isJpeg } = readGainmlp(bytes, name, { bare: !!options.sdr });
  let t = now();
  const base = isJpeg ? decodeJpeg(bytes, name) : options.sdr;
  timings.jpeg = now() - t;
  checkSize(payload, base);
  const { hdr, headroom } = evaluate(payload, base, 'cpu', timings, onProgress, options);
  timings.total = now() - t0;
  return { width: base.width, height: base.height, hdr: options.linear ? pqToLinearNits(hdr) : hdr, sdr: base.pixels,
    payload: summary(payload), source: 'payload', linear: !!options.linear, backend: 'cpu', renderer: null, timings,
    thread: 'main', headroom };
}

function summary(payload) {
  const { body, ...rest } = payload;
  return { ...rest, bodyBytes: body.length, bodyVersion: body[0] };
}

/** Whether the WebGL2 path can run here, and on what. */
export function webglInfo() {
  const { gl, renderer, reason } = sharedWebgl();
  return { available: !!gl, renderer: renderer || null, reason };
}
