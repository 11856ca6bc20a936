// The ICC profile of a gain-map JPEG's images, as far as gainmlp's gain-map reader reads it
// (gainmlp.container.icc): reassembled from its APP2 chunks, and its primaries named from
// the colorant tags (sRGB, Display P3 or BT.2020), else from the description.

import { GainMLPError } from './errors.mjs';
import { gmStartsWith } from './gainmap_meta.mjs';

const GM_ICC_ID = 'ICC_PROFILE\0';
const GM_ICC_APP2 = 0xe2;

/** The ICC profile from ICC_PROFILE APP2 chunks (icc.read_icc); null if absent. */
export function readIcc(segments) {
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
export function identifyIcc(icc) {
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
export function iccPrimaries(icc) {
  if (!icc || !icc.length) return 'srgb';
  try {
    const [p] = identifyIcc(icc);
    return p === 'p3' || p === 'bt2020' ? p : 'srgb';
  } catch {
    return 'srgb';
  }
}
