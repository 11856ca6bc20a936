// Standard gain-map JPEGs (Google Ultra HDR, Adobe Gain Map 1.0, ISO 21496-1, Apple
// iPhone HDRGainMap) decoded with the formulas of gainmlp's Python decoder
// (gainmlp.container.gainmap_jpeg, gainmlp.iso_gainmap, gainmlp.container.apple,
// gainmlp.kernels.gainmap):
//
//   base    the primary JPEG through the sRGB curve, in the primaries of its ICC profile
//           (sRGB without one), linear relative to SDR white
//   map     the gain-map JPEG's codes / 255, upsampled bilinearly (pixel centres, clamped
//           edges, the vertical pass first, float32)
//   ISO     hdr = (base + k_base) * 2^(w * (min (1 - r) + max r)) - k_alt, r = clip(map)^(1/gamma)
//   Apple   hdr = base * (1 + (H^w - 1) * g), g = the map through the inverse BT.709 OETF
//   output  SDR white at 203 cd/m2, BT.2020, PQ-encoded (or linear cd/m2, unclipped)
//
// w comes from a display's headroom by ISO 21496-1's rule on the file's HDR capacity
// (undefined headroom: 1, the full HDR). The metadata readers are gainmap_meta.mjs.

import { GainMLPError } from './errors.mjs';
import { extractPayload, parseSegments } from './payload.mjs';
import { decodeJpeg } from './jpeg.mjs';
import { SDR_EOTFS, TO_BT2020, checkHeadroom, pqDecode, pqEncode } from './colour.mjs';
import { GM_APPLE_NS, GM_CONTAINER_NS, GM_HDRGM_NS, GM_ISO_ID, GM_MPF_ID, appleMetadata, concatenatedImageRanges, decodeIso21496, findApp, findImageEnd, metadataClose, metadataFromXmp, mpfImageRanges, parseHdrgmXmp, readAppleGainMap, xmpAllowance } from './gainmap_meta.mjs';
import { iccPrimaries, identifyIcc, readIcc } from './gainmap_icc.mjs';

/** SDR white of a rendered gain map, cd/m2 (ITU-R BT.2408; gainmap_jpeg.SDR_WHITE_NITS). */
export const GAINMAP_SDR_WHITE = 203;
const GM_MAX_FILE_BYTES = 2 ** 30;
const GM_F32_MAX = 3.4028234663852886e38;
const GM_EXIF_APP1 = 0xe1;
const GM_APP2_MARKER = 0xe2;

// linear RGB -> linear RGB between the primaries a gain map's base and map may use
// (gainmap_jpeg.primaries_matrix: colour-science's matrix_RGB_to_RGB, no adaptation)
const GM_MATRICES = {
  'srgb>bt2020': TO_BT2020.srgb,
  'p3>bt2020': TO_BT2020.p3,
  'srgb>p3': [0.8225336511751397, 0.17754580666797087, 5.3694771260115836e-05, 0.033117084613236515,
    0.9668481429768218, -3.149958112234235e-06, 0.01705644174749939, 0.07240061135239015, 0.9104892659231574],
  'p3>srgb': [1.2248021163013911, -0.2249112614781632, -4.757214845625305e-05, -0.04192810486322188,
    1.042029896696529, -2.6428971364604474e-06, -0.019608809230523144, -0.07863212332026873, 1.0983153702407613],
  'bt2020>srgb': [1.6603034854214451, -0.5875701425316167, -0.072890060215056, -0.12437559530838646,
    1.1328344814319582, -0.008359737187401451, -0.01811227995991649, -0.10058360850721247, 1.1187703261570985],
  'bt2020>p3': [1.343578252584333, -0.282179670526136, -0.061398582058196254, -0.06529745278911954,
    1.0757879158485744, -0.010490463059454943, 0.002821787261701058, -0.019598494524494192, 1.0167767072627931],
};

function gmMatrix(source, target) {
  if (source === target) return null;
  return GM_MATRICES[`${source}>${target}`];
}

