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

import { unpackItmBody, unpackMlpBody } from './body.mjs';
import { gatherColours } from './colour.mjs';
import { wasmKernel } from './mlp_wasm.mjs';
import { decodeCpu, encodeAngle, inputAngle, lumaGuide, prepareItm, prepareMlp, tapsAt } from './mlp_cpu.mjs';

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
export function fastSin(x) {
  const j = Math.round(x * INV_PI);
  const r = (x - j * PI_A) - j * PI_B;
  const z = r * r;
  let p = SIN_C[9];
  for (let k = 8; k >= 0; k--) p = p * z + SIN_C[k];
  return r * p * (1 - ((j & 1) << 1));
}

/** 2^x, float64 (0 below 2^-1074, Infinity above 2^1023, like Math.pow). */
export function fastExp2(x) {
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
export function colourTables(prep, kind, colours, eps, { terms = true } = {}) {
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
export function colourResidual(kind, s, eps, c0, c1, res) {
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
export function colourTerms(prep, colours, c0, c1, term) {
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
export function fillGridRows(prep, rows, r) {
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
export function decodeMlpFast(params, kind, colours, width, height, eps,
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

export const fastInternals = { kernelSource, loopKernel, colourTables };

// ---------------------------------------------------------------- MLP-ITM, dispatch

/** MLP-ITM with its colour network's first layer (W1 enc(r, g, b) + b1) once per colour. */
export function decodeItmFast(params, colours, width, height, { onRows = null, out = null } = {}) {
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
export function decodeCpuColours(payload, colours, { onRows = null, kernel = 'auto', stats = null } = {}) {
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
