// Colour: the SDR -> HDR-space conversion both decoders share (docs/payload-format.md,
// "SDR in HDR space"), PQ, and the display conversions of the canvas view.
//
// "SDR in HDR space" of an 8-bit code v: c = float32(v / 255), linear = EOTF(c) * white
// (float64), BT.2020 = M x linear (float64, the matrices below), PQ-encode max(., 0) in
// float64, round to float32. Within a float32 rounding, these are gainmlp.colorimetry's
// sdr8_to_hdr_space values (which gets them from colour-science 0.4).

import { GainMLPError, pyFloat } from './errors.mjs';

// Linear RGB -> linear BT.2020 (row-major), as colour-science's matrix_RGB_to_RGB gives them
// with chromatic_adaptation_transform=None (all D65). sRGB uses IEC 61966-2-1's rounded
// sRGB -> XYZ matrix (colour-science does), so it differs slightly from BT.709.
export const TO_BT2020 = {
  bt709: [0.6274038959346989, 0.3292830383778837, 0.0433130656874173,
    0.0690972893582321, 0.9195403950754585, 0.011362315566309171,
    0.016391438875150228, 0.08801330787722575, 0.8955952532476239],
  srgb: [0.6274413720579781, 0.3292974595219093, 0.043351458394494675,
    0.0690276171470781, 0.9195806668870282, 0.011361422575400862,
    0.01636423507168072, 0.08801716247172697, 0.8955649727259828],
  p3: [0.7538330343617214, 0.19859736905261652, 0.04756959658566191,
    0.045743848965358304, 0.9417772198116936, 0.012478931222948124,
    -0.0012103403545183934, 0.017601717301089993, 0.9836086230534282],
  bt2020: null, // identity: no matrix is applied
};

// Linear BT.2020 -> linear BT.709/sRGB and Display P3, for display only.
export const BT2020_TO_BT709 = [1.6604910021084347, -0.5876411387885497, -0.07284986331988486,
  -0.12455047452159082, 1.1328998971259605, -0.008349422604369458,
  -0.01815076335490522, -0.10057889800800744, 1.1187296613629127];
export const BT2020_TO_P3 = [1.3435782525843325, -0.28217967052613613, -0.06139858205819631,
  -0.06529745278911954, 1.0757879158485744, -0.010490463059454943,
  0.002821787261701058, -0.019598494524494192, 1.0167767072627931];

/** SDR EOTFs on code values in [0, 1] (colour-science's, display-relative). */
export const SDR_EOTFS = {
  'gamma2.4': (v) => Math.pow(v, 2.4), // BT.1886 with black 0, white 1
  srgb: (v) => (v <= 0.040449936 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4)),
  'gamma2.2': (v) => Math.pow(v, 2.2),
};

// SMPTE ST 2084
const M1 = (2610 / 4096) * (1 / 4);
const M2 = (2523 / 4096) * 128;
const C1 = 3424 / 4096;
const C2 = (2413 / 4096) * 32;
const C3 = (2392 / 4096) * 32;

/** Absolute luminance in cd/m2 -> PQ code value (float64, input clipped to [0, 10000]). */
export function pqEncode(nits) {
  const y = Math.pow(Math.min(Math.max(nits, 0), 10000) / 10000, M1);
  return Math.pow((C1 + C2 * y) / (C3 * y + 1), M2);
}

/** PQ code value -> absolute luminance in cd/m2 (input clipped to [0, 1]). */
export function pqDecode(code) {
  const v = Math.pow(Math.min(Math.max(code, 0), 1), 1 / M2);
  return 10000 * Math.pow(Math.max(v - C1, 0) / (C2 - C3 * v), 1 / M1);
}

/** Per 8-bit code: linear light in cd/m2 (float64), for an SDR encoding. */
export function sdrLinearLut(transfer, whiteNits) {
  const eotf = SDR_EOTFS[transfer];
  if (!eotf) throw new GainMLPError(`unknown SDR transfer function '${transfer}'`);
  const lut = new Float64Array(256);
  for (let v = 0; v < 256; v++) lut[v] = eotf(Math.fround(v / 255)) * whiteNits;
  return lut;
}