// ---------------------------------------------------------------- reading

/**
 * Whether the primary image announces a gain map (gainmap_jpeg.is_gainmap_jpeg): an ISO
 * 21496-1 record or hdrgm XMP on it, or an MPF-listed image with ISO, hdrgm or Apple XMP.
 */
export function isGainMapJpeg(data) {
  try {
    const primary = parseSegments(data);
    if (findApp(primary, GM_APP2_MARKER, GM_ISO_ID)) return true;
    const allowance = xmpAllowance();
    if (allowance.text(primary).includes(GM_HDRGM_NS)) return true;
    if (findApp(primary, GM_APP2_MARKER, GM_MPF_ID)) {
      for (const [start, end] of mpfImageRanges(data, primary).slice(1)) {
        const segs = parseSegments(data.subarray(start, end));
        if (findApp(segs, GM_APP2_MARKER, GM_ISO_ID)) return true;
        const text = allowance.text(segs);
        if (text.includes(GM_HDRGM_NS) || text.includes(GM_APPLE_NS)) return true;
      }
    }
  } catch {
    return false;
  }
  return false;
}

function candidateImages(data, primary, notes) {
  let ranges = null;
  if (findApp(primary, GM_APP2_MARKER, GM_MPF_ID)) {
    try {
      ranges = mpfImageRanges(data, primary);
    } catch (err) {
      if (!(err instanceof GainMLPError)) throw err;
      notes.push(`ignoring the MPF index (${err.message}); scanning for appended images`);
    }
  }
  if (ranges === null || ranges.length < 2) {
    try {
      ranges = concatenatedImageRanges(data);
    } catch (err) {
      if (!(err instanceof GainMLPError)) throw err;
      notes.push(`primary image is malformed: ${err.message}`);
      ranges = [[0, data.length]];
    }
  }
  const out = [];
  for (const [start, end] of ranges.slice(1)) {
    try {
      out.push({ start, end, segments: parseSegments(data.subarray(start, end)) });
    } catch (err) {
      if (!(err instanceof GainMLPError)) throw err;
      notes.push(`skipping secondary image at byte ${start}: ${err.message}`);
    }
  }
  return out;
}

function metadataOf(segments, notes, problems, allowance) {
  let iso = null;
  const isoSeg = findApp(segments, GM_APP2_MARKER, GM_ISO_ID);
  if (isoSeg) {
    try {
      iso = decodeIso21496(isoSeg.payload.subarray(GM_ISO_ID.length));
    } catch (err) {
      if (!(err instanceof GainMLPError)) throw err;
      notes.push(`ignoring ISO 21496-1 metadata: ${err.message}`);
      problems.push(`ISO 21496-1 gain-map metadata is invalid: ${err.message}`);
    }
  }
  let xmpMeta = null;
  const text = allowance.text(segments);
  if (text) {
    const props = parseHdrgmXmp(text);
    if (Object.keys(props).length) {
      try {
        xmpMeta = metadataFromXmp(props);
      } catch (err) {
        if (!(err instanceof GainMLPError)) throw err;
        if (iso === null) {
          throw new GainMLPError(err.message.startsWith('XMP') ? err.message
            : `hdrgm XMP gain-map metadata is invalid: ${err.message}`);
        }
        notes.push(`ignoring hdrgm XMP: ${err.message}`);
      }
    }
  }
  if (iso !== null) {
    if (xmpMeta !== null && !metadataClose(iso, xmpMeta)) {
      notes.push('ISO 21496-1 and XMP gain-map metadata disagree; using ISO 21496-1');
    }
    return [iso, 'iso21496'];
  }
  return xmpMeta !== null ? [xmpMeta, 'xmp'] : [null, null];
}

/**
 * Read a gain-map JPEG's parts and metadata (gainmap_jpeg.read_gainmap_jpeg), without
 * decoding its images.
 * @returns {{metadata, source: 'iso21496'|'xmp'|'apple', flavour: 'ultrahdr'|'adobe'|'iso'|'apple',
 *   colourSpace: 'srgb'|'p3'|'bt2020', apple: ?{version, headroom, source}, base: Uint8Array,
 *   map: Uint8Array, mapColourSpace: ?string, hasPayload: boolean, warnings: string[]}}
 */
