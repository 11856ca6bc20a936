// Drawing a decoded HDR image to a canvas (browser only).
//
// HDR where the browser offers it, feature-detected in this order:
//  1. 'canvas-pq': a 2D canvas in the 'rec2100-pq' colour space with float pixels
//     (Chromium's HDR canvas; the PQ BT.2020 values are written as they are);
//  2. 'webgpu-hdr': a WebGPU canvas, rgba16float, Display P3, toneMapping 'extended'
//     (linear light relative to SDR white = 203 cd/m2, extended sRGB encoding);
// otherwise an SDR rendering:
//  3. 'sdr-tonemap': colour.toneMapToSrgb8 (BT.709, extended Reinhard on the largest
//     channel, an exposure control in stops);
//  4. 'sdr-base': the SDR base image itself.
// A canvas keeps the first context type it was given: draw a different mode on a new canvas.

import { toExtendedSrgb, toneMapToSrgb8 } from './colour.mjs';

/** What this browser and screen can show. */
export function displayCapabilities() {
  const hasWindow = typeof window !== 'undefined';
  return {
    hdrScreen: hasWindow && !!window.matchMedia && window.matchMedia('(dynamic-range: high)').matches,
    webgpu: typeof navigator !== 'undefined' && !!navigator.gpu,
  };
}

function floatToHalf(v) {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  let e = ((x >>> 23) & 0xff) - 127 + 15;
  let m = x & 0x7fffff;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    m = (m | 0x800000) >> (1 - e);
    return sign | ((m + 0x1000) >> 13);
  }
  const h = sign | (e << 10) | (m >> 13);
  return h + ((m >> 12) & 1);
}

function tryCanvasPq(canvas, result) {
  let ctx = null;
  try {
    ctx = canvas.getContext('2d', { colorSpace: 'rec2100-pq', colorType: 'float16' });
  } catch {
    return false;
  }
  if (!ctx || !ctx.getContextAttributes || ctx.getContextAttributes().colorSpace !== 'rec2100-pq') return false;
  const { width, height, hdr } = result;
  let img = null;
  for (const settings of [{ colorSpace: 'rec2100-pq', pixelFormat: 'rgba-float32' },
    { colorSpace: 'rec2100-pq', storageFormat: 'float32' }]) {
    try {
      const candidate = ctx.createImageData(width, height, settings);
      if (candidate.data instanceof Float32Array) {
        img = candidate;
        break;
      }
    } catch {
      // not this spelling of the option
    }
  }
  if (!img) return false;
  for (let i = 0; i < width * height; i++) {
    img.data[4 * i] = hdr[3 * i];
    img.data[4 * i + 1] = hdr[3 * i + 1];
    img.data[4 * i + 2] = hdr[3 * i + 2];
    img.data[4 * i + 3] = 1;
  }
  ctx.putImageData(img, 0, 0);
  return true;
}

async function tryWebgpu(canvas, result, exposure) {
  if (typeof navigator === 'undefined' || !navigator.gpu) return false;
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return false;
  const device = await adapter.requestDevice();
  const ctx = canvas.getContext('webgpu');
  if (!ctx) return false;
  ctx.configure({
    device, format: 'rgba16float', colorSpace: 'display-p3', alphaMode: 'opaque',
    toneMapping: { mode: 'extended' },
    usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_DST,
  });
  const conf = ctx.getConfiguration ? ctx.getConfiguration() : null;
  if (!conf || !conf.toneMapping || conf.toneMapping.mode !== 'extended') return false;
  const { width, height, hdr } = result;
  const lin = toExtendedSrgb(hdr, width * height, { target: 'p3', exposure });
  const half = new Uint16Array(lin.length);
  for (let i = 0; i < lin.length; i++) half[i] = floatToHalf(lin[i]);
  device.queue.writeTexture({ texture: ctx.getCurrentTexture() }, half, { bytesPerRow: width * 8 },
    { width, height });
  return true;
}

/**
 * Draw `result` (from decodeGainmlp) on `canvas`; returns the mode used.
 * @param {{mode?: 'auto'|'hdr'|'sdr-tonemap'|'sdr-base', exposure?: number}} options
 *   'auto' draws HDR on an HDR screen when the browser can, the tone-mapped view otherwise.
 */
export async function drawHdr(canvas, result, { mode = 'auto', exposure = 0 } = {}) {
  canvas.width = result.width;
  canvas.height = result.height;
  const caps = displayCapabilities();
  if (mode === 'hdr' || (mode === 'auto' && caps.hdrScreen)) {
    if (tryCanvasPq(canvas, result)) return 'canvas-pq';
    try {
      if (await tryWebgpu(canvas, result, exposure)) return 'webgpu-hdr';
    } catch {
      // fall through to the SDR rendering
    }
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this canvas already holds an HDR context; draw the SDR view on a new canvas');
  const img = ctx.createImageData(result.width, result.height);
  const n = result.width * result.height;
  if (mode === 'sdr-base') {
    for (let i = 0; i < n; i++) {
      img.data[4 * i] = result.sdr[3 * i];
      img.data[4 * i + 1] = result.sdr[3 * i + 1];
      img.data[4 * i + 2] = result.sdr[3 * i + 2];
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return 'sdr-base';
  }
  toneMapToSrgb8(result.hdr, n, { exposure, peakNits: result.peakNits || (result.payload ? result.payload.peakNits : 1000), out: img.data });
  ctx.putImageData(img, 0, 0);
  return 'sdr-tonemap';
}

export const displayInternals = { floatToHalf };
