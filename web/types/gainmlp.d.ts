// Types of the gainmlp decoder (gainmlp.mjs), written by hand; `tsc --noEmit` checks them
// in the tests (tests/test_web_package.py), and web/test/package.test.mjs checks that they
// declare every export of the module.

export { displayCapabilities, drawHdr } from './display.js';
export type { DisplayCapabilities, DrawMode, DrawOptions } from './display.js';

/** The package's version. */
export const VERSION: string;

/** Every problem with the input; the message is the one line gainmlp's Python decoder gives. */
export class GainMLPError extends Error {
  constructor(message: string);
  name: 'GainMLPError';
}

/** What decodeGainmlp reads: a URL (in Node also a path or a file: URL), a Blob or bytes. */
export type DecodeInput = string | URL | Blob | ArrayBuffer | ArrayBufferView;

/** 8-bit RGB pixels, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

export interface DecodeOptions {
  /** 'auto' (WebGL2 for Gain-MLP bodies on a GPU, else the CPU), 'webgl' or 'cpu'. */
  backend?: 'auto' | 'webgl' | 'cpu';
  /** 'js' (bit-exact with the Python decoder, default) or 'browser' (createImageBitmap; pages). */
  jpeg?: 'js' | 'browser';
  /** How error messages name the input. */
  name?: string;
  /** Progress of the network, in rows. */
  onProgress?: ((rows: number, total: number) => void) | null;
  /** 'auto' (default: a Web Worker when called from a page), true or false. */
  worker?: 'auto' | boolean;
  /** Where the WebGL2 shader reads the weights. */
  webglWeights?: 'auto' | 'const' | 'uniform' | 'texture';
  /** The CPU kernel. */
  cpuKernel?: 'auto' | 'generated' | 'loop' | 'reference';
  /**
   * A display's HDR headroom in stops (log2 of its peak over SDR white, >= 0), rendered
   * with ISO 21496-1's weighting; undefined or null: the full HDR.
   */
  headroom?: number | null;
  /** The SDR image of a bare payload (`GMLP...`). */
  sdr?: RgbImage | null;
  /**
   * Which rendition of a JPEG: 'auto' (default: the gainmlp payload when there is one,
   * else the standard gain map), 'payload' or 'gainmap' (the standard map of a file that
   * carries both).
   */
  use?: 'auto' | 'payload' | 'gainmap';
  /** true: `hdr` is linear BT.2020 light in cd/m2 instead of PQ code values. */
  linear?: boolean;
}

/** The SDR colour set-up a payload records. */
export interface SdrEncoding {
  primaries: 'bt709' | 'srgb' | 'p3' | 'bt2020';
  transfer: 'gamma2.4' | 'srgb' | 'gamma2.2';
  whiteNits: number;
}

/** A gainmlp payload's header (docs/payload-format.md). */
export interface PayloadHeader {
  method: string;
  family: 'mlp' | 'mlp-itm' | 'conventional';
  residual: 'gain' | 'gamma' | 'direct';
  code: number;
  width: number;
  height: number;
  eps: number;
  sdr: SdrEncoding;
  peakNits: number;
  /** Header version 2: the part of the original frame the base shows (null: all of it). */
  view: PayloadView | null;
  /** The original frame's size (the payload's own size without a view). */
  originalWidth: number;
  originalHeight: number;
  [field: string]: unknown;
}

/** A payload's view: a normalised crop box of the original frame and an EXIF orientation. */
export interface PayloadView {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  orientation: number;
  frameWidth: number;
  frameHeight: number;
}

/** A parsed payload: its header and body. */
export interface Payload extends PayloadHeader {
  body: Uint8Array;
}

/** A payload's header in a decode result. */
export interface PayloadSummary extends PayloadHeader {
  bodyBytes: number;
  bodyVersion: number;
}

/** Standard gain-map metadata (Adobe hdrgm names; log2 values; RGB triples). */
export interface GainMapMetadata {
  gainMapMin: [number, number, number];
  gainMapMax: [number, number, number];
  gamma: [number, number, number];
  offsetSdr: [number, number, number];
  offsetHdr: [number, number, number];
  hdrCapacityMin: number;
  hdrCapacityMax: number;
  baseIsHdr: boolean;
  useBaseColourSpace: boolean;
}

/** Apple's HDRGainMap parameters: the headroom (linear, >= 1) and where it came from. */
export interface AppleGainMap {
  version: number;
  headroom: number;
  source: 'xmp' | 'maker-note' | 'default';
}

export type ColourSpace = 'srgb' | 'p3' | 'bt2020';

/** What readGainMapJpeg finds in a gain-map JPEG (its images still coded). */
export interface GainMapJpeg {
  metadata: GainMapMetadata;
  source: 'iso21496' | 'xmp' | 'apple';
  flavour: 'ultrahdr' | 'adobe' | 'iso' | 'apple';
  colourSpace: ColourSpace;
  apple: AppleGainMap | null;
  /** The primary (SDR base) JPEG. */
  base: Uint8Array;
  /** The gain-map JPEG. */
  map: Uint8Array;
  mapColourSpace: ColourSpace | null;
  hasPayload: boolean;
  warnings: string[];
}