export function readGainMapJpeg(data) {
  if (data.length > GM_MAX_FILE_BYTES) {
    throw new GainMLPError(`file of ${data.length} bytes is over the ${GM_MAX_FILE_BYTES} byte limit`);
  }
  const primary = parseSegments(data);
  const notes = [];
  const allowance = xmpAllowance(); // XMP parsed in this file, all images together
  const primaryText = allowance.text(primary);
  let flavour = primaryText.includes('Container:Directory') || primaryText.includes(GM_CONTAINER_NS) ? 'ultrahdr'
    : (primaryText.includes(GM_HDRGM_NS) ? 'adobe' : 'iso');
  let meta = null, source = null, image = null, apple = null;
  const problems = [];
  const candidates = candidateImages(data, primary, notes);
  for (const cand of candidates) {
    [meta, source] = metadataOf(cand.segments, notes, problems, allowance);
    if (meta !== null) {
      image = cand;
      break;
    }
  }
  if (meta === null && primaryText && candidates.length) {
    const props = parseHdrgmXmp(primaryText);
    meta = Object.keys(props).length ? metadataFromXmp(props) : null;
    if (meta !== null) [image, source] = [candidates[0], 'xmp'];
  }
  if (meta === null && !problems.length) {
    const exif = findApp(primary, GM_EXIF_APP1, 'Exif\0\0');
    for (const cand of candidates) {
      apple = readAppleGainMap(allowance.text(cand.segments), exif ? exif.payload : null, notes);
      if (apple !== null) {
        [meta, source, image, flavour] = [appleMetadata(apple), 'apple', cand, 'apple'];
        break;
      }
    }
  }
  if (meta === null || image === null) {
    if (!candidates.length) throw new GainMLPError('JPEG has no gain-map image (no secondary image found)');
    if (problems.length) throw new GainMLPError(problems[0]);
    throw new GainMLPError('JPEG has no gain-map metadata (no hdrgm XMP, ISO 21496-1 or Apple HDRGainMap)');
  }
  let icc = null;
  try {
    icc = readIcc(primary);
  } catch (err) {
    notes.push(`ignoring the ICC profile: ${err.message}`);
  }
  const colourSpace = iccPrimaries(icc);
  if (icc) {
    let named = null, desc = '';
    try {
      [named, desc] = identifyIcc(icc);
    } catch {
      notes.push('ICC profile is unreadable; reading the base as sRGB (sRGB primaries and curve)');
    }
    if (named === null && desc) {
      notes.push(`ICC profile '${desc}' is not one gainmlp knows; reading the base as sRGB (sRGB primaries and curve)`);
    }
  }
  let mapIcc = null;
  try {
    mapIcc = readIcc(image.segments);
  } catch {
    mapIcc = null;
  }
  let hasPayload = false;
  try {
    hasPayload = extractPayload(data, primary) !== null;
  } catch (err) {
    notes.push(`ignoring the gainmlp payload segments: ${err.message}`);
  }
  let primaryEnd;
  try {
    primaryEnd = findImageEnd(data);
  } catch {
    primaryEnd = data.length; // the JPEG decoder reports what is wrong
  }
  return { metadata: meta, source, flavour, colourSpace, apple, base: data.subarray(0, primaryEnd),
    map: data.subarray(image.start, image.end), mapColourSpace: mapIcc ? iccPrimaries(mapIcc) : null,
    hasPayload, warnings: notes };
}

// ---------------------------------------------------------------- rendering

/**
 * The map weight toward the HDR rendition for a display with `headroom` stops
 * (gainmap_jpeg.weight_toward_hdr: ISO 21496-1's rule on the file's HDR capacity);
 * undefined or null: 1 (the full HDR).
 */
