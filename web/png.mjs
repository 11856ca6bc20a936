// PNG in and out for the command line: the 16-bit PQ BT.2020 PNG with a cICP chunk that
// gainmlp writes (gainmlp.io.hdr.encode_hdr_png), and 8-bit SDR PNGs in. Compression is
// passed in (zlib's deflate/inflate), so this module has no dependency of its own.

import { GainMLPError } from './errors.mjs';
import { crc32 } from './payload.mjs';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function chunk(type, body) {
  const out = new Uint8Array(12 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  dv.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

/** round(clip(v, 0, 1) * 65535), halves to even (numpy.round). */
export function toU16(v) {
  const x = Math.min(Math.max(v, 0), 1) * 65535;
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 === 1 ? r - 1 : r;
}

/**
 * A 16-bit RGB PNG of PQ BT.2020 code values with cICP (9, 16, 0, 1).
 * @param {Float32Array} pq RGB, row-major; @param deflate (Uint8Array) -> Uint8Array
 */
export function encodeHdrPng(pq, width, height, deflate) {
  const raw = new Uint8Array(height * (1 + width * 6));
  for (let y = 0, p = 0, o = 0; y < height; y++) {
    raw[o++] = 0; // filter: none
    for (let i = 0; i < width * 3; i++, p++) {
      const v = toU16(pq[p]);
      raw[o++] = v >> 8;
      raw[o++] = v & 255;
    }
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([16, 2, 0, 0, 0], 8); // 16-bit, RGB, deflate, no filter method, no interlace
  const parts = [new Uint8Array(SIGNATURE), chunk('IHDR', ihdr), chunk('cICP', new Uint8Array([9, 16, 0, 1])),
    chunk('IDAT', deflate(raw)), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((s, x) => s + x.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** An 8-bit grey/RGB/RGBA, non-interlaced PNG -> {width, height, pixels (RGB)}. */
export function decodeSdrPng(data, inflate, name = 'SDR image') {
  const bad = (why) => new GainMLPError(`${name}: ${why}`);
  if (data.length < 8 || SIGNATURE.some((b, i) => data[i] !== b)) throw bad('not a PNG file');
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 8;
  let header = null;
  const idat = [];
  while (pos + 12 <= data.length) {
    const len = dv.getUint32(pos);
    const type = String.fromCharCode(...data.subarray(pos + 4, pos + 8));
    if (pos + 12 + len > data.length) throw bad('PNG is truncated');
    const body = data.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') header = body;
    else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  if (!header || header.length !== 13) throw bad('PNG has no valid IHDR header');
  const hv = new DataView(header.buffer, header.byteOffset, 13);
  const width = hv.getUint32(0), height = hv.getUint32(4);
  const [depth, colourType, , , interlace] = header.subarray(8);
  const channels = { 0: 1, 2: 3, 6: 4 }[colourType];
  if (depth !== 8 || !channels || interlace) {
    throw bad('this decoder reads 8-bit grey, RGB or RGBA non-interlaced PNGs as the SDR');
  }
  const joined = new Uint8Array(idat.reduce((s, x) => s + x.length, 0));
  let at = 0;
  for (const part of idat) {
    joined.set(part, at);
    at += part.length;
  }
  const raw = inflate(joined);
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw bad('PNG is truncated');
  const img = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const o = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? img[o + x - channels] : 0;
      const b = y > 0 ? img[o - stride + x] : 0;
      const c = x >= channels && y > 0 ? img[o - stride + x - channels] : 0;
      const v = raw[src + x];
      img[o + x] = (f === 0 ? v : f === 1 ? v + a : f === 2 ? v + b : f === 3 ? v + ((a + b) >> 1) : v + paeth(a, b, c)) & 255;
    }
  }
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) pixels[3 * i + c] = img[i * channels + (channels === 1 ? 0 : c)];
  }
  return { width, height, pixels };
}