/** A decode result's description of the standard gain map it rendered. */
export interface GainMapInfo {
  flavour: GainMapJpeg['flavour'];
  metadataSource: GainMapJpeg['source'];
  colourSpace: ColourSpace;
  metadata: GainMapMetadata;
  apple: AppleGainMap | null;
  mapWidth: number;
  mapHeight: number;
  hasPayload: boolean;
  warnings: string[];
}

export interface HeadroomInfo {
  /** The display's headroom asked for, stops. */
  stops: number;
  /** The weight toward the HDR (1: the HDR unchanged, 0: the SDR). */
  weight: number;
  /** The content's HDR capacity, stops. */
  capacity: number;
}

/** Milliseconds per stage (and a few counts). */
export interface Timings {
  jpeg?: number;
  colour?: number;
  network?: number;
  headroom?: number;
  gainmap?: number;
  total?: number;
  colours?: number;
  kernel?: string;
  [stage: string]: unknown;
}

export interface DecodeResult {
  width: number;
  height: number;
  /** RGB interleaved, row-major: PQ BT.2020 code values in [0, 1] (or cd/m2 with `linear`). */
  hdr: Float32Array;
  /** The SDR base, RGB 8-bit. */
  sdr: Uint8Array;
  /** 'payload': rebuilt by the gainmlp payload; 'gainmap': the standard gain map. */
  source: 'payload' | 'gainmap';
  payload: PayloadSummary | null;
  gainmap?: GainMapInfo;
  /** The rendition's peak in cd/m2 (standard gain maps; payloads: payload.peakNits). */
  peakNits?: number;
  linear: boolean;
  backend: 'webgl' | 'cpu';
  renderer: string | null;
  thread: 'worker' | 'main';
  headroom: HeadroomInfo | null;
  timings: Timings;
}

/** Decode a photo; from a browser page in a Web Worker. */
export function decodeGainmlp(input: DecodeInput, options?: DecodeOptions): Promise<DecodeResult>;
/** decodeGainmlp in this thread. */
export function decodeGainmlpHere(input: DecodeInput, options?: DecodeOptions): Promise<DecodeResult>;
/** decodeGainmlp for bytes in memory, on the CPU, synchronously. */
export function decodeGainmlpSync(bytes: Uint8Array, options?: DecodeOptions): DecodeResult;
/** A standard gain-map JPEG's HDR, synchronously. */
export function decodeGainMapSync(bytes: Uint8Array, options?: Pick<DecodeOptions, 'headroom' | 'linear' | 'name'>): DecodeResult;

/** A gainmlp JPEG's (or bare payload's) payload, checked. */
export function readGainmlp(bytes: Uint8Array, name?: string, options?: { bare?: boolean }): { payload: Payload; jpeg: boolean };
/** Parse and check a payload. */
export function parsePayload(bytes: Uint8Array | ArrayBuffer): Payload;
/** Whether a JPEG announces a standard gain map. */
export function isGainMapJpeg(bytes: Uint8Array): boolean;
/** A gain-map JPEG's metadata and images (not decoded). */
export function readGainMapJpeg(bytes: Uint8Array): GainMapJpeg;
/** The map weight toward the HDR for a display with `headroom` stops (1 for undefined). */
export function gainMapWeight(metadata: GainMapMetadata, headroom?: number | null): number;
/** Render a gain-map JPEG from its decoded base and map. */
export function renderGainMap(gm: GainMapJpeg, sdr: RgbImage, map: RgbImage, weight?: number,
  output?: 'pq' | 'linear' | 'relative'): { hdr: Float32Array; primaries: ColourSpace };
/** PQ code values -> cd/m2 (a new array). */
export function pqToLinearNits(pq: Float32Array): Float32Array;

/** A JPEG's 8-bit RGB pixels, as libjpeg-turbo (Pillow) decodes them. */
export function decodeJpeg(bytes: Uint8Array, name?: string): RgbImage;

/** A headroom option checked: null for undefined or null, else the number. */
export function headroomOption(headroom?: number | null): number | null;
/** A decoded payload's HDR rendered for a display's headroom. */
export function forHeadroom(payload: Payload, colours: { ids: Int32Array; s: Float32Array; count: number },
  hdr: Float32Array, headroom?: number | null, timings?: Timings): { hdr: Float32Array; headroom: HeadroomInfo | null };
/** gainmlp.display.render_for_headroom on per-colour SDR values. */
export function renderForHeadroom(hdr: Float32Array, ids: Int32Array, s: Float32Array, count: number,
  headroomStops: number, whiteNits: number): { hdr: Float32Array; weight: number; capacity: number };
/** PQ BT.2020 -> 8-bit sRGB RGBA for an SDR screen. */
export function toneMapToSrgb8(hdr: Float32Array, nPixels: number,
  options?: { exposure?: number; peakNits?: number; sdrWhite?: number; out?: Uint8ClampedArray | null }): Uint8ClampedArray;

/** The worker's side: serve decodeGainmlp's jobs from `scope` (worker.mjs does this). */
export function serveDecodes(scope: {
  onmessage: ((event: MessageEvent) => unknown) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}): void;
/** Whether the WebGL2 path can run here, and on what. */
export function webglInfo(): { available: boolean; renderer: string | null; reason: string | undefined };