/**
 * 8-bit SDR pixels (RGB, or RGBA with `stride` 4) -> PQ BT.2020 code values, float32 RGB.
 * Pixels are cached by colour: a photo has far fewer distinct colours than pixels.
 */
export function sdr8ToHdrSpace(pixels, nPixels, encoding, stride = 3, out = null, distinct = false) {
  const lut = sdrLinearLut(encoding.transfer, encoding.whiteNits);
  const m = TO_BT2020[encoding.primaries];
  if (m === undefined) throw new GainMLPError(`unknown SDR primaries '${encoding.primaries}'`);
  out = out || new Float32Array(nPixels * 3);
  if (m === null) {
    const pq = new Float32Array(256);
    for (let v = 0; v < 256; v++) pq[v] = pqEncode(lut[v]);
    for (let i = 0, p = 0; i < nPixels; i++, p += stride) {
      out[3 * i] = pq[pixels[p]];
      out[3 * i + 1] = pq[pixels[p + 1]];
      out[3 * i + 2] = pq[pixels[p + 2]];
    }
    return out;
  }
  if (distinct) {
    // every pixel a different colour (indexColours' list): no cache
    for (let i = 0, p = 0; i < nPixels; i++, p += stride) {
      const r = lut[pixels[p]], g = lut[pixels[p + 1]], b = lut[pixels[p + 2]];
      out[3 * i] = pqEncode(Math.max(m[0] * r + m[1] * g + m[2] * b, 0));
      out[3 * i + 1] = pqEncode(Math.max(m[3] * r + m[4] * g + m[5] * b, 0));
      out[3 * i + 2] = pqEncode(Math.max(m[6] * r + m[7] * g + m[8] * b, 0));
    }
    return out;
  }
  const cache = new ColourCache();
  for (let i = 0, p = 0; i < nPixels; i++, p += stride) {
    const key = (pixels[p] << 16) | (pixels[p + 1] << 8) | pixels[p + 2];
    let slot = cache.find(key);
    if (cache.values[slot * 4 + 3] === 0) {
      const r = lut[pixels[p]], g = lut[pixels[p + 1]], b = lut[pixels[p + 2]];
      cache.values[slot * 4] = pqEncode(Math.max(m[0] * r + m[1] * g + m[2] * b, 0));
      cache.values[slot * 4 + 1] = pqEncode(Math.max(m[3] * r + m[4] * g + m[5] * b, 0));
      cache.values[slot * 4 + 2] = pqEncode(Math.max(m[6] * r + m[7] * g + m[8] * b, 0));
      cache.values[slot * 4 + 3] = 1;
    }
    out[3 * i] = cache.values[slot * 4];
    out[3 * i + 1] = cache.values[slot * 4 + 1];
    out[3 * i + 2] = cache.values[slot * 4 + 2];
  }
  return out;
}

/**
 * The distinct colours of 8-bit RGB pixels (or RGBA with `stride` 4): `ids` gives each
 * pixel's colour number (in order of first appearance), `rgb` the colours (count x 3).
 * Large images index through a 2^24-entry table (64 MB, short-lived), small ones a Map.
 */
export function indexColours(pixels, nPixels, stride = 3) {
  const ids = new Int32Array(nPixels);
  let rgb = new Uint8Array(3 * Math.min(Math.max(nPixels, 1), 1 << 16));
  let count = 0;
  const add = (p) => {
    if (3 * count + 3 > rgb.length) {
      const bigger = new Uint8Array(rgb.length * 2);
      bigger.set(rgb);
      rgb = bigger;
    }
    rgb[3 * count] = pixels[p];
    rgb[3 * count + 1] = pixels[p + 1];
    rgb[3 * count + 2] = pixels[p + 2];
    return count++;
  };
  if (nPixels >= 1 << 18) {
    const table = new Int32Array(1 << 24); // colour number + 1
    for (let i = 0, p = 0; i < nPixels; i++, p += stride) {
      const key = (pixels[p] << 16) | (pixels[p + 1] << 8) | pixels[p + 2];
      let id = table[key] - 1;
      if (id < 0) {
        id = add(p);
        table[key] = id + 1;
      }
      ids[i] = id;
    }
  } else {
    const seen = new Map();
    for (let i = 0, p = 0; i < nPixels; i++, p += stride) {
      const key = (pixels[p] << 16) | (pixels[p + 1] << 8) | pixels[p + 2];
      let id = seen.get(key);
      if (id === undefined) {
        id = add(p);
        seen.set(key, id);
      }
      ids[i] = id;
    }
  }
  return { ids, rgb: rgb.subarray(0, 3 * count), count };
}

