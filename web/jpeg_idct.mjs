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
export function idctBlock(coefs, off, q, ws, out, outOff, stride) {
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

export function frameToRgb(frame, qt, sawJfif, adobeTransform) {
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
