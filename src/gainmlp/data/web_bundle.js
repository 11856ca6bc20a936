(function () {
'use strict';
const gainmlpBundle = function gainmlpBundle(asWorker) {
// ---- errors.mjs
// The one error type of the decoder, and Python-compatible formatting of numbers in messages.
//
// Every problem with the input (a corrupt payload, a truncated file, an unsupported body)
// throws a GainMLPError whose message is the one line gainmlp's Python decoder prints for
// the same input (docs/payload-format.md, "Errors"), so both decoders can be tested against
// each other.

class GainMLPError extends Error {
  constructor(message) {
    super(message);
    this.name = 'GainMLPError';
  }
}

/** Python's repr() of a float (e.g. 0.015625, 1e-05, 5.0, inf, nan). */
function pyFloat(x) {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expText] = x.toExponential().split('e');
  const exp = Number(expText);
  const sign = mant.startsWith('-') ? '-' : '';
  const digits = mant.replace('-', '').replace('.', '');
  if (exp >= -4 && exp < 16) {
    if (exp >= digits.length - 1) return `${sign}${digits}${'0'.repeat(exp - digits.length + 1)}.0`;
    if (exp >= 0) return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
    return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : `${Math.abs(exp)}`;
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
}

/** Python's repr() of a tuple of ints, e.g. (1,) or (1, 2, 3). */
function pyTuple(values) {
  return values.length === 1 ? `(${values[0]},)` : `(${values.join(', ')})`;
}

/** Python's repr() of a tuple of floats, e.g. (0.0, 1.0). */
function pyFloatTuple(values) {
  return values.length === 1 ? `(${pyFloat(values[0])},)` : `(${values.map(pyFloat).join(', ')})`;
}

// Largest image either decoder accepts (gainmlp.errors.check_image_size).
const MAX_PIXELS = 200_000_000;
const MAX_SIDE = 65_535;

/** Refuse absurd dimensions before allocating anything (gainmlp.errors.check_image_size). */
function checkImageSize(width, height, what = 'image') {
  if (width <= 0 || height <= 0) throw new GainMLPError(`${what} has an empty size ${width}x${height}`);
  if (width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS) {
    throw new GainMLPError(`${what} claims ${width}x${height} pixels, over the limit of ` +
      `${MAX_SIDE} per side / ${MAX_PIXELS / 1_000_000} MP`);
  }
}

// ---- payload.mjs
// The gainmlp payload and where it lives in a JPEG (docs/payload-format.md):
// JPEG marker segments, the APP11 chunks that carry the payload, and the payload's outer
// header with its CRC-32. Every check and every error message is the Python decoder's
// (gainmlp.container.segments, .app11, .payload), in the same order.



// ---------------------------------------------------------------- methods (codecs.registry)

/** Payload method codes (never renumbered): name, family, residual. */
const METHODS = new Map([
  [1, ['gain-jpeg', 'conventional', 'gain']],
  [2, ['gamma-jpeg', 'conventional', 'gamma']],
  [3, ['gain-heic', 'conventional', 'gain']],
  [4, ['gamma-heic', 'conventional', 'gamma']],
  [5, ['gain-jxl', 'conventional', 'gain']],
  [6, ['gamma-jxl', 'conventional', 'gamma']],
  [7, ['gain-avif', 'conventional', 'gain']],
  [8, ['gamma-avif', 'conventional', 'gamma']],
  [16, ['gain-mlp', 'mlp', 'gain']],
  [17, ['gamma-mlp', 'mlp', 'gamma']],
  [18, ['direct-mlp', 'mlp', 'direct']],
  [19, ['mlp-itm', 'mlp-itm', 'direct']],
]);

// SDR colour set-up codes (gainmlp.colorimetry.PRIMARIES_CODE / TRANSFER_CODE)
const PRIMARIES = { 1: 'bt709', 2: 'srgb', 3: 'p3', 4: 'bt2020' };
const TRANSFERS = { 1: 'gamma2.4', 2: 'srgb', 3: 'gamma2.2' };

// ---------------------------------------------------------------- CRC-32 (zlib polynomial)

const CRC_TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c >>> 0;
}

/** CRC-32 of `bytes` as zlib.crc32 computes it (unsigned). */
function crc32(bytes, crc = 0) {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---------------------------------------------------------------- JPEG segments

const SOI = 0xd8, EOI = 0xd9, SOS = 0xda, TEM = 0x01, APP2 = 0xe2, APP11 = 0xeb;
const hex2 = (m) => m.toString(16).toUpperCase().padStart(2, '0');

function hasLength(marker) {
  return !(marker === SOI || marker === EOI || marker === TEM || (marker >= 0xd0 && marker <= 0xd7));
}

function readMarker(data, pos) {
  const n = data.length;
  if (pos >= n || data[pos] !== 0xff) throw new GainMLPError(`JPEG marker expected at byte ${pos}`);
  while (pos + 1 < n && data[pos + 1] === 0xff) pos++;
  if (pos + 1 >= n) throw new GainMLPError('JPEG data ends inside a marker');
  return [data[pos + 1], pos];
}

function readSegment(data, pos) {
  const [marker, start] = readMarker(data, pos);
  if (!hasLength(marker)) return { marker, offset: start, size: 2, payload: data.subarray(0, 0) };
  if (start + 4 > data.length) {
    throw new GainMLPError(`JPEG segment FF${hex2(marker)} at byte ${start} is truncated`);
  }
  const length = (data[start + 2] << 8) | data[start + 3];
  if (length < 2) throw new GainMLPError(`JPEG segment FF${hex2(marker)} at byte ${start} has length ${length}`);
  const end = start + 2 + length;
  if (end > data.length) {
    throw new GainMLPError(`JPEG segment FF${hex2(marker)} at byte ${start} runs past the data`);
  }
  return { marker, offset: start, size: 2 + length, payload: data.subarray(start + 4, end) };
}

/** Header segments of the JPEG at `start`: SOI ... up to and including the first SOS. */
function parseSegments(data, start = 0) {
  if (start < 0 || start + 2 > data.length || data[start] !== 0xff || data[start + 1] !== SOI) {
    throw new GainMLPError(`no JPEG image (SOI marker) at byte ${start}`);
  }
  const segments = [{ marker: SOI, offset: start, size: 2, payload: data.subarray(0, 0) }];
  let pos = start + 2;
  for (;;) {
    const seg = readSegment(data, pos);
    if (seg.marker === SOI) throw new GainMLPError(`unexpected SOI marker at byte ${seg.offset}`);
    if (seg.marker === EOI) throw new GainMLPError('JPEG image ends before any image data (no SOS marker)');
    segments.push(seg);
    pos = seg.offset + seg.size;
    if (seg.marker === SOS) return segments;
  }
}

function startsWith(bytes, text) {
  if (bytes.length < text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
}

// ---------------------------------------------------------------- APP11 chunks (container.app11)

const GAINMLP_ID = 'GainMLP\0';
const SEGMENT_VERSION = 1;
const CHUNK_HEADER = GAINMLP_ID.length + 9; // u8 version, u16 index, u16 count, u32 total (BE)

/** Reassemble our APP11 payload from the first image's header; null when absent. */
function extractPayload(data, segments = null) {
  segments = segments || parseSegments(data);
  const parts = segments.filter((s) => s.marker === APP11 && startsWith(s.payload, GAINMLP_ID))
    .map((s) => s.payload);
  if (!parts.length) return null;
  const chunks = new Map();
  let count = -1, total = -1;
  for (const part of parts) {
    if (part.length < CHUNK_HEADER) throw new GainMLPError('gainmlp APP11 segment is truncated');
    const dv = new DataView(part.buffer, part.byteOffset, part.byteLength);
    const off = GAINMLP_ID.length;
    const version = part[off];
    const index = dv.getUint16(off + 1);
    const n = dv.getUint16(off + 3);
    const length = dv.getUint32(off + 5);
    if (version !== SEGMENT_VERSION) {
      throw new GainMLPError(`gainmlp APP11 segment has unsupported version ${version}`);
    }
    if (count < 0) {
      count = n;
      total = length;
    } else if (n !== count || length !== total) {
      throw new GainMLPError('gainmlp APP11 segments disagree on the payload size');
    }
    if (!(index >= 0 && index < count)) {
      throw new GainMLPError(`gainmlp APP11 chunk ${index} of ${count} is out of range`);
    }
    if (chunks.has(index)) throw new GainMLPError(`gainmlp APP11 chunk ${index} appears twice`);
    chunks.set(index, part.subarray(CHUNK_HEADER));
  }
  if (chunks.size !== count) throw new GainMLPError(`gainmlp payload has ${chunks.size} of ${count} APP11 chunks`);
  let size = 0;
  for (let i = 0; i < count; i++) size += chunks.get(i).length;
  const payload = new Uint8Array(size);
  let p = 0;
  for (let i = 0; i < count; i++) {
    payload.set(chunks.get(i), p);
    p += chunks.get(i).length;
  }
  if (payload.length !== total) {
    throw new GainMLPError(`gainmlp payload is ${payload.length} bytes, header says ${total}`);
  }
  return payload;
}

/** Cheap check that a JPEG announces a standard gain map (ISO 21496-1, MPF, hdrgm or Apple XMP). */
function announcesGainMap(segments) {
  for (const s of segments) {
    if (s.marker === APP2 && (startsWith(s.payload, 'urn:iso:std:iso:ts:21496:-1\0') ||
      startsWith(s.payload, 'MPF\0'))) return true;
    if (s.marker === 0xe1 && startsWith(s.payload, 'http://ns.adobe.com/')) {
      const text = new TextDecoder('latin1').decode(s.payload);
      if (text.includes('http://ns.adobe.com/hdr-gain-map/1.0/') || text.includes('HDRGainMap')) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------- the payload (container.payload)

const HEADER_SIZE = 36;
// header version 2: the view of the original frame the base shows (docs/payload-format.md)
const VIEW_SIZE = 44;
const CRC_SIZE = 4;
const MAX_BODY = 64 * 1024 * 1024;

/**
 * Parse and check a payload (gainmlp.container.payload.Payload.from_bytes).
 * @returns {{method:string, family:string, residual:string, code:number, width:number,
 *   height:number, eps:number, sdr:{primaries:string, transfer:string, whiteNits:number},
 *   peakNits:number, body:Uint8Array, view:(null|{x0:number, y0:number, x1:number, y1:number,
 *   orientation:number}), originalWidth:number, originalHeight:number}}
 */
function parsePayload(bytes) {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (data.length < HEADER_SIZE + CRC_SIZE) {
    throw new GainMLPError(`payload is truncated (${data.length} bytes, header needs 40)`);
  }
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const magic = String.fromCharCode(data[0], data[1], data[2], data[3]);
  const version = dv.getUint16(4, true);
  const code = dv.getUint16(6, true);
  const width = dv.getUint32(8, true);
  const height = dv.getUint32(12, true);
  const eps = dv.getFloat32(16, true);
  const prim = data[20];
  const transfer = data[21];
  const white = dv.getFloat32(24, true);
  const peak = dv.getFloat32(28, true);
  const bodyLen = dv.getUint32(32, true);
  if (magic !== 'GMLP') throw new GainMLPError('not a gainmlp payload (bad magic)');
  if (version !== 1 && version !== 2) {
    throw new GainMLPError(`payload format version ${version} is not supported (this gainmlp reads ${pyTuple([1, 2])})`);
  }
  if (bodyLen > MAX_BODY) throw new GainMLPError(`payload claims an absurd body of ${bodyLen} bytes`);
  const start = HEADER_SIZE + (version === 2 ? VIEW_SIZE : 0);
  const expected = start + bodyLen + CRC_SIZE;
  if (data.length < expected) {
    throw new GainMLPError(`payload is truncated: ${data.length} bytes, header says ${expected}`);
  }
  if (data.length > expected) throw new GainMLPError(`payload has ${data.length - expected} trailing bytes`);
  const crc = dv.getUint32(start + bodyLen, true);
  if (crc !== crc32(data.subarray(0, start + bodyLen))) {
    throw new GainMLPError('payload CRC-32 mismatch: the file is corrupt');
  }
  const method = METHODS.get(code);
  if (!method) throw new GainMLPError(`payload uses unknown method code ${code}`);
  if (!(prim in PRIMARIES) || !(transfer in TRANSFERS)) {
    throw new GainMLPError('payload has an unknown SDR colour set-up');
  }
  if (!(eps > 0 && eps < 0.5)) throw new GainMLPError(`payload has an invalid offset eps=${pyFloat(eps)}`);
  if (!(peak >= 1 && peak <= 10000)) throw new GainMLPError(`payload has an invalid HDR peak ${pyFloat(peak)}`);
  checkImageSize(width, height, 'payload');
  // SdrEncoding's own check (gainmlp.colorimetry.SdrEncoding.__post_init__)
  if (!(white >= 1 && white <= 10000)) {
    throw new GainMLPError(`SDR white ${pyFloat(white)} cd/m2 is outside 1..10000`);
  }
  let view = null, originalWidth = width, originalHeight = height;
  if (version === 2) view = parseView(data, dv), [originalWidth, originalHeight] = [view.width, view.height];
  if (view) {
    view = { x0: view.x0, y0: view.y0, x1: view.x1, y1: view.y1, orientation: view.orientation,
      frameWidth: originalWidth, frameHeight: originalHeight };
  }
  return {
    method: method[0], family: method[1], residual: method[2], code, width, height, eps,
    sdr: { primaries: PRIMARIES[prim], transfer: TRANSFERS[transfer], whiteNits: white },
    peakNits: peak,
    body: data.subarray(start, start + bodyLen),
    view, originalWidth, originalHeight,
  };
}

/** The version-2 view block (gainmlp.container.payload, gainmlp.view.View.check). */
function parseView(data, dv) {
  const width = dv.getUint32(HEADER_SIZE, true), height = dv.getUint32(HEADER_SIZE + 4, true);
  const [x0, y0, x1, y1] = [0, 1, 2, 3].map((k) => dv.getFloat64(HEADER_SIZE + 8 + 8 * k, true));
  const orientation = data[HEADER_SIZE + 40];
  if (data[HEADER_SIZE + 41] || data[HEADER_SIZE + 42] || data[HEADER_SIZE + 43]) {
    throw new GainMLPError('payload view has non-zero reserved bytes');
  }
  checkImageSize(width, height, 'payload original frame');
  if (![x0, y0, x1, y1].every(Number.isFinite)) throw new GainMLPError('payload view has a non-finite crop box');
  if (!(x0 >= 0 && x0 < x1 && x1 <= 1 && y0 >= 0 && y0 < y1 && y1 <= 1)) {
    throw new GainMLPError(`payload view has an invalid crop box (${[x0, y0, x1, y1].map(pyFloat).join(', ')})`);
  }
  if (!(orientation >= 1 && orientation <= 8)) {
    throw new GainMLPError(`payload view has an invalid orientation ${orientation}`);
  }
  return { width, height, x0, y0, x1, y1, orientation };
}

// EXIF orientation -> [swap, flipU, flipV] (gainmlp.view.ORIENTATIONS)
const ORIENTATIONS = { 1: [false, false, false], 2: [false, true, false], 3: [false, true, true],
  4: [false, false, true], 5: [true, false, false], 6: [true, false, true], 7: [true, true, true],
  8: [true, true, false] };

/**
 * Original-frame coordinates (float64) of a width x height base's pixel centres
 * (gainmlp.view.View.axes): {cols (width), rows (height), swap}; without a swap cols holds x
 * and rows y, with one (a 90° view) cols holds y and rows x. view null: the whole frame.
 * With the view's frame size, each coordinate moves to the centre of the original pixel it
 * falls in ((floor(x W0) + 0.5) / W0, the floor clamped to 0..W0 - 1).
 */
function viewAxes(view, width, height) {
  const v = view || { x0: 0, y0: 0, x1: 1, y1: 1, orientation: 1 };
  const [swap, flipU, flipV] = ORIENTATIONS[v.orientation];
  const centres = (n, flip, lo, hi, frame) => {
    const out = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      out[k] = lo + (hi - lo) * (((flip ? n - 1 - k : k) + 0.5) / n);
      if (frame) out[k] = (Math.min(Math.max(Math.floor(out[k] * frame), 0), frame - 1) + 0.5) / frame;
    }
    return out;
  };
  const [nU, nV] = swap ? [height, width] : [width, height];
  const u = centres(nU, flipU, v.x0, v.x1, view && view.frameWidth);
  const w = centres(nV, flipV, v.y0, v.y1, view && view.frameHeight);
  // the same as offset + (k + 0.5) / scale (for a GPU): [offset, scale] per axis
  const lin = (n, flip, lo, hi) => (flip ? [hi, -n / (hi - lo)] : [lo, n / (hi - lo)]);
  const linU = lin(nU, flipU, v.x0, v.x1), linV = lin(nV, flipV, v.y0, v.y1);
  const frame = view && view.frameWidth ? [view.frameWidth, view.frameHeight] : null;
  const snap = frame ? (swap ? [frame[1], frame[0]] : frame) : null; // per base [cols, rows]
  return swap ? { cols: w, rows: u, swap, colsLin: linV, rowsLin: linU, snap }
    : { cols: u, rows: w, swap, colsLin: linU, rowsLin: linV, snap };
}

// ---- jpeg_idct.mjs
// JPEG samples to pixels, as libjpeg-turbo computes them with its default settings (what
// Pillow uses): the accurate integer inverse DCT (jidctint.c, "ISLOW") with its range
// limiting, "fancy" triangle-filter chroma upsampling with the edge rules of jdsample.c and
// jdmainct.c, and the fixed-point YCbCr -> RGB tables of jdcolor.c. Written from the
// behaviour of libjpeg-turbo's decoder; no code is taken from it. The entropy decoding is in
// jpeg.mjs.

// ---------------------------------------------------------------- IDCT (jidctint.c maths)

// IDCT output -> sample: libjpeg's post-IDCT range-limit table, indexed by value & 1023.
const IDCT_LIMIT = new Uint8Array(1024);
for (let i = 0; i < 1024; i++) {
  IDCT_LIMIT[i] = i < 128 ? i + 128 : i < 512 ? 255 : i < 896 ? 0 : i - 896;
}

const F0298 = 2446, F0390 = 3196, F0541 = 4433, F0765 = 6270, F0899 = 7373, F1175 = 9633;
const F1501 = 12299, F1847 = 15137, F1961 = 16069, F2053 = 16819, F2562 = 20995, F3072 = 25172;

/** Dequantise and inverse-DCT one block (coefs at `off`) into `out` (stride `stride`). */
function idctBlock(coefs, off, q, ws, out, outOff, stride) {
  for (let c = 0; c < 8; c++) {
    const i0 = coefs[off + c] * q[c];
    const i1 = coefs[off + 8 + c] * q[8 + c];
    const i2 = coefs[off + 16 + c] * q[16 + c];
    const i3 = coefs[off + 24 + c] * q[24 + c];
    const i4 = coefs[off + 32 + c] * q[32 + c];
    const i5 = coefs[off + 40 + c] * q[40 + c];
    const i6 = coefs[off + 48 + c] * q[48 + c];
    const i7 = coefs[off + 56 + c] * q[56 + c];
    if ((i1 | i2 | i3 | i4 | i5 | i6 | i7) === 0) {
      const dc = i0 * 4; // << PASS1_BITS
      for (let r = 0; r < 8; r++) ws[r * 8 + c] = dc;
      continue;
    }
    let z1 = (i2 + i6) * F0541;
    const t2e = z1 - i6 * F1847;
    const t3e = z1 + i2 * F0765;
    const t0e = (i0 + i4) * 8192;
    const t1e = (i0 - i4) * 8192;
    const t10 = t0e + t3e, t13 = t0e - t3e, t11 = t1e + t2e, t12 = t1e - t2e;
    const z4s = i5 + i1, z3s = i7 + i3, z2s = i5 + i3, z1s = i7 + i1;
    const z5 = (z3s + z4s) * F1175;
    let t3 = i1 * F1501, t2 = i3 * F3072, t1 = i5 * F2053, t0 = i7 * F0298;
    const z4 = z4s * -F0390 + z5;
    const z3 = z3s * -F1961 + z5;
    z1 = z1s * -F0899;
    const z2 = z2s * -F2562;
    t3 += z1 + z4; t2 += z2 + z3; t1 += z2 + z4; t0 += z1 + z3;
    ws[c] = (t10 + t3 + 1024) >> 11;
    ws[8 + c] = (t11 + t2 + 1024) >> 11;
    ws[16 + c] = (t12 + t1 + 1024) >> 11;
    ws[24 + c] = (t13 + t0 + 1024) >> 11;
    ws[32 + c] = (t13 - t0 + 1024) >> 11;
    ws[40 + c] = (t12 - t1 + 1024) >> 11;
    ws[48 + c] = (t11 - t2 + 1024) >> 11;
    ws[56 + c] = (t10 - t3 + 1024) >> 11;
  }
  for (let r = 0; r < 8; r++) {
    const w = r * 8;
    const o = outOff + r * stride;
    const w0 = ws[w], w1 = ws[w + 1], w2 = ws[w + 2], w3 = ws[w + 3];
    const w4 = ws[w + 4], w5 = ws[w + 5], w6 = ws[w + 6], w7 = ws[w + 7];
    if ((w1 | w2 | w3 | w4 | w5 | w6 | w7) === 0) {
      const v = IDCT_LIMIT[((w0 + 16) >> 5) & 1023];
      for (let i = 0; i < 8; i++) out[o + i] = v;
      continue;
    }
    let z1 = (w2 + w6) * F0541;
    const t0e = (w0 + w4) * 8192;
    const t3e = z1 + w2 * F0765;
    const t1e = (w0 - w4) * 8192;
    const t2e = z1 - w6 * F1847;
    const t10 = t0e + t3e, t13 = t0e - t3e, t11 = t1e + t2e, t12 = t1e - t2e;
    const z4s = w5 + w1, z3s = w7 + w3, z2s = w5 + w3, z1s = w7 + w1;
    const z5 = (z3s + z4s) * F1175;
    let t3 = w1 * F1501, t2 = w3 * F3072, t1 = w5 * F2053, t0 = w7 * F0298;
    const z4 = z4s * -F0390 + z5;
    const z3 = z3s * -F1961 + z5;
    const z2 = z2s * -F2562;
    z1 = z1s * -F0899;
    t3 += z1 + z4; t2 += z2 + z3; t1 += z2 + z4; t0 += z1 + z3;
    // DESCALE by CONST_BITS + PASS1_BITS + 3 = 18 bits
    out[o] = IDCT_LIMIT[((t10 + t3 + 131072) >> 18) & 1023];
    out[o + 7] = IDCT_LIMIT[((t10 - t3 + 131072) >> 18) & 1023];
    out[o + 1] = IDCT_LIMIT[((t11 + t2 + 131072) >> 18) & 1023];
    out[o + 6] = IDCT_LIMIT[((t11 - t2 + 131072) >> 18) & 1023];
    out[o + 2] = IDCT_LIMIT[((t12 + t1 + 131072) >> 18) & 1023];
    out[o + 5] = IDCT_LIMIT[((t12 - t1 + 131072) >> 18) & 1023];
    out[o + 3] = IDCT_LIMIT[((t13 + t0 + 131072) >> 18) & 1023];
    out[o + 4] = IDCT_LIMIT[((t13 - t0 + 131072) >> 18) & 1023];
  }
}

// ---------------------------------------------------------------- upsampling (jdsample.c)

/** A component's samples at full resolution (`outW` x `outH`, edge rules of libjpeg). */
function upsample(plane, stride, dw, dh, hf, vf, outW, outH) {
  if (hf === 1 && vf === 1) return { data: plane, stride };
  const out = new Uint8Array(outW * outH);
  const lastRow = dh - 1;
  if (hf === 2 && vf === 2 && dw > 2) {
    const sum0 = new Int32Array(dw);
    const sum1 = new Int32Array(dw);
    const row = new Uint8Array(2 * dw);
    for (let i = 0; i < dh && 2 * i < outH; i++) {
      const cur = i * stride;
      const above = Math.max(i - 1, 0) * stride;
      const below = Math.min(i + 1, lastRow) * stride;
      for (let x = 0; x < dw; x++) {
        const c3 = plane[cur + x] * 3;
        sum0[x] = c3 + plane[above + x];
        sum1[x] = c3 + plane[below + x];
      }
      for (let v = 0; v < 2; v++) {
        const y = 2 * i + v;
        if (y >= outH) break;
        const s = v === 0 ? sum0 : sum1;
        const o = y * outW;
        row[0] = (s[0] * 4 + 8) >> 4;
        row[1] = (s[0] * 3 + s[1] + 7) >> 4;
        for (let x = 1, x2 = 2; x < dw - 1; x++, x2 += 2) {
          const t = s[x] * 3;
          row[x2] = (t + s[x - 1] + 8) >> 4;
          row[x2 + 1] = (t + s[x + 1] + 7) >> 4;
        }
        row[2 * dw - 2] = (s[dw - 1] * 3 + s[dw - 2] + 8) >> 4;
        row[2 * dw - 1] = (s[dw - 1] * 4 + 7) >> 4;
        out.set(row.subarray(0, outW), o);
      }
    }
    return { data: out, stride: outW };
  }
  if (hf === 2 && vf === 1 && dw > 2) {
    const row = new Uint8Array(2 * dw);
    for (let y = 0; y < outH; y++) {
      const r = Math.min(y, lastRow) * stride;
      row[0] = plane[r];
      row[1] = (plane[r] * 3 + plane[r + 1] + 2) >> 2;
      for (let x = 1, x2 = 2; x < dw - 1; x++, x2 += 2) {
        const c3 = plane[r + x] * 3;
        row[x2] = (c3 + plane[r + x - 1] + 1) >> 2;
        row[x2 + 1] = (c3 + plane[r + x + 1] + 2) >> 2;
      }
      row[2 * dw - 2] = (plane[r + dw - 1] * 3 + plane[r + dw - 2] + 1) >> 2;
      row[2 * dw - 1] = plane[r + dw - 1];
      out.set(row.subarray(0, outW), y * outW);
    }
    return { data: out, stride: outW };
  }
  if (hf === 1 && vf === 2) {
    for (let i = 0; 2 * i < outH; i++) {
      const cur = Math.min(i, lastRow) * stride;
      const above = Math.max(Math.min(i, lastRow) - 1, 0) * stride;
      const below = Math.min(i + 1, lastRow) * stride;
      for (let v = 0; v < 2 && 2 * i + v < outH; v++) {
        const o = (2 * i + v) * outW;
        const other = v === 0 ? above : below;
        const bias = v === 0 ? 1 : 2;
        for (let x = 0; x < outW; x++) out[o + x] = (plane[cur + x] * 3 + plane[other + x] + bias) >> 2;
      }
    }
    return { data: out, stride: outW };
  }
  // box filter: replication (int_upsample, h2v1_upsample, h2v2_upsample)
  for (let y = 0; y < outH; y++) {
    const r = Math.floor(y / vf) * stride;
    const o = y * outW;
    for (let x = 0; x < outW; x++) out[o + x] = plane[r + Math.floor(x / hf)];
  }
  return { data: out, stride: outW };
}

// ---------------------------------------------------------------- colour (jdcolor.c)

const CR_R = new Int32Array(256), CB_B = new Int32Array(256);
const CR_G = new Int32Array(256), CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  // FIX(v) = round(v * 2^16); ONE_HALF = 2^15; RIGHT_SHIFT is arithmetic
  CR_R[i] = (91881 * x + 32768) >> 16;
  CB_B[i] = (116130 * x + 32768) >> 16;
  CR_G[i] = -46802 * x;
  CB_G[i] = -22554 * x + 32768;
}

function frameToRgb(frame, qt, sawJfif, adobeTransform) {
  const { width, height, comps, hmax, vmax } = frame;
  const planes = [];
  const ws = new Int32Array(64);
  for (const c of comps) {
    const stride = c.blocksPerLine * 8;
    const plane = new Uint8Array(stride * c.blocksPerColumn * 8);
    const q = qt[c.tq];
    for (let by = 0; by < c.blocksPerColumn; by++) {
      for (let bx = 0; bx < c.blocksPerLine; bx++) {
        idctBlock(c.coefs, (by * c.blocksPerLine + bx) * 64, q, ws, plane, by * 8 * stride + bx * 8, stride);
      }
    }
    c.coefs = null;
    const dw = Math.ceil((width * c.h) / hmax);
    const dh = Math.ceil((height * c.v) / vmax);
    planes.push(upsample(plane, stride, dw, dh, hmax / c.h, vmax / c.v, width, height));
  }
  const out = new Uint8Array(width * height * 3);
  if (comps.length === 1) {
    const { data, stride } = planes[0];
    for (let y = 0; y < height; y++) {
      for (let x = 0, o = y * width * 3, i = y * stride; x < width; x++, o += 3, i++) {
        out[o] = out[o + 1] = out[o + 2] = data[i];
      }
    }
    return { width, height, pixels: out };
  }
  let rgb = false;
  if (!sawJfif) {
    if (adobeTransform === 0) rgb = true;
    else if (adobeTransform < 0 && comps[0].id === 82 && comps[1].id === 71 && comps[2].id === 66) rgb = true;
  }
  const d0 = planes[0].data, d1 = planes[1].data, d2 = planes[2].data;
  const st0 = planes[0].stride, st1 = planes[1].stride, st2 = planes[2].stride;
  for (let y = 0; y < height; y++) {
    let i0 = y * st0, i1 = y * st1, i2 = y * st2;
    let o = y * width * 3;
    const oEnd = o + width * 3;
    if (rgb) {
      for (; o < oEnd; o += 3) {
        out[o] = d0[i0++];
        out[o + 1] = d1[i1++];
        out[o + 2] = d2[i2++];
      }
      continue;
    }
    for (; o < oEnd; o += 3) {
      const yy = d0[i0++];
      const cb = d1[i1++];
      const cr = d2[i2++];
      let v = yy + CR_R[cr];
      out[o] = v < 0 ? 0 : v > 255 ? 255 : v;
      v = yy + ((CB_G[cb] + CR_G[cr]) >> 16);
      out[o + 1] = v < 0 ? 0 : v > 255 ? 255 : v;
      v = yy + CB_B[cb];
      out[o + 2] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { width, height, pixels: out };
}

// ---- jpeg.mjs
// A JPEG decoder that gives the same 8-bit RGB pixels as libjpeg-turbo with its default
// settings (what Pillow, and so gainmlp's Python decoder, uses): the accurate integer IDCT
// (jidctint.c, "ISLOW"), "fancy" triangle-filter chroma upsampling with edge replication
// (jdsample.c, jdmainct.c), and libjpeg's fixed-point YCbCr -> RGB tables (jdcolor.c).
//
// This module parses the file and decodes the entropy-coded data (Huffman, baseline and
// progressive); jpeg_idct.mjs turns the coefficients into pixels.
//
// Supported: 8-bit baseline and extended Huffman (SOF0/SOF1), progressive Huffman (SOF2),
// restart intervals, 1 (grey, returned as RGB) or 3 components (YCbCr, or RGB when the
// Adobe marker or the component ids say so), any sampling factors libjpeg accepts.
// Not supported (a GainMLPError says so): arithmetic coding, lossless, 12-bit, CMYK/YCCK.
// The decoder only reads the bytes it is given; nothing is allocated before the frame
// header's size has been checked against the limits and against the amount of data.
//
// Written from the JPEG standard (ITU-T T.81) and the behaviour of libjpeg-turbo's
// decoder; no code is taken from it.




// Zig-zag order -> natural (row-major) order; 16 extra entries keep corrupt run lengths
// inside the block, as libjpeg's jpeg_natural_order does.
const NATURAL = new Int32Array(80).fill(63);
NATURAL.set([0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48,
  41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37,
  44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63]);

// A Huffman-coded JPEG spends at least one bit per 8x8 block and component; as in
// gainmlp.io.jpeg, a file declaring more than 8192 pixels per byte is refused up front.
const MAX_PIXELS_PER_BYTE = 8192;

class Truncated extends Error {}

// ---------------------------------------------------------------- Huffman tables

function buildHuffman(counts, symbols) {
  // Canonical codes (T.81 Annex C); lookup of the first 9 bits, slow path beyond.
  const maxcode = new Int32Array(18).fill(-1);
  const valoffset = new Int32Array(18);
  const lookLen = new Uint8Array(512);
  const lookSym = new Uint8Array(512);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1];
    if (n) {
      valoffset[len] = k - code;
      for (let i = 0; i < n; i++, k++, code++) {
        if (len <= 9) {
          const shift = 9 - len;
          const base = code << shift;
          for (let j = 0; j < 1 << shift; j++) {
            lookLen[base + j] = len;
            lookSym[base + j] = symbols[k];
          }
        }
      }
      maxcode[len] = code - 1;
    }
    if (code > 1 << len) throw new Error('bad Huffman table');
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff; // sentinel: garbage input ends here (libjpeg fakes a zero)
  return { maxcode, valoffset, lookLen, lookSym, symbols };
}

// ---------------------------------------------------------------- entropy decoding

/** Decode one scan starting at `pos`; returns the offset of the marker that ends it. */
function decodeScan(data, pos, frame, scanComps, ss, se, ah, al, restartInterval) {
  const end = data.length;
  let bitBuf = 0; // up to 32 bits, MSB first in the low `bitCnt` bits
  let bitCnt = 0;
  let atMarker = false;

  function fill() {
    // libjpeg loads at least 25 bits or stops at a marker (then pads with zeros when a
    // caller needs more); running out of data without a marker means a truncated file.
    while (bitCnt < 25) {
      if (atMarker) {
        bitBuf = ((bitBuf << 8) >>> 0) & 0xffffffff;
        bitCnt += 8;
        continue;
      }
      if (pos >= end) throw new Truncated();
      let b = data[pos];
      if (b === 0xff) {
        let p = pos + 1;
        while (p < end && data[p] === 0xff) p++; // fill bytes
        if (p >= end) throw new Truncated();
        if (data[p] === 0) {
          pos = p + 1;
        } else {
          atMarker = true; // stop before the marker; pos stays on it
          continue;
        }
      } else {
        pos++;
      }
      bitBuf = ((bitBuf << 8) | b) >>> 0;
      bitCnt += 8;
    }
  }

  function getBits(n) {
    if (n === 0) return 0;
    if (bitCnt < n) fill();
    bitCnt -= n;
    return (bitBuf >>> bitCnt) & ((1 << n) - 1);
  }

  function getBit() {
    if (bitCnt < 1) fill();
    bitCnt--;
    return (bitBuf >>> bitCnt) & 1;
  }

  function decodeHuff(t) {
    if (bitCnt < 8) fill();
    const look = bitCnt >= 9 ? (bitBuf >>> (bitCnt - 9)) & 511 : (bitBuf << (9 - bitCnt)) & 511;
    const len = t.lookLen[look];
    if (len && len <= bitCnt) {
      bitCnt -= len;
      return t.lookSym[look];
    }
    // slow path, one bit at a time from the shortest length (T.81 Figure F.16)
    let code = getBit();
    let l = 1;
    while (code > t.maxcode[l]) {
      code = (code << 1) | getBit();
      l++;
    }
    if (l > 16) return 0; // garbage: libjpeg warns and fakes a zero
    return t.symbols[code + t.valoffset[l]];
  }

  function extend(v, s) {
    return v < 1 << (s - 1) ? v + (-1 << s) + 1 : v;
  }

  const progressive = frame.progressive;
  let eobrun = 0;

  function decodeBaseline(comp, off) {
    const coefs = comp.coefs;
    const s0 = decodeHuff(comp.dcTable);
    const diff = s0 === 0 ? 0 : extend(getBits(s0), s0);
    comp.pred += diff;
    coefs[off] = comp.pred;
    const ac = comp.acTable;
    for (let k = 1; k < 64; k++) {
      const rs = decodeHuff(ac);
      const r = rs >> 4;
      const s = rs & 15;
      if (s) {
        k += r;
        coefs[off + NATURAL[k]] = extend(getBits(s), s);
      } else {
        if (r !== 15) break;
        k += 15;
      }
    }
  }

  function decodeDcFirst(comp, off) {
    const s = decodeHuff(comp.dcTable);
    const diff = s === 0 ? 0 : extend(getBits(s), s);
    comp.pred += diff;
    comp.coefs[off] = comp.pred * (1 << al);
  }

  function decodeDcRefine(comp, off) {
    if (getBit()) comp.coefs[off] |= 1 << al;
  }

  function decodeAcFirst(comp, off) {
    if (eobrun > 0) {
      eobrun--;
      return;
    }
    const coefs = comp.coefs;
    const ac = comp.acTable;
    for (let k = ss; k <= se; k++) {
      const rs = decodeHuff(ac);
      const r = rs >> 4;
      const s = rs & 15;
      if (s) {
        k += r;
        coefs[off + NATURAL[k]] = extend(getBits(s), s) * (1 << al);
      } else if (r === 15) {
        k += 15;
      } else {
        eobrun = 1 << r;
        if (r) eobrun += getBits(r);
        eobrun--;
        break;
      }
    }
  }

  function decodeAcRefine(comp, off) {
    const coefs = comp.coefs;
    const p1 = 1 << al;
    const m1 = -1 << al;
    let k = ss;
    if (eobrun === 0) {
      const ac = comp.acTable;
      for (; k <= se; k++) {
        const rs = decodeHuff(ac);
        let r = rs >> 4;
        let s = rs & 15;
        if (s) {
          s = getBit() ? p1 : m1; // s is 1 in a valid stream
        } else if (r !== 15) {
          eobrun = 1 << r;
          if (r) eobrun += getBits(r);
          break;
        }
        do {
          const z = off + NATURAL[k];
          if (coefs[z] !== 0) {
            if (getBit() && (coefs[z] & p1) === 0) coefs[z] += coefs[z] >= 0 ? p1 : m1;
          } else {
            if (--r < 0) break;
          }
          k++;
        } while (k <= se);
        if (s) coefs[off + NATURAL[k]] = s;
      }
    }
    if (eobrun > 0) {
      for (; k <= se; k++) {
        const z = off + NATURAL[k];
        if (coefs[z] !== 0 && getBit() && (coefs[z] & p1) === 0) {
          coefs[z] += coefs[z] >= 0 ? p1 : m1;
        }
      }
      eobrun--;
    }
  }

  let decodeBlock;
  if (!progressive) decodeBlock = decodeBaseline;
  else if (ss === 0) decodeBlock = ah === 0 ? decodeDcFirst : decodeDcRefine;
  else decodeBlock = ah === 0 ? decodeAcFirst : decodeAcRefine;

  for (const c of scanComps) c.pred = 0;

  function restart() {
    // discard the bit buffer; the next marker must be RSTn (libjpeg resyncs otherwise)
    bitCnt = 0;
    bitBuf = 0;
    atMarker = false;
    while (pos + 1 < end && !(data[pos] === 0xff && data[pos + 1] >= 0xd0 && data[pos + 1] <= 0xd7)) {
      if (data[pos] === 0xff && data[pos + 1] !== 0 && data[pos + 1] !== 0xff) break;
      pos++;
    }
    if (pos + 1 >= end) throw new Truncated();
    if (data[pos + 1] >= 0xd0 && data[pos + 1] <= 0xd7) pos += 2;
    for (const c of scanComps) c.pred = 0;
    eobrun = 0;
  }

  let todo = restartInterval;
  if (scanComps.length === 1) {
    // non-interleaved: the component's own blocks, row by row
    const c = scanComps[0];
    const bw = Math.ceil(Math.ceil((frame.width * c.h) / frame.hmax) / 8);
    const bh = Math.ceil(Math.ceil((frame.height * c.v) / frame.vmax) / 8);
    for (let by = 0; by < bh; by++) {
      for (let bx = 0; bx < bw; bx++) {
        if (restartInterval && todo === 0) {
          restart();
          todo = restartInterval;
        }
        decodeBlock(c, (by * c.blocksPerLine + bx) * 64);
        if (restartInterval) todo--;
      }
    }
  } else {
    for (let my = 0; my < frame.mcusY; my++) {
      for (let mx = 0; mx < frame.mcusX; mx++) {
        if (restartInterval && todo === 0) {
          restart();
          todo = restartInterval;
        }
        for (const c of scanComps) {
          for (let v = 0; v < c.v; v++) {
            const row = my * c.v + v;
            for (let h = 0; h < c.h; h++) {
              decodeBlock(c, (row * c.blocksPerLine + mx * c.h + h) * 64);
            }
          }
        }
        if (restartInterval) todo--;
      }
    }
  }
  // skip to the next marker (libjpeg skips stray bytes with a warning)
  while (pos + 1 < end && !(data[pos] === 0xff && data[pos + 1] !== 0 && data[pos + 1] !== 0xff &&
    !(data[pos + 1] >= 0xd0 && data[pos + 1] <= 0xd7))) pos++;
  return pos;
}

// ---------------------------------------------------------------- frame parsing

function readU16(data, p) {
  return (data[p] << 8) | data[p + 1];
}

/**
 * Decode a JPEG to 8-bit RGB.
 * @param {Uint8Array} data the file's bytes
 * @param {string} name how errors name the file
 * @returns {{width:number, height:number, pixels:Uint8Array}} RGB, row-major
 */
function decodeJpeg(data, name = 'JPEG image') {
  const unreadable = () => new GainMLPError(`${name}: not a readable image (corrupt or unsupported)`);
  const corrupt = () => new GainMLPError(`${name}: image data is corrupt or truncated`);
  const unsupported = (what) => new GainMLPError(`${name}: ${what} JPEGs are not supported by this decoder`);
  if (!(data instanceof Uint8Array)) data = new Uint8Array(data);
  if (data.length < 3 || data[0] !== 0xff || data[1] !== 0xd8) throw unreadable();
  const qt = [null, null, null, null];
  const dcTables = [null, null, null, null];
  const acTables = [null, null, null, null];
  let frame = null;
  let restartInterval = 0;
  let sawJfif = false;
  let adobeTransform = -1;
  let scans = 0;
  let pos = 2;
  let done = false;
  const end = data.length;
  while (!done) {
    // next marker (skipping fill bytes; stray bytes between segments are skipped too)
    while (pos < end && data[pos] !== 0xff) pos++;
    while (pos + 1 < end && data[pos + 1] === 0xff) pos++;
    if (pos + 1 >= end) {
      if (!frame || scans === 0) throw unreadable();
      throw corrupt(); // no EOI (progressive) or missing scans: libjpeg suspends for more data
    }
    const marker = data[pos + 1];
    pos += 2;
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue;
    if (marker === 0xd9) break;
    if (pos + 2 > end) throw scans ? corrupt() : unreadable();
    const len = readU16(data, pos);
    if (len < 2 || pos + len > end) throw scans ? corrupt() : unreadable();
    const seg = data.subarray(pos + 2, pos + len);
    const segEnd = pos + len;
    const bad = () => (scans ? corrupt() : unreadable());
    if (marker === 0xe0 && seg.length >= 14 && seg[0] === 0x4a && seg[1] === 0x46 && seg[2] === 0x49 &&
      seg[3] === 0x46 && seg[4] === 0) {
      sawJfif = true;
    } else if (marker === 0xee && seg.length >= 12 && String.fromCharCode(...seg.subarray(0, 5)) === 'Adobe') {
      adobeTransform = seg[11];
    } else if (marker === 0xdb) {
      let p = 0;
      while (p < seg.length) {
        const pq = seg[p] >> 4;
        const tq = seg[p] & 15;
        p++;
        if (tq > 3 || pq > 1 || p + 64 * (pq + 1) > seg.length) throw bad();
        const table = new Int32Array(64);
        for (let k = 0; k < 64; k++) {
          table[NATURAL[k]] = pq ? readU16(seg, p + 2 * k) : seg[p + k];
        }
        p += 64 * (pq + 1);
        qt[tq] = table;
      }
    } else if (marker === 0xc4) {
      let p = 0;
      while (p < seg.length) {
        if (p + 17 > seg.length) throw bad();
        const tc = seg[p] >> 4;
        const th = seg[p] & 15;
        const counts = seg.subarray(p + 1, p + 17);
        let total = 0;
        for (let i = 0; i < 16; i++) total += counts[i];
        if (tc > 1 || th > 3 || total > 256 || p + 17 + total > seg.length) throw bad();
        let table;
        try {
          table = buildHuffman(counts, seg.slice(p + 17, p + 17 + total));
        } catch {
          throw bad();
        }
        (tc === 0 ? dcTables : acTables)[th] = table;
        p += 17 + total;
      }
    } else if (marker === 0xdd) {
      if (seg.length < 2) throw bad();
      restartInterval = readU16(seg, 0);
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (frame) throw bad();
      if (marker === 0xc3 || marker === 0xc7 || marker === 0xcb || marker === 0xcf) throw unsupported('lossless');
      if (marker >= 0xc9) throw unsupported('arithmetic-coded');
      if (marker !== 0xc0 && marker !== 0xc1 && marker !== 0xc2) throw unsupported('hierarchical');
      if (seg.length < 6) throw unreadable();
      const precision = seg[0];
      const height = readU16(seg, 1);
      const width = readU16(seg, 3);
      const nc = seg[5];
      if (seg.length < 6 + 3 * nc || nc === 0) throw unreadable();
      checkImageSize(width, height, name);
      if (precision !== 8) throw unsupported(`${precision}-bit`);
      if (nc !== 1 && nc !== 3) throw unsupported(`${nc}-component (CMYK/YCCK)`);
      // too little data for that many blocks: libjpeg would run out of data
      if (width * height > MAX_PIXELS_PER_BYTE * Math.max(end, 1024)) throw corrupt();
      const comps = [];
      let hmax = 1, vmax = 1;
      for (let i = 0; i < nc; i++) {
        const id = seg[6 + 3 * i];
        const h = seg[7 + 3 * i] >> 4;
        const v = seg[7 + 3 * i] & 15;
        const tq = seg[8 + 3 * i];
        if (h < 1 || h > 4 || v < 1 || v > 4 || tq > 3) throw unreadable();
        comps.push({ id, h, v, tq });
        hmax = Math.max(hmax, h);
        vmax = Math.max(vmax, v);
      }
      const mcusX = Math.ceil(width / (8 * hmax));
      const mcusY = Math.ceil(height / (8 * vmax));
      for (const c of comps) {
        if (hmax % c.h || vmax % c.v) throw unsupported('fractional sampling');
        c.blocksPerLine = mcusX * c.h;
        c.blocksPerColumn = mcusY * c.v;
        c.coefs = new Int16Array(c.blocksPerLine * c.blocksPerColumn * 64);
        c.pred = 0;
      }
      frame = { width, height, progressive: marker === 0xc2, comps, hmax, vmax, mcusX, mcusY };
    } else if (marker === 0xda) {
      if (!frame) throw unreadable();
      const ns = seg[0];
      if (!(ns >= 1 && ns <= 4) || seg.length < 4 + 2 * ns) throw bad();
      const scanComps = [];
      for (let i = 0; i < ns; i++) {
        const c = frame.comps.find((x) => x.id === seg[1 + 2 * i]);
        if (!c) throw bad();
        c.dcTable = dcTables[seg[2 + 2 * i] >> 4];
        c.acTable = acTables[seg[2 + 2 * i] & 15];
        scanComps.push(c);
      }
      const ss = seg[1 + 2 * ns];
      const se = seg[2 + 2 * ns];
      const ah = seg[3 + 2 * ns] >> 4;
      const al = seg[3 + 2 * ns] & 15;
      const prog = frame.progressive;
      for (const c of scanComps) {
        const needDc = !prog || (ss === 0 && ah === 0);
        const needAc = !prog || ss > 0;
        if ((needDc && !c.dcTable) || (needAc && !c.acTable)) throw corrupt();
      }
      if (prog && (se > 63 || ss > se || (ss === 0 && se !== 0) || (ss > 0 && ns !== 1) || al > 13)) throw corrupt();
      try {
        pos = decodeScan(data, segEnd, frame, scanComps, prog ? ss : 0, prog ? se : 63, ah, al, restartInterval);
      } catch (err) {
        if (err instanceof Truncated) throw corrupt();
        throw err;
      }
      scans++;
      if (!prog) {
        // baseline: every component was in this scan? then the image is complete
        const seen = frame.seen || (frame.seen = new Set());
        for (const c of scanComps) seen.add(c.id);
        if (seen.size === frame.comps.length) done = true;
      }
      continue;
    }
    pos = segEnd;
  }
  if (!frame || scans === 0) throw unreadable();
  for (const c of frame.comps) {
    if (!qt[c.tq]) throw corrupt();
  }
  return frameToRgb(frame, qt, sawJfif, adobeTransform);
}

/** Width and height from a JPEG's frame header, without decoding (null when absent). */
function jpegSize(data) {
  let pos = 2;
  while (pos + 4 <= data.length) {
    if (data[pos] !== 0xff) return null;
    const marker = data[pos + 1];
    if (marker === 0xff) { pos++; continue; }
    const len = readU16(data, pos + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (pos + 9 > data.length) return null;
      return { width: readU16(data, pos + 7), height: readU16(data, pos + 5) };
    }
    if (marker === 0xda) return null;
    pos += 2 + len;
  }
  return null;
}

// ---- colour.mjs
// Colour: the SDR -> HDR-space conversion both decoders share (docs/payload-format.md,
// "SDR in HDR space"), PQ, and the display conversions of the canvas view.
//
// "SDR in HDR space" of an 8-bit code v: c = float32(v / 255), linear = EOTF(c) * white
// (float64), BT.2020 = M x linear (float64, the matrices below), PQ-encode max(., 0) in
// float64, round to float32. Within a float32 rounding, these are gainmlp.colorimetry's
// sdr8_to_hdr_space values (which gets them from colour-science 0.4).



// Linear RGB -> linear BT.2020 (row-major), as colour-science's matrix_RGB_to_RGB gives them
// with chromatic_adaptation_transform=None (all D65). sRGB uses IEC 61966-2-1's rounded
// sRGB -> XYZ matrix (colour-science does), so it differs slightly from BT.709.
const TO_BT2020 = {
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
const BT2020_TO_BT709 = [1.6604910021084347, -0.5876411387885497, -0.07284986331988486,
  -0.12455047452159082, 1.1328998971259605, -0.008349422604369458,
  -0.01815076335490522, -0.10057889800800744, 1.1187296613629127];
const BT2020_TO_P3 = [1.3435782525843325, -0.28217967052613613, -0.06139858205819631,
  -0.06529745278911954, 1.0757879158485744, -0.010490463059454943,
  0.002821787261701058, -0.019598494524494192, 1.0167767072627931];

/** SDR EOTFs on code values in [0, 1] (colour-science's, display-relative). */
const SDR_EOTFS = {
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
function pqEncode(nits) {
  const y = Math.pow(Math.min(Math.max(nits, 0), 10000) / 10000, M1);
  return Math.pow((C1 + C2 * y) / (C3 * y + 1), M2);
}

/** PQ code value -> absolute luminance in cd/m2 (input clipped to [0, 1]). */
function pqDecode(code) {
  const v = Math.pow(Math.min(Math.max(code, 0), 1), 1 / M2);
  return 10000 * Math.pow(Math.max(v - C1, 0) / (C2 - C3 * v), 1 / M1);
}

/** Per 8-bit code: linear light in cd/m2 (float64), for an SDR encoding. */
function sdrLinearLut(transfer, whiteNits) {
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
function sdr8ToHdrSpace(pixels, nPixels, encoding, stride = 3, out = null, distinct = false) {
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
function indexColours(pixels, nPixels, stride = 3) {
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
function gatherColours(ids, values, channels = 3, out = null) {
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
function headroomWeight(headroomStops, capacityMin, capacityMax) {
  checkHeadroom(headroomStops);
  if (capacityMax <= capacityMin) return headroomStops >= capacityMax ? 1 : 0;
  return Math.min(Math.max((headroomStops - capacityMin) / (capacityMax - capacityMin), 0), 1);
}

/** Throws gainmlp.display's error unless `headroomStops` is a finite number >= 0. */
function checkHeadroom(headroomStops) {
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
function renderForHeadroom(hdr, ids, s, count, headroomStops, whiteNits) {
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
function toneMapToSrgb8(hdr, nPixels, { exposure = 0, peakNits = 1000, sdrWhite = 203, out = null } = {}) {
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
function toExtendedSrgb(hdr, nPixels, { target = 'p3', sdrWhite = 203, exposure = 0 } = {}) {
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

// ---- body.mjs
// Payload bodies (docs/payload-format.md): the Gain-MLP body (versions 1, 2, 3), the
// MLP-ITM body (version 1) and the conventional map body's header (version 1). Every field
// is checked before anything is allocated, with the Python decoder's checks and messages
// (gainmlp.codecs.mlp.format, .mlp.grid, .mlp_itm.format, .body_fields, .conventional).
// Weights come back as Float32Array matrices, row-major (out x in).



const MAX_INPUTS = 16, MAX_FREQUENCIES = 24, MAX_HIDDEN_LAYERS = 8, MAX_OUTPUTS = 16, MAX_WIDTH = 1024;
const MAX_GRIDS = 4, MIN_GRID_SIDE = 2, MAX_GRID_SIDE = 256, MAX_GRID_CHANNELS = 8;
const MAX_GRID_FEATURES = 16, MAX_GRID_DEPTH = 64, MAX_GRID_VALUES = 1 << 20;

// ---------------------------------------------------------------- IEEE binary16

const HALF = new Float32Array(65536);
for (let h = 0; h < 65536; h++) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  HALF[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1024 + m) * 2 ** (e - 25);
}

/** `count` little-endian values of `precision` ('fp32'|'fp16') at `offset`, as float32. */
function readFloats(data, offset, count, precision) {
  const out = new Float32Array(count);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (precision === 'fp32') {
    for (let i = 0; i < count; i++) out[i] = dv.getFloat32(offset + 4 * i, true);
  } else {
    for (let i = 0; i < count; i++) out[i] = HALF[dv.getUint16(offset + 2 * i, true)];
  }
  return out;
}

function allFinite(arr) {
  for (let i = 0; i < arr.length; i++) if (!Number.isFinite(arr[i])) return false;
  return true;
}

// ---------------------------------------------------------------- shared fields (body_fields)

const ITEM = { fp32: 4, fp16: 2, u8: 1, u8z: 1 };

function fieldName(codes, code, codec, what) {
  const name = codes[code];
  if (name === undefined) throw new GainMLPError(`${codec} body has unknown ${what} code ${code}`);
  return name;
}

function checkBodyVersion(version, supported, codec) {
  if (!supported.includes(version)) {
    throw new GainMLPError(`${codec} body version ${version} is not supported ` +
      `(this gainmlp reads ${pyTuple(supported)})`);
  }
}

function normalisationBytes(nIn, nOut) {
  return 8 * nIn + 16 * nOut;
}

function unpackNormalisation(data, offset, nIn, nOut, codec) {
  const ins = readFloats(data, offset, 2 * nIn, 'fp32');
  const outs = readFloats(data, offset + 8 * nIn, 4 * nOut, 'fp32');
  if (!allFinite(ins) || !allFinite(outs)) {
    throw new GainMLPError(`${codec} body holds non-finite normalisation constants`);
  }
  const pick = (arr, stride, k, n) => Float32Array.from({ length: n }, (_, i) => arr[i * stride + k]);
  const norm = {
    inCentre: pick(ins, 2, 0, nIn), inScale: pick(ins, 2, 1, nIn),
    outCentre: pick(outs, 4, 0, nOut), outScale: pick(outs, 4, 1, nOut),
    outMin: pick(outs, 4, 2, nOut), outMax: pick(outs, 4, 3, nOut),
  };
  if (norm.inScale.some((v) => v <= 0) || norm.outScale.some((v) => v <= 0)) {
    throw new GainMLPError(`${codec} body holds a non-positive normalisation scale`);
  }
  if (norm.outMin.some((v, i) => v > norm.outMax[i])) {
    throw new GainMLPError(`${codec} body holds an output minimum above its maximum`);
  }
  return norm;
}

// ---------------------------------------------------------------- Gain-MLP body (mlp.format)

const ACTIVATIONS = { 1: 'relu', 2: 'sine' };
const PRECISIONS = { 1: 'fp32', 2: 'fp16' };
const GRID_PRECISIONS = { 1: 'fp32', 2: 'fp16', 3: 'u8', 4: 'u8z' };
const TRANSFORMS = { 0: 'linear', 1: 'log2' };

/** Grid limits (gainmlp.codecs.mlp.grid.check_grid_shapes); shapes are arrays of dims. */
function checkGridShapes(shapes) {
  if (!(shapes.length >= 1 && shapes.length <= MAX_GRIDS)) {
    throw new GainMLPError(`${shapes.length} grids, expected 1..${MAX_GRIDS}`);
  }
  for (const shape of shapes) {
    const [rows, cols, bins, chans] = shape.length === 3 ? [shape[0], shape[1], 1, shape[2]] : shape;
    const name = shape.join('x');
    if (!(rows >= MIN_GRID_SIDE && rows <= MAX_GRID_SIDE && cols >= MIN_GRID_SIDE && cols <= MAX_GRID_SIDE &&
      chans >= 1 && chans <= MAX_GRID_CHANNELS)) {
      throw new GainMLPError(`grid ${name} is outside the limits (${MIN_GRID_SIDE}..${MAX_GRID_SIDE} per side, ` +
        `1..${MAX_GRID_CHANNELS} channels)`);
    }
    if (shape.length === 4 && !(bins >= 2 && bins <= MAX_GRID_DEPTH)) {
      throw new GainMLPError(`grid ${name} has ${bins} luma bins, outside 2..${MAX_GRID_DEPTH}`);
    }
    if (rows * cols * bins * chans > MAX_GRID_VALUES) {
      throw new GainMLPError(`grid ${name} has more than ${MAX_GRID_VALUES} values`);
    }
  }
  if (shapes.reduce((s, x) => s + x[x.length - 1], 0) > MAX_GRID_FEATURES) {
    throw new GainMLPError(`grids have more than ${MAX_GRID_FEATURES} channels in all`);
  }
}

function gridHeadSize(shapes, precision) {
  const nChan = shapes.reduce((s, x) => s + x[x.length - 1], 0);
  const dims = shapes.some((s) => s.length === 4) ? 8 + 6 * shapes.length : 5 * shapes.length;
  return 4 + dims + (precision === 'u8' || precision === 'u8z' ? 8 * nChan : 0);
}

function fanIns(nIn, nFreq, hidden, nGrid, entry) {
  const fans = [2 * nFreq * nIn + 1, ...hidden];
  if (nGrid) fans[entry - 1] += nGrid;
  return fans;
}

function mlpBodySize(nIn, nFreq, hidden, nOut, precision, shapes, entry, gridPrecision) {
  let size = 8 + 2 * hidden.length + normalisationBytes(nIn, nOut);
  const nGrid = shapes.reduce((s, x) => s + x[x.length - 1], 0);
  const outs = [...hidden, nOut];
  let count = 0;
  fanIns(nIn, nFreq, hidden, nGrid, entry).forEach((fan, layer) => { count += outs[layer] * fan; });
  size += count * ITEM[precision];
  if (shapes.length) {
    const values = shapes.reduce((s, x) => s + x.reduce((p, d) => p * d, 1), 0);
    size += gridHeadSize(shapes, gridPrecision) + values * ITEM[gridPrecision];
  }
  return size;
}

function unpackGridSection(data, off, nHidden, bilateral) {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < off + 4) throw new GainMLPError('MLP body is truncated inside its grid section');
  const [count, entry, prec, reserved] = data.subarray(off, off + 4);
  off += 4;
  if (!(count >= 1 && count <= MAX_GRIDS) || reserved !== 0) {
    throw new GainMLPError(`MLP body declares ${count} grids (limit ${MAX_GRIDS}) or a non-zero reserved byte`);
  }
  if (!(entry >= 1 && entry <= nHidden)) {
    throw new GainMLPError(`MLP body's grids enter layer ${entry}, outside 1..${nHidden}`);
  }
  const precision = fieldName(GRID_PRECISIONS, prec, 'MLP', 'grid precision');
  let guide = [0, 1];
  if (bilateral) {
    if (data.length < off + 8) throw new GainMLPError('MLP body is truncated inside its grid guide range');
    const low = dv.getFloat32(off, true);
    const high = dv.getFloat32(off + 4, true);
    off += 8;
    if (!(Number.isFinite(low) && Number.isFinite(high) && high > low)) {
      throw new GainMLPError('MLP body holds a bad grid guide range');
    }
    guide = [low, high];
  }
  const dimSize = bilateral ? 6 : 5;
  if (data.length < off + dimSize * count) throw new GainMLPError('MLP body is truncated inside its grid shapes');
  let shapes = [];
  for (let i = 0; i < count; i++) {
    const p = off + dimSize * i;
    const rows = dv.getUint16(p, true), cols = dv.getUint16(p + 2, true);
    if (bilateral) {
      const bins = data[p + 4], chans = data[p + 5];
      shapes.push(bins === 1 ? [rows, cols, chans] : [rows, cols, bins, chans]);
    } else {
      shapes.push([rows, cols, data[p + 4]]);
    }
  }
  off += dimSize * count;
  checkGridShapes(shapes);
  let consts = new Float32Array(0);
  if (precision === 'u8' || precision === 'u8z') {
    const nChan = shapes.reduce((s, x) => s + x[x.length - 1], 0);
    if (data.length < off + 8 * nChan) throw new GainMLPError('MLP body is truncated inside its grid constants');
    consts = readFloats(data, off, 2 * nChan, 'fp32');
    let bad = !allFinite(consts);
    for (let c = 0; c < nChan; c++) if (consts[2 * c + 1] <= 0) bad = true;
    if (bad) throw new GainMLPError('MLP body holds bad grid quantisation constants');
  }
  shapes = shapes.map((s) => s.slice());
  return { shapes, entry, precision, consts, guide };
}

// ---------------------------------------------------------------- coded grids (precision u8z)

const INFLATED = new WeakMap(); // body -> inflated grid values, filled by inflateGrids

/** Node's synchronous raw inflate (zlib), or null in a browser. */
function nodeInflateRaw() {
  const zlib = globalThis.process?.getBuiltinModule?.('node:zlib');
  return zlib ? zlib.inflateRawSync : null;
}

function inflateError(size) {
  return new GainMLPError(`MLP body's coded grid values do not inflate to exactly ${size} bytes`);
}

/** The grid values of a u8z body: inflated by inflateGrids before, or by Node's zlib here. */
function inflatedValues(body, stream, size) {
  let out = INFLATED.get(body);
  if (out === undefined) {
    const inflateRaw = nodeInflateRaw();
    if (!inflateRaw) {
      throw new GainMLPError('this payload stores its grids deflate-coded: decode it with the ' +
        'asynchronous decodeGainmlp (decodeGainmlpSync needs Node here)');
    }
    try { // info: how much input the stream used (bytes after its end are an error)
      const { buffer, engine } = inflateRaw(stream, { maxOutputLength: size + 1, info: true });
      out = engine.bytesWritten === stream.length ? new Uint8Array(buffer) : null;
    } catch {
      throw inflateError(size);
    }
  }
  if (!(out instanceof Uint8Array) || out.length !== size) throw inflateError(size);
  return out;
}

/**
 * Inflate a u8z body's grid values with the platform's DecompressionStream('deflate-raw')
 * (browsers and Node), so that unpackMlpBody(body) finds them; a no-op for other bodies.
 * Await it before unpackMlpBody where Node's synchronous zlib is not available (browsers).
 */
async function inflateGrids(body) {
  if (INFLATED.has(body) || body.length < 8 || !(body[0] === 2 || body[0] === 3)) return;
  const nHidden = body[6];
  const headEnd = 8 + 2 * nHidden + normalisationBytes(body[4], body[7]);
  if (body.length < headEnd + 4 || body[headEnd + 2] !== 4) return;
  let grid, expected;
  try { // the checks unpackMlpBody makes, to learn where the stream starts and its size
    const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const hidden = Array.from({ length: nHidden }, (_, i) => dv.getUint16(8 + 2 * i, true));
    grid = unpackGridSection(body, headEnd, nHidden, body[0] === 3);
    expected = mlpBodySize(body[4], body[5], hidden, body[7], PRECISIONS[body[2]] || 'fp32', grid.shapes,
      grid.entry, grid.precision);
  } catch {
    return; // unpackMlpBody gives the error
  }
  const size = grid.shapes.reduce((s, x) => s + x.reduce((p, d) => p * d, 1), 0);
  if (body.length <= expected - size) return;
  const stream = body.subarray(expected - size);
  const out = await inflateRaw(stream, size);
  // the stream must end at the body's last byte: without that byte it must not inflate
  // (not every DecompressionStream refuses bytes after the end of the stream)
  const ends = out !== null && (await inflateRaw(stream.subarray(0, stream.length - 1), size)) === null;
  INFLATED.set(body, ends ? out : null);
}

/** DecompressionStream('deflate-raw') of `stream`: exactly `size` bytes, else null. */
async function inflateRaw(stream, size) {
  const out = new Uint8Array(size);
  let got = 0;
  try {
    const chunks = new Blob([stream]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    for await (const chunk of chunks) {
      if (got + chunk.length > size) return null;
      out.set(chunk, got);
      got += chunk.length;
    }
  } catch {
    return null; // a corrupt or truncated stream
  }
  return got === size ? out : null;
}

/**
 * One grid's u8 values (shape [rows, cols, C] or [rows, cols, bins, C], channels interleaved)
 * from its coded bytes: per channel, a plane of rows x (cols * bins) residuals (v minus the
 * mean of the left and upper neighbours rounded down; the left one on the first row, the
 * upper one in the first column, 0 at the origin), modulo 256 (gainmlp.codecs.mlp.grid).
 */
function restoreResiduals(res, shape) {
  const chans = shape[shape.length - 1];
  const rows = shape[0];
  const k = shape.slice(1, -1).reduce((p, d) => p * d, 1);
  const out = new Uint8Array(rows * k * chans);
  const v = new Uint8Array(rows * k);
  for (let c = 0; c < chans; c++) {
    const base = c * rows * k;
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < k; j++) {
        const i = r * k + j;
        const pred = r === 0 ? (j === 0 ? 0 : v[i - 1]) : j === 0 ? v[i - k] : (v[i - 1] + v[i - k]) >> 1;
        v[i] = (res[base + i] + pred) & 0xff;
        out[i * chans + c] = v[i];
      }
    }
  }
  return out;
}

/**
 * Parse and check a Gain-MLP body (versions 1-3).
 * @returns params: activation, outputTransform, precision, nFrequencies, nInputs, nOutputs,
 *   hidden (widths), normalisation (inCentre, ...), weights [{rows, cols, data}],
 *   grids [{shape:[rows, cols, bins, C], data}] (bins 1 for plain grids), gridEntry,
 *   gridGuide [low, high], version
 */
function unpackMlpBody(body) {
  const data = body;
  if (data.length < 8) throw new GainMLPError(`MLP body is truncated (${data.length} bytes)`);
  const [version, act, prec, transform, nIn, nFreq, nHidden, nOut] = data.subarray(0, 8);
  checkBodyVersion(version, [1, 2, 3], 'MLP');
  const activation = fieldName(ACTIVATIONS, act, 'MLP', 'activation');
  const precision = fieldName(PRECISIONS, prec, 'MLP', 'precision');
  const outputTransform = fieldName(TRANSFORMS, transform, 'MLP', 'output transform');
  if (!(nIn >= 1 && nIn <= MAX_INPUTS && nFreq >= 1 && nFreq <= MAX_FREQUENCIES &&
    nHidden >= 1 && nHidden <= MAX_HIDDEN_LAYERS && nOut >= 1 && nOut <= MAX_OUTPUTS)) {
    throw new GainMLPError(`MLP body declares an absurd shape (${nIn} inputs, ${nFreq} frequencies, ` +
      `${nHidden} hidden layers, ${nOut} outputs)`);
  }
  let off = 8;
  if (data.length < off + 2 * nHidden) throw new GainMLPError('MLP body is truncated inside its hidden widths');
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const hidden = [];
  for (let i = 0; i < nHidden; i++) hidden.push(dv.getUint16(off + 2 * i, true));
  off += 2 * nHidden;
  for (const w of hidden) {
    if (!(w >= 1 && w <= MAX_WIDTH)) {
      throw new GainMLPError(`MLP body declares an absurd hidden width ${w} (limit ${MAX_WIDTH})`);
    }
  }
  const headEnd = off + normalisationBytes(nIn, nOut);
  let grid = { shapes: [], entry: 1, precision: 'fp16', consts: new Float32Array(0), guide: [0, 1] };
  if (version === 2 || version === 3) grid = unpackGridSection(data, headEnd, nHidden, version === 3);
  const expected = mlpBodySize(nIn, nFreq, hidden, nOut, precision, grid.shapes, grid.entry, grid.precision);
  let coded = null; // grid precision u8z: the values are a deflate stream after the weights
  if (grid.precision === 'u8z') {
    const values = grid.shapes.reduce((s, x) => s + x.reduce((p, d) => p * d, 1), 0);
    if (data.length <= expected - values) {
      throw new GainMLPError(`MLP body has ${data.length} bytes but its declared shape needs ` +
        `${expected - values} and coded grid values`);
    }
    coded = inflatedValues(body, data.subarray(expected - values), values);
  } else if (data.length !== expected) {
    throw new GainMLPError(`MLP body has ${data.length} bytes but its declared shape needs ${expected}`);
  }
  const norm = unpackNormalisation(data, off, nIn, nOut, 'MLP');
  off = headEnd;
  if (grid.shapes.length) off += gridHeadSize(grid.shapes, grid.precision);
  const nGrid = grid.shapes.reduce((s, x) => s + x[x.length - 1], 0);
  const fans = fanIns(nIn, nFreq, hidden, nGrid, grid.entry);
  const weights = [];
  [...hidden, nOut].forEach((rows, layer) => {
    const cols = fans[layer];
    const w = readFloats(data, off, rows * cols, precision);
    off += rows * cols * ITEM[precision];
    if (!allFinite(w)) throw new GainMLPError('MLP body holds non-finite weights');
    weights.push({ rows, cols, data: w });
  });
  const grids = [];
  let ch0 = 0;
  for (const shape of grid.shapes) {
    const chans = shape[shape.length - 1];
    const count = shape.reduce((p, d) => p * d, 1);
    let g;
    if (grid.precision === 'u8' || grid.precision === 'u8z') {
      const q = coded ? restoreResiduals(coded.subarray(0, count), shape) : data.subarray(off, off + count);
      if (coded) coded = coded.subarray(count); else off += count;
      g = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const c = ch0 + (i % chans);
        // float32(low + float32(q * step)), as numpy evaluates it
        g[i] = Math.fround(grid.consts[2 * c] + Math.fround(q[i] * grid.consts[2 * c + 1]));
      }
    } else {
      g = readFloats(data, off, count, grid.precision);
      off += count * ITEM[grid.precision];
    }
    if (!allFinite(g)) throw new GainMLPError('MLP body holds non-finite grid values');
    const full = shape.length === 3 ? [shape[0], shape[1], 1, shape[2]] : shape;
    grids.push({ shape: full, data: g });
    ch0 += chans;
  }
  return {
    version, activation, precision, outputTransform, nFrequencies: nFreq, nInputs: nIn, nOutputs: nOut,
    hidden, ...norm, weights, grids, gridEntry: grid.entry, gridGuide: grid.guide, gridPrecision: grid.precision,
  };
}

// ---------------------------------------------------------------- MLP-ITM body (mlp_itm.format)

const ITM_HEADER = 12 + normalisationBytes(5, 3); // 100

function itmLayerShapes(fs, fc, ls, lc, ws, wc) {
  const spatial = [[ws, 4 * fs]];
  for (let i = 0; i < ls - 1; i++) spatial.push([ws, ws]);
  spatial.push([2 * wc, ws]);
  const colour = [[wc, 6 * fc]];
  for (let i = 0; i < lc - 1; i++) colour.push([wc, wc]);
  colour.push([3, wc]);
  return [spatial, colour];
}

/** Parse and check an MLP-ITM body (version 1): spatial and colour layers {w, b, rows, cols}. */
function unpackItmBody(body) {
  const data = body;
  if (data.length < ITM_HEADER) throw new GainMLPError(`MLP-ITM body is truncated (${data.length} bytes)`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const [version, act, prec, fusion, fs, fc, ls, lc] = data.subarray(0, 8);
  const ws = dv.getUint16(8, true);
  const wc = dv.getUint16(10, true);
  checkBodyVersion(version, [1], 'MLP-ITM');
  fieldName({ 1: 'relu' }, act, 'MLP-ITM', 'activation');
  const precision = fieldName(PRECISIONS, prec, 'MLP-ITM', 'precision');
  fieldName({ 1: 'film' }, fusion, 'MLP-ITM', 'fusion');
  if (!(fs >= 1 && fs <= MAX_FREQUENCIES && fc >= 1 && fc <= MAX_FREQUENCIES)) {
    throw new GainMLPError(`MLP-ITM declares ${fs}/${fc} frequencies, outside 1..${MAX_FREQUENCIES}`);
  }
  if (!(ls >= 1 && ls <= MAX_HIDDEN_LAYERS && lc >= 1 && lc <= MAX_HIDDEN_LAYERS)) {
    throw new GainMLPError(`MLP-ITM declares ${ls}/${lc} hidden layers, outside 1..${MAX_HIDDEN_LAYERS}`);
  }
  if (!(ws >= 1 && ws <= MAX_WIDTH && wc >= 1 && wc <= MAX_WIDTH)) {
    throw new GainMLPError(`MLP-ITM declares an absurd hidden width (${ws}/${wc}, limit ${MAX_WIDTH})`);
  }
  const [spatialShapes, colourShapes] = itmLayerShapes(fs, fc, ls, lc, ws, wc);
  const nParams = [...spatialShapes, ...colourShapes].reduce((s, [o, i]) => s + o * i + o, 0);
  const expected = ITM_HEADER + nParams * ITEM[precision];
  if (data.length !== expected) {
    throw new GainMLPError(`MLP-ITM body has ${data.length} bytes but its declared shape needs ${expected}`);
  }
  const norm = unpackNormalisation(data, 12, 5, 3, 'MLP-ITM');
  let off = ITM_HEADER;
  const layers = [];
  for (const [rows, cols] of [...spatialShapes, ...colourShapes]) {
    const w = readFloats(data, off, rows * cols, precision);
    off += rows * cols * ITEM[precision];
    const b = readFloats(data, off, rows, precision);
    off += rows * ITEM[precision];
    if (!allFinite(w) || !allFinite(b)) throw new GainMLPError('MLP-ITM body holds non-finite weights');
    layers.push({ rows, cols, w, b });
  }
  return {
    version, precision, spatialFrequencies: fs, colourFrequencies: fc, spatialWidth: ws, colourWidth: wc,
    ...norm, spatial: layers.slice(0, spatialShapes.length), colour: layers.slice(spatialShapes.length),
  };
}

// ---------------------------------------------------------------- conventional body (codecs.conventional)

const MAP_FORMATS = { 1: 'jpeg', 2: 'heic', 3: 'jxl', 4: 'avif' };

/** The conventional body's header, checked against the image size (codecs.conventional). */
function unpackMapBody(method, body, width, height) {
  const fmt = method.split('-')[1];
  if (body.length < 32) throw new GainMLPError('gain-map body is truncated');
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const [version, fmtCode, scale, quality] = body.subarray(0, 4);
  const lo = [0, 1, 2].map((i) => dv.getFloat32(4 + 4 * i, true));
  const hi = [0, 1, 2].map((i) => dv.getFloat32(16 + 4 * i, true));
  const mw = dv.getUint16(28, true);
  const mh = dv.getUint16(30, true);
  if (version !== 1) throw new GainMLPError(`gain-map body version ${version} is not supported`);
  if (MAP_FORMATS[fmtCode] !== fmt) {
    throw new GainMLPError(`gain-map body holds format code ${fmtCode}, method says ${fmt}`);
  }
  const ok = [...lo, ...hi].every((v) => Number.isFinite(v) && Math.abs(v) < 64) &&
    hi.every((v, i) => v > lo[i]);
  if (!ok) throw new GainMLPError('gain-map body has invalid normalisation bounds');
  if (mw > width || mh > height) {
    throw new GainMLPError(`gain map ${mw}x${mh} is larger than the image ${width}x${height}`);
  }
  return { format: fmt, scale, quality, lo, hi, mapWidth: mw, mapHeight: mh, image: body.subarray(32) };
}

// ---- mlp_wasm.mjs
// The Gain-MLP per-pixel kernel as WebAssembly SIMD (f32x4: four pixels of a row at a time),
// generated for the body's shape at decode time (no build step, no toolchain: the module's
// bytes are written here). It reads the per-colour tables of mlp_fast.mjs (rounded to
// float32) and evaluates the network in float32, like gainmlp's Python decoder; the hidden
// sines and 2^x use a Cody-Waite range reduction and polynomials (no Math calls).
//
// Memory layout (bytes, fixed per decode): the colour term (count x h1), the residual's
// per-colour part (count x 4), the bilateral taps (per grid, count x 3), the column terms
// transposed (h1 x Wp), the grids' x taps (per grid, 3 x Wp), the grids' current row, the
// current row's terms (h1), its colour numbers (Wp), its output (Wp x 3, RGB interleaved).

const F32 = 0x7d, I32 = 0x7f, V128 = 0x7b;
const MAX_BYTES = 1 << 30;

function uleb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function sleb(n) {
  const out = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && (b & 0x40))) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const f32Bytes = (x) => [...new Uint8Array(new Float32Array([x]).buffer)];
const i32Bytes = (x) => [...new Uint8Array(new Int32Array([x]).buffer)];
const simd = (op) => [0xfd, ...uleb(op)];
const OP = {
  v128load: 0x00, v128store: 0x0b, v128const: 0x0c, i32x4splat: 0x11, f32x4splat: 0x13,
  f32x4replace: 0x20, xor: 0x51, nearest: 0x6a, i32x4shl: 0xab, i32x4add: 0xae,
  f32add: 0xe4, f32sub: 0xe5, f32mul: 0xe6, f32min: 0xe8, f32max: 0xe9, truncSat: 0xf8,
};

/** A function body under construction: named locals and a byte buffer. */
class Body {
  constructor() {
    this.code = [];
    this.locals = new Map();
    this.types = [];
  }

  local(name, type) {
    if (!this.locals.has(name)) {
      this.locals.set(name, this.types.length);
      this.types.push(type);
    }
    return this.locals.get(name);
  }

  emit(...bytes) {
    for (const b of bytes) this.code.push(b);
  }

  get(name) { this.emit(0x20, ...uleb(this.locals.get(name))); }
  set(name, type) { this.emit(0x21, ...uleb(this.local(name, type))); }
  i32(v) { this.emit(0x41, ...sleb(v | 0)); }
  i32load(offset) { this.emit(0x28, 2, ...uleb(offset)); }
  f32load(offset) { this.emit(0x2a, 2, ...uleb(offset)); }
  vload(offset) { this.emit(...simd(OP.v128load), 4, ...uleb(offset)); }
  vstore(offset) { this.emit(...simd(OP.v128store), 4, ...uleb(offset)); }
  vconst(x) { this.emit(...simd(OP.v128const), ...f32Bytes(x), ...f32Bytes(x), ...f32Bytes(x), ...f32Bytes(x)); }
  /** i8x16.shuffle of the two v128 on the stack, by f32 lanes (0-3: first, 4-7: second) */
  shuffle(lanes) { this.emit(...simd(0x0d), ...lanes.flatMap((q) => [4 * q, 4 * q + 1, 4 * q + 2, 4 * q + 3])); }
  /**
   * Loads a v128 at (local + offset) for each of the four lanes' address locals and
   * transposes them: out[j] (v128 locals) = element j of the four lanes' rows, j < n.
   */
  rows4(addrs, offset, out) {
    const r = ['tq0', 'tq1', 'tq2', 'tq3'];
    addrs.forEach((a, l) => { this.get(a); this.vload(offset); this.set(r[l], V128); });
    this.get(r[0]); this.get(r[1]); this.shuffle([0, 4, 1, 5]); this.set('tu0', V128);
    this.get(r[0]); this.get(r[1]); this.shuffle([2, 6, 3, 7]); this.set('tu1', V128);
    this.get(r[2]); this.get(r[3]); this.shuffle([0, 4, 1, 5]); this.set('tu2', V128);
    this.get(r[2]); this.get(r[3]); this.shuffle([2, 6, 3, 7]); this.set('tu3', V128);
    const parts = [['tu0', 'tu2', [0, 1, 4, 5]], ['tu0', 'tu2', [2, 3, 6, 7]], ['tu1', 'tu3', [0, 1, 4, 5]],
      ['tu1', 'tu3', [2, 3, 6, 7]]];
    out.forEach((name, j) => {
      if (!name) return;
      const [x, y, m] = parts[j];
      this.get(x); this.get(y); this.shuffle(m); this.set(name, V128);
    });
  }
  vconstI(x) { this.emit(...simd(OP.v128const), ...i32Bytes(x), ...i32Bytes(x), ...i32Bytes(x), ...i32Bytes(x)); }
  op(name) { this.emit(...simd(OP[name])); }

  /** A v128 of the f32 at (lane address local + offset) for the four lanes' address locals. */
  gather(addrs, offset) {
    this.get(addrs[0]);
    this.f32load(offset);
    this.op('f32x4splat');
    for (let l = 1; l < 4; l++) {
      this.get(addrs[l]);
      this.f32load(offset);
      this.emit(...simd(OP.f32x4replace), l);
    }
  }

  /** sum of terms (each a callback emitting one v128) as a balanced tree */
  sum(terms) {
    if (terms.length === 1) {
      terms[0]();
      return;
    }
    const half = Math.ceil(terms.length / 2);
    this.sum(terms.slice(0, half));
    this.sum(terms.slice(half));
    this.op('f32add');
  }

  bytes() {
    const groups = [];
    for (const t of this.types) {
      if (groups.length && groups[groups.length - 1][1] === t) groups[groups.length - 1][0]++;
      else groups.push([1, t]);
    }
    const body = [...uleb(groups.length), ...groups.flatMap(([n, t]) => [...uleb(n), t]), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

// pi in three float32 pieces of 11 significant bits (j * piece exact for |j| < 2^13)
function split11(x) {
  const e = Math.floor(Math.log2(Math.abs(x)));
  const q = 2 ** (e - 10);
  return Math.round(x / q) * q;
}
const PI_1 = split11(Math.PI);
const PI_2 = split11(Math.PI - PI_1);
const PI_3 = Math.fround(Math.PI - PI_1 - PI_2);
// sin(r) ~ r + r^3 (S1 + r^2 (S2 + r^2 (S3 + r^2 S4))) on [-pi/2, pi/2]: the Python kernel's
// degree-9 polynomial (gainmlp.kernels.mlp; error 4.6e-9, below float32's rounding)
const SIN9 = [-0.16666657096221318, 0.008333017286025805, -0.00019806614866144087, 2.6000541261807303e-06];
const ROUND = 12582912; // 1.5 * 2^23: x / pi + ROUND has round(x / pi) in its low mantissa bits
// 2^f on [-1/2, 1/2], degree 6 (the Python kernel's; relative error 2.6e-9)
const EXP2_6 = [0.9999999999595485, 0.69314720671062, 0.24022651213595325, 0.055503272142092566,
  0.009618025602956914, 0.001340043216536728, 0.0001546973197598277];

/** out = sin(x) for the v128 local x (temporaries tj, tr, tz). */
function emitSin(b, x, out) {
  // tj = x / pi + 1.5 * 2^23 (k = round(x / pi) = tj - 1.5 * 2^23; k's parity: tj's low bit)
  b.get(x); b.vconst(1 / Math.PI); b.op('f32mul'); b.vconst(ROUND); b.op('f32add'); b.set('tj', V128);
  b.get('tj'); b.vconst(ROUND); b.op('f32sub'); b.set('tk', V128);
  b.get(x); b.get('tk'); b.vconst(PI_1); b.op('f32mul'); b.op('f32sub');
  b.get('tk'); b.vconst(PI_2); b.op('f32mul'); b.op('f32sub');
  b.get('tk'); b.vconst(PI_3); b.op('f32mul'); b.op('f32sub'); b.set('tr', V128);
  b.get('tr'); b.get('tr'); b.op('f32mul'); b.set('tz', V128);
  b.vconst(SIN9[3]);
  for (let k = 2; k >= 0; k--) {
    b.get('tz'); b.op('f32mul'); b.vconst(SIN9[k]); b.op('f32add');
  }
  b.get('tz'); b.op('f32mul'); b.get('tr'); b.op('f32mul'); b.get('tr'); b.op('f32add');
  // (-1)^k: the low bit of tj moved to the sign bit
  b.get('tj'); b.i32(31); b.op('i32x4shl'); b.op('xor');
  b.set(out, V128);
}

/** leaves 2^x on the stack for the v128 local x (temporaries tx, tk, tr). */
function emitExp2(b, x) {
  // x clamped to [-126, 127] first (2^-126 ~ 0 and 2^127 ~ inf for what follows: the
  // residual is clipped to [0, 1]), so that r = x - k stays in [-1/2, 1/2]
  b.get(x); b.vconst(-126); b.op('f32max'); b.vconst(127); b.op('f32min'); b.set('tx', V128);
  b.get('tx'); b.op('nearest'); b.set('tk', V128);
  b.get('tx'); b.get('tk'); b.op('f32sub'); b.set('tr', V128);
  b.vconst(EXP2_6[6]);
  for (let n = 5; n >= 0; n--) {
    b.get('tr'); b.op('f32mul'); b.vconst(EXP2_6[n]); b.op('f32add');
  }
  b.get('tk'); b.op('truncSat'); b.vconstI(127); b.op('i32x4add'); b.i32(23); b.op('i32x4shl');
  b.op('f32mul');
}

function layout(prep, count) {
  const { h1, width, grids } = prep;
  const Wp = Math.ceil(width / 4) * 4;
  let at = 0;
  const take = (bytes) => {
    const here = at;
    at += Math.ceil(bytes / 16) * 16;
    return here;
  };
  const L = { Wp };
  L.term = take(count * h1 * 4);
  L.res = take(count * 16);
  L.z = grids.map((g) => (g.bins > 1 ? take(count * 12) : -1));
  L.col = take(h1 * Wp * 4);
  L.gx = grids.map(() => take(3 * Wp * 4));
  L.v = grids.map((g) => take(g.cols * g.bins * g.chans * 4));
  L.row = take(h1 * 4);
  L.ids = take(Wp * 4);
  L.out = take(3 * Wp * 4);
  L.bytes = at;
  return L;
}

function moduleBytes(prep, kind, eps, L, pages) {
  const { params, h1, wGrid, nGrid, entry, layers, grids } = prep;
  const b = new Body();
  const Wp4 = L.Wp * 4;
  // per row: the row terms as splats
  for (let o = 0; o < h1; o++) {
    b.i32(0); b.f32load(L.row + 4 * o); b.op('f32x4splat'); b.set(`q${o}`, V128);
  }
  b.i32(0); b.set('i', I32);
  b.emit(0x03, 0x40); // loop
  const lanes = [0, 1, 2, 3];
  for (const l of lanes) {
    b.get('i'); b.i32load(L.ids + 4 * l); b.set(`id${l}`, I32);
    b.get(`id${l}`); b.i32(h1 * 4); b.emit(0x6c); b.set(`tb${l}`, I32); // term row (bytes)
    b.get(`id${l}`); b.i32(16); b.emit(0x6c); b.set(`rb${l}`, I32); // residual row
  }
  const tb = lanes.map((l) => `tb${l}`), rb = lanes.map((l) => `rb${l}`);
  // each lane's colour row read whole (four v128) and transposed, when h1 is a multiple of 4
  for (let o = 0; o < h1; o++) {
    if (h1 % 4 === 0) {
      if (o % 4 === 0) b.rows4(tb, L.term + 4 * o, [0, 1, 2, 3].map((j) => `ct${j}`));
      b.get(`ct${o % 4}`);
    } else b.gather(tb, L.term + 4 * o);
    b.get('i'); b.vload(L.col + o * Wp4); b.get(`q${o}`); b.op('f32add');
    b.op('f32add');
    b.set(`a${o}`, V128);
  }
  // grid features
  const feats = [];
  grids.forEach((g, k) => {
    for (const l of lanes) {
      b.get('i'); b.i32load(L.gx[k] + 4 * l); b.set(`x0_${l}`, I32);
      b.get('i'); b.i32load(L.gx[k] + Wp4 + 4 * l); b.set(`x1_${l}`, I32);
    }
    b.get('i'); b.vload(L.gx[k] + 2 * Wp4); b.set('fx', V128);
    const x0 = lanes.map((l) => `x0_${l}`), x1 = lanes.map((l) => `x1_${l}`);
    if (g.bins > 1) {
      for (const l of lanes) {
        b.get(`id${l}`); b.i32(12); b.emit(0x6c); b.set(`zb${l}`, I32);
        b.get(`zb${l}`); b.i32load(L.z[k]); b.set(`z0_${l}`, I32);
        b.get(`zb${l}`); b.i32load(L.z[k] + 4); b.set(`z1_${l}`, I32);
        for (const [name, xs, zs] of [['ga', 'x0_', 'z0_'], ['gb', 'x1_', 'z0_'], ['gc', 'x0_', 'z1_'], ['gd', 'x1_', 'z1_']]) {
          b.get(`${xs}${l}`); b.get(`${zs}${l}`); b.emit(0x6a); b.set(`${name}${l}`, I32);
        }
      }
      b.gather(lanes.map((l) => `zb${l}`), L.z[k] + 8);
      b.set('zw', V128);
    }
    if (g.bins === 1 && g.chans === 4) {
      // the two grid columns' four channels read whole per lane and transposed
      const fa = [0, 1, 2, 3].map((c) => `fa${c}`), fb = [0, 1, 2, 3].map((c) => `fb${c}`);
      b.rows4(x0, L.v[k], fa);
      b.rows4(x1, L.v[k], fb);
      for (let c = 0; c < 4; c++) {
        const f = `f${k}_${c}`;
        b.get(fa[c]); b.get(fb[c]); b.get(fa[c]); b.op('f32sub'); b.get('fx'); b.op('f32mul'); b.op('f32add');
        b.set(f, V128);
        feats.push(f);
      }
      return;
    }
    for (let c = 0; c < g.chans; c++) {
      const f = `f${k}_${c}`;
      const off = L.v[k] + 4 * c;
      if (g.bins === 1) {
        b.gather(x0, off); b.set('va', V128);
        b.get('va'); b.gather(x1, off); b.get('va'); b.op('f32sub'); b.get('fx'); b.op('f32mul'); b.op('f32add');
      } else {
        const at = (n) => lanes.map((l) => `${n}${l}`);
        b.gather(at('ga'), off); b.set('va', V128);
        b.gather(at('gb'), off); b.set('vb', V128);
        b.get('va'); b.gather(at('gc'), off); b.get('va'); b.op('f32sub'); b.get('zw'); b.op('f32mul'); b.op('f32add');
        b.set('vc', V128);
        b.get('vb'); b.gather(at('gd'), off); b.get('vb'); b.op('f32sub'); b.get('zw'); b.op('f32mul'); b.op('f32add');
        b.set('vd', V128);
        b.get('vc'); b.get('vd'); b.get('vc'); b.op('f32sub'); b.get('fx'); b.op('f32mul'); b.op('f32add');
      }
      b.set(f, V128);
      feats.push(f);
    }
  });
  const gridTerm = (vars) => vars.forEach((a, o) => {
    b.get(a);
    b.sum(feats.map((f, j) => () => { b.get(f); b.vconst(wGrid[o * nGrid + j]); b.op('f32mul'); }));
    b.op('f32add');
    b.set(a, V128);
  });
  let h = Array.from({ length: h1 }, (_, o) => `a${o}`);
  if (nGrid && entry === 1) gridTerm(h);
  const sine = params.activation === 'sine';
  layers.forEach((Ly, l) => {
    const s = h.map((_, j) => `s${j}`);
    h.forEach((a, j) => {
      if (sine) emitSin(b, a, s[j]);
      else {
        b.get(a); b.vconst(0); b.op('f32max'); b.set(s[j], V128);
      }
    });
    const next = Array.from({ length: Ly.rows }, (_, o) => `l${l % 2}_${o}`);
    next.forEach((name, o) => {
      b.sum(s.map((x, j) => () => { b.get(x); b.vconst(Ly.data[o * Ly.cols + j]); b.op('f32mul'); }));
      b.set(name, V128);
    });
    if (nGrid && l + 2 === entry) gridTerm(next);
    h = next;
  });
  const { outCentre, outScale, outMin, outMax } = params;
  if (kind !== 'direct') b.rows4(rb, L.res, ['rs0', 'rs1', 'rs2', null]);
  for (let c = 0; c < 3; c++) {
    b.get(h[c]); b.vconst(outScale[c]); b.op('f32mul'); b.vconst(outCentre[c]); b.op('f32add');
    b.vconst(outMin[c]); b.op('f32max'); b.vconst(outMax[c]); b.op('f32min');
    b.set('t', V128);
    if (params.outputTransform === 'log2') {
      emitExp2(b, 't');
      b.set('t', V128);
    }
    if (kind === 'direct') b.get('t');
    else if (kind === 'gain') {
      b.get(`rs${c}`); b.get('t'); b.op('f32mul'); b.vconst(eps); b.op('f32sub');
    } else {
      b.get(`rs${c}`); b.get('t'); b.op('f32mul'); b.set('e', V128);
      emitExp2(b, 'e'); b.vconst(eps); b.op('f32sub');
    }
    b.vconst(0); b.op('f32max'); b.vconst(1); b.op('f32min');
    b.set(`H${c}`, V128);
  }
  // interleaved RGB: out[3 * pixel + c]
  b.get('i'); b.i32(3); b.emit(0x6c); b.set('i3', I32);
  for (const l of lanes) {
    for (let c = 0; c < 3; c++) {
      b.get('i3'); b.get(`H${c}`); b.emit(...simd(0x1f), l); b.emit(0x38, 2, ...uleb(L.out + 12 * l + 4 * c));
    }
  }
  b.get('i'); b.i32(16); b.emit(0x6a); b.emit(0x22, ...uleb(b.locals.get('i'))); // local.tee i
  b.i32(Wp4); b.emit(0x49); // i32.lt_u
  b.emit(0x0d, 0); // br_if 0
  b.emit(0x0b); // end loop
  const section = (id, content) => [id, ...uleb(content.length), ...content];
  const name = (s) => [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 0, 0]),
    ...section(2, [1, ...name('m'), ...name('mem'), 0x02, 0x00, ...uleb(pages)]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('row'), 0x00, 0]),
    ...section(10, [1, ...b.bytes()]),
  ]);
}

let wasmRefused = typeof WebAssembly === 'undefined';

/**
 * The kernel for `prep` (mlp_cpu.prepareMlp) and the per-colour `tables`
 * (mlp_fast.colourTables), or null where WebAssembly SIMD is not available. Returns
 * rows(r0, r1, ids, out, fillRow), the grids' row values written by fillRow(r, views).
 */
function wasmKernel(prep, kind, eps, tables, count) {
  if (wasmRefused || prep.h1 > 64 || prep.layers.some((Ly) => Ly.rows > 64 || Ly.cols > 64)) return null;
  const L = layout(prep, count);
  if (L.bytes > MAX_BYTES) return null;
  const pages = Math.ceil(L.bytes / 65536) + 1;
  let instance, memory;
  try {
    memory = new WebAssembly.Memory({ initial: pages });
    const module = new WebAssembly.Module(moduleBytes(prep, kind, eps, L, pages));
    instance = new WebAssembly.Instance(module, { m: { mem: memory } });
  } catch (err) {
    if (err instanceof WebAssembly.CompileError || err instanceof RangeError) {
      if (err instanceof WebAssembly.CompileError) wasmRefused = true;
      return null;
    }
    throw err;
  }
  const buf = memory.buffer;
  const { h1, width, grids } = prep;
  const Wp = L.Wp;
  new Float32Array(buf, L.term, count * h1).set(tables.term);
  const res = new Float32Array(buf, L.res, count * 4);
  for (let c = 0; c < count; c++) for (let k = 0; k < 3; k++) res[4 * c + k] = tables.res[3 * c + k];
  grids.forEach((g, k) => {
    if (g.bins > 1) {
      const zi = new Int32Array(buf, L.z[k], count * 3), zf = new Float32Array(buf, L.z[k], count * 3);
      const t = tables.zTaps[k];
      for (let c = 0; c < count; c++) {
        zi[3 * c] = t.z0[c] * 4;
        zi[3 * c + 1] = t.z1[c] * 4;
        zf[3 * c + 2] = t.w[c];
      }
    }
    const stride = g.bins * g.chans * 4;
    const xi = new Int32Array(buf, L.gx[k], 2 * Wp), xf = new Float32Array(buf, L.gx[k] + 8 * Wp, Wp);
    for (let i = 0; i < Wp; i++) {
      const j = Math.min(i, width - 1);
      xi[i] = g.xt.i0[j] * stride;
      xi[Wp + i] = g.xt.i1[j] * stride;
      xf[i] = g.xt.w[j];
    }
  });
  const col = new Float32Array(buf, L.col, h1 * Wp);
  for (let o = 0; o < h1; o++) for (let i = 0; i < width; i++) col[o * Wp + i] = prep.colTerms[i * h1 + o];
  const rowView = new Float32Array(buf, L.row, h1);
  const idView = new Int32Array(buf, L.ids, Wp);
  const outView = new Float32Array(buf, L.out, 3 * Wp);
  const gridViews = grids.map((g, k) => new Float32Array(buf, L.v[k], g.cols * g.bins * g.chans));
  const run = instance.exports.row;
  return function rows(r0, r1, ids, out, fillRow) {
    for (let r = r0; r < r1; r++) {
      fillRow(r, gridViews);
      for (let o = 0; o < h1; o++) rowView[o] = prep.rowTerms[r * h1 + o];
      idView.set(ids.subarray(r * width, (r + 1) * width));
      run();
      out.set(outView.subarray(0, 3 * width), 3 * r * width);
    }
  };
}

/**
 * The kernel's float32 sine or 2^x over `xs` (a multiple of 4 values), for the tests:
 * the same generated code, in a module of its own.
 */
function wasmMath(fn, xs) {
  const n = xs.length;
  const b = new Body();
  b.i32(0); b.set('i', I32);
  b.emit(0x03, 0x40);
  b.get('i'); b.vload(0); b.set('x', V128);
  b.get('i');
  if (fn === 'sin') {
    emitSin(b, 'x', 'y');
    b.get('y');
  } else emitExp2(b, 'x');
  b.vstore(0);
  b.get('i'); b.i32(16); b.emit(0x6a); b.emit(0x22, ...uleb(b.locals.get('i')));
  b.i32(4 * n); b.emit(0x49); b.emit(0x0d, 0);
  b.emit(0x0b);
  const pages = Math.ceil((4 * n) / 65536) + 1;
  const section = (id, content) => [id, ...uleb(content.length), ...content];
  const name = (s) => [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];
  const bytes = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...section(1, [1, 0x60, 0, 0]),
    ...section(2, [1, ...name('m'), ...name('mem'), 0x02, 0x00, ...uleb(pages)]), ...section(3, [1, 0]),
    ...section(7, [1, ...name('run'), 0x00, 0]), ...section(10, [1, ...b.bytes()])]);
  const memory = new WebAssembly.Memory({ initial: pages });
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { m: { mem: memory } });
  const view = new Float32Array(memory.buffer, 0, n);
  view.set(xs);
  exports.run();
  return Float32Array.from(view);
}

// ---- mlp_cpu.mjs
// The plain-JavaScript evaluation of every body the decoder reads (docs/payload-format.md):
// the Gain-MLP network with its grids, MLP-ITM, and conventional JPEG maps. This is the
// reference the WebGL2 path is tested against, the Node decoder, and the browser fallback.
//
// Numerics: everything the specification defines in float32 before the sines (the input
// normalisation n and the angle a = float32(pi) * n) is computed with exact float32
// rounding (Math.fround), because 2^11 * a amplifies one float32 step of a to ~1e-3 rad.
// The rest (sines, the network, the residual) runs in float64, which is closer to the exact
// values than numpy's float32; the two agree to ~1e-6 in PQ.






const PI32 = Math.fround(Math.PI);
const GAMMA_GUARD = 1e-3;
const LUMA_WEIGHTS = [Math.fround(0.2627), Math.fround(0.678), Math.fround(0.0593)];

/** float32(clip(float32(float32(v - centre) / scale), -1, 1)) -> the angle float32(PI32 * n). */
function inputAngle(v, centre, scale) {
  let n = Math.fround(Math.fround(v - centre) / scale);
  if (n < -1) n = -1;
  else if (n > 1) n = 1;
  return Math.fround(PI32 * n);
}

/** sin(2^k a) for k < F at out[off + k], cos(2^k a) at out[off + F + k] (double angles). */
function encodeAngle(a, nFreq, out, off) {
  let s = Math.sin(a);
  let c = Math.cos(a);
  out[off] = s;
  out[off + nFreq] = c;
  for (let k = 1; k < nFreq; k++) {
    const s2 = 2 * s * c;
    c = (c - s) * (c + s);
    s = s2;
    out[off + k] = s;
    out[off + nFreq + k] = c;
  }
}

/** Pixel centre (i + 0.5) / n as float32. */
function pixelCentre(i, n) {
  return Math.fround((i + 0.5) / n);
}

/** Grid taps for coordinate u in [0, 1] over n cells (cell centres, clamped), float64. */
function tapsAt(u, n) {
  let g = u * n - 0.5;
  if (g < 0) g = 0;
  else if (g > n - 1) g = n - 1;
  const i0 = Math.floor(g);
  return [i0, Math.min(i0 + 1, n - 1), Math.fround(g - i0)];
}

/** The bilateral grids' guide: clip((Y' - low) / (high - low), 0, 1) in float32. */
function lumaGuide(r, g, b, low, high) {
  const y = Math.fround(Math.fround(Math.fround(r * LUMA_WEIGHTS[0]) + Math.fround(g * LUMA_WEIGHTS[1])) +
    Math.fround(b * LUMA_WEIGHTS[2]));
  const span = Math.fround(high - low);
  const v = Math.fround(Math.fround(y - low) / span);
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** H from the SDR PQ value s and the map f (eqs. 4 and 6), clipped to [0, 1]. */
function reconstruct(kind, s, f, eps) {
  let h;
  if (kind === 'gain') {
    h = (Math.max(s, 0) + eps) * f - eps;
  } else {
    let base = s + eps;
    if (base < eps) base = eps;
    else if (base > 1 - GAMMA_GUARD) base = 1 - GAMMA_GUARD;
    h = Math.pow(base, f) - eps;
  }
  return h < 0 ? 0 : h > 1 ? 1 : h;
}

// ---------------------------------------------------------------- Gain-MLP

/**
 * Tables every evaluation of one body on one image size needs (CPU and WebGL). `view`: the
 * payload's view of the original frame (parsePayload; default params.view, null: the whole
 * frame): with a 90° view the column terms carry y and the row terms x, and the grids are
 * transposed so that their first axis follows the base's rows (gainmlp.codecs.mlp.fast_decode).
 */
function prepareMlp(params, width, height, view = params.view || null) {
  if (params.nInputs !== 5 || params.nOutputs !== 3) {
    throw new GainMLPError(`MLP body has ${params.nInputs} inputs / ${params.nOutputs} outputs; ` +
      'this decoder evaluates 5 / 3');
  }
  const F = params.nFrequencies;
  const per = 2 * F;
  const nGrid = params.grids.reduce((s, g) => s + g.shape[3], 0);
  const entry = params.gridEntry;
  const w1 = params.weights[0];
  const widths = params.hidden;
  const h1 = widths[0];
  // column and row terms of the first layer (the bias column joins the row terms); input
  // k's F sines and F cosines sit at columns k * per of W1 (x: 0, y: 1)
  const axes = viewAxes(view, width, height);
  const [ic, ir] = axes.swap ? [1, 0] : [0, 1];
  const enc = new Float64Array(per);
  const colTerms = new Float64Array(width * h1);
  for (let i = 0; i < width; i++) {
    encodeAngle(inputAngle(Math.fround(axes.cols[i]), params.inCentre[ic], params.inScale[ic]), F, enc, 0);
    for (let o = 0; o < h1; o++) {
      let acc = 0;
      const row = o * w1.cols + ic * per;
      for (let j = 0; j < per; j++) acc += enc[j] * w1.data[row + j];
      colTerms[i * h1 + o] = acc;
    }
  }
  const rowTerms = new Float64Array(height * h1);
  for (let r = 0; r < height; r++) {
    encodeAngle(inputAngle(Math.fround(axes.rows[r]), params.inCentre[ir], params.inScale[ir]), F, enc, 0);
    for (let o = 0; o < h1; o++) {
      let acc = w1.data[o * w1.cols + w1.cols - 1];
      const row = o * w1.cols + ir * per;
      for (let j = 0; j < per; j++) acc += enc[j] * w1.data[row + j];
      rowTerms[r * h1 + o] = acc;
    }
  }
  // the SDR part of W1 (h1 x 3*per), the grid columns of layer `entry`, the other layers
  const wSdr = new Float64Array(h1 * 3 * per); // (h1, 3 per), row-major
  for (let o = 0; o < h1; o++) {
    for (let j = 0; j < 3 * per; j++) wSdr[o * 3 * per + j] = w1.data[o * w1.cols + 2 * per + j];
  }
  let wGrid = null;
  const layers = [];
  params.weights.forEach((w, l) => {
    if (l === 0) return;
    const keep = l === entry - 1 && nGrid ? w.cols - nGrid : w.cols;
    const m = new Float64Array(w.rows * keep);
    for (let o = 0; o < w.rows; o++) for (let j = 0; j < keep; j++) m[o * keep + j] = w.data[o * w.cols + j];
    layers.push({ rows: w.rows, cols: keep, data: m });
  });
  if (nGrid) {
    const w = params.weights[entry - 1];
    const start = entry === 1 ? 5 * per : w.cols - nGrid; // after the 5 inputs' 10F columns
    wGrid = new Float64Array(w.rows * nGrid);
    for (let o = 0; o < w.rows; o++) {
      for (let j = 0; j < nGrid; j++) wGrid[o * nGrid + j] = w.data[o * w.cols + start + j];
    }
  }
  // grid taps per column and per row (float64 coordinates, as gainmlp.codecs.mlp.grid)
  const flatTaps = (coords, cells) => {
    const n = coords.length;
    const t = { i0: new Int32Array(n), i1: new Int32Array(n), w: new Float64Array(n) };
    for (let i = 0; i < n; i++) [t.i0[i], t.i1[i], t.w[i]] = tapsAt(coords[i], cells);
    return t;
  };
  const grids = params.grids.map((g) => {
    let [rows, cols, bins, chans] = g.shape;
    let data = Float64Array.from(g.data);
    if (axes.swap) { // transposed: (cols, rows, bins, chans)
      const cell = bins * chans, t = new Float64Array(data.length);
      for (let y = 0; y < rows; y++) {
        for (let x = 0; x < cols; x++) {
          for (let k = 0; k < cell; k++) t[(x * rows + y) * cell + k] = data[(y * cols + x) * cell + k];
        }
      }
      [data, rows, cols] = [t, cols, rows];
    }
    return { rows, cols, bins, chans, data, xt: flatTaps(axes.cols, cols), yt: flatTaps(axes.rows, rows) };
  });
  return {
    params, width, height, F, per, widths, h1, colTerms, rowTerms, wSdr, wGrid, nGrid, entry, layers, grids,
    kind: null, uvOffset: [axes.colsLin[0], axes.rowsLin[0]], uvScale: [axes.colsLin[1], axes.rowsLin[1]],
    uvSnap: axes.snap,
  };
}

/** Grid features of pixel (i, r) into feats (ΣC values). */
function gridFeatures(prep, i, r, s0, s1, s2, feats) {
  let c0 = 0;
  let guide = -1;
  const grids = prep.grids;
  for (let k = 0; k < grids.length; k++) {
    const g = grids[k];
    const x0 = g.xt.i0[i], x1 = g.xt.i1[i], fx = g.xt.w[i];
    const y0 = g.yt.i0[r], y1 = g.yt.i1[r], fy = g.yt.w[r];
    const C = g.chans, B = g.bins, d = g.data, stride = g.cols * B * C;
    const a = y0 * stride + x0 * B * C, b = y0 * stride + x1 * B * C;
    const e = y1 * stride + x0 * B * C, f = y1 * stride + x1 * B * C;
    if (B === 1) {
      for (let c = 0; c < C; c++) {
        const top = d[a + c] + (d[b + c] - d[a + c]) * fx;
        const bottom = d[e + c] + (d[f + c] - d[e + c]) * fx;
        feats[c0 + c] = top + (bottom - top) * fy;
      }
    } else {
      if (guide < 0) guide = lumaGuide(s0, s1, s2, prep.params.gridGuide[0], prep.params.gridGuide[1]);
      const [z0, z1, fz] = tapsAt(guide, B);
      for (let c = 0; c < C; c++) {
        const va = d[a + z0 * C + c] + (d[a + z1 * C + c] - d[a + z0 * C + c]) * fz;
        const vb = d[b + z0 * C + c] + (d[b + z1 * C + c] - d[b + z0 * C + c]) * fz;
        const ve = d[e + z0 * C + c] + (d[e + z1 * C + c] - d[e + z0 * C + c]) * fz;
        const vf = d[f + z0 * C + c] + (d[f + z1 * C + c] - d[f + z0 * C + c]) * fz;
        const top = va + (vb - va) * fx;
        const bottom = ve + (vf - ve) * fx;
        feats[c0 + c] = top + (bottom - top) * fy;
      }
    }
    c0 += C;
  }
}

/** Evaluate rows r0..r1-1 into `out` (float32 RGB, whole image layout). */
function evalMlpRows(prep, kind, sdrPq, eps, r0, r1, out) {
  const { params, width, F, per, h1, colTerms, rowTerms, wSdr, wGrid, nGrid, entry, layers } = prep;
  const sine = params.activation === 'sine';
  const log2 = params.outputTransform === 'log2';
  const maxW = Math.max(...prep.widths, 3);
  let h = new Float64Array(maxW);
  let next = new Float64Array(maxW);
  const enc = new Float64Array(3 * per);
  const feats = new Float64Array(Math.max(nGrid, 1));
  const cen = params.inCentre, sc = params.inScale;
  const { outCentre, outScale, outMin, outMax } = params;
  const nw = 3 * per;
  for (let r = r0; r < r1; r++) {
    for (let i = 0; i < width; i++) {
      const p = (r * width + i) * 3;
      const s0 = sdrPq[p], s1 = sdrPq[p + 1], s2 = sdrPq[p + 2];
      encodeAngle(inputAngle(s0, cen[2], sc[2]), F, enc, 0);
      encodeAngle(inputAngle(s1, cen[3], sc[3]), F, enc, per);
      encodeAngle(inputAngle(s2, cen[4], sc[4]), F, enc, 2 * per);
      const ct = i * h1, rt = r * h1;
      matVec(wSdr, h1, nw, enc, h);
      for (let o = 0; o < h1; o++) h[o] += colTerms[ct + o] + rowTerms[rt + o];
      if (nGrid) gridFeatures(prep, i, r, s0, s1, s2, feats);
      if (nGrid && entry === 1) addGridTerm(h, h1, wGrid, feats, nGrid);
      let width_ = h1;
      for (let l = 0; l < layers.length; l++) {
        for (let o = 0; o < width_; o++) h[o] = sine ? Math.sin(h[o]) : h[o] > 0 ? h[o] : 0;
        const L = layers[l];
        matVec(L.data, L.rows, L.cols, h, next);
        if (nGrid && l + 2 === entry) addGridTerm(next, L.rows, wGrid, feats, nGrid);
        const swap = h;
        h = next;
        next = swap;
        width_ = L.rows;
      }
      for (let c = 0; c < 3; c++) {
        let t = h[c] * outScale[c] + outCentre[c];
        t = t < outMin[c] ? outMin[c] : t > outMax[c] ? outMax[c] : t;
        if (log2) t = Math.pow(2, t);
        let v;
        if (kind === 'direct') v = t < 0 ? 0 : t > 1 ? 1 : t;
        else v = reconstruct(kind, sdrPq[p + c], t, eps);
        out[p + c] = v;
      }
    }
  }
}

/** y = W x for W (rows x cols, row-major): four rows at a time, so that the four sums are
 * independent and x is loaded once for them (about twice as fast as one dot at a time). */
function matVec(w, rows, cols, x, y) {
  let o = 0;
  for (; o + 4 <= rows; o += 4) {
    const b0 = o * cols, b1 = b0 + cols, b2 = b1 + cols, b3 = b2 + cols;
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (let j = 0; j < cols; j++) {
      const e = x[j];
      a0 += e * w[b0 + j];
      a1 += e * w[b1 + j];
      a2 += e * w[b2 + j];
      a3 += e * w[b3 + j];
    }
    y[o] = a0;
    y[o + 1] = a1;
    y[o + 2] = a2;
    y[o + 3] = a3;
  }
  for (; o < rows; o++) {
    let a = 0;
    const b = o * cols;
    for (let j = 0; j < cols; j++) a += x[j] * w[b + j];
    y[o] = a;
  }
}

function addGridTerm(h, rows, wGrid, feats, nGrid) {
  for (let o = 0; o < rows; o++) {
    let acc = 0;
    for (let j = 0; j < nGrid; j++) acc += wGrid[o * nGrid + j] * feats[j];
    h[o] += acc;
  }
}

// ---------------------------------------------------------------- MLP-ITM

function layerF64(L) {
  return { rows: L.rows, cols: L.cols, w: Float64Array.from(L.w), b: Float64Array.from(L.b) };
}

function denseRelu(L, x, y, relu) {
  matVec(L.w, L.rows, L.cols, x, y);
  for (let o = 0; o < L.rows; o++) {
    const v = y[o] + L.b[o];
    y[o] = relu && v < 0 ? 0 : v;
  }
}

/** Tables for an MLP-ITM body on one image size (`view` as for prepareMlp). */
function prepareItm(params, width, height, view = params.view || null) {
  const Fs = params.spatialFrequencies;
  const per = 2 * Fs;
  const s1 = params.spatial[0];
  const ws = s1.rows;
  const axes = viewAxes(view, width, height);
  const [ic, ir] = axes.swap ? [1, 0] : [0, 1];
  const enc = new Float64Array(per);
  const colTerms = new Float64Array(width * ws);
  for (let i = 0; i < width; i++) {
    encodeAngle(inputAngle(Math.fround(axes.cols[i]), params.inCentre[ic], params.inScale[ic]), Fs, enc, 0);
    for (let o = 0; o < ws; o++) {
      let acc = 0;
      for (let j = 0; j < per; j++) acc += enc[j] * s1.w[o * s1.cols + ic * per + j];
      colTerms[i * ws + o] = acc;
    }
  }
  const rowTerms = new Float64Array(height * ws);
  for (let r = 0; r < height; r++) {
    encodeAngle(inputAngle(Math.fround(axes.rows[r]), params.inCentre[ir], params.inScale[ir]), Fs, enc, 0);
    for (let o = 0; o < ws; o++) {
      let acc = s1.b[o];
      for (let j = 0; j < per; j++) acc += enc[j] * s1.w[o * s1.cols + ir * per + j];
      rowTerms[r * ws + o] = acc;
    }
  }
  return {
    params, width, height, colTerms, rowTerms,
    spatial: params.spatial.map(layerF64), colour: params.colour.map(layerF64),
  };
}

function evalItmRows(prep, sdrPq, r0, r1, out) {
  const { params, width, colTerms, rowTerms, spatial, colour } = prep;
  const ws = params.spatialWidth, wc = params.colourWidth;
  const Fc = params.colourFrequencies;
  const size = Math.max(ws, 2 * wc, 3);
  let sa = new Float64Array(size), sb = new Float64Array(size);
  let ca = new Float64Array(size), cb = new Float64Array(size);
  const enc = new Float64Array(6 * Fc);
  const { inCentre, inScale, outCentre, outScale, outMin, outMax } = params;
  for (let r = r0; r < r1; r++) {
    for (let i = 0; i < width; i++) {
      // spatial network: relu(first layer), hidden layers, linear output (gamma, beta)
      for (let o = 0; o < ws; o++) {
        const v = colTerms[i * ws + o] + rowTerms[r * ws + o];
        sa[o] = v > 0 ? v : 0;
      }
      for (let l = 1; l < spatial.length; l++) {
        denseRelu(spatial[l], sa, sb, l < spatial.length - 1);
        [sa, sb] = [sb, sa];
      }
      // colour network, its first hidden layer modulated (FiLM)
      const p = (r * width + i) * 3;
      for (let c = 0; c < 3; c++) {
        encodeAngle(inputAngle(sdrPq[p + c], inCentre[2 + c], inScale[2 + c]), Fc, enc, 2 * Fc * c);
      }
      denseRelu(colour[0], enc, ca, false);
      for (let o = 0; o < wc; o++) {
        const v = ca[o] * (1 + sa[o]) + sa[wc + o];
        ca[o] = v > 0 ? v : 0;
      }
      for (let l = 1; l < colour.length; l++) {
        denseRelu(colour[l], ca, cb, l < colour.length - 1);
        [ca, cb] = [cb, ca];
      }
      for (let c = 0; c < 3; c++) {
        let t = ca[c] * outScale[c] + outCentre[c];
        t = t < outMin[c] ? outMin[c] : t > outMax[c] ? outMax[c] : t;
        out[p + c] = t < 0 ? 0 : t > 1 ? 1 : t;
      }
    }
  }
}

// ---------------------------------------------------------------- conventional maps

function bicubic(x) {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

function resampleCoeffs(inSize, outSize) {
  // Pillow's precompute_coeffs for the bicubic filter (Resample.c)
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 2 * filterscale;
  const taps = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const k = new Float64Array(xmax);
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = bicubic((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) k[x] /= ww;
    taps.push([xmin, k]);
  }
  return taps;
}

/** Pillow's BICUBIC resize of one float32 channel ("F" mode), horizontal pass first. */
function resizeBicubicF(src, w, h, outW, outH) {
  const vert = resampleCoeffs(h, outH);
  const horiz = resampleCoeffs(w, outW);
  let img = src, iw = w, ih = h;
  if (outW !== w) {
    const yFirst = vert[0][0];
    const yLast = vert[outH - 1][0] + vert[outH - 1][1].length;
    const tmp = new Float32Array(outW * (yLast - yFirst));
    for (let y = yFirst; y < yLast; y++) {
      for (let xx = 0; xx < outW; xx++) {
        const [xmin, k] = horiz[xx];
        let ss = 0;
        for (let x = 0; x < k.length; x++) ss += src[y * w + xmin + x] * k[x];
        tmp[(y - yFirst) * outW + xx] = ss;
      }
    }
    for (const t of vert) t[0] -= yFirst;
    img = tmp;
    iw = outW;
    ih = yLast - yFirst;
  }
  if (outH !== h || ih !== h) {
    const res = new Float32Array(outW * outH);
    for (let yy = 0; yy < outH; yy++) {
      const [ymin, k] = vert[yy];
      for (let xx = 0; xx < iw; xx++) {
        let ss = 0;
        for (let y = 0; y < k.length; y++) ss += img[(y + ymin) * iw + xx] * k[y];
        res[yy * outW + xx] = ss;
      }
    }
    img = res;
  }
  return img;
}

/** HDR from a conventional body (JPEG maps only) and the SDR in HDR space. */
function decodeMapBody(method, kind, body, sdrPq, width, height, eps) {
  const map = unpackMapBody(method, body, width, height);
  if (map.format !== 'jpeg') {
    throw new GainMLPError(`the ${map.format} gain-map image cannot be decoded by the JavaScript decoder ` +
      '(it decodes JPEG maps)');
  }
  let small;
  try {
    small = decodeJpeg(map.image, 'map');
  } catch (err) {
    if (err instanceof GainMLPError) throw new GainMLPError('the jpeg gain-map image in the payload is corrupt');
    throw err;
  }
  if (small.width !== map.mapWidth || small.height !== map.mapHeight) {
    throw new GainMLPError(`gain-map image is ${small.width}x${small.height}, header says ${map.mapWidth}x${map.mapHeight}`);
  }
  const n = map.mapWidth * map.mapHeight;
  const out = new Float32Array(width * height * 3);
  for (let c = 0; c < 3; c++) {
    let ch = new Float32Array(n);
    for (let i = 0; i < n; i++) ch[i] = small.pixels[3 * i + c] / 255;
    if (map.mapWidth !== width || map.mapHeight !== height) {
      ch = resizeBicubicF(ch, map.mapWidth, map.mapHeight, width, height);
      for (let i = 0; i < ch.length; i++) ch[i] = ch[i] < 0 ? 0 : ch[i] > 1 ? 1 : ch[i];
    }
    const lo = map.lo[c], span = map.hi[c] - map.lo[c];
    for (let i = 0; i < width * height; i++) {
      const f = Math.pow(2, ch[i] * span + lo);
      out[3 * i + c] = reconstruct(kind, sdrPq[3 * i + c], f, eps);
    }
  }
  return out;
}

// ---------------------------------------------------------------- dispatch

/**
 * The HDR rendition (PQ BT.2020 float32 RGB, row-major) from a parsed payload and the SDR
 * in HDR space, on the CPU. `onRows(done, total)` reports progress.
 */
function decodeCpu(payload, sdrPq, { onRows = null } = {}) {
  const { width, height, eps } = payload;
  if (payload.family === 'conventional') {
    if (payload.view) {
      throw new GainMLPError('the JavaScript decoder does not decode conventional bodies of edited files ' +
        '(payload views); use gainmlp decode');
    }
    return decodeMapBody(payload.method, payload.residual, payload.body, sdrPq, width, height, eps);
  }
  const out = new Float32Array(width * height * 3);
  const step = Math.max(1, Math.floor(65536 / width));
  if (payload.family === 'mlp-itm') {
    const prep = prepareItm(unpackItmBody(payload.body), width, height, payload.view);
    for (let r = 0; r < height; r += step) {
      evalItmRows(prep, sdrPq, r, Math.min(height, r + step), out);
      if (onRows) onRows(Math.min(height, r + step), height);
    }
    return out;
  }
  const params = unpackMlpBody(payload.body);
  const prep = prepareMlp(params, width, height, payload.view);
  for (let r = 0; r < height; r += step) {
    evalMlpRows(prep, payload.residual, sdrPq, eps, r, Math.min(height, r + step), out);
    if (onRows) onRows(Math.min(height, r + step), height);
  }
  return out;
}

// ---- mlp_fast.mjs
// The fast CPU evaluation of Gain-MLP bodies: per-distinct-colour tables and a per-pixel
// kernel generated for the body's shape (mlp_cpu.mjs keeps the per-pixel reference).
//
// A photo has few distinct 8-bit colours (~1-5 % of its pixels), and everything that
// depends only on the base pixel's colour is computed once per colour (docs/web.md, "How
// it decodes"): S (SDR in HDR space), the frequency encoding of (r, g, b) times the first
// layer's colour columns (72 sines/cosines and a 72 x 16 product per pixel before), the
// residual's log2(S + eps) (or S + eps for gain), and the bilateral grids' luma taps. Per
// pixel remain: colour term + column term + row term (+ grids, of which the vertical
// interpolation is done once per row), the hidden layers and the output.
//
// The per-pixel kernel is JavaScript generated for the body's shape (weights as literals,
// layer values in local variables, straight-line code), compiled with `new Function`; where
// that is refused (a Content-Security-Policy without 'unsafe-eval') or the network is
// large, a loop version over the same tables runs. Sines, 2^x and B^f use their own
// float64 range reduction and polynomials (error below 1e-13, against ~1e-7 for the
// float32 reference), several times faster than Math.sin / Math.pow here.






const CODEGEN_MAX_WEIGHTS = 24576; // beyond this the loop kernel runs (source size)

// ---------------------------------------------------------------- fast maths (float64)

const INV_PI = 1 / Math.PI;
const PI_A = Math.PI; // pi = PI_A + PI_B
const PI_B = 1.2246467991473532e-16;
// sin r on [-pi/2, pi/2]: Taylor to r^19 (truncation < 1e-16 there)
const SIN_C = [1, -1 / 6, 1 / 120, -1 / 5040, 1 / 362880, -1 / 39916800, 1 / 6227020800,
  -1 / 1307674368000, 1 / 355687428096000, -1 / 121645100408832000];
// 2^r on [-0.5, 0.5]: Taylor of e^(r ln 2) to degree 13
const LN2 = Math.LN2;
const EXP2_C = [];
for (let n = 0, f = 1; n <= 13; n++, f *= n) EXP2_C.push(LN2 ** n / f);
const POW2_OFFSET = 1100;
const POW2 = new Float64Array(2 * POW2_OFFSET + 1);
for (let k = -POW2_OFFSET; k <= POW2_OFFSET; k++) POW2[k + POW2_OFFSET] = 2 ** k;

/** sin(x) for |x| < 2^30 (reduction by pi: x = j pi + r, sin x = (-1)^j sin r). */
function fastSin(x) {
  const j = Math.round(x * INV_PI);
  const r = (x - j * PI_A) - j * PI_B;
  const z = r * r;
  let p = SIN_C[9];
  for (let k = 8; k >= 0; k--) p = p * z + SIN_C[k];
  return r * p * (1 - ((j & 1) << 1));
}

/** 2^x, float64 (0 below 2^-1074, Infinity above 2^1023, like Math.pow). */
function fastExp2(x) {
  if (!(x > -1090)) return x === x ? 0 : x; // NaN stays NaN
  if (x > 1090) return Infinity;
  const k = Math.round(x);
  const r = x - k;
  let p = EXP2_C[13];
  for (let n = 12; n >= 0; n--) p = p * r + EXP2_C[n];
  return p * POW2[k + POW2_OFFSET];
}

// JavaScript source of the same, inlined into the generated kernel (v: a variable name)
const lit = (x) => {
  const s = String(x);
  return /[.e]/.test(s) || !/^-?\d+$/.test(s) ? s : `${s}.0`;
};
function sinSource(x, out) {
  let p = lit(SIN_C[9]);
  for (let k = 8; k >= 0; k--) p = `(${p}) * z_ + ${lit(SIN_C[k])}`;
  return `j_ = Math.round(${x} * ${lit(INV_PI)}); r_ = (${x} - j_ * ${lit(PI_A)}) - j_ * ${lit(PI_B)}; ` +
    `z_ = r_ * r_; ${out} = r_ * (${p}) * (1 - ((j_ & 1) << 1));`;
}
function exp2Source(x, out) {
  let p = lit(EXP2_C[13]);
  for (let n = 12; n >= 0; n--) p = `(${p}) * r_ + ${lit(EXP2_C[n])}`;
  return `if (${x} > -1090) { j_ = Math.round(${x}); r_ = ${x} - j_; ` +
    `${out} = (${p}) * POW2[(j_ < 1090 ? j_ : 1090) + ${POW2_OFFSET}]; } else ${out} = ${x} === ${x} ? 0 : ${x};`;
}

// ---------------------------------------------------------------- per-colour tables

/**
 * Everything of a Gain-MLP evaluation that depends only on the base pixel's colour.
 * @param colours {ids: Int32Array (per pixel), count, s: Float32Array (count x 3, S per colour)}
 */
function colourTables(prep, kind, colours, eps, { terms = true } = {}) {
  const { params, h1 } = prep;
  const k = colours.count;
  const s = colours.s;
  const term = terms ? colourTerms(prep, colours, 0, k, new Float64Array(k * h1)) : null;
  const res = colourResidual(kind, s, eps, 0, k, new Float64Array(k * 3));
  // bilateral grids: the luma taps per colour and grid (z0 * C, z1 * C, weight)
  const zTaps = prep.grids.map((g) => {
    if (g.bins === 1) return null;
    const t = { z0: new Int32Array(k), z1: new Int32Array(k), w: new Float64Array(k) };
    const [low, high] = params.gridGuide;
    for (let c = 0; c < k; c++) {
      const [z0, z1, w] = tapsAt(lumaGuide(s[3 * c], s[3 * c + 1], s[3 * c + 2], low, high), g.bins);
      t.z0[c] = z0 * g.chans;
      t.z1[c] = z1 * g.chans;
      t.w[c] = w;
    }
    return t;
  });
  return { term, res, zTaps };
}

/** The residual's per-colour part of colours c0..c1-1: gain (max(S, 0) + eps); gamma log2(clip(S + eps)). */
function colourResidual(kind, s, eps, c0, c1, res) {
  if (kind === 'gain') {
    for (let i = 3 * c0; i < 3 * c1; i++) res[i] = Math.max(s[i], 0) + eps;
  } else if (kind === 'gamma') {
    for (let i = 3 * c0; i < 3 * c1; i++) {
      let base = s[i] + eps;
      if (base < eps) base = eps;
      else if (base > 1 - 1e-3) base = 1 - 1e-3;
      res[i] = Math.log2(base);
    }
  }
  return res;
}

/**
 * The first layer's colour term W_sdr . enc(r, g, b) of colours c0..c1-1 into `term`
 * (count x h1; a part of it, so that threads can share the work).
 */
function colourTerms(prep, colours, c0, c1, term) {
  const { params, per, h1, wSdr } = prep;
  const s = colours.s;
  const cen = params.inCentre, sc = params.inScale;
  const nw = 3 * per;
  const enc = new Float64Array(nw);
  for (let c = c0; c < c1; c++) {
    encodeAngle(inputAngle(s[3 * c], cen[2], sc[2]), prep.F, enc, 0);
    encodeAngle(inputAngle(s[3 * c + 1], cen[3], sc[3]), prep.F, enc, per);
    encodeAngle(inputAngle(s[3 * c + 2], cen[4], sc[4]), prep.F, enc, 2 * per);
    // four outputs at a time: independent sums (each still added in the reference's order)
    let o = 0;
    for (; o + 4 <= h1; o += 4) {
      const b0 = o * nw, b1 = b0 + nw, b2 = b1 + nw, b3 = b2 + nw;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let j = 0; j < nw; j++) {
        const e = enc[j];
        a0 += e * wSdr[b0 + j];
        a1 += e * wSdr[b1 + j];
        a2 += e * wSdr[b2 + j];
        a3 += e * wSdr[b3 + j];
      }
      const t = c * h1 + o;
      term[t] = a0;
      term[t + 1] = a1;
      term[t + 2] = a2;
      term[t + 3] = a3;
    }
    for (; o < h1; o++) {
      let acc = 0;
      const b = o * nw;
      for (let j = 0; j < nw; j++) acc += enc[j] * wSdr[b + j];
      term[c * h1 + o] = acc;
    }
  }
  return term;
}

/** Per grid: x taps premultiplied by bins x channels, and a buffer for one row's values. */
function gridRowState(prep) {
  return prep.grids.map((g) => {
    const stride = g.bins * g.chans;
    const x0 = new Int32Array(prep.width), x1 = new Int32Array(prep.width);
    for (let i = 0; i < prep.width; i++) {
      x0[i] = g.xt.i0[i] * stride;
      x1[i] = g.xt.i1[i] * stride;
    }
    return { x0, x1, fx: g.xt.w, row: new Float64Array(g.cols * stride) };
  });
}

/** The grids' values at image row r, interpolated vertically: row[(x * bins + z) * C + c]. */
function fillGridRows(prep, rows, r) {
  prep.grids.forEach((g, k) => {
    const n = g.cols * g.bins * g.chans;
    const y0 = g.yt.i0[r] * n, y1 = g.yt.i1[r] * n, fy = g.yt.w[r];
    const d = g.data, row = rows[k];
    for (let j = 0; j < n; j++) row[j] = d[y0 + j] + (d[y1 + j] - d[y0 + j]) * fy;
  });
}

// ---------------------------------------------------------------- the generated kernel

/** A sum as a balanced tree (short dependency chains: the terms are added in parallel). */
function treeSum(terms) {
  if (terms.length === 1) return terms[0];
  const half = Math.ceil(terms.length / 2);
  return `(${treeSum(terms.slice(0, half))} + ${treeSum(terms.slice(half))})`;
}

function kernelSource(prep, kind) {
  const { params, h1, wGrid, nGrid, entry, layers, grids } = prep;
  const sine = params.activation === 'sine';
  const log2 = params.outputTransform === 'log2';
  const L = [];
  const v = (name, n) => Array.from({ length: n }, (_, j) => `${name}${j}`);
  L.push('"use strict";');
  L.push('return function rows(r0, r1, W, ids, term, colT, rowT, res, out, gx0, gx1, gfx, grow, gz0, gz1, gzw, fillRows) {');
  L.push('  let j_, r_, z_;');
  L.push(`  for (let r = r0; r < r1; r++) {`);
  L.push('    fillRows(r);');
  L.push(`    const rb = r * ${h1};`);
  L.push(`    ${v('q', h1).map((q, o) => `const ${q} = rowT[rb + ${o}];`).join(' ')}`);
  grids.forEach((g, k) => {
    L.push(`    const X0_${k} = gx0[${k}], X1_${k} = gx1[${k}], FX_${k} = gfx[${k}], V${k} = grow[${k}];`);
    if (g.bins > 1) L.push(`    const Z0_${k} = gz0[${k}], Z1_${k} = gz1[${k}], ZW_${k} = gzw[${k}];`);
  });
  L.push('    for (let i = 0, p = r * W; i < W; i++, p++) {');
  L.push(`      const id = ids[p], cb = id * ${h1}, xb = i * ${h1};`);
  let h = v('a', h1);
  h.forEach((a, o) => L.push(`      let ${a} = term[cb + ${o}] + (colT[xb + ${o}] + q${o});`));
  const feats = [];
  if (nGrid) {
    grids.forEach((g, k) => {
      L.push(`      const x0_${k} = X0_${k}[i], x1_${k} = X1_${k}[i], fx_${k} = FX_${k}[i];`);
      if (g.bins > 1) L.push(`      const z0_${k} = Z0_${k}[id], z1_${k} = Z1_${k}[id], zw_${k} = ZW_${k}[id];`);
      for (let c = 0; c < g.chans; c++) {
        const f = `f${k}_${c}`;
        if (g.bins === 1) {
          L.push(`      const a${f} = V${k}[x0_${k} + ${c}], ${f} = a${f} + (V${k}[x1_${k} + ${c}] - a${f}) * fx_${k};`);
        } else {
          L.push(`      const a${f} = V${k}[x0_${k} + z0_${k} + ${c}], b${f} = V${k}[x1_${k} + z0_${k} + ${c}];`);
          L.push(`      const c${f} = a${f} + (V${k}[x0_${k} + z1_${k} + ${c}] - a${f}) * zw_${k};`);
          L.push(`      const d${f} = b${f} + (V${k}[x1_${k} + z1_${k} + ${c}] - b${f}) * zw_${k};`);
          L.push(`      const ${f} = c${f} + (d${f} - c${f}) * fx_${k};`);
        }
        feats.push(f);
      }
    });
  }
  const gridTerm = (vars) => vars.forEach((a, o) => {
    L.push(`      ${a} += ${treeSum(feats.map((f, j) => `${lit(wGrid[o * nGrid + j])} * ${f}`))};`);
  });
  if (nGrid && entry === 1) gridTerm(h);
  layers.forEach((Ly, l) => {
    const s = v(`s${l}_`, Ly.cols);
    h.forEach((a, j) => {
      if (sine) {
        L.push(`      let ${s[j]}; ${sinSource(a, s[j])}`);
      } else {
        L.push(`      const ${s[j]} = ${a} > 0 ? ${a} : 0;`);
      }
    });
    const next = v(`b${l}_`, Ly.rows);
    next.forEach((b, o) => {
      const terms = s.map((x, j) => `${lit(Ly.data[o * Ly.cols + j])} * ${x}`);
      L.push(`      let ${b} = ${treeSum(terms)};`);
    });
    if (nGrid && l + 2 === entry) gridTerm(next);
    h = next;
  });
  const { outCentre, outScale, outMin, outMax } = params;
  for (let c = 0; c < 3; c++) {
    L.push(`      let t${c} = ${h[c]} * ${lit(outScale[c])} + ${lit(outCentre[c])};`);
    L.push(`      t${c} = t${c} < ${lit(outMin[c])} ? ${lit(outMin[c])} : t${c} > ${lit(outMax[c])} ? ${lit(outMax[c])} : t${c};`);
    if (log2) L.push(`      ${exp2Source(`t${c}`, `t${c}`)}`);
    if (kind === 'direct') {
      L.push(`      let H${c} = t${c};`);
    } else if (kind === 'gain') {
      L.push(`      let H${c} = res[3 * id + ${c}] * t${c} - EPS;`);
    } else {
      L.push(`      let e${c} = t${c} * res[3 * id + ${c}], H${c}; ${exp2Source(`e${c}`, `H${c}`)} H${c} -= EPS;`);
    }
    L.push(`      out[3 * p + ${c}] = H${c} < 0 ? 0 : H${c} > 1 ? 1 : H${c};`);
  }
  L.push('    }');
  L.push('  }');
  L.push('};');
  return L.join('\n');
}

let codegenRefused = false;

function compileKernel(prep, kind, eps) {
  const weights = prep.layers.reduce((s, Ly) => s + Ly.rows * Ly.cols, 0) + prep.h1 * prep.nGrid;
  if (codegenRefused || weights > CODEGEN_MAX_WEIGHTS) return null;
  try {
    // eslint-disable-next-line no-new-func
    return new Function('POW2', 'EPS', kernelSource(prep, kind))(POW2, eps);
  } catch (err) {
    if (err instanceof EvalError || /unsafe-eval|Content Security Policy/i.test(err.message)) {
      codegenRefused = true;
      return null;
    }
    throw err;
  }
}

// ---------------------------------------------------------------- the loop kernel (no codegen)

function loopKernel(prep, kind, eps) {
  const { params, h1, wGrid, nGrid, entry, layers, grids } = prep;
  const sine = params.activation === 'sine';
  const log2 = params.outputTransform === 'log2';
  const { outCentre, outScale, outMin, outMax } = params;
  const maxW = Math.max(h1, ...layers.map((Ly) => Ly.rows));
  return function rows(r0, r1, W, ids, term, colT, rowT, res, out, gx0, gx1, gfx, grow, gz0, gz1, gzw, fillRows) {
    let h = new Float64Array(maxW), next = new Float64Array(maxW);
    const feats = new Float64Array(Math.max(nGrid, 1));
    for (let r = r0; r < r1; r++) {
      fillRows(r);
      const rb = r * h1;
      for (let i = 0, p = r * W; i < W; i++, p++) {
        const id = ids[p], cb = id * h1, xb = i * h1;
        for (let o = 0; o < h1; o++) h[o] = term[cb + o] + (colT[xb + o] + rowT[rb + o]);
        if (nGrid) {
          let c0 = 0;
          for (let k = 0; k < grids.length; k++) {
            const C = grids[k].chans, V = grow[k];
            const x0 = gx0[k][i], x1 = gx1[k][i], fx = gfx[k][i];
            if (grids[k].bins === 1) {
              for (let c = 0; c < C; c++) feats[c0 + c] = V[x0 + c] + (V[x1 + c] - V[x0 + c]) * fx;
            } else {
              const z0 = gz0[k][id], z1 = gz1[k][id], zw = gzw[k][id];
              for (let c = 0; c < C; c++) {
                const a = V[x0 + z0 + c], b = V[x1 + z0 + c];
                const cc = a + (V[x0 + z1 + c] - a) * zw, d = b + (V[x1 + z1 + c] - b) * zw;
                feats[c0 + c] = cc + (d - cc) * fx;
              }
            }
            c0 += C;
          }
          if (entry === 1) addGrid(h, h1, wGrid, feats, nGrid);
        }
        let width = h1;
        for (let l = 0; l < layers.length; l++) {
          for (let o = 0; o < width; o++) h[o] = sine ? fastSin(h[o]) : h[o] > 0 ? h[o] : 0;
          const Ly = layers[l], w = Ly.data, cols = Ly.cols;
          for (let o = 0; o < Ly.rows; o++) {
            let acc = 0;
            for (let j = 0; j < cols; j++) acc += w[o * cols + j] * h[j];
            next[o] = acc;
          }
          if (nGrid && l + 2 === entry) addGrid(next, Ly.rows, wGrid, feats, nGrid);
          const t = h; h = next; next = t;
          width = Ly.rows;
        }
        for (let c = 0; c < 3; c++) {
          let t = h[c] * outScale[c] + outCentre[c];
          t = t < outMin[c] ? outMin[c] : t > outMax[c] ? outMax[c] : t;
          if (log2) t = fastExp2(t);
          let v;
          if (kind === 'direct') v = t;
          else if (kind === 'gain') v = res[3 * id + c] * t - eps;
          else v = fastExp2(t * res[3 * id + c]) - eps;
          out[3 * p + c] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
      }
    }
  };
}

function addGrid(h, rows, wGrid, feats, nGrid) {
  for (let o = 0; o < rows; o++) {
    let acc = 0;
    for (let j = 0; j < nGrid; j++) acc += wGrid[o * nGrid + j] * feats[j];
    h[o] += acc;
  }
}

// ---------------------------------------------------------------- entry point

/**
 * A Gain-MLP body evaluated on the CPU from per-colour tables.
 * @param params unpacked body; kind 'gain' | 'gamma' | 'direct'
 * @param colours {ids, count, s} (colour.mjs indexColours + S per colour)
 * @param options.kernel 'auto' (WebAssembly SIMD, else generated JavaScript, where allowed) |
 *   'wasm' | 'generated' | 'loop'
 * @returns {Float32Array} PQ BT.2020 RGB
 */
function decodeMlpFast(params, kind, colours, width, height, eps,
  { onRows = null, kernel = 'auto', stats = null, out = null } = {}) {
  const clock = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());
  let t = clock();
  const prep = prepareMlp(params, width, height);
  const tables = colourTables(prep, kind, colours, eps);
  if (stats) stats.tables = clock() - t;
  t = clock();
  out = out || new Float32Array(width * height * 3);
  const step = Math.max(1, Math.floor(262144 / width));
  if (kernel === 'auto' || kernel === 'wasm') {
    const simdRows = wasmKernel(prep, kind, eps, tables, colours.count);
    if (!simdRows && kernel === 'wasm') throw new Error('the WebAssembly SIMD kernel cannot run here');
    if (simdRows) {
      if (stats) stats.kernel = 'wasm';
      const fill = (r, views) => fillGridRows(prep, views, r);
      for (let r = 0; r < height; r += step) {
        const r1 = Math.min(height, r + step);
        simdRows(r, r1, colours.ids, out, fill);
        if (onRows) onRows(r1, height);
      }
      if (stats) stats.pixels = clock() - t;
      return out;
    }
  }
  let rows = kernel === 'loop' ? null : compileKernel(prep, kind, eps);
  if (!rows && kernel === 'generated') throw new Error('the generated kernel cannot run here');
  if (stats) stats.kernel = rows ? 'generated' : 'loop';
  if (!rows) rows = loopKernel(prep, kind, eps);
  const state = gridRowState(prep);
  const fill = state.length ? (r) => fillGridRows(prep, state.map((st) => st.row), r) : () => {};
  const zt = tables.zTaps;
  for (let r = 0; r < height; r += step) {
    const r1 = Math.min(height, r + step);
    rows(r, r1, width, colours.ids, tables.term, prep.colTerms, prep.rowTerms, tables.res, out,
      state.map((s) => s.x0), state.map((s) => s.x1), state.map((s) => s.fx), state.map((s) => s.row),
      zt.map((t) => t && t.z0), zt.map((t) => t && t.z1), zt.map((t) => t && t.w), fill);
    if (onRows) onRows(r1, height);
  }
  if (stats) stats.pixels = clock() - t;
  return out;
}

const fastInternals = { kernelSource, loopKernel, colourTables };

// ---------------------------------------------------------------- MLP-ITM, dispatch

/** MLP-ITM with its colour network's first layer (W1 enc(r, g, b) + b1) once per colour. */
function decodeItmFast(params, colours, width, height, { onRows = null, out = null } = {}) {
  const prep = prepareItm(params, width, height);
  const { colTerms, rowTerms, spatial, colour } = prep;
  const ws = params.spatialWidth, wc = params.colourWidth;
  const Fc = params.colourFrequencies;
  const { inCentre, inScale, outCentre, outScale, outMin, outMax } = params;
  const k = colours.count, s = colours.s;
  const first = colour[0];
  const z1 = new Float64Array(k * wc);
  const enc = new Float64Array(6 * Fc);
  for (let c = 0; c < k; c++) {
    for (let ch = 0; ch < 3; ch++) {
      encodeAngle(inputAngle(s[3 * c + ch], inCentre[2 + ch], inScale[2 + ch]), Fc, enc, 2 * Fc * ch);
    }
    for (let o = 0; o < wc; o++) {
      let acc = 0;
      for (let j = 0; j < first.cols; j++) acc += enc[j] * first.w[o * first.cols + j];
      z1[c * wc + o] = acc + first.b[o];
    }
  }
  const size = Math.max(ws, 2 * wc, 3);
  let sa = new Float64Array(size), sb = new Float64Array(size);
  let ca = new Float64Array(size), cb = new Float64Array(size);
  const dense = (L, x, y, relu) => {
    const w = L.w, cols = L.cols;
    for (let o = 0; o < L.rows; o++) {
      let acc = 0;
      for (let j = 0; j < cols; j++) acc += x[j] * w[o * cols + j];
      const v = acc + L.b[o];
      y[o] = relu && v < 0 ? 0 : v;
    }
  };
  out = out || new Float32Array(width * height * 3);
  const ids = colours.ids;
  for (let r = 0; r < height; r++) {
    for (let i = 0, p = r * width; i < width; i++, p++) {
      for (let o = 0; o < ws; o++) {
        const v = colTerms[i * ws + o] + rowTerms[r * ws + o];
        sa[o] = v > 0 ? v : 0;
      }
      for (let l = 1; l < spatial.length; l++) {
        dense(spatial[l], sa, sb, l < spatial.length - 1);
        [sa, sb] = [sb, sa];
      }
      const zb = ids[p] * wc;
      for (let o = 0; o < wc; o++) {
        const v = z1[zb + o] * (1 + sa[o]) + sa[wc + o];
        ca[o] = v > 0 ? v : 0;
      }
      for (let l = 1; l < colour.length; l++) {
        dense(colour[l], ca, cb, l < colour.length - 1);
        [ca, cb] = [cb, ca];
      }
      for (let c = 0; c < 3; c++) {
        let t = ca[c] * outScale[c] + outCentre[c];
        t = t < outMin[c] ? outMin[c] : t > outMax[c] ? outMax[c] : t;
        out[3 * p + c] = t < 0 ? 0 : t > 1 ? 1 : t;
      }
    }
    if (onRows && (r % 64 === 63 || r === height - 1)) onRows(r + 1, height);
  }
  return out;
}

/**
 * The HDR rendition (PQ BT.2020 float32 RGB) of a parsed payload on the CPU, from the base
 * image's distinct colours: {ids (per pixel), count, s (S per colour, count x 3)}.
 * options.kernel: 'auto' | 'generated' | 'loop' (Gain-MLP), or 'reference' (the per-pixel
 * evaluation of mlp_cpu.mjs, on S gathered per pixel).
 */
function decodeCpuColours(payload, colours, { onRows = null, kernel = 'auto', stats = null } = {}) {
  const { width, height, eps } = payload;
  if (kernel === 'reference' || payload.family === 'conventional') {
    return decodeCpu(payload, gatherColours(colours.ids, colours.s), { onRows });
  }
  if (payload.family === 'mlp-itm') {
    return decodeItmFast(Object.assign(unpackItmBody(payload.body), { view: payload.view }), colours, width, height,
      { onRows });
  }
  const params = Object.assign(unpackMlpBody(payload.body), { view: payload.view });
  return decodeMlpFast(params, payload.residual, colours, width, height, eps,
    { onRows, kernel, stats });
}

// ---- mlp_webgl.mjs
// The Gain-MLP network evaluated per pixel by a WebGL2 fragment shader into a float
// (RGBA32F) render target, in strips of rows; the same maths as mlp_cpu.mjs.
//
// Split of the work: the CPU computes, once per distinct colour of the base image (float64,
// as mlp_fast.mjs), the first layer's colour term W_sdr . enc(r, g, b) (the 3 x 2F sines
// and cosines and their product), S (SDR in HDR space) and the bilateral grids' luma
// guide, uploaded once as a table texture; per pixel only a colour number (an R32UI
// texture, in strips); and once per image the first layer's per-column and per-row terms
// (the coordinate encodings are separable). The GPU adds the three terms and evaluates
// the rest of the network, the grids and the residual.






const PACK_WIDTH = 2048; // texels per row of the packed parameter texture (WebGL2 minimum size)
const STRIP_PIXELS = 1 << 20;
const CONST_WEIGHT_TEXELS = 4096; // up to 16k weights are written into the shader as literals

/** A WebGL2 context that can render to float targets, or {reason} why there is none. */
function webglContext(canvas = null) {
  let c = canvas;
  if (!c) {
    if (typeof OffscreenCanvas !== 'undefined') c = new OffscreenCanvas(1, 1);
    else if (typeof document !== 'undefined') c = document.createElement('canvas');
    else return { gl: null, reason: 'no canvas (not a browser)' };
  }
  const gl = c.getContext('webgl2', { antialias: false, depth: false, stencil: false, premultipliedAlpha: false });
  if (!gl) return { gl: null, reason: 'WebGL2 is not available' };
  if (!gl.getExtension('EXT_color_buffer_float')) return { gl: null, reason: 'no EXT_color_buffer_float' };
  let renderer = gl.getParameter(gl.RENDERER);
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  if (info) renderer = gl.getParameter(info.UNMASKED_RENDERER_WEBGL);
  return { gl, renderer, reason: null };
}

const ceil4 = (n) => Math.ceil(n / 4);


/** The packed parameter texture's contents and the offsets (in texels) of each part. */
function packParams(prep) {
  const { params, wGrid, nGrid, entry, layers, grids } = prep;
  const parts = [];
  let texels = 0;
  const add = (n) => { const at = texels; texels += n; return at; };
  let gridWAt = 0;
  const we = nGrid ? params.weights[entry - 1].rows : 0;
  if (nGrid) {
    gridWAt = add(nGrid * ceil4(we));
    parts.push(() => {
      const out = new Float32Array(nGrid * ceil4(we) * 4);
      for (let j = 0; j < nGrid; j++) for (let o = 0; o < we; o++) out[j * ceil4(we) * 4 + o] = wGrid[o * nGrid + j];
      return [gridWAt, out];
    });
  }
  const layerAt = layers.map((L) => {
    const at = add(L.rows * ceil4(L.cols));
    parts.push(() => {
      const in4 = ceil4(L.cols);
      const out = new Float32Array(L.rows * in4 * 4);
      for (let o = 0; o < L.rows; o++) for (let j = 0; j < L.cols; j++) out[(o * in4) * 4 + j] = L.data[o * L.cols + j];
      return [at, out];
    });
    return at;
  });
  const weightTexels = texels; // weights first (uniforms when they fit), grid values after
  const gridAt = grids.map((g) => {
    const c4 = ceil4(g.chans);
    const cells = g.rows * g.cols * g.bins;
    const at = add(cells * c4);
    parts.push(() => {
      const out = new Float32Array(cells * c4 * 4);
      for (let cell = 0; cell < cells; cell++) {
        for (let c = 0; c < g.chans; c++) out[cell * c4 * 4 + c] = g.data[cell * g.chans + c];
      }
      return [at, out];
    });
    return at;
  });
  const rows = Math.max(1, Math.ceil(texels / PACK_WIDTH));
  const data = new Float32Array(rows * PACK_WIDTH * 4);
  for (const make of parts) {
    const [at, values] = make();
    data.set(values, at * 4);
  }
  return { data, rows, gridWAt, we, layerAt, gridAt, weightTexels };
}

const f = (x) => {
  const s = Math.fround(x).toPrecision(9);
  return /[.e]/.test(s) ? s : `${s}.0`;
};

/** GLSL of the fragment shader for one body shape (straight-line code, constant indices). */
function fragmentSource(prep, pack, kind, weightMode) {
  // weightMode 'const': weights as literals in the source (several times faster on SwiftShader);
  // 'uniform': a uniform array; 'texture': fetched from the packed texture
  const W = (i) => {
    if (weightMode !== 'const') return `W(${i})`;
    const v = pack.data.subarray(4 * i, 4 * i + 4);
    return `vec4(${f(v[0])}, ${f(v[1])}, ${f(v[2])}, ${f(v[3])})`;
  };
  const { params, h1, nGrid, entry, layers, grids } = prep;
  const L = [];
  const h14 = ceil4(h1);
  L.push(`#version 300 es
precision highp float;
precision highp int;
precision highp sampler2D;
precision highp usampler2D;
uniform usampler2D uIds;   // colour number per pixel (strip)
uniform sampler2D uTable;  // per colour: ${h14} texels of the colour term, then S_r, S_g, S_b, luma guide
uniform sampler2D uCol;    // first-layer column terms, one row of texels per image column
uniform sampler2D uRow;    // first-layer row terms (+ bias), one row per strip row
uniform sampler2D uP;      // packed weights and grids
uniform int uRow0;
uniform vec2 uSize;
uniform vec2 uViewA;     // grid coordinates: uViewA + (pixel + 0.5) / uViewS (the payload view)
uniform vec2 uViewS;
uniform float uEps;
uniform vec3 uPi;          // the pieces of pi (uniforms: never folded together)
uniform vec3 uOutCentre, uOutScale, uOutMin, uOutMax;
out vec4 outColor;

// The hidden layers' sines: x = j pi + r with pi in three pieces of 11 significant bits
// (PI_1..3 of mlp_wasm.mjs; j * piece exact for |j| < 2^13), then an odd polynomial for
// sin r on [-pi/2, pi/2] (Taylor to r^13, truncation < 7e-10): a GPU's sin() is only
// accurate near 0.
vec4 sinR(vec4 x) {
  vec4 j = floor(x * 0.318309886 + 0.5);
  vec4 r = ((x - j * uPi.x) - j * uPi.y) - j * uPi.z;
  vec4 z = r * r;
  vec4 p = r * (1.0 + z * (-1.66666667e-1 + z * (8.33333333e-3 + z * (-1.98412698e-4 + z * (2.75573192e-6
    + z * (-2.50521084e-8 + z * 1.60590438e-10))))));
  return p * (1.0 - 2.0 * (j - 2.0 * floor(j * 0.5)));
}
vec4 P(int i) { return texelFetch(uP, ivec2(i % ${PACK_WIDTH}, i / ${PACK_WIDTH}), 0); }
vec4 T(int i) { return texelFetch(uTable, ivec2(i % ${pack.tableWidth}, i / ${pack.tableWidth}), 0); }
${weightMode === 'uniform' ? `uniform vec4 uW[${pack.weightTexels}];
vec4 W(int i) { return uW[i]; }` : 'vec4 W(int i) { return P(i); }'}
`);
  // grid sampling helpers
  grids.forEach((g, gi) => {
    const c4 = ceil4(g.chans);
    L.push(`vec4 grid${gi}Cell(int yi, int xi, int zi, int q) {
  return P(${pack.gridAt[gi]} + ((yi * ${g.cols} + xi) * ${g.bins} + zi) * ${c4} + q);
}
vec4 grid${gi}(int q, vec2 uv, float guide) {
  vec2 gc = clamp(uv * vec2(${g.cols}.0, ${g.rows}.0) - 0.5, vec2(0.0), vec2(${g.cols - 1}.0, ${g.rows - 1}.0));
  vec2 i0f = floor(gc);
  ivec2 i0 = ivec2(i0f);
  ivec2 i1 = min(i0 + 1, ivec2(${g.cols - 1}, ${g.rows - 1}));
  vec2 w = gc - i0f;`);
    if (g.bins === 1) {
      L.push(`  vec4 a = grid${gi}Cell(i0.y, i0.x, 0, q), b = grid${gi}Cell(i0.y, i1.x, 0, q);
  vec4 c = grid${gi}Cell(i1.y, i0.x, 0, q), d = grid${gi}Cell(i1.y, i1.x, 0, q);`);
    } else {
      L.push(`  float gz = clamp(guide * ${g.bins}.0 - 0.5, 0.0, ${g.bins - 1}.0);
  int z0 = int(floor(gz));
  int z1 = min(z0 + 1, ${g.bins - 1});
  float wz = gz - floor(gz);
  vec4 a = mix(grid${gi}Cell(i0.y, i0.x, z0, q), grid${gi}Cell(i0.y, i0.x, z1, q), wz);
  vec4 b = mix(grid${gi}Cell(i0.y, i1.x, z0, q), grid${gi}Cell(i0.y, i1.x, z1, q), wz);
  vec4 c = mix(grid${gi}Cell(i1.y, i0.x, z0, q), grid${gi}Cell(i1.y, i0.x, z1, q), wz);
  vec4 d = mix(grid${gi}Cell(i1.y, i1.x, z0, q), grid${gi}Cell(i1.y, i1.x, z1, q), wz);`);
    }
    L.push(`  vec4 top = a + (b - a) * w.x;
  vec4 bottom = c + (d - c) * w.x;
  return top + (bottom - top) * w.y;
}
`);
  });
  // main(): generated straight-line code, every index a constant (no local arrays, which
  // software GL spills to memory): layer values live in vec4 variables hL_q.
  const q4 = (name, width) => Array.from({ length: ceil4(width) }, (_, q) => `${name}_${q}`);
  L.push(`void main() {
  ivec2 pix = ivec2(gl_FragCoord.xy);
  int row = uRow0 + pix.y;
  int cb = int(texelFetch(uIds, pix, 0).x) * ${h14 + 1};
  vec4 S = T(cb + ${h14});`);
  let h = q4('h0', h1);
  h.forEach((v, q) => L.push(`  vec4 ${v} = T(cb + ${q}) + (texelFetch(uCol, ivec2(${q}, pix.x), 0) + texelFetch(uRow, ivec2(${q}, pix.y), 0));`));
  const feats = [];
  if (nGrid) {
    L.push('  vec2 uv = uViewA + (vec2(float(pix.x), float(row)) + 0.5) / uViewS;');
    // a view: the centre of the original pixel (payload.mjs viewAxes)
    if (prep.uvSnap) L.push(`  uv = (clamp(floor(uv * vec2(${prep.uvSnap[0]}.0, ${prep.uvSnap[1]}.0)), vec2(0.0), vec2(${prep.uvSnap[0] - 1}.0, ${prep.uvSnap[1] - 1}.0)) + 0.5) / vec2(${prep.uvSnap[0]}.0, ${prep.uvSnap[1]}.0);`);
    grids.forEach((g, gi) => {
      for (let q = 0; q < ceil4(g.chans); q++) {
        L.push(`  vec4 g${gi}_${q} = grid${gi}(${q}, uv, S.w);`);
        for (let k = 0; k < 4 && 4 * q + k < g.chans; k++) feats.push(`g${gi}_${q}.${'xyzw'[k]}`);
      }
    });
  }
  const gridTerm = (vars) => {
    feats.forEach((feat, j) => vars.forEach((v, q) => {
      L.push(`  ${v} += ${feat} * ${W(pack.gridWAt + j * vars.length + q)};`);
    }));
  };
  if (nGrid && entry === 1) gridTerm(h);
  const sine = params.activation === 'sine';
  layers.forEach((Ly, l) => {
    h.forEach((v) => L.push(`  ${v} = ${sine ? `sinR(${v})` : `max(${v}, vec4(0.0))`};`));
    const in4 = ceil4(Ly.cols);
    const next = q4(`h${l + 1}`, Ly.rows);
    next.forEach((v, q) => {
      const parts = [];
      for (let k = 0; k < 4; k++) {
        const o = 4 * q + k;
        if (o >= Ly.rows) {
          parts.push('0.0');
          continue;
        }
        parts.push(h.map((hv, i) => `dot(${hv}, ${W(pack.layerAt[l] + o * in4 + i)})`).join(' + '));
      }
      L.push(`  vec4 ${v} = vec4(${parts.join(',\n    ')});`);
    });
    if (nGrid && l + 2 === entry) gridTerm(next);
    h = next;
  });
  const prev = h[0];
  const log2 = params.outputTransform === 'log2';
  L.push(`  vec3 t = clamp(${prev}.xyz * uOutScale + uOutCentre, uOutMin, uOutMax);
  ${log2 ? 't = exp2(t);' : ''}
  vec3 H;`);
  if (kind === 'direct') L.push('  H = t;');
  else if (kind === 'gain') L.push('  H = (max(S.xyz, 0.0) + uEps) * t - uEps;');
  else L.push(`  H = pow(clamp(S.xyz + uEps, uEps, ${f(1 - GAMMA_GUARD)}), t) - uEps;`);
  L.push(`  outColor = vec4(clamp(H, 0.0, 1.0), 1.0);
}`);
  return L.join('\n');
}

const VERTEX = `#version 300 es
void main() {
  vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
  gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}`;

function compile(gl, type, src) {
  const s = gl.createShader(type);
  gl.shaderSource(s, src);
  gl.compileShader(s);
  if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) {
    const log = gl.getShaderInfoLog(s);
    gl.deleteShader(s);
    throw new Error(`WebGL shader does not compile: ${log}`);
  }
  return s;
}

function floatTexture(gl, width, height, data) {
  const t = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, t);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32F, width, height, 0, gl.RGBA, gl.FLOAT, data);
  return t;
}

/**
 * Evaluate a parsed Gain-MLP body on the GPU.
 * @param params unpacked body (body.mjs); kind 'gain' | 'gamma' | 'direct'
 * @param colours the base image's distinct colours: {ids (Int32Array, per pixel), count,
 *   s (Float32Array, S per colour, count x 3)}; eps the payload's offset
 * @param options.weights 'auto' | 'const' (literals in the shader) | 'uniform' | 'texture'
 * @returns {Float32Array} PQ BT.2020 RGB
 */
function decodeMlpWebgl(gl, params, kind, colours, width, height, eps,
  { onRows = null, stats = {}, weights = 'auto' } = {}) {
  const clock = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());
  let t = clock();
  const maxTex = gl.getParameter(gl.MAX_TEXTURE_SIZE);
  if (width > maxTex) {
    throw new GainMLPError(`the image is ${width} pixels wide; this GPU's textures hold ${maxTex}`);
  }
  const prep = prepareMlp(params, width, height);
  const pack = packParams(prep);
  if (pack.rows > maxTex) throw new GainMLPError('the network is too large for this GPU\'s textures');
  const h14 = ceil4(prep.h1);
  // the per-colour table: h14 texels of the colour term, then S and the luma guide
  const per = h14 + 1;
  const k = colours.count;
  pack.tableWidth = Math.min(maxTex, 8192);
  const tableRows = Math.max(1, Math.ceil((k * per) / pack.tableWidth));
  if (tableRows > maxTex) throw new GainMLPError(`the image has ${k} colours; this GPU's textures hold fewer`);
  const tables = colourTables(prep, 'direct', colours, eps);
  const table = new Float32Array(tableRows * pack.tableWidth * 4);
  const { gridGuide } = params;
  const bilateral = params.grids.some((g) => g.shape[2] > 1);
  for (let c = 0, s = colours.s; c < k; c++) {
    const b = c * per * 4;
    for (let o = 0; o < prep.h1; o++) table[b + o] = tables.term[c * prep.h1 + o];
    const s0 = s[3 * c], s1 = s[3 * c + 1], s2 = s[3 * c + 2];
    table[b + h14 * 4] = s0;
    table[b + h14 * 4 + 1] = s1;
    table[b + h14 * 4 + 2] = s2;
    table[b + h14 * 4 + 3] = bilateral ? lumaGuide(s0, s1, s2, gridGuide[0], gridGuide[1]) : 0;
  }
  const stripRows = Math.max(1, Math.min(height, Math.floor(STRIP_PIXELS / width), maxTex));

  stats.prepare = clock() - t;
  t = clock();
  const program = gl.createProgram();
  const vs = compile(gl, gl.VERTEX_SHADER, VERTEX);
  // weights as literals for networks of the usual size, else fetched from the texture (on
  // SwiftShader, 1 MP: literals 2x faster than the texture, 3x faster than uniforms;
  // docs/results/web/decode_1mp_weight_modes.txt)
  const fitsUniforms = pack.weightTexels + 64 <= gl.getParameter(gl.MAX_FRAGMENT_UNIFORM_VECTORS);
  const weightMode = weights !== 'auto' ? weights : pack.weightTexels <= CONST_WEIGHT_TEXELS ? 'const' : 'texture';
  if (weightMode === 'uniform' && !fitsUniforms) throw new Error('the weights do not fit the uniforms here');
  stats.weights = weightMode;
  const fs = compile(gl, gl.FRAGMENT_SHADER, fragmentSource(prep, pack, kind, weightMode));
  gl.attachShader(program, vs);
  gl.attachShader(program, fs);
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
    throw new Error(`WebGL program does not link: ${gl.getProgramInfoLog(program)}`);
  }
  gl.useProgram(program);
  stats.compile = clock() - t;
  stats.inputs = 0;
  stats.gpu = 0;
  const textures = [];
  const bind = (unit, name, tex) => {
    gl.activeTexture(gl.TEXTURE0 + unit);
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.uniform1i(gl.getUniformLocation(program, name), unit);
  };
  gl.activeTexture(gl.TEXTURE7);
  const packTex = floatTexture(gl, PACK_WIDTH, pack.rows, pack.data);
  const colData = new Float32Array(width * h14 * 4);
  for (let i = 0; i < width; i++) for (let o = 0; o < prep.h1; o++) colData[(i * h14) * 4 + o] = prep.colTerms[i * prep.h1 + o];
  const colTex = floatTexture(gl, h14, width, colData);
  const rowTex = floatTexture(gl, h14, stripRows, null);
  const tableTex = floatTexture(gl, pack.tableWidth, tableRows, table);
  const idTex = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, idTex);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
  gl.texStorage2D(gl.TEXTURE_2D, 1, gl.R32UI, width, stripRows);
  textures.push(packTex, colTex, rowTex, tableTex, idTex);
  bind(0, 'uIds', idTex);
  bind(1, 'uTable', tableTex);
  bind(2, 'uCol', colTex);
  bind(3, 'uRow', rowTex);
  bind(4, 'uP', packTex);
  const u = (name) => gl.getUniformLocation(program, name);
  gl.uniform2f(u('uSize'), width, height);
  gl.uniform2f(u('uViewA'), prep.uvOffset[0], prep.uvOffset[1]);
  gl.uniform2f(u('uViewS'), prep.uvScale[0], prep.uvScale[1]);
  gl.uniform3f(u('uPi'), PI_1, PI_2, PI_3);
  gl.uniform1f(u('uEps'), eps);
  if (weightMode === 'uniform') gl.uniform4fv(u('uW[0]'), pack.data.subarray(0, pack.weightTexels * 4));
  gl.uniform3fv(u('uOutCentre'), params.outCentre);
  gl.uniform3fv(u('uOutScale'), params.outScale);
  gl.uniform3fv(u('uOutMin'), params.outMin);
  gl.uniform3fv(u('uOutMax'), params.outMax);

  gl.activeTexture(gl.TEXTURE7); // a unit no sampler uses, so creating the target unbinds nothing
  const target = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, target);
  gl.texStorage2D(gl.TEXTURE_2D, 1, gl.RGBA32F, width, stripRows);
  textures.push(target);
  const fb = gl.createFramebuffer();
  gl.bindFramebuffer(gl.FRAMEBUFFER, fb);
  gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, target, 0);
  if (gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) {
    throw new Error('WebGL cannot render to a float texture here');
  }
  const vao = gl.createVertexArray();
  gl.bindVertexArray(vao);

  const out = new Float32Array(width * height * 3);
  const ids = new Uint32Array(colours.ids.buffer, colours.ids.byteOffset, colours.ids.length);
  const rowData = new Float32Array(h14 * stripRows * 4);
  const back = new Float32Array(width * stripRows * 4);
  try {
    for (let r0 = 0; r0 < height; r0 += stripRows) {
      t = clock();
      const rows = Math.min(stripRows, height - r0);
      rowData.fill(0);
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < prep.h1; o++) rowData[r * h14 * 4 + o] = prep.rowTerms[(r0 + r) * prep.h1 + o];
      }
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, idTex);
      gl.pixelStorei(gl.UNPACK_ALIGNMENT, 4);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, width, rows, gl.RED_INTEGER, gl.UNSIGNED_INT,
        ids.subarray(r0 * width, (r0 + rows) * width));
      gl.activeTexture(gl.TEXTURE3);
      gl.bindTexture(gl.TEXTURE_2D, rowTex);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, h14, rows, gl.RGBA, gl.FLOAT, rowData);
      stats.inputs += clock() - t;
      t = clock();
      gl.uniform1i(u('uRow0'), r0);
      gl.viewport(0, 0, width, rows);
      gl.drawArrays(gl.TRIANGLES, 0, 3);
      gl.readPixels(0, 0, width, rows, gl.RGBA, gl.FLOAT, back);
      stats.gpu += clock() - t;
      for (let i = 0, p = r0 * width * 3; i < rows * width; i++, p += 3) {
        out[p] = back[4 * i];
        out[p + 1] = back[4 * i + 1];
        out[p + 2] = back[4 * i + 2];
      }
      if (onRows) onRows(r0 + rows, height);
    }
    const err = gl.getError();
    if (err !== gl.NO_ERROR) throw new Error(`WebGL error 0x${err.toString(16)}`);
  } finally {
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.deleteFramebuffer(fb);
    for (const t of textures) gl.deleteTexture(t);
    gl.deleteVertexArray(vao);
    gl.deleteProgram(program);
    gl.deleteShader(vs);
    gl.deleteShader(fs);
  }
  return out;
}

