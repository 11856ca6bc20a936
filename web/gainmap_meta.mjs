// What a standard gain-map JPEG says about its gain map, read as gainmlp's Python reader
// reads it (gainmlp.container: xmp, iso21496, apple, mpf, icc, segments): the hdrgm XMP
// (attributes or rdf:Seq elements, extended XMP), the ISO 21496-1 binary record, Apple's
// HDRGainMap XMP and maker-note headroom, the MPF index (or appended JPEGs), and the ICC
// profile's primaries (gainmap_icc.mjs). Every check and message follows the Python
// modules; the rendering is gainmap.mjs.

import { GainMLPError, pyFloat } from './errors.mjs';
import { parseSegments } from './payload.mjs';

export const GM_ISO_ID = 'urn:iso:std:iso:ts:21496:-1\0';
const GM_XMP_ID = 'http://ns.adobe.com/xap/1.0/\0';
const GM_XMP_EXT_ID = 'http://ns.adobe.com/xmp/extension/\0';
export const GM_HDRGM_NS = 'http://ns.adobe.com/hdr-gain-map/1.0/';
export const GM_CONTAINER_NS = 'http://ns.google.com/photos/1.0/container/';
export const GM_APPLE_NS = 'http://ns.apple.com/HDRGainMap/1.0/';
export const GM_MPF_ID = 'MPF\0';
const GM_EXIF_ID = 'Exif\0\0';
const GM_APP1 = 0xe1;
const GM_APP2 = 0xe2;
const GM_MAX_XMP_CHARS = 4 << 20;
const GM_ISO_SIGNED_MAX = 2 ** 31 - 1;
const GM_ISO_UNSIGNED_MAX = 2 ** 32 - 1;

/** Whether `bytes` starts with the characters of `text` (latin-1). */
export function gmStartsWith(bytes, text, at = 0) {
  if (bytes.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** The first APPn segment of `segments` whose payload starts with `id`, or null. */
export function findApp(segments, marker, id) {
  for (const s of segments) if (s.marker === marker && gmStartsWith(s.payload, id)) return s;
  return null;
}

const utf8 = (bytes) => new TextDecoder('utf-8').decode(bytes); // errors='replace'

// ---------------------------------------------------------------- numbers as Python reads them

/** float(text) as Python parses it; undefined where Python raises ValueError. */
export function parsePyFloat(text) {
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
export function gainMapMetadata({ gainMapMin = 0, gainMapMax = 1, gamma = 1, offsetSdr = 1 / 64,
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
export function metadataClose(a, b) {
  for (const k of ['gainMapMin', 'gainMapMax', 'gamma', 'offsetSdr', 'offsetHdr']) {
    for (let c = 0; c < 3; c++) if (!isClose(a[k][c], b[k][c])) return false;
  }
  return isClose(a.hdrCapacityMin, b.hdrCapacityMin) && isClose(a.hdrCapacityMax, b.hdrCapacityMax) &&
    a.baseIsHdr === b.baseIsHdr;
}

// ---------------------------------------------------------------- XMP (container.xmp)

/** [standard XMP packet, reassembled extended XMP packet] of a header (null if absent). */
export function readXmp(segments) {
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
export function xmpAllowance(limit = 16 << 20) {
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
export function parseHdrgmXmp(xml) {
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
export function metadataFromXmp(props) {
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
export function decodeIso21496(record) {
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
export function parseAppleXmp(xml) {
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
export function exifMakerNote(payload) {
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
export function makerNoteValues(note, tags = [33, 48]) {
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
export function headroomFromMakerNote(m33, m48) {
  let stops;
  if (m33 < 1) stops = m48 <= 0.01 ? -20 * m48 + 1.8 : -0.101 * m48 + 1.601;
  else stops = m48 <= 0.01 ? -70 * m48 + 3 : -0.303 * m48 + 2.303;
  return 2 ** Math.max(stops, 0);
}

/** {version, headroom, source} of an Apple gain map (apple.read_apple_gain_map), or null. */
export function readAppleGainMap(xml, exifPayload, notes) {
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
export function appleMetadata(apple) {
  const stops = Math.log2(apple.headroom);
  return gainMapMetadata({ gainMapMin: 0, gainMapMax: stops, gamma: 1, offsetSdr: 0, offsetHdr: 0,
    hdrCapacityMin: 0, hdrCapacityMax: stops });
}

// ---------------------------------------------------------------- where the images are (mpf, segments)

/** Offset just past the EOI of the JPEG image at `start` (segments.find_image_end). */
export function findImageEnd(data, start = 0) {
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
export function concatenatedImageRanges(data, maxImages = 8) {
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
export function mpfImageRanges(data, segments) {
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