export function gainMapWeight(metadata, headroom) {
  if (headroom === undefined || headroom === null) return 1;
  checkHeadroom(headroom);
  const lo = metadata.hdrCapacityMin, hi = metadata.hdrCapacityMax;
  if (hi > lo) return Math.min(Math.max((headroom - lo) / (hi - lo), 0), 1);
  return headroom >= hi ? 1 : 0;
}

/** bilinear_coords: source indices i0, i1 and the float32 weight of i1 per output index. */
function bilinearCoords(nOut, nIn) {
  const i0 = new Int32Array(nOut), i1 = new Int32Array(nOut), f = new Float32Array(nOut);
  for (let i = 0; i < nOut; i++) {
    const x = Math.min(Math.max((i + 0.5) * (nIn / nOut) - 0.5, 0), nIn - 1);
    i0[i] = Math.floor(x);
    i1[i] = Math.min(i0[i] + 1, nIn - 1);
    f[i] = x - i0[i];
  }
  return { i0, i1, f };
}

let gmLuts = null;

function gainMapLuts() {
  if (!gmLuts) {
    const base = new Float32Array(256), code = new Float32Array(256), apple = new Float32Array(256);
    // colour-science's inverse BT.709 OETF (Apple's map encoding)
    const threshold = 1.099 * Math.pow(0.018, 0.45) - 0.099;
    for (let v = 0; v < 256; v++) {
      base[v] = SDR_EOTFS.srgb(v / 255);
      code[v] = Math.fround(v / 255);
      const x = v / 255;
      apple[v] = threshold > x ? x / 4.5 : Math.pow((x + 0.099) / 1.099, 1 / 0.45);
    }
    gmLuts = { base, code, apple };
  }
  return gmLuts;
}

/** NaN -> 0, +inf -> float32 max, -inf -> 0 (the references' saturation). */
function gmSaturate(v) {
  if (v !== v) return 0; // eslint-disable-line no-self-compare
  if (v > GM_F32_MAX) return GM_F32_MAX;
  return v < -GM_F32_MAX ? 0 : v;
}

// 2^x in float32 as gainmlp.kernels.pq.exp2f computes it (what the compiled Python decoder
// uses): x rounded to an integer n, 2^(x - n) by a degree-7 polynomial, relative error < 2e-7
const GM_EXP2_C = [1.5252733804059841e-05, 1.5403530393381606e-04, 1.3333558146428441e-03,
  9.6181291076284772e-03, 5.5504108664821580e-02, 2.4022650695910071e-01, 6.9314718055994531e-01, 1.0].map(Math.fround);
const GM_POW2 = new Float32Array(256);
for (let i = 0; i < 256; i++) GM_POW2[i] = i === 0 ? 0 : (i === 255 ? Infinity : 2 ** (i - 127));

function gmExp2f(x) {
  const f32 = Math.fround;
  x = f32(Math.min(Math.max(x, -126), 128));
  const ni = Math.floor(f32(x + 127.5));
  const r = f32(x - (ni - 127));
  let p = GM_EXP2_C[0];
  for (let k = 1; k < 8; k++) p = f32(f32(p * r) + GM_EXP2_C[k]);
  return f32(p * GM_POW2[ni]);
}

/**
 * One row's per-channel factors of the base: the map interpolated horizontally, then
 * 2^(w (min (1 - r) + max r)) with r = clip(g)^(1/gamma) (ISO), or 1 + (H^w - 1) g (Apple).
 */
