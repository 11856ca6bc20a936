// The gainmlp payload and where it lives in a JPEG (docs/payload-format.md):
// JPEG marker segments, the APP11 chunks that carry the payload, and the payload's outer
// header with its CRC-32. Every check and every error message is the Python decoder's
// (gainmlp.container.segments, .app11, .payload), in the same order.

import { GainMLPError, checkImageSize, pyFloat, pyTuple } from './errors.mjs';

// ---------------------------------------------------------------- methods (codecs.registry)

/** Payload method codes (never renumbered): name, family, residual. */
export const METHODS = new Map([
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
export const PRIMARIES = { 1: 'bt709', 2: 'srgb', 3: 'p3', 4: 'bt2020' };
export const TRANSFERS = { 1: 'gamma2.4', 2: 'srgb', 3: 'gamma2.2' };

// ---------------------------------------------------------------- CRC-32 (zlib polynomial)

const CRC_TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c >>> 0;
}

/** CRC-32 of `bytes` as zlib.crc32 computes it (unsigned). */
export function crc32(bytes, crc = 0) {
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
export function parseSegments(data, start = 0) {
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

export const GAINMLP_ID = 'GainMLP\0';
const SEGMENT_VERSION = 1;
const CHUNK_HEADER = GAINMLP_ID.length + 9; // u8 version, u16 index, u16 count, u32 total (BE)

/** Reassemble our APP11 payload from the first image's header; null when absent. */
export function extractPayload(data, segments = null) {
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
export function announcesGainMap(segments) {
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

export const HEADER_SIZE = 36;
// header version 2: the view of the original frame the base shows (docs/payload-format.md)
export const VIEW_SIZE = 44;
const CRC_SIZE = 4;
const MAX_BODY = 64 * 1024 * 1024;

/**
 * Parse and check a payload (gainmlp.container.payload.Payload.from_bytes).
 * @returns {{method:string, family:string, residual:string, code:number, width:number,
 *   height:number, eps:number, sdr:{primaries:string, transfer:string, whiteNits:number},
 *   peakNits:number, body:Uint8Array, view:(null|{x0:number, y0:number, x1:number, y1:number,
 *   orientation:number}), originalWidth:number, originalHeight:number}}
 */
export function parsePayload(bytes) {
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
export function viewAxes(view, width, height) {
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
