// Types of display.mjs: drawing a decoded image on a canvas, HDR where the browser can.

import type { DecodeResult } from './gainmlp.js';

export interface DisplayCapabilities {
  /** `(dynamic-range: high)` matches. */
  hdrScreen: boolean;
  /** The browser offers WebGPU. */
  webgpu: boolean;
}

/** What drawHdr drew: an HDR canvas ('canvas-pq', 'webgpu-hdr') or an SDR view. */
export type DrawMode = 'canvas-pq' | 'webgpu-hdr' | 'sdr-tonemap' | 'sdr-base';

export interface DrawOptions {
  /** 'auto' (HDR on an HDR screen where the browser can), 'hdr', 'sdr-tonemap' or 'sdr-base'. */
  mode?: 'auto' | 'hdr' | 'sdr-tonemap' | 'sdr-base';
  /** Exposure of the SDR view and the WebGPU canvas, stops. */
  exposure?: number;
}

/** What this browser and screen can show. */
export function displayCapabilities(): DisplayCapabilities;
/** Draw a decode result (PQ, not `linear`) on a canvas; resolves to the mode used. */
export function drawHdr(canvas: HTMLCanvasElement | OffscreenCanvas,
  result: Pick<DecodeResult, 'width' | 'height' | 'hdr' | 'sdr' | 'payload' | 'peakNits'>,
  options?: DrawOptions): Promise<DrawMode>;
/** Internals the tests use. */
export const displayInternals: { floatToHalf(value: number): number };
