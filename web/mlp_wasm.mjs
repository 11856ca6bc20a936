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
export function split11(x) {
  const e = Math.floor(Math.log2(Math.abs(x)));
  const q = 2 ** (e - 10);
  return Math.round(x / q) * q;
}
export const PI_1 = split11(Math.PI);
export const PI_2 = split11(Math.PI - PI_1);
export const PI_3 = Math.fround(Math.PI - PI_1 - PI_2);
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
export function wasmKernel(prep, kind, eps, tables, count) {
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
export function wasmMath(fn, xs) {
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