/** Per-colour values (count x `channels`) gathered per pixel: out[i] = values[ids[i]]. */
export function gatherColours(ids, values, channels = 3, out = null) {
  const n = ids.length;
  out = out || new Float32Array(n * channels);
  if (channels === 3) {
    for (let i = 0; i < n; i++) {
      const c = 3 * ids[i];
      out[3 * i] = values[c];
      out[3 * i + 1] = values[c + 1];
      out[3 * i + 2] = values[c + 2];
    }
  } else {
    for (let i = 0; i < n; i++) for (let k = 0; k < channels; k++) out[channels * i + k] = values[channels * ids[i] + k];
  }
  return out;
}

/** An open-addressing hash table from 24-bit colours to 4 float32 slots. */
class ColourCache {
  constructor() {
    const size = 1 << 16; // doubles when half full
    this.mask = size - 1;
    this.keys = new Int32Array(size).fill(-1);
    this.values = new Float32Array(size * 4);
    this.used = 0;
  }

  find(key) {
    if (this.used * 2 > this.mask) this.grow();
    let h = Math.imul(key, 0x9e3779b1) >>> 8 & this.mask;
    for (;;) {
      const k = this.keys[h];
      if (k === key) return h;
      if (k === -1) {
        this.keys[h] = key;
        this.used++;
        return h;
      }
      h = (h + 1) & this.mask;
    }
  }

  grow() {
    const { keys, values } = this;
    this.mask = this.mask * 2 + 1;
    this.keys = new Int32Array(this.mask + 1).fill(-1);
    this.values = new Float32Array((this.mask + 1) * 4);
    this.used = 0;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === -1) continue;
      const slot = this.find(keys[i]);
      this.values.set(values.subarray(i * 4, i * 4 + 4), slot * 4);
    }
  }
}

// ---------------------------------------------------------------- headroom

/**
 * ISO 21496-1's weight toward the HDR for a display with `headroomStops` (log2 stops)
 * (gainmlp.display.headroom_weight); a negative or non-finite headroom is an error.
 */
export function headroomWeight(headroomStops, capacityMin, capacityMax) {
  checkHeadroom(headroomStops);
  if (capacityMax <= capacityMin) return headroomStops >= capacityMax ? 1 : 0;
  return Math.min(Math.max((headroomStops - capacityMin) / (capacityMax - capacityMin), 0), 1);
}

/** Throws gainmlp.display's error unless `headroomStops` is a finite number >= 0. */
export function checkHeadroom(headroomStops) {
  if (typeof headroomStops !== 'number' || !Number.isFinite(headroomStops) || headroomStops < 0) {
    const shown = typeof headroomStops === 'number' ? pyFloat(headroomStops) : String(headroomStops);
    throw new GainMLPError(`headroom ${shown} must be a number of stops >= 0`);
  }
}

// PQ through tables indexed by the bits of a float32, as gainmlp.kernels.pq (whose module
// doc gives the errors: encode 2.6e-7 abs, decode 2.9e-6 relative): a positive float32's
// bits are a piecewise-linear logarithm of it, so `bits >> shift` cuts the line into
// segments of equal relative width, tabulated at their ends and interpolated in between.
const ENCODE_SHIFT = 15; // 256 segments per octave
const DECODE_SHIFT = 13; // 1024 segments per octave
const ONE_BITS = 0x3f800000; // float32 1.0
const DECODE_LOW_BITS = 0x33800000; // float32 2^-24
let pqTables = null;

function segmentEnds(firstBits, shift, f) {
  const n = ((ONE_BITS - firstBits) >>> shift) + 2;
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++) bits[i] = firstBits + i * (1 << shift);
  const x = new Float32Array(bits.buffer);
  const table = new Float32Array(n);
  for (let i = 0; i < n; i++) table[i] = f(x[i]);
  return table;
}

