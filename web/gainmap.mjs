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
import { GM_APPLE_NS, GM_CONTAINER_NS, GM_HDRGM_NS, GM_ISO_ID, GM_MPF_ID, appleMetadata, concatenatedImageRanges, decodeIso21496, findApp, findImageEnd, iccPrimaries, identifyIcc, metadataClose, metadataFromXmp, mpfImageRanges, parseHdrgmXmp, readAppleGainMap, readIcc, readXmp } from './gainmap_meta.mjs';

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
    const [main, ext] = readXmp(primary);
    if (((main || '') + (ext || '')).includes(GM_HDRGM_NS)) return true;
    if (findApp(primary, GM_APP2_MARKER, GM_MPF_ID)) {
      for (const [start, end] of mpfImageRanges(data, primary).slice(1)) {
        const segs = parseSegments(data.subarray(start, end));
        if (findApp(segs, GM_APP2_MARKER, GM_ISO_ID)) return true;
        const [m, e] = readXmp(segs);
        const text = (m || '') + (e || '');
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

function metadataOf(segments, notes, problems) {
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
  const [main, ext] = readXmp(segments);
  const text = (main || '') + (ext || '');
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
  const [mainXmp, extXmp] = readXmp(primary);
  const primaryText = (mainXmp || '') + (extXmp || '');
  let flavour = primaryText.includes('Container:Directory') || primaryText.includes(GM_CONTAINER_NS) ? 'ultrahdr'
    : (primaryText.includes(GM_HDRGM_NS) ? 'adobe' : 'iso');
  let meta = null, source = null, image = null, apple = null;
  const problems = [];
  const candidates = candidateImages(data, primary, notes);
  for (const cand of candidates) {
    [meta, source] = metadataOf(cand.segments, notes, problems);
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
      const [m, e] = readXmp(cand.segments);
      apple = readAppleGainMap((m || '') + (e || ''), exif ? exif.payload : null, notes);
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
  const out = new Float32Array(width * height * 3);
  const vrow = new Float32Array(3 * mw);
  const b = [0, 0, 0];
  const v = [0, 0, 0];
  const f = Math.fround;
  for (let y = 0; y < height; y++) {
    const a0 = ys.i0[y] * mw * 3, a1 = ys.i1[y] * mw * 3;
    const wy = ys.f[y], wy0 = f(1 - wy);
    if (!skip) {
      for (let j = 0; j < 3 * mw; j++) {
        vrow[j] = f(f(mapLut[map.pixels[a0 + j]] * wy0) + f(mapLut[map.pixels[a1 + j]] * wy));
      }
    }
    for (let x = 0; x < width; x++) {
      const p = 3 * (y * width + x);
      for (let c = 0; c < 3; c++) b[c] = luts.base[sdr.pixels[p + c]];
      if (convert) {
        for (let c = 0; c < 3; c++) v[c] = f(convert[3 * c] * b[0] + convert[3 * c + 1] * b[1] + convert[3 * c + 2] * b[2]);
        for (let c = 0; c < 3; c++) b[c] = v[c];
      }
      if (skip) {
        for (let c = 0; c < 3; c++) v[c] = b[c];
      } else {
        const x0 = 3 * xs.i0[x], x1 = 3 * xs.i1[x], fx = xs.f[x], fx0 = f(1 - fx);
        for (let c = 0; c < 3; c++) {
          const g = f(f(vrow[x0 + c] * fx0) + f(vrow[x1 + c] * fx));
          let val;
          if (apple) val = f(b[c] * f(1 + f(boost * g)));
          else {
            let gc = Math.min(Math.max(g, 0), 1);
            if (useGamma) gc = f(gc ** invGamma[c]);
            const logBoost = f(f(lo[c] * f(1 - gc)) + f(hi[c] * gc));
            val = f(f(f(b[c] + kBase[c]) * f(2 ** f(logBoost * w))) - kAlt[c]);
          }
          if (Number.isNaN(val)) val = 0;
          else if (val > GM_F32_MAX) val = GM_F32_MAX;
          else if (val < -GM_F32_MAX) val = 0;
          v[c] = val;
        }
      }
      if (toOut === null) {
        out[p] = v[0]; out[p + 1] = v[1]; out[p + 2] = v[2];
        continue;
      }
      for (let c = 0; c < 3; c++) {
        const lin = Math.max((v[0] * toOut[3 * c] + v[1] * toOut[3 * c + 1] + v[2] * toOut[3 * c + 2]) * GAINMAP_SDR_WHITE, 0);
        out[p + c] = output === 'linear' ? lin : pqEncode(lin);
      }
    }
  }
  return { hdr: out, primaries };
}

const gmNow = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * Decode a standard gain-map JPEG (the bytes) to its HDR rendition, synchronously.
 * @param options.headroom a display's headroom in stops (undefined: the full HDR)
 * @param options.linear true: linear BT.2020 cd/m2 (unclipped), else PQ BT.2020 code values
 * @param options.name how error messages name the input
 */
export function decodeGainMapSync(bytes, options = {}) {
  const { name = 'photo', headroom, linear = false } = options;
  if (headroom !== undefined && headroom !== null) checkHeadroom(headroom);
  const t0 = gmNow();
  if (!isGainMapJpeg(bytes)) {
    throw new GainMLPError(`${name}: JPEG carries no standard gain map (no hdrgm XMP, ISO 21496-1 or Apple HDRGainMap)`);
  }
  const gm = readGainMapJpeg(bytes);
  let t = gmNow();
  const sdr = decodeJpeg(gm.base, 'SDR base image');
  const map = decodeJpeg(gm.map, 'gain-map image');
  const timings = { jpeg: gmNow() - t };
  const weight = gainMapWeight(gm.metadata, headroom);
  t = gmNow();
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
