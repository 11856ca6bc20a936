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

import { GainMLPError, checkImageSize } from './errors.mjs';
import { frameToRgb } from './jpeg_idct.mjs';

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
export function decodeJpeg(data, name = 'JPEG image') {
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
export function jpegSize(data) {
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
