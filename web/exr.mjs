// A minimal OpenEXR writer for the command line: one part, scan lines, half-float R, G, B,
// ZIP compression (zlib, 16 lines per block, OpenEXR's byte split and predictor) or none,
// with BT.2020 `chromaticities` and `whiteLuminance`: the file `gainmlp decode -o x.exr`
// writes (linear BT.2020, 1.0 = `white` cd/m2), pixel for pixel. Compression is passed in
// (zlib's deflate), so this module has no dependency of its own.
//
// Written from the OpenEXR file layout document (openexr.com, "OpenEXR File Layout").

// BT.2020 primaries and D65 (x, y): red, green, blue, white
const EXR_BT2020 = [0.708, 0.292, 0.17, 0.797, 0.131, 0.046, 0.3127, 0.329];
/** Largest finite half float. */
export const HALF_MAX = 65504;

const exrF32 = new Float32Array(1);
const exrU32 = new Uint32Array(exrF32.buffer);

/** float -> IEEE half bits, rounding to nearest even (numpy's float16 conversion). */
export function halfBits(v) {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00; // rounds past HALF_MAX: infinity
  if (a < 2 ** -14) { // subnormal: a multiple of 2^-24, rounded half to even
    const x = a * 2 ** 24;
    let k = Math.floor(x);
    const rem = x - k;
    if (rem > 0.5 || (rem === 0.5 && (k & 1))) k++;
    return sign | k;
  }
  exrF32[0] = a;
  const bits = exrU32[0];
  const e = ((bits >>> 23) & 0xff) - 127 + 15;
  const mant = bits & 0x7fffff;
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

function attribute(parts, name, type, value) {
  const enc = new TextEncoder();
  const head = enc.encode(`${name}\0${type}\0`);
  const size = new Uint8Array(4);
  new DataView(size.buffer).setInt32(0, value.length, true);
  parts.push(head, size, value);
}

function bytesOf(fill, size) {
  const out = new Uint8Array(size);
  fill(new DataView(out.buffer));
  return out;
}

/**
 * An OpenEXR file of linear light.
 * @param {Float32Array} linear RGB interleaved, row-major, cd/m2
 * @param {number} width
 * @param {number} height
 * @param {{white?: number, deflate?: (Uint8Array) => Uint8Array}} options `white`: the cd/m2
 *   that 1.0 stands for (default 100, as `gainmlp decode --exr-white`); `deflate`: zlib's
 *   compress (ZIP compression), or none for an uncompressed file
 * @returns {{bytes: Uint8Array, clipped: number}} clipped: values above HALF_MAX x white
 */
export function encodeExr(linear, width, height, { white = 100, deflate = null } = {}) {
  const parts = [new Uint8Array([0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0])];
  const enc = new TextEncoder();
  const chlist = [];
  for (const c of ['B', 'G', 'R']) {
    chlist.push(enc.encode(`${c}\0`), bytesOf((dv) => {
      dv.setInt32(0, 1, true); // HALF
      dv.setInt32(8, 1, true);
      dv.setInt32(12, 1, true);
    }, 16));
  }
  chlist.push(new Uint8Array(1));
  attribute(parts, 'channels', 'chlist', concat(chlist));
  const lines = deflate ? 16 : 1;
  attribute(parts, 'compression', 'compression', new Uint8Array([deflate ? 3 : 0]));
  const box = bytesOf((dv) => {
    dv.setInt32(8, width - 1, true);
    dv.setInt32(12, height - 1, true);
  }, 16);
  attribute(parts, 'dataWindow', 'box2i', box);
  attribute(parts, 'displayWindow', 'box2i', box);
  attribute(parts, 'lineOrder', 'lineOrder', new Uint8Array([0]));
  attribute(parts, 'pixelAspectRatio', 'float', bytesOf((dv) => dv.setFloat32(0, 1, true), 4));
  attribute(parts, 'screenWindowCenter', 'v2f', new Uint8Array(8));
  attribute(parts, 'screenWindowWidth', 'float', bytesOf((dv) => dv.setFloat32(0, 1, true), 4));
  attribute(parts, 'chromaticities', 'chromaticities',
    bytesOf((dv) => EXR_BT2020.forEach((v, i) => dv.setFloat32(4 * i, v, true)), 32));
  attribute(parts, 'whiteLuminance', 'float', bytesOf((dv) => dv.setFloat32(0, white, true), 4));
  parts.push(new Uint8Array(1)); // end of header
  const blocks = Math.ceil(height / lines);
  const table = new Uint8Array(8 * blocks);
  const tableView = new DataView(table.buffer);
  parts.push(table);
  let offset = parts.reduce((n, p) => n + p.length, 0);
  const top = HALF_MAX * white;
  let clipped = 0;
  const row = new Uint8Array(width * 6);
  const rowView = new DataView(row.buffer);
  for (let b = 0; b < blocks; b++) {
    const y0 = b * lines, y1 = Math.min(y0 + lines, height);
    const raw = new Uint8Array((y1 - y0) * width * 6);
    for (let y = y0; y < y1; y++) {
      for (let x = 0; x < width; x++) {
        const p = 3 * (y * width + x);
        for (let c = 0; c < 3; c++) {
          let v = linear[p + c];
          if (v > top) clipped++;
          v = Number.isNaN(v) ? 0 : Math.min(Math.max(v / white, 0), HALF_MAX);
          // channel order B, G, R: R (c = 0) goes last
          rowView.setUint16(2 * ((2 - c) * width + x), halfBits(v), true);
        }
      }
      raw.set(row, (y - y0) * width * 6);
    }
    let data = raw;
    if (deflate) {
      const packed = deflate(zipPredict(raw));
      if (packed.length < raw.length) data = packed;
    }
    const head = bytesOf((dv) => {
      dv.setInt32(0, y0, true);
      dv.setInt32(4, data.length, true);
    }, 8);
    tableView.setBigUint64(8 * b, BigInt(offset), true);
    parts.push(head, data);
    offset += 8 + data.length;
  }
  return { bytes: concat(parts), clipped };
}

/** OpenEXR's ZIP pre-pass: bytes split into even and odd halves, then differences + 128. */
function zipPredict(raw) {
  const n = raw.length;
  const t = new Uint8Array(n);
  const half = (n + 1) >> 1;
  for (let i = 0, a = 0, b = half; i < n; i += 2) {
    t[a++] = raw[i];
    if (i + 1 < n) t[b++] = raw[i + 1];
  }
  for (let i = n - 1; i > 0; i--) t[i] = (t[i] - t[i - 1] + 128 + 256) & 255;
  return t;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}
