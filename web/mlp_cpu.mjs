// The plain-JavaScript evaluation of every body the decoder reads (docs/payload-format.md):
// the Gain-MLP network with its grids, MLP-ITM, and conventional JPEG maps. This is the
// reference the WebGL2 path is tested against, the Node decoder, and the browser fallback.
//
// Numerics: everything the specification defines in float32 before the sines (the input
// normalisation n and the angle a = float32(pi) * n) is computed with exact float32
// rounding (Math.fround), because 2^11 * a amplifies one float32 step of a to ~1e-3 rad.
// The rest (sines, the network, the residual) runs in float64, which is closer to the exact
// values than numpy's float32; the two agree to ~1e-6 in PQ.

import { GainMLPError } from './errors.mjs';
import { unpackItmBody, unpackMapBody, unpackMlpBody } from './body.mjs';
import { decodeJpeg } from './jpeg.mjs';
import { viewAxes } from './payload.mjs';

export const PI32 = Math.fround(Math.PI);
export const GAMMA_GUARD = 1e-3;
export const LUMA_WEIGHTS = [Math.fround(0.2627), Math.fround(0.678), Math.fround(0.0593)];

/** float32(clip(float32(float32(v - centre) / scale), -1, 1)) -> the angle float32(PI32 * n). */
export function inputAngle(v, centre, scale) {
  let n = Math.fround(Math.fround(v - centre) / scale);
  if (n < -1) n = -1;
  else if (n > 1) n = 1;
  return Math.fround(PI32 * n);
}

/** sin(2^k a) for k < F at out[off + k], cos(2^k a) at out[off + F + k] (double angles). */
export function encodeAngle(a, nFreq, out, off) {
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
export function pixelCentre(i, n) {
  return Math.fround((i + 0.5) / n);
}

/** Grid taps for coordinate u in [0, 1] over n cells (cell centres, clamped), float64. */
export function tapsAt(u, n) {
  let g = u * n - 0.5;
  if (g < 0) g = 0;
  else if (g > n - 1) g = n - 1;
  const i0 = Math.floor(g);
  return [i0, Math.min(i0 + 1, n - 1), Math.fround(g - i0)];
}

/** The bilateral grids' guide: clip((Y' - low) / (high - low), 0, 1) in float32. */
export function lumaGuide(r, g, b, low, high) {
  const y = Math.fround(Math.fround(Math.fround(r * LUMA_WEIGHTS[0]) + Math.fround(g * LUMA_WEIGHTS[1])) +
    Math.fround(b * LUMA_WEIGHTS[2]));
  const span = Math.fround(high - low);
  const v = Math.fround(Math.fround(y - low) / span);
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** H from the SDR PQ value s and the map f (eqs. 4 and 6), clipped to [0, 1]. */
export function reconstruct(kind, s, f, eps) {
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
export function prepareMlp(params, width, height, view = params.view || null) {
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
export function evalMlpRows(prep, kind, sdrPq, eps, r0, r1, out) {
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
export function prepareItm(params, width, height, view = params.view || null) {
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

export function evalItmRows(prep, sdrPq, r0, r1, out) {
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
export function resizeBicubicF(src, w, h, outW, outH) {
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
export function decodeMapBody(method, kind, body, sdrPq, width, height, eps) {
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
export function decodeCpu(payload, sdrPq, { onRows = null } = {}) {
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