/** gainmlp.kernels.pq's encode_table (Y -> PQ) and decode_table (PQ -> Y), built once. */
function pqBitTables() {
  if (!pqTables) {
    pqTables = { encode: segmentEnds(0, ENCODE_SHIFT, (y) => pqEncode(y * 10000)),
      decode: segmentEnds(DECODE_LOW_BITS, DECODE_SHIFT, (e) => pqDecode(e) / 10000) };
  }
  return pqTables;
}

/**
 * The HDR rendition weighted toward the SDR for a display with `headroomStops` of HDR
 * headroom (gainmlp.display.render_for_headroom): per channel and pixel
 * G = log2((HDR + k) / (SDR + k)) in linear light, k = SDR white / 64, capacity
 * [0, max G], w = clamp(headroom / capacity, 0, 1), rendition (SDR + k) 2^(w G) - k,
 * clipped at 0, PQ-encoded; PQ through gainmlp.kernels.pq's tables, as the Python decoder.
 * @param hdr Float32Array RGB PQ BT.2020 code values (nPixels x 3)
 * @param ids Int32Array, each pixel's colour number (indexColours)
 * @param s Float32Array, the SDR in HDR space (PQ) per colour (count x 3)
 * @param whiteNits the payload's SDR white in cd/m2
 * @returns {{hdr: Float32Array, weight: number, capacity: number}} hdr: a new array, or
 *   `hdr` itself when the display's headroom covers the content's (weight 1); capacity: max G
 */
export function renderForHeadroom(hdr, ids, s, count, headroomStops, whiteNits) {
  checkHeadroom(headroomStops);
  const { encode, decode } = pqBitTables();
  const k = Math.fround(whiteNits / 64);
  const n = ids.length;
  const low = Math.fround(2 ** -24);
  const dscale = 1 / (1 << DECODE_SHIFT);
  const decodeNits = (e, bits) => {
    if (!(e >= low)) return 0;
    if (e >= 1) return 10000;
    const b = bits - DECODE_LOW_BITS;
    const i = b >>> DECODE_SHIFT;
    const a = decode[i];
    return Math.fround(a + (decode[i + 1] - a) * Math.fround((b & ((1 << DECODE_SHIFT) - 1)) * dscale)) * 10000;
  };
  const sBits = new Uint32Array(s.buffer, s.byteOffset, count * 3);
  const sk = new Float64Array(count * 3); // SDR + k per colour, linear light (float32 values)
  for (let i = 0; i < count * 3; i++) sk[i] = Math.fround(Math.fround(decodeNits(s[i], sBits[i])) + k);
  const hBits = new Uint32Array(hdr.buffer, hdr.byteOffset, n * 3);
  const gain = new Float32Array(n * 3);
  let capacity = 0;
  for (let i = 0, o = 0; i < n; i++) {
    const c = 3 * ids[i];
    for (let ch = 0; ch < 3; ch++, o++) {
      const g = Math.log2(Math.fround(Math.fround(decodeNits(hdr[o], hBits[o])) + k) / sk[c + ch]);
      gain[o] = g;
      if (g > capacity) capacity = g;
    }
  }
  capacity = Math.fround(capacity);
  const w = headroomWeight(headroomStops, 0, capacity);
  if (w >= 1) return { hdr, weight: 1, capacity };
  const wLn2 = Math.fround(w) * Math.LN2;
  const scale = Math.fround(1 / 10000);
  for (let i = 0, o = 0; i < n; i++) {
    const c = 3 * ids[i];
    for (let ch = 0; ch < 3; ch++, o++) gain[o] = (sk[c + ch] * Math.exp(wLn2 * gain[o]) - k) * scale;
  }
  // Y = cd/m2 / 10,000 as float32 -> PQ, in place through the bits
  const yBits = new Uint32Array(gain.buffer);
  const escale = 1 / (1 << ENCODE_SHIFT);
  for (let o = 0; o < n * 3; o++) {
    const y = gain[o];
    if (!(y > 0)) { // below 0 (clipped) or NaN
      gain[o] = encode[0];
      continue;
    }
    const bits = y >= 1 ? ONE_BITS : yBits[o];
    const i = bits >>> ENCODE_SHIFT;
    const a = encode[i];
    gain[o] = a + (encode[i + 1] - a) * Math.fround((bits & ((1 << ENCODE_SHIFT) - 1)) * escale);
  }
  return { hdr: gain, weight: w, capacity };
}