function gmRowFactors(vrow, x0s, x1s, fxs, fx0s, width, apple, boost, lo, hi, invGamma, useGamma, w, fac) {
  const f = Math.fround;
  for (let x = 0, q = 0; x < width; x++, q += 3) {
    const x0 = x0s[x], x1 = x1s[x], fx = fxs[x], fx0 = fx0s[x];
    fac[q] = f(f(vrow[x0] * fx0) + f(vrow[x1] * fx));
    fac[q + 1] = f(f(vrow[x0 + 1] * fx0) + f(vrow[x1 + 1] * fx));
    fac[q + 2] = f(f(vrow[x0 + 2] * fx0) + f(vrow[x1 + 2] * fx));
  }
  const n = 3 * width;
  if (apple) {
    for (let q = 0; q < n; q++) fac[q] = f(1 + f(boost * fac[q]));
    return;
  }
  for (let c = 0; c < 3; c++) {
    const l = lo[c], h = hi[c], ig = invGamma[c];
    for (let q = c; q < n; q += 3) {
      let gc = Math.min(Math.max(fac[q], 0), 1);
      if (useGamma) gc = f(gc ** ig);
      fac[q] = gmExp2f(f(f(f(l * f(1 - gc)) + f(h * gc)) * w));
    }
  }
}

/**
 * Render a decoded gain-map JPEG (gainmap_jpeg.gainmap_jpeg_to_hdr_pq, _to_linear_bt2020).
 * @param gm readGainMapJpeg's result
 * @param sdr {width, height, pixels} the decoded base (RGB uint8)
 * @param map {width, height, pixels} the decoded gain map (RGB uint8; grey maps as R = G = B)
 * @param weight the map weight toward the HDR (gainMapWeight)
 * @param output 'pq' (PQ BT.2020 code values) | 'linear' (BT.2020 cd/m2, unclipped) |
 *   'relative' (linear relative to SDR white, in `primaries` of the result)
 * @returns {{hdr: Float32Array, primaries: string}}
 */