const webglInternals = { fragmentSource, packParams };

// ---- display.mjs
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



/** What this browser and screen can show. */
function displayCapabilities() {
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
async function drawHdr(canvas, result, { mode = 'auto', exposure = 0 } = {}) {
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

const displayInternals = { floatToHalf };

// ---- gainmap_meta.mjs
// What a standard gain-map JPEG says about its gain map, read as gainmlp's Python reader
// reads it (gainmlp.container: xmp, iso21496, apple, mpf, icc, segments): the hdrgm XMP
// (attributes or rdf:Seq elements, extended XMP), the ISO 21496-1 binary record, Apple's
// HDRGainMap XMP and maker-note headroom, the MPF index (or appended JPEGs), and the ICC
// profile's primaries (gainmap_icc.mjs). Every check and message follows the Python
// modules; the rendering is gainmap.mjs.




const GM_ISO_ID = 'urn:iso:std:iso:ts:21496:-1\0';
const GM_XMP_ID = 'http://ns.adobe.com/xap/1.0/\0';
const GM_XMP_EXT_ID = 'http://ns.adobe.com/xmp/extension/\0';
const GM_HDRGM_NS = 'http://ns.adobe.com/hdr-gain-map/1.0/';
const GM_CONTAINER_NS = 'http://ns.google.com/photos/1.0/container/';
const GM_APPLE_NS = 'http://ns.apple.com/HDRGainMap/1.0/';
const GM_MPF_ID = 'MPF\0';
const GM_EXIF_ID = 'Exif\0\0';
const GM_APP1 = 0xe1;
const GM_APP2 = 0xe2;
const GM_MAX_XMP_CHARS = 4 << 20;
const GM_ISO_SIGNED_MAX = 2 ** 31 - 1;
const GM_ISO_UNSIGNED_MAX = 2 ** 32 - 1;

/** Whether `bytes` starts with the characters of `text` (latin-1). */
function gmStartsWith(bytes, text, at = 0) {
  if (bytes.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** The first APPn segment of `segments` whose payload starts with `id`, or null. */
function findApp(segments, marker, id) {
  for (const s of segments) if (s.marker === marker && gmStartsWith(s.payload, id)) return s;
  return null;
}

const utf8 = (bytes) => new TextDecoder('utf-8').decode(bytes); // errors='replace'

// ---------------------------------------------------------------- numbers as Python reads them

/** float(text) as Python parses it; undefined where Python raises ValueError. */
function parsePyFloat(text) {
  const t = String(text).trim().toLowerCase().replace(/_/g, '');
  const special = /^([+-]?)(inf|infinity|nan)$/.exec(t);
  if (special) return special[2] === 'nan' ? NaN : (special[1] === '-' ? -Infinity : Infinity);
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t) ? Number(t) : undefined;
}

// ---------------------------------------------------------------- metadata (iso_gainmap)

function triple(value, name) {
  const arr = Array.isArray(value) ? value : [value];
  if (arr.length === 1) return [arr[0], arr[0], arr[0]];
  if (arr.length !== 3) throw new GainMLPError(`gain-map ${name} needs 1 or 3 values, got ${arr.length}`);
  if (!arr.every(Number.isFinite)) throw new GainMLPError(`gain-map ${name} is not finite`);
  return arr.slice();
}

/**
 * Gain-map metadata checked as gainmlp.iso_gainmap.GainMapMetadata checks it (log2 min/max
 * and capacities, RGB triples).
 */
function gainMapMetadata({ gainMapMin = 0, gainMapMax = 1, gamma = 1, offsetSdr = 1 / 64,
  offsetHdr = 1 / 64, hdrCapacityMin = 0, hdrCapacityMax = 1, baseIsHdr = false, useBaseColourSpace = true }) {
  const m = { gainMapMin: triple(gainMapMin, 'gain_map_min'), gainMapMax: triple(gainMapMax, 'gain_map_max'),
    gamma: triple(gamma, 'gamma'), offsetSdr: triple(offsetSdr, 'offset_sdr'), offsetHdr: triple(offsetHdr, 'offset_hdr'),
    hdrCapacityMin, hdrCapacityMax, baseIsHdr: !!baseIsHdr, useBaseColourSpace: !!useBaseColourSpace };
  for (const name of ['gainMapMin', 'gainMapMax', 'gamma', 'offsetSdr', 'offsetHdr']) {
    if (!m[name].every(Number.isFinite)) throw new GainMLPError(`gain-map ${name} is not finite`);
  }
  for (const [name, key] of [['hdr_capacity_min', 'hdrCapacityMin'], ['hdr_capacity_max', 'hdrCapacityMax']]) {
    const v = m[key];
    if (!Number.isFinite(v)) throw new GainMLPError(`gain-map ${name} = ${pyFloat(v)} is not finite`);
    if (!(v >= 0 && v <= GM_ISO_UNSIGNED_MAX)) {
      throw new GainMLPError(`gain-map ${name} = ${pyFloat(v)} is outside 0..2^32-1 (ISO 21496-1 headroom)`);
    }
  }
  for (const [name, key] of [['gain_map_min', 'gainMapMin'], ['gain_map_max', 'gainMapMax'],
    ['offset_sdr', 'offsetSdr'], ['offset_hdr', 'offsetHdr']]) {
    for (const v of m[key]) {
      if (Math.abs(v) > GM_ISO_SIGNED_MAX) {
        throw new GainMLPError(`gain-map ${name} = ${pyFloat(v)} is outside +-2^31 (ISO 21496-1 range)`);
      }
    }
  }
  for (let c = 0; c < 3; c++) {
    if (m.gainMapMax[c] < m.gainMapMin[c]) {
      throw new GainMLPError(`gain-map max ${pyFloat(m.gainMapMax[c])} is below min ${pyFloat(m.gainMapMin[c])}`);
    }
    if (!(m.gamma[c] > 0 && m.gamma[c] <= GM_ISO_UNSIGNED_MAX)) {
      throw new GainMLPError(`gain-map gamma ${pyFloat(m.gamma[c])} must be above 0 (ISO 21496-1)`);
    }
  }
  if (m.hdrCapacityMax < m.hdrCapacityMin) {
    throw new GainMLPError(`HDR capacity max ${pyFloat(m.hdrCapacityMax)} is below min ${pyFloat(m.hdrCapacityMin)}`);
  }
  return m;
}

function isClose(a, b, rel = 1e-3, abs = 1e-4) {
  return Math.abs(a - b) <= Math.max(rel * Math.max(Math.abs(a), Math.abs(b)), abs);
}

/** GainMapMetadata.close_to: field-wise within rounding of fractions and decimals. */
function metadataClose(a, b) {
  for (const k of ['gainMapMin', 'gainMapMax', 'gamma', 'offsetSdr', 'offsetHdr']) {
    for (let c = 0; c < 3; c++) if (!isClose(a[k][c], b[k][c])) return false;
  }
  return isClose(a.hdrCapacityMin, b.hdrCapacityMin) && isClose(a.hdrCapacityMax, b.hdrCapacityMax) &&
    a.baseIsHdr === b.baseIsHdr;
}

// ---------------------------------------------------------------- XMP (container.xmp)

/** [standard XMP packet, reassembled extended XMP packet] of a header (null if absent). */
function readXmp(segments) {
  let main = null;
  const std = findApp(segments, GM_APP1, GM_XMP_ID);
  if (std) main = utf8(std.payload.subarray(GM_XMP_ID.length));
  const groups = new Map();
  const hsize = GM_XMP_EXT_ID.length + 32 + 8;
  for (const s of segments) {
    if (s.marker !== GM_APP1 || !gmStartsWith(s.payload, GM_XMP_EXT_ID) || s.payload.length < hsize) continue;
    const guid = String.fromCharCode(...s.payload.subarray(GM_XMP_EXT_ID.length, GM_XMP_EXT_ID.length + 32));
    const dv = new DataView(s.payload.buffer, s.payload.byteOffset + GM_XMP_EXT_ID.length + 32, 8);
    const total = dv.getUint32(0);
    const off = dv.getUint32(4);
    if (!groups.has(guid)) groups.set(guid, { total, chunks: new Map() });
    const g = groups.get(guid);
    if (g.total !== total) continue;
    g.chunks.set(off, s.payload.subarray(hsize));
  }
  let wanted = null;
  if (main !== null && main.includes('HasExtendedXMP')) {
    for (const guid of groups.keys()) if (main.includes(guid)) wanted = guid;
  }
  let extended = null;
  for (const [guid, { total, chunks }] of groups) {
    if (wanted !== null && guid !== wanted) continue;
    let pos = 0;
    const parts = [];
    for (const off of [...chunks.keys()].sort((a, b) => a - b)) {
      if (off !== pos) break;
      parts.push(chunks.get(off));
      pos += chunks.get(off).length;
    }
    if (pos === total && parts.length) {
      const all = new Uint8Array(pos);
      let p = 0;
      for (const part of parts) {
        all.set(part, p);
        p += part.length;
      }
      extended = utf8(all);
      break;
    }
  }
  return [main, extended];
}

/**
 * XMP text of the images of one file within a total allowance (xmp.XmpAllowance, 16 Mi
 * characters): `text(segments)` is an image's standard + extended XMP cut to 4 Mi
 * characters and to what is left, '' once spent.
 */
function xmpAllowance(limit = 16 << 20) {
  let left = limit;
  return {
    text(segments) {
      if (left <= 0) return '';
      const [main, ext] = readXmp(segments);
      const text = ((main || '') + (ext || '')).slice(0, Math.min(left, GM_MAX_XMP_CHARS));
      left -= Math.max(text.length, 1);
      return text;
    },
  };
}

const reEscape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function nsPrefix(xml, ns) {
  const m = new RegExp(`xmlns:([A-Za-z_][\\w.-]{0,64})\\s{0,16}=\\s{0,16}["']${reEscape(ns)}["']`).exec(xml);
  return m ? m[1] : null;
}

const HDRGM_FIELDS = ['Version', 'GainMapMin', 'GainMapMax', 'Gamma', 'OffsetSDR', 'OffsetHDR',
  'HDRCapacityMin', 'HDRCapacityMax', 'BaseRenditionIsHDR'];

/** The hdrgm properties of an XMP packet as lists of strings (xmp.parse_hdrgm_xmp). */
function parseHdrgmXmp(xml) {
  xml = xml.slice(0, GM_MAX_XMP_CHARS);
  const prefix = nsPrefix(xml, GM_HDRGM_NS);
  if (prefix === null) return {};
  const p = reEscape(prefix);
  const out = {};
  for (const name of HDRGM_FIELDS) {
    let m = new RegExp(`\\b${p}:${name}\\s{0,16}=\\s{0,16}(?:"([^"<]{0,256})"|'([^'<]{0,256})')`).exec(xml);
    if (m) {
      out[name] = [(m[1] !== undefined ? m[1] : m[2]).trim()];
      continue;
    }
    const open = new RegExp(`<${p}:${name}(?:\\s[^<>]{0,512})?>`, 'g');
    m = open.exec(xml);
    if (!m) continue;
    const start = m.index + m[0].length;
    const end = xml.indexOf(`</${prefix}:${name}`, start);
    if (end < 0) continue;
    const inner = xml.slice(start, end);
    const items = [...inner.matchAll(/<rdf:li(?:\s[^<>]{0,512})?>([^<]{0,256})<\/rdf:li\s{0,16}>/g)].map((x) => x[1].trim());
    out[name] = items.length ? items : [inner.trim()];
  }
  return out;
}

function xmpFloats(values, name) {
  if (values.length !== 1 && values.length !== 3) {
    throw new GainMLPError(`XMP hdrgm:${name} has ${values.length} values, expected 1 or 3`);
  }
  const nums = values.map(parsePyFloat);
  if (nums.some((v) => v === undefined)) {
    throw new GainMLPError(`XMP hdrgm:${name} is not a number: '${values[0].slice(0, 40)}'`);
  }
  if (!nums.every(Number.isFinite)) throw new GainMLPError(`XMP hdrgm:${name} is not finite`);
  return nums;
}

/** Metadata from parseHdrgmXmp's properties (xmp.metadata_from_xmp); null without GainMapMax. */
function metadataFromXmp(props) {
  if (!('GainMapMax' in props)) return null;
  const get = (name, dflt) => (name in props ? xmpFloats(props[name], name) : [dflt]);
  const gmax = get('GainMapMax', 1);
  const capMin = get('HDRCapacityMin', 0);
  const capMax = get('HDRCapacityMax', Math.max(...gmax));
  if (capMin.length !== 1 || capMax.length !== 1) {
    throw new GainMLPError('XMP hdrgm:HDRCapacityMin/Max must be single values');
  }
  const baseHdr = (props.BaseRenditionIsHDR || ['False'])[0].trim().toLowerCase();
  if (baseHdr !== 'true' && baseHdr !== 'false') throw new GainMLPError('XMP hdrgm:BaseRenditionIsHDR must be True or False');
  for (const name of ['OffsetSDR', 'OffsetHDR', 'HDRCapacityMin']) {
    const lowest = Math.min(...get(name, 0));
    if (lowest < 0) {
      throw new GainMLPError(`XMP hdrgm:${name} ${pyFloat(lowest)} is negative (Adobe Gain Map 1.0 requires >= 0)`);
    }
  }
  return gainMapMetadata({ gainMapMin: get('GainMapMin', 0), gainMapMax: gmax, gamma: get('Gamma', 1),
    offsetSdr: get('OffsetSDR', 1 / 64), offsetHdr: get('OffsetHDR', 1 / 64), hdrCapacityMin: capMin[0],
    hdrCapacityMax: capMax[0], baseIsHdr: baseHdr === 'true' });
}

// ---------------------------------------------------------------- ISO 21496-1 (container.iso21496)

/** The ISO 21496-1 record after the URN; null for a version-only record. */
function decodeIso21496(record) {
  if (record.length < 4) throw new GainMLPError('ISO 21496-1 metadata is truncated');
  const dv = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const minVersion = dv.getUint16(0);
  if (minVersion !== 0) throw new GainMLPError(`ISO 21496-1 metadata needs reader version ${minVersion}`);
  if (record.length === 4) return null;
  let pos = 4;
  const need = (n) => {
    if (pos + n > record.length) throw new GainMLPError('ISO 21496-1 metadata is truncated');
  };
  const u8 = () => { need(1); return record[pos++]; };
  const u32 = () => { need(4); pos += 4; return dv.getUint32(pos - 4); };
  const i32 = () => { need(4); pos += 4; return dv.getInt32(pos - 4); };
  const ratio = (n, d, what) => {
    if (d === 0) throw new GainMLPError(`ISO 21496-1 ${what} has a zero denominator`);
    return n / d;
  };
  const flags = u8();
  const channels = flags & 0x80 ? 3 : 1;
  const useBase = !!(flags & 0x40);
  const backward = !!(flags & 0x04);
  const common = !!(flags & 0x08);
  let baseHead, altHead;
  const rows = [];
  if (common) {
    const den = u32();
    const bh = u32(), ah = u32();
    baseHead = ratio(bh, den, 'headroom');
    altHead = ratio(ah, den, 'headroom');
    for (let c = 0; c < channels; c++) {
      const v = [i32(), i32(), u32(), i32(), i32()];
      rows.push(v.map((x) => ratio(x, den, 'value')));
    }
  } else {
    const bh = u32(), bhd = u32(), ah = u32(), ahd = u32();
    baseHead = ratio(bh, bhd, 'headroom');
    altHead = ratio(ah, ahd, 'headroom');
    for (let c = 0; c < channels; c++) {
      const v = [i32(), u32(), i32(), u32(), u32(), u32(), i32(), u32(), i32(), u32()];
      rows.push([0, 1, 2, 3, 4].map((k) => ratio(v[2 * k], v[2 * k + 1], 'value')));
    }
  }
  while (rows.length < 3) rows.push(rows[0]);
  const col = (k) => rows.map((r) => r[k]);
  const baseIsHdr = backward || baseHead > altHead;
  const baseOff = col(3), altOff = col(4);
  return gainMapMetadata({ gainMapMin: col(0), gainMapMax: col(1), gamma: col(2),
    offsetSdr: baseIsHdr ? altOff : baseOff, offsetHdr: baseIsHdr ? baseOff : altOff,
    hdrCapacityMin: Math.min(baseHead, altHead), hdrCapacityMax: Math.max(baseHead, altHead),
    baseIsHdr, useBaseColourSpace: useBase });
}

// ---------------------------------------------------------------- Apple (container.apple)

function appleProperty(xml, prefix, name) {
  const p = reEscape(prefix);
  let m = new RegExp(`\\b${p}:${name}\\s{0,16}=\\s{0,16}(?:"([^"<]{0,64})"|'([^'<]{0,64})')`).exec(xml);
  if (m) return (m[1] !== undefined ? m[1] : m[2]).trim();
  m = new RegExp(`<${p}:${name}(?:\\s[^<>]{0,512})?>([^<]{0,64})</${p}:${name}\\s{0,16}>`).exec(xml);
  return m ? m[1].trim() : null;
}

/** [HDRGainMapVersion, HDRGainMapHeadroom or null] of a gain map's XMP; null when not Apple's. */
function parseAppleXmp(xml) {
  xml = xml.slice(0, 1 << 20);
  const prefix = nsPrefix(xml, GM_APPLE_NS);
  if (prefix === null) return null;
  const versionText = appleProperty(xml, prefix, 'HDRGainMapVersion');
  if (versionText === null) return null;
  if (!/^[+-]?\d+$/.test(versionText.replace(/_/g, ''))) {
    throw new GainMLPError(`Apple HDRGainMapVersion is not an integer: '${versionText}'`);
  }
  const version = Number(versionText.replace(/_/g, ''));
  const text = appleProperty(xml, prefix, 'HDRGainMapHeadroom');
  if (text === null) return [version, null];
  const headroom = parsePyFloat(text);
  if (headroom === undefined) throw new GainMLPError(`Apple HDRGainMapHeadroom is not a number: '${text}'`);
  if (!Number.isFinite(headroom) || headroom < 1) {
    throw new GainMLPError(`Apple HDRGainMapHeadroom ${pyFloat(headroom)} must be a finite number >= 1`);
  }
  return [version, headroom];
}

/** The maker note (EXIF tag 0x927C in the Exif IFD) of an EXIF APP1 payload, or null. */
function exifMakerNote(payload) {
  try {
    const tiff = payload.subarray(GM_EXIF_ID.length);
    const le = tiff[0] === 0x49 && tiff[1] === 0x49;
    if (!le && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return null;
    const dv = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
    const u16 = (p) => dv.getUint16(p, le);
    const u32 = (p) => dv.getUint32(p, le);
    const entry = (ifd, tag) => {
      const n = u16(ifd);
      for (let k = 0; k < Math.min(n, 4096); k++) {
        const p = ifd + 2 + 12 * k;
        if (u16(p) === tag) return { type: u16(p + 2), count: u32(p + 4), at: p + 8 };
      }
      return null;
    };
    const exifIfd = entry(u32(4), 0x8769);
    if (!exifIfd) return null;
    const note = entry(u32(exifIfd.at), 0x927c);
    if (!note || note.type !== 7) return null;
    const at = note.count <= 4 ? note.at : u32(note.at);
    if (at + note.count > tiff.length) return null;
    return tiff.subarray(at, at + note.count);
  } catch {
    return null; // a RangeError on a truncated EXIF: no maker note
  }
}

/** Values of tags 33 and 48 of an Apple maker note (apple.maker_note_values). */
function makerNoteValues(note, tags = [33, 48]) {
  const out = {};
  if (note.length < 16 || !gmStartsWith(note, 'Apple iOS\0')) return out;
  const order = String.fromCharCode(note[12], note[13]);
  if (order !== 'MM' && order !== 'II') return out;
  const le = order === 'II';
  const dv = new DataView(note.buffer, note.byteOffset, note.byteLength);
  const count = dv.getUint16(14, le);
  const sizes = { 5: 8, 10: 8, 11: 4, 12: 8 };
  for (let k = 0; k < Math.min(count, 4096); k++) {
    const pos = 16 + 12 * k;
    if (pos + 12 > note.length) break;
    const tag = dv.getUint16(pos, le), typ = dv.getUint16(pos + 2, le), n = dv.getUint32(pos + 4, le);
    if (!tags.includes(tag) || n !== 1 || !(typ in sizes)) continue;
    const size = sizes[typ];
    const at = size <= 4 ? pos + 8 : dv.getUint32(pos + 8, le);
    if (at + size > note.length) continue;
    let value;
    if (typ === 5 || typ === 10) {
      const a = typ === 5 ? dv.getUint32(at, le) : dv.getInt32(at, le);
      const b = typ === 5 ? dv.getUint32(at + 4, le) : dv.getInt32(at + 4, le);
      if (b === 0) continue;
      value = a / b;
    } else value = typ === 11 ? dv.getFloat32(at, le) : dv.getFloat64(at, le);
    if (Number.isFinite(value)) out[tag] = value;
  }
  return out;
}

/** Apple's headroom (linear) from maker-note tags 33 and 48. */
function headroomFromMakerNote(m33, m48) {
  let stops;
  if (m33 < 1) stops = m48 <= 0.01 ? -20 * m48 + 1.8 : -0.101 * m48 + 1.601;
  else stops = m48 <= 0.01 ? -70 * m48 + 3 : -0.303 * m48 + 2.303;
  return 2 ** Math.max(stops, 0);
}

/** {version, headroom, source} of an Apple gain map (apple.read_apple_gain_map), or null. */
function readAppleGainMap(xml, exifPayload, notes) {
  const parsed = parseAppleXmp(xml);
  if (parsed === null) return null;
  const [version, headroom] = parsed;
  if (headroom !== null) return { version, headroom, source: 'xmp' };
  const note = exifPayload ? exifMakerNote(exifPayload) : null;
  const values = note ? makerNoteValues(note) : {};
  if (33 in values && 48 in values) {
    return { version, headroom: headroomFromMakerNote(values[33], values[48]), source: 'maker-note' };
  }
  const dflt = headroomFromMakerNote(0, 8);
  notes.push(`Apple gain map without a headroom (no HDRGainMapHeadroom, no maker-note tags 33 and 48); ` +
    `using ${dflt.toFixed(3)} (${Math.log2(dflt).toFixed(3)} stops, the weakest Apple reconstruction)`);
  return { version, headroom: dflt, source: 'default' };
}

/** AppleGainMap.metadata(): the map's range as ISO 21496-1 fields (a summary). */
function appleMetadata(apple) {
  const stops = Math.log2(apple.headroom);
  return gainMapMetadata({ gainMapMin: 0, gainMapMax: stops, gamma: 1, offsetSdr: 0, offsetHdr: 0,
    hdrCapacityMin: 0, hdrCapacityMax: stops });
}

// ---------------------------------------------------------------- where the images are (mpf, segments)

/** Offset just past the EOI of the JPEG image at `start` (segments.find_image_end). */
function findImageEnd(data, start = 0) {
  const segments = parseSegments(data, start);
  const last = segments[segments.length - 1];
  let pos = last.offset + last.size;
  const n = data.length;
  for (;;) {
    const i = data.indexOf(0xff, pos);
    if (i < 0 || i + 1 >= n) throw new GainMLPError(`JPEG image at byte ${start} is truncated (no EOI marker)`);
    const b = data[i + 1];
    if (b === 0x00 || (b >= 0xd0 && b <= 0xd7) || b === 0x01) pos = i + 2;
    else if (b === 0xff) pos = i + 1;
    else if (b === 0xd9) return i + 2;
    else if (b === 0xd8) throw new GainMLPError(`unexpected SOI marker inside image data at byte ${i}`);
    else {
      if (i + 4 > n) throw new GainMLPError(`JPEG segment FF${b.toString(16).toUpperCase()} at byte ${i} is truncated`);
      const length = (data[i + 2] << 8) | data[i + 3];
      if (length < 2 || i + 2 + length > n) {
        throw new GainMLPError(`JPEG segment FF${b.toString(16).toUpperCase()} at byte ${i} runs past the data`);
      }
      pos = i + 2 + length;
    }
  }
}

/** [start, end] of the first image and of JPEGs appended after it (segments.concatenated_image_ranges). */
function concatenatedImageRanges(data, maxImages = 8) {
  const ranges = [[0, findImageEnd(data, 0)]];
  let pos = ranges[0][1];
  while (ranges.length < maxImages) {
    let next = -1;
    for (let i = data.indexOf(0xff, pos); i >= 0 && i + 2 < data.length; i = data.indexOf(0xff, i + 1)) {
      if (data[i + 1] === 0xd8 && data[i + 2] === 0xff) {
        next = i;
        break;
      }
    }
    if (next < 0) break;
    let end;
    try {
      end = findImageEnd(data, next);
    } catch (err) {
      if (err instanceof GainMLPError) break;
      throw err;
    }
    ranges.push([next, end]);
    pos = end;
  }
  return ranges;
}

// most distinct images of an MPF index a reader looks at (mpf.MPF_MAX_READ_IMAGES)
const GM_MPF_MAX_READ_IMAGES = 16;

/**
 * Absolute [start, end] ranges of the images an MPF index lists (mpf.mpf_image_ranges): an
 * image listed twice once, the first 16 images at most.
 */
function mpfImageRanges(data, segments) {
  const seg = findApp(segments, GM_APP2, GM_MPF_ID);
  if (!seg) throw new GainMLPError('JPEG has no MPF index');
  const tiff = seg.payload.subarray(GM_MPF_ID.length);
  if (tiff.length < 8) throw new GainMLPError('MPF header is truncated');
  const order = String.fromCharCode(tiff[0], tiff[1]);
  if (order !== 'MM' && order !== 'II') throw new GainMLPError('MPF header has an unknown byte order');
  const le = order === 'II';
  const dv = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  if (dv.getUint16(2, le) !== 42) throw new GainMLPError('MPF header has a bad TIFF magic number');
  const ifd = dv.getUint32(4, le);
  if (ifd < 8 || ifd + 2 > tiff.length) throw new GainMLPError('MPF index IFD offset is out of range');
  const count = dv.getUint16(ifd, le);
  if (ifd + 2 + 12 * count > tiff.length) throw new GainMLPError('MPF index IFD is truncated');
  let nImages = null;
  let blob = null;
  for (let k = 0; k < count; k++) {
    const p = ifd + 2 + 12 * k;
    const tag = dv.getUint16(p, le), typ = dv.getUint16(p + 2, le);
    const cnt = dv.getUint32(p + 4, le), value = dv.getUint32(p + 8, le);
    if (tag === 0xb001) {
      if (typ !== 4 || cnt !== 1) throw new GainMLPError('MPF NumberOfImages tag is malformed');
      nImages = value;
    } else if (tag === 0xb002) {
      if (typ !== 7 || cnt % 16 || cnt === 0) throw new GainMLPError('MPF MPEntry tag is malformed');
      if (cnt > 1024 * 16) throw new GainMLPError('MPF index lists more than 1024 images');
      if (value < 8 || value + cnt > tiff.length) throw new GainMLPError('MPF MPEntry offset is out of range');
      blob = [value, cnt];
    }
  }
  if (blob === null) throw new GainMLPError('MPF index has no MPEntry tag');
  const n = blob[1] / 16;
  if (nImages !== null && nImages !== n) throw new GainMLPError(`MPF index says ${nImages} images but lists ${n}`);
  const origin = seg.offset + 4 + GM_MPF_ID.length;
  const ranges = [];
  const seen = new Set();
  for (let k = 0; k < n && ranges.length < GM_MPF_MAX_READ_IMAGES; k++) {
    const p = blob[0] + 16 * k;
    const size = dv.getUint32(p + 4, le), offset = dv.getUint32(p + 8, le);
    const start = k === 0 || offset === 0 ? 0 : origin + offset;
    const end = start + size;
    if (size < 4 || end > data.length) {
      throw new GainMLPError(`MPF image ${k} (${size} bytes at ${start}) is outside the file`);
    }
    if (data[start] !== 0xff || data[start + 1] !== 0xd8) {
      throw new GainMLPError(`MPF image ${k} does not start with a JPEG SOI marker`);
    }
    if (seen.has(start)) continue; // the same image listed again: read once
    seen.add(start);
    ranges.push([start, end]);
  }
  return ranges;
}

// ---- gainmap_icc.mjs
// The ICC profile of a gain-map JPEG's images, as far as gainmlp's gain-map reader reads it
// (gainmlp.container.icc): reassembled from its APP2 chunks, and its primaries named from
// the colorant tags (sRGB, Display P3 or BT.2020), else from the description.




const GM_ICC_ID = 'ICC_PROFILE\0';
const GM_ICC_APP2 = 0xe2;

/** The ICC profile from ICC_PROFILE APP2 chunks (icc.read_icc); null if absent. */
function readIcc(segments) {
  const chunks = new Map();
  let count = -1;
  for (const s of segments) {
    if (s.marker !== GM_ICC_APP2 || !gmStartsWith(s.payload, GM_ICC_ID) || s.payload.length < GM_ICC_ID.length + 2) continue;
    const seq = s.payload[GM_ICC_ID.length], n = s.payload[GM_ICC_ID.length + 1];
    if (count < 0) count = n;
    if (n !== count || !(seq >= 1 && seq <= n) || chunks.has(seq)) throw new GainMLPError('ICC profile segments are inconsistent');
    chunks.set(seq, s.payload.subarray(GM_ICC_ID.length + 2));
  }
  if (!chunks.size) return null;
  if (chunks.size !== count) throw new GainMLPError(`ICC profile has ${chunks.size} of ${count} segments`);
  let size = 0;
  for (const c of chunks.values()) size += c.length;
  const out = new Uint8Array(size);
  for (let i = 1, p = 0; i <= count; i++) {
    out.set(chunks.get(i), p);
    p += chunks.get(i).length;
  }
  return out;
}

// chromaticities of the D50-adapted colorants (rXYZ, gXYZ, bXYZ) an ICC profile of these
// primaries holds: gainmlp.container.icc._colorant_xy (colour-science, Bradford)
const COLORANT_XY = {
  srgb: [[0.6485054267410266, 0.3308276186363783], [0.32117225846171304, 0.5978766661500691],
    [0.15591938153516316, 0.06606445901886322]],
  p3: [[0.6820438832855674, 0.31934697059503403], [0.28455077157306324, 0.6746353904632783],
    [0.15589658098950843, 0.06605540821815072]],
  bt2020: [[0.7084870354494748, 0.29354694789182006], [0.19020836048704065, 0.7753681035836013],
    [0.12924758043987467, 0.047144543888990094]],
};

function iccTags(icc) {
  const dv = new DataView(icc.buffer, icc.byteOffset, icc.byteLength);
  const n = dv.getUint32(128);
  const tags = new Map();
  for (let k = 0; k < Math.min(n, 1024); k++) {
    const p = 132 + 12 * k;
    const sig = String.fromCharCode(icc[p], icc[p + 1], icc[p + 2], icc[p + 3]);
    const off = dv.getUint32(p + 4), size = dv.getUint32(p + 8);
    if (off + size <= icc.length) tags.set(sig, icc.subarray(off, off + size));
  }
  return tags;
}

function iccDescription(tag) {
  if (!tag || tag.length < 12) return '';
  const dv = new DataView(tag.buffer, tag.byteOffset, tag.byteLength);
  const type = String.fromCharCode(...tag.subarray(0, 4));
  if (type === 'desc') {
    const n = dv.getUint32(8);
    return String.fromCharCode(...tag.subarray(12, Math.min(12 + n, tag.length))).replace(/\0+$/, '');
  }
  if (type === 'mluc') {
    const records = dv.getUint32(8);
    if (!records) return '';
    let pick = 16;
    for (let r = 0; r < records; r++) {
      const p = 16 + 12 * r;
      if (String.fromCharCode(tag[p], tag[p + 1], tag[p + 2], tag[p + 3]) === 'enUS') pick = p;
    }
    const len = dv.getUint32(pick + 4), off = dv.getUint32(pick + 8);
    let s = '';
    for (let i = off; i + 1 < Math.min(off + len, tag.length); i += 2) s += String.fromCharCode(dv.getUint16(i));
    return s;
  }
  return '';
}

function colorantPrimaries(tags) {
  const xy = [];
  for (const sig of ['rXYZ', 'gXYZ', 'bXYZ']) {
    const t = tags.get(sig);
    if (!t || t.length < 20) return null;
    const dv = new DataView(t.buffer, t.byteOffset, t.byteLength);
    const v = [dv.getInt32(8) / 65536, dv.getInt32(12) / 65536, dv.getInt32(16) / 65536];
    const sum = v[0] + v[1] + v[2];
    if (!(sum > 0)) return null;
    xy.push([v[0] / sum, v[1] / sum]);
  }
  let best = null, dist = Infinity;
  for (const [name, ref] of Object.entries(COLORANT_XY)) {
    let d = 0;
    for (let i = 0; i < 3; i++) d += Math.abs(ref[i][0] - xy[i][0]) + Math.abs(ref[i][1] - xy[i][1]);
    if (d < dist) { best = name; dist = d; }
  }
  return dist < 0.03 ? best : null;
}

/**
 * [primaries, lower-case description] of an ICC profile (icc.identify_icc): the colorant
 * tags decide when they match sRGB, Display P3 or BT.2020, else the description.
 */
function identifyIcc(icc) {
  let tags;
  try {
    tags = iccTags(icc);
  } catch {
    throw new GainMLPError('ICC profile is unreadable');
  }
  const desc = iccDescription(tags.get('desc')).toLowerCase();
  let named = null;
  if (desc.includes('p3')) named = 'p3';
  else if (desc.includes('2020') || desc.includes('2100')) named = 'bt2020';
  else if (desc.includes('srgb') || desc.includes('iec61966')) named = 'srgb';
  else if (desc.includes('709')) named = 'bt709';
  let measured = null;
  try {
    measured = colorantPrimaries(tags);
  } catch {
    measured = null;
  }
  if (measured === 'srgb' && named === 'bt709') return ['bt709', desc];
  return [measured || named, desc];
}

/** 'srgb', 'p3' or 'bt2020' from an ICC profile, 'srgb' by default (icc.detect_icc_primaries). */
function iccPrimaries(icc) {
  if (!icc || !icc.length) return 'srgb';
  try {
    const [p] = identifyIcc(icc);
    return p === 'p3' || p === 'bt2020' ? p : 'srgb';
  } catch {
    return 'srgb';
  }
}

// ---- gainmap.mjs
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








/** SDR white of a rendered gain map, cd/m2 (ITU-R BT.2408; gainmap_jpeg.SDR_WHITE_NITS). */
const GAINMAP_SDR_WHITE = 203;
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
function isGainMapJpeg(data) {
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
function readGainMapJpeg(data) {
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
function gainMapWeight(metadata, headroom) {
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
function renderGainMap(gm, sdr, map, weight = 1, output = 'pq') {
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
function decodeGainMapSync(bytes, options = {}) {
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
async function decodeGainMapWith(bytes, options, decode) {
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
function takesGainMap(bytes, use = 'auto') {
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
function pqToLinearNits(pq) {
  const out = new Float32Array(pq.length);
  for (let i = 0; i < pq.length; i++) out[i] = pqDecode(pq[i]);
  return out;
}

// ---- source.mjs
// Where decodeGainmlp's input comes from. In a browser a string is a URL (fetched); in Node
// a plain path or a file: URL is read from disk, and http(s) or data: URLs are fetched.
// Node's modules are imported only when running in Node, so this module loads in a page.



/** True in Node (not in a browser page or a browser worker). */
function inNode() {
  return typeof process !== 'undefined' && !!(process.versions && process.versions.node) &&
    typeof window === 'undefined' && typeof importScripts === 'undefined';
}

/** A Windows drive ('C:\\...') or no scheme at all: a path, not a URL. */
function isPlainPath(text) {
  return !/^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(text);
}

/**
 * The bytes of a local file named by `input` (a path, a file: URL string or a URL object)
 * in Node; null where `input` is to be fetched instead (any other URL, or not in Node).
 */
async function readLocalInput(input) {
  if (!inNode()) return null;
  const isUrl = typeof URL !== 'undefined' && input instanceof URL;
  const text = isUrl ? input.href : String(input);
  if (!(isPlainPath(text) || text.startsWith('file:'))) return null;
  const { fileURLToPath } = await import('node:url');
  const { readFile, stat } = await import('node:fs/promises');
  let path = text;
  if (text.startsWith('file:')) {
    try {
      path = fileURLToPath(isUrl ? input : text);
    } catch (err) {
      throw new GainMLPError(`${text}: not a file URL this system can read (${err.message})`);
    }
  }
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new GainMLPError(`${path}: no such file`);
  }
  if (info.isDirectory()) throw new GainMLPError(`${path}: is a folder, not an image file`);
  if (!info.isFile()) throw new GainMLPError(`${path}: is not a regular file (a device, FIFO or socket)`);
  return new Uint8Array(await readFile(path));
}

// ---- gainmlp.mjs
// gainmlp in JavaScript: decode a gainmlp JPEG (an SDR JPEG with the MLP payload in APP11
// segments) into its HDR rendition, PQ BT.2020 floats, in a browser or in Node. No build
// step and no dependencies. The format is docs/payload-format.md; docs/web.md says how to
// use this module and what it does not do.
//
//   import { decodeGainmlp, drawHdr } from './gainmlp.mjs';
//   const result = await decodeGainmlp('photo.jpg');        // URL, Blob, ArrayBuffer or bytes
//   await drawHdr(canvas, result, { exposure: 0 });           // HDR where the browser can
//   result.hdr;                                               // Float32Array, RGB, PQ BT.2020















const VERSION = '0.1.0';

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
function readGainmlp(bytes, name = 'photo', { bare = false } = {}) {
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
function headroomOption(headroom) {
  if (headroom === undefined || headroom === null) return null;
  checkHeadroom(headroom);
  return headroom;
}

/**
 * The decoded `hdr` rendered for a display with `headroom` stops of HDR headroom
 * (renderForHeadroom: gainmlp.display's rule); null or undefined: `hdr` unchanged.
 * @returns {{hdr: Float32Array, headroom: ?{stops, weight, capacity}}}
 */
function forHeadroom(payload, colours, hdr, headroom, timings = {}) {
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
async function decodeGainmlp(input, options = {}) {
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
async function decodeGainmlpHere(input, options = {}) {
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
  return new Worker(new URL('./worker.mjs', undefined), { type: 'module' });
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
function serveDecodes(scope) {
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
function decodeGainmlpSync(bytes, options = {}) {
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
function webglInfo() {
  const { gl, renderer, reason } = sharedWebgl();
  return { available: !!gl, renderer: renderer || null, reason };
}

if (asWorker) { serveDecodes(self); return; }
window.gainmlp = { GainMLPError, VERSION, decodeGainMapSync, decodeGainmlp, decodeGainmlpHere, decodeGainmlpSync, decodeJpeg, displayCapabilities, drawHdr, forHeadroom, gainMapWeight, headroomOption, isGainMapJpeg, parsePayload, pqToLinearNits, readGainMapJpeg, readGainmlp, renderForHeadroom, renderGainMap, serveDecodes, toneMapToSrgb8, webglInfo };
};
gainmlpBundle(false);
})();