// ---------------------------------------------------------------- display

function srgbOetf(v) {
  return v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
}

/**
 * PQ BT.2020 float RGB -> 8-bit sRGB RGBA for an SDR screen (docs/web.md, "SDR view"):
 * linear light relative to `sdrWhite` cd/m2 (default 203, ITU-R BT.2408) times 2^exposure,
 * converted to BT.709, tone-mapped on the largest channel with the extended Reinhard curve
 * whose white is the HDR peak (`peakNits`), so hues are kept and highlights roll off
 * instead of clipping, then sRGB-encoded.
 */
export function toneMapToSrgb8(hdr, nPixels, { exposure = 0, peakNits = 1000, sdrWhite = 203, out = null } = {}) {
  out = out || new Uint8ClampedArray(nPixels * 4);
  const gain = Math.pow(2, exposure) / sdrWhite;
  const white = Math.max((peakNits * Math.pow(2, exposure)) / sdrWhite, 1);
  const w2 = white * white;
  const m = BT2020_TO_BT709;
  const pq = new Float64Array(4096 + 1); // PQ -> nits, interpolated (display only)
  for (let i = 0; i <= 4096; i++) pq[i] = pqDecode(i / 4096);
  const nits = (v) => {
    const x = Math.min(Math.max(v, 0), 1) * 4096;
    const i = Math.min(Math.floor(x), 4095);
    return pq[i] + (pq[i + 1] - pq[i]) * (x - i);
  };
  for (let i = 0; i < nPixels; i++) {
    const r0 = nits(hdr[3 * i]) * gain, g0 = nits(hdr[3 * i + 1]) * gain, b0 = nits(hdr[3 * i + 2]) * gain;
    let r = Math.max(m[0] * r0 + m[1] * g0 + m[2] * b0, 0);
    let g = Math.max(m[3] * r0 + m[4] * g0 + m[5] * b0, 0);
    let b = Math.max(m[6] * r0 + m[7] * g0 + m[8] * b0, 0);
    const peak = Math.max(r, g, b);
    if (peak > 0) {
      const scale = ((1 + peak / w2) / (1 + peak));
      r *= scale; g *= scale; b *= scale;
    }
    out[4 * i] = 255 * srgbOetf(Math.min(r, 1)) + 0.5;
    out[4 * i + 1] = 255 * srgbOetf(Math.min(g, 1)) + 0.5;
    out[4 * i + 2] = 255 * srgbOetf(Math.min(b, 1)) + 0.5;
    out[4 * i + 3] = 255;
  }
  return out;
}

/**
 * PQ BT.2020 -> linear light relative to `sdrWhite` (1.0 = SDR white), converted to the
 * `target` primaries ('bt709' or 'p3'), then sRGB-encoded with the curve extended
 * symmetrically beyond [0, 1]: the values an extended-range (float16) canvas expects.
 */
export function toExtendedSrgb(hdr, nPixels, { target = 'p3', sdrWhite = 203, exposure = 0 } = {}) {
  const m = target === 'p3' ? BT2020_TO_P3 : BT2020_TO_BT709;
  const gain = Math.pow(2, exposure) / sdrWhite;
  const out = new Float32Array(nPixels * 4);
  const enc = (v) => (v < 0 ? -srgbOetf(-v) : srgbOetf(v));
  for (let i = 0; i < nPixels; i++) {
    const r = pqDecode(hdr[3 * i]) * gain, g = pqDecode(hdr[3 * i + 1]) * gain, b = pqDecode(hdr[3 * i + 2]) * gain;
    out[4 * i] = enc(m[0] * r + m[1] * g + m[2] * b);
    out[4 * i + 1] = enc(m[3] * r + m[4] * g + m[5] * b);
    out[4 * i + 2] = enc(m[6] * r + m[7] * g + m[8] * b);
    out[4 * i + 3] = 1;
  }
  return out;
}