export function renderGainMap(gm, sdr, map, weight = 1, output = 'pq') {
  const { width, height } = sdr;
  const meta = gm.metadata;
  const luts = gainMapLuts();
  let primaries = gm.colourSpace;
  let convert = null; // the base converted into the map's primaries (use_base_colour_space off)
  const apple = gm.apple !== null && gm.apple !== undefined;
  let boost = 0;
  let w = 1;
  if (apple) {
    boost = Math.fround(gm.apple.headroom ** Math.min(Math.max(weight, 0), 1) - 1);
  } else {
    if (!meta.useBaseColourSpace && gm.mapColourSpace && gm.mapColourSpace !== primaries) {
      convert = gmMatrix(primaries, gm.mapColourSpace);
      primaries = gm.mapColourSpace;
    }
    w = meta.baseIsHdr ? 1 - weight : weight;
  }
  const skip = !apple && w <= 0; // the base itself
  w = Math.fround(Math.min(Math.max(w, 0), 1));
  const toOut = output === 'relative' ? null : (gmMatrix(primaries, 'bt2020') || [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const ys = bilinearCoords(height, map.height);
  const xs = bilinearCoords(width, map.width);
  const mw = map.width;
  const mapLut = apple ? luts.apple : luts.code;
  const lo = meta.gainMapMin.map(Math.fround), hi = meta.gainMapMax.map(Math.fround);
  const gamma = meta.gamma.map(Math.fround);
  const invGamma = gamma.map((g) => Math.fround(1 / g));
  const useGamma = gamma.some((g) => g !== 1);
  const kBase = (meta.baseIsHdr ? meta.offsetHdr : meta.offsetSdr).map(Math.fround);
  const kAlt = (meta.baseIsHdr ? meta.offsetSdr : meta.offsetHdr).map(Math.fround);
  const pqTable = output === 'pq' ? gmPqEncodeTable() : null;
  const out = new Float32Array(width * height * 3);
  const vrow = new Float32Array(3 * mw);
  const fac = new Float32Array(3 * width); // per row: each pixel's factors
  const f = Math.fround;
  const px = sdr.pixels, mpx = map.pixels, baseLut = luts.base;
  const fx0s = new Float32Array(width);
  const x0s = new Int32Array(width), x1s = new Int32Array(width);
  for (let x = 0; x < width; x++) {
    fx0s[x] = 1 - xs.f[x];
    x0s[x] = 3 * xs.i0[x];
    x1s[x] = 3 * xs.i1[x];
  }
  const m = toOut || [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const cv = convert || [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const [kb0, kb1, kb2] = kBase, [ka0, ka1, ka2] = kAlt;
  for (let y = 0; y < height; y++) {
    const a0 = ys.i0[y] * mw * 3, a1 = ys.i1[y] * mw * 3;
    const wy = ys.f[y], wy0 = f(1 - wy);
    if (!skip) {
      for (let j = 0; j < 3 * mw; j++) vrow[j] = f(f(mapLut[mpx[a0 + j]] * wy0) + f(mapLut[mpx[a1 + j]] * wy));
    }
    if (!skip) gmRowFactors(vrow, x0s, x1s, xs.f, fx0s, width, apple, boost, lo, hi, invGamma, useGamma, w, fac);
    for (let x = 0, p = 3 * y * width, q = 0; x < width; x++, p += 3, q += 3) {
      let r = baseLut[px[p]], g = baseLut[px[p + 1]], b = baseLut[px[p + 2]];
      if (convert) {
        const r1 = f(cv[0] * r + cv[1] * g + cv[2] * b), g1 = f(cv[3] * r + cv[4] * g + cv[5] * b);
        b = f(cv[6] * r + cv[7] * g + cv[8] * b);
        r = r1;
        g = g1;
      }
      if (apple) {
        r = gmSaturate(f(r * fac[q]));
        g = gmSaturate(f(g * fac[q + 1]));
        b = gmSaturate(f(b * fac[q + 2]));
      } else if (!skip) {
        r = gmSaturate(f(f(f(r + kb0) * fac[q]) - ka0));
        g = gmSaturate(f(f(f(g + kb1) * fac[q + 1]) - ka1));
        b = gmSaturate(f(f(f(b + kb2) * fac[q + 2]) - ka2));
      }
      if (toOut === null) {
        out[p] = r; out[p + 1] = g; out[p + 2] = b;
        continue;
      }
      const l0 = Math.max((r * m[0] + g * m[1] + b * m[2]) * GAINMAP_SDR_WHITE, 0);
      const l1 = Math.max((r * m[3] + g * m[4] + b * m[5]) * GAINMAP_SDR_WHITE, 0);
      const l2 = Math.max((r * m[6] + g * m[7] + b * m[8]) * GAINMAP_SDR_WHITE, 0);
      if (pqTable === null) {
        out[p] = l0; out[p + 1] = l1; out[p + 2] = l2;
      } else {
        out[p] = gmPq(pqTable, l0); out[p + 1] = gmPq(pqTable, l1); out[p + 2] = gmPq(pqTable, l2);
      }
    }
  }
  return { hdr: out, primaries };
}

// PQ through a table indexed by the bits of a float32 (as gainmlp.kernels.pq's encode_y,
// max error 2.6e-7): 256 segments per octave of Y = cd/m2 / 10,000, interpolated
let gmPqTable = null;
const gmPqF32 = new Float32Array(1);
const gmPqU32 = new Uint32Array(gmPqF32.buffer);

function gmPqEncodeTable() {
  if (!gmPqTable) {
    const n = (0x3f800000 >>> 15) + 2;
    gmPqTable = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      gmPqU32[0] = i << 15;
      gmPqTable[i] = pqEncode(gmPqF32[0] * 10000);
    }
  }
  return gmPqTable;
}

/** PQ code of `nits` (cd/m2) through the table. */
function gmPq(table, nits) {
  gmPqF32[0] = nits * 1e-4;
  const y = gmPqF32[0];
  if (!(y > 0)) return table[0];
  const bits = y >= 1 ? 0x3f800000 : gmPqU32[0];
  const i = bits >>> 15;
  const a = table[i];
  return a + (table[i + 1] - a) * Math.fround((bits & 0x7fff) * (1 / 32768));
}

const gmNow = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * Decode a standard gain-map JPEG (the bytes) to its HDR rendition, synchronously.
 * @param options.headroom a display's headroom in stops (undefined: the full HDR)
 * @param options.linear true: linear BT.2020 cd/m2 (unclipped), else PQ BT.2020 code values
 * @param options.name how error messages name the input
 */
export function decodeGainMapSync(bytes, options = {}) {
  const t0 = gmNow();
  const gm = gainMapOf(bytes, options);
  const t = gmNow();
  const sdr = decodeJpeg(gm.base, 'SDR base image');
  const map = decodeJpeg(gm.map, 'gain-map image');
  return renderDecoded(gm, sdr, map, options, { jpeg: gmNow() - t }, t0);
}

/**
 * decodeGainMapSync with the base and map JPEGs decoded by `decode(bytes, what)` (a
 * promise of {width, height, pixels}): the browser's own decoder in decodeGainmlp's
 * `jpeg: 'browser'`.
 */
export async function decodeGainMapWith(bytes, options, decode) {
  const t0 = gmNow();
  const gm = gainMapOf(bytes, options);
  const t = gmNow();
  const sdr = await decode(gm.base, 'SDR base image');
  const map = await decode(gm.map, 'gain-map image');
  return renderDecoded(gm, sdr, map, options, { jpeg: gmNow() - t }, t0);
}

function gainMapOf(bytes, { name = 'photo', headroom } = {}) {
  if (headroom !== undefined && headroom !== null) checkHeadroom(headroom);
  if (!isGainMapJpeg(bytes)) {
    throw new GainMLPError(`${name}: JPEG carries no standard gain map (no hdrgm XMP, ISO 21496-1 or Apple HDRGainMap)`);
  }
  return readGainMapJpeg(bytes);
}

function renderDecoded(gm, sdr, map, options, timings, t0) {
  const { headroom, linear = false } = options;
  const weight = gainMapWeight(gm.metadata, headroom);
  const t = gmNow();
  const { hdr } = renderGainMap(gm, sdr, map, weight, linear ? 'linear' : 'pq');
  timings.network = 0;
  timings.gainmap = gmNow() - t;
  timings.total = gmNow() - t0;
  const m = gm.metadata;
  const peak = gm.apple ? gm.apple.headroom ** Math.min(Math.max(weight, 0), 1)
    : 2 ** (Math.max(...m.gainMapMax) * (m.baseIsHdr ? 1 : weight));
  return { width: sdr.width, height: sdr.height, hdr, sdr: sdr.pixels, payload: null, source: 'gainmap',
    gainmap: { flavour: gm.flavour, metadataSource: gm.source, colourSpace: gm.colourSpace, metadata: m,
      apple: gm.apple, mapWidth: map.width, mapHeight: map.height, hasPayload: gm.hasPayload, warnings: gm.warnings },
    peakNits: Math.min(GAINMAP_SDR_WHITE * peak, 10000), linear: !!linear, backend: 'cpu', renderer: null,
    timings, thread: 'main',
    headroom: headroom === undefined || headroom === null ? null
      : { stops: headroom, weight, capacity: m.hdrCapacityMax } };
}

/**
 * Whether decodeGainmlp should take the standard gain map of `bytes`: `use` 'gainmap'
 * asks for it; 'auto' (default) takes it when the JPEG has no gainmlp payload but a gain
 * map (as gainmlp.photo.decode_file); 'payload' never.
 */
export function takesGainMap(bytes, use = 'auto') {
  if (use !== 'auto' && use !== 'gainmap' && use !== 'payload') {
    throw new GainMLPError(`use must be 'auto', 'payload' or 'gainmap', not '${use}'`);
  }
  if (!(bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) || use === 'payload') return false;
  if (use === 'gainmap') return true;
  try {
    if (extractPayload(bytes) !== null) return false;
  } catch {
    return false; // the payload path reports what is wrong with it
  }
  return isGainMapJpeg(bytes);
}

/** PQ code values -> linear light in cd/m2 (float32, a new array). */
export function pqToLinearNits(pq) {
  const out = new Float32Array(pq.length);
  for (let i = 0; i < pq.length; i++) out[i] = pqDecode(pq[i]);
  return out;
}
