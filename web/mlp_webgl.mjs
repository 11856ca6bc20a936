// The Gain-MLP network evaluated per pixel by a WebGL2 fragment shader into a float
// (RGBA32F) render target, in strips of rows; the same maths as mlp_cpu.mjs.
//
// Split of the work: the CPU computes, once per distinct colour of the base image (float64,
// as mlp_fast.mjs), the first layer's colour term W_sdr . enc(r, g, b) (the 3 x 2F sines
// and cosines and their product), S (SDR in HDR space) and the bilateral grids' luma
// guide, uploaded once as a table texture; per pixel only a colour number (an R32UI
// texture, in strips); and once per image the first layer's per-column and per-row terms
// (the coordinate encodings are separable). The GPU adds the three terms and evaluates
// the rest of the network, the grids and the residual.

import { GainMLPError } from './errors.mjs';
import { GAMMA_GUARD, lumaGuide, prepareMlp } from './mlp_cpu.mjs';
import { colourTables } from './mlp_fast.mjs';
import { PI_1, PI_2, PI_3 } from './mlp_wasm.mjs';

const PACK_WIDTH = 2048; // texels per row of the packed parameter texture (WebGL2 minimum size)
const STRIP_PIXELS = 1 << 20;
const CONST_WEIGHT_TEXELS = 4096; // up to 16k weights are written into the shader as literals

/** A WebGL2 context that can render to float targets, or {reason} why there is none. */
export function webglContext(canvas = null) {
  let c = canvas;
  if (!c) {
    if (typeof OffscreenCanvas !== 'undefined') c = new OffscreenCanvas(1, 1);
    else if (typeof document !== 'undefined') c = document.createElement('canvas');
    else return { gl: null, reason: 'no canvas (not a browser)' };
  }
  const gl = c.getContext('webgl2', { antialias: false, depth: false, stencil: false, premultipliedAlpha: false });
  if (!gl) return { gl: null, reason: 'WebGL2 is not available' };
  if (!gl.getExtension('EXT_color_buffer_float')) return { gl: null, reason: 'no EXT_color_buffer_float' };
  let renderer = gl.getParameter(gl.RENDERER);
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  if (info) renderer = gl.getParameter(info.UNMASKED_RENDERER_WEBGL);
  return { gl, renderer, reason: null };
}

const ceil4 = (n) => Math.ceil(n / 4);


/** The packed parameter texture's contents and the offsets (in texels) of each part. */
function packParams(prep) {
  const { params, wGrid, nGrid, entry, layers, grids } = prep;
  const parts = [];
  let texels = 0;
  const add = (n) => { const at = texels; texels += n; return at; };
  let gridWAt = 0;
  const we = nGrid ? params.weights[entry - 1].rows : 0;
  if (nGrid) {
    gridWAt = add(nGrid * ceil4(we));
    parts.push(() => {
      const out = new Float32Array(nGrid * ceil4(we) * 4);
      for (let j = 0; j < nGrid; j++) for (let o = 0; o < we; o++) out[j * ceil4(we) * 4 + o] = wGrid[o * nGrid + j];
      return [gridWAt, out];
    });
  }
  const layerAt = layers.map((L) => {
    const at = add(L.rows * ceil4(L.cols));
    parts.push(() => {
      const in4 = ceil4(L.cols);
      const out = new Float32Array(L.rows * in4 * 4);
      for (let o = 0; o < L.rows; o++) for (let j = 0; j < L.cols; j++) out[(o * in4) * 4 + j] = L.data[o * L.cols + j];
      return [at, out];
    });
    return at;
  });
  const weightTexels = texels; // weights first (uniforms when they fit), grid values after
  const gridAt = grids.map((g) => {
    const c4 = ceil4(g.chans);
    const cells = g.rows * g.cols * g.bins;
    const at = add(cells * c4);
    parts.push(() => {
      const out = new Float32Array(cells * c4 * 4);
      for (let cell = 0; cell < cells; cell++) {
        for (let c = 0; c < g.chans; c++) out[cell * c4 * 4 + c] = g.data[cell * g.chans + c];
      }
      return [at, out];
    });
    return at;
  });
  const rows = Math.max(1, Math.ceil(texels / PACK_WIDTH));
  const data = new Float32Array(rows * PACK_WIDTH * 4);
  for (const make of parts) {
    const [at, values] = make();
    data.set(values, at * 4);
  }
  return { data, rows, gridWAt, we, layerAt, gridAt, weightTexels };
}

const f = (x) => {
  const s = Math.fround(x).toPrecision(9);
  return /[.e]/.test(s) ? s : `${s}.0`;
};

/** GLSL of the fragment shader for one body shape (straight-line code, constant indices). */
function fragmentSource(prep, pack, kind, weightMode) {
  // weightMode 'const': weights as literals in the source (several times faster on SwiftShader);
  // 'uniform': a uniform array; 'texture': fetched from the packed texture
  const W = (i) => {
    if (weightMode !== 'const') return `W(${i})`;
    const v = pack.data.subarray(4 * i, 4 * i + 4);
    return `vec4(${f(v[0])}, ${f(v[1])}, ${f(v[2])}, ${f(v[3])})`;
  };
  const { params, h1, nGrid, entry, layers, grids } = prep;
  const L = [];
  const h14 = ceil4(h1);
  L.push(`#version 300 es
precision highp float;
precision highp int;
precision highp sampler2D;
precision highp usampler2D;
uniform usampler2D uIds;   // colour number per pixel (strip)
uniform sampler2D uTable;  // per colour: ${h14} texels of the colour term, then S_r, S_g, S_b, luma guide
uniform sampler2D uCol;    // first-layer column terms, one row of texels per image column
uniform sampler2D uRow;    // first-layer row terms (+ bias), one row per strip row
uniform sampler2D uP;      // packed weights and grids
uniform int uRow0;
uniform vec2 uSize;
uniform vec2 uViewA;     // grid coordinates: uViewA + (pixel + 0.5) / uViewS (the payload view)
uniform vec2 uViewS;
uniform float uEps;
uniform vec3 uPi;          // the pieces of pi (uniforms: never folded together)
uniform vec3 uOutCentre, uOutScale, uOutMin, uOutMax;
out vec4 outColor;

// The hidden layers' sines: x = j pi + r with pi in three pieces of 11 significant bits
// (PI_1..3 of mlp_wasm.mjs; j * piece exact for |j| < 2^13), then an odd polynomial for
// sin r on [-pi/2, pi/2] (Taylor to r^13, truncation < 7e-10): a GPU's sin() is only
// accurate near 0.
vec4 sinR(vec4 x) {
  vec4 j = floor(x * 0.318309886 + 0.5);
  vec4 r = ((x - j * uPi.x) - j * uPi.y) - j * uPi.z;
  vec4 z = r * r;
  vec4 p = r * (1.0 + z * (-1.66666667e-1 + z * (8.33333333e-3 + z * (-1.98412698e-4 + z * (2.75573192e-6
    + z * (-2.50521084e-8 + z * 1.60590438e-10))))));
  return p * (1.0 - 2.0 * (j - 2.0 * floor(j * 0.5)));
}
vec4 P(int i) { return texelFetch(uP, ivec2(i % ${PACK_WIDTH}, i / ${PACK_WIDTH}), 0); }
vec4 T(int i) { return texelFetch(uTable, ivec2(i % ${pack.tableWidth}, i / ${pack.tableWidth}), 0); }
${weightMode === 'uniform' ? `uniform vec4 uW[${pack.weightTexels}];
vec4 W(int i) { return uW[i]; }` : 'vec4 W(int i) { return P(i); }'}
`);
  // grid sampling helpers
  grids.forEach((g, gi) => {
    const c4 = ceil4(g.chans);
    L.push(`vec4 grid${gi}Cell(int yi, int xi, int zi, int q) {
  return P(${pack.gridAt[gi]} + ((yi * ${g.cols} + xi) * ${g.bins} + zi) * ${c4} + q);
}
vec4 grid${gi}(int q, vec2 uv, float guide) {
  vec2 gc = clamp(uv * vec2(${g.cols}.0, ${g.rows}.0) - 0.5, vec2(0.0), vec2(${g.cols - 1}.0, ${g.rows - 1}.0));
  vec2 i0f = floor(gc);
  ivec2 i0 = ivec2(i0f);
  ivec2 i1 = min(i0 + 1, ivec2(${g.cols - 1}, ${g.rows - 1}));
  vec2 w = gc - i0f;`);
    if (g.bins === 1) {
      L.push(`  vec4 a = grid${gi}Cell(i0.y, i0.x, 0, q), b = grid${gi}Cell(i0.y, i1.x, 0, q);
  vec4 c = grid${gi}Cell(i1.y, i0.x, 0, q), d = grid${gi}Cell(i1.y, i1.x, 0, q);`);
    } else {
      L.push(`  float gz = clamp(guide * ${g.bins}.0 - 0.5, 0.0, ${g.bins - 1}.0);
  int z0 = int(floor(gz));
  int z1 = min(z0 + 1, ${g.bins - 1});
  float wz = gz - floor(gz);
  vec4 a = mix(grid${gi}Cell(i0.y, i0.x, z0, q), grid${gi}Cell(i0.y, i0.x, z1, q), wz);
  vec4 b = mix(grid${gi}Cell(i0.y, i1.x, z0, q), grid${gi}Cell(i0.y, i1.x, z1, q), wz);
  vec4 c = mix(grid${gi}Cell(i1.y, i0.x, z0, q), grid${gi}Cell(i1.y, i0.x, z1, q), wz);
  vec4 d = mix(grid${gi}Cell(i1.y, i1.x, z0, q), grid${gi}Cell(i1.y, i1.x, z1, q), wz);`);
    }
    L.push(`  vec4 top = a + (b - a) * w.x;
  vec4 bottom = c + (d - c) * w.x;
  return top + (bottom - top) * w.y;
}
`);
  });
  // main(): generated straight-line code, every index a constant (no local arrays, which
  // software GL spills to memory): layer values live in vec4 variables hL_q.
  const q4 = (name, width) => Array.from({ length: ceil4(width) }, (_, q) => `${name}_${q}`);
  L.push(`void main() {
  ivec2 pix = ivec2(gl_FragCoord.xy);
  int row = uRow0 + pix.y;
  int cb = int(texelFetch(uIds, pix, 0).x) * ${h14 + 1};
  vec4 S = T(cb + ${h14});`);
  let h = q4('h0', h1);
  h.forEach((v, q) => L.push(`  vec4 ${v} = T(cb + ${q}) + (texelFetch(uCol, ivec2(${q}, pix.x), 0) + texelFetch(uRow, ivec2(${q}, pix.y), 0));`));
  const feats = [];
  if (nGrid) {
    L.push('  vec2 uv = uViewA + (vec2(float(pix.x), float(row)) + 0.5) / uViewS;');
    // a view: the centre of the original pixel (payload.mjs viewAxes)
    if (prep.uvSnap) L.push(`  uv = (clamp(floor(uv * vec2(${prep.uvSnap[0]}.0, ${prep.uvSnap[1]}.0)), vec2(0.0), vec2(${prep.uvSnap[0] - 1}.0, ${prep.uvSnap[1] - 1}.0)) + 0.5) / vec2(${prep.uvSnap[0]}.0, ${prep.uvSnap[1]}.0);`);
    grids.forEach((g, gi) => {
      for (let q = 0; q < ceil4(g.chans); q++) {
        L.push(`  vec4 g${gi}_${q} = grid${gi}(${q}, uv, S.w);`);
        for (let k = 0; k < 4 && 4 * q + k < g.chans; k++) feats.push(`g${gi}_${q}.${'xyzw'[k]}`);
      }
    });
  }
  const gridTerm = (vars) => {
    feats.forEach((feat, j) => vars.forEach((v, q) => {
      L.push(`  ${v} += ${feat} * ${W(pack.gridWAt + j * vars.length + q)};`);
    }));
  };
  if (nGrid && entry === 1) gridTerm(h);
  const sine = params.activation === 'sine';
  layers.forEach((Ly, l) => {
    h.forEach((v) => L.push(`  ${v} = ${sine ? `sinR(${v})` : `max(${v}, vec4(0.0))`};`));
    const in4 = ceil4(Ly.cols);
    const next = q4(`h${l + 1}`, Ly.rows);
    next.forEach((v, q) => {
      const parts = [];
      for (let k = 0; k < 4; k++) {
        const o = 4 * q + k;
        if (o >= Ly.rows) {
          parts.push('0.0');
          continue;
        }
        parts.push(h.map((hv, i) => `dot(${hv}, ${W(pack.layerAt[l] + o * in4 + i)})`).join(' + '));
      }
      L.push(`  vec4 ${v} = vec4(${parts.join(',\n    ')});`);
    });
    if (nGrid && l + 2 === entry) gridTerm(next);
    h = next;
  });
  const prev = h[0];
  const log2 = params.outputTransform === 'log2';
  L.push(`  vec3 t = clamp(${prev}.xyz * uOutScale + uOutCentre, uOutMin, uOutMax);
  ${log2 ? 't = exp2(t);' : ''}
  vec3 H;`);
  if (kind === 'direct') L.push('  H = t;');
  else if (kind === 'gain') L.push('  H = (max(S.xyz, 0.0) + uEps) * t - uEps;');
  else L.push(`  H = pow(clamp(S.xyz + uEps, uEps, ${f(1 - GAMMA_GUARD)}), t) - uEps;`);
  L.push(`  outColor = vec4(clamp(H, 0.0, 1.0), 1.0);
}`);
  return L.join('\n');
}

const VERTEX = `#version 300 es
void main() {
  vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
  gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}`;

function compile(gl, type, src) {
  const s = gl.createShader(type);
  gl.shaderSource(s, src);
  gl.compileShader(s);
  if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) {
    const log = gl.getShaderInfoLog(s);
    gl.deleteShader(s);
    throw new Error(`WebGL shader does not compile: ${log}`);
  }
  return s;
}

function floatTexture(gl, width, height, data) {
  const t = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, t);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32F, width, height, 0, gl.RGBA, gl.FLOAT, data);
  return t;
}

/**
 * Evaluate a parsed Gain-MLP body on the GPU.
 * @param params unpacked body (body.mjs); kind 'gain' | 'gamma' | 'direct'
 * @param colours the base image's distinct colours: {ids (Int32Array, per pixel), count,
 *   s (Float32Array, S per colour, count x 3)}; eps the payload's offset
 * @param options.weights 'auto' | 'const' (literals in the shader) | 'uniform' | 'texture'
 * @returns {Float32Array} PQ BT.2020 RGB
 */
export function decodeMlpWebgl(gl, params, kind, colours, width, height, eps,
  { onRows = null, stats = {}, weights = 'auto' } = {}) {
  const clock = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());
  let t = clock();
  const maxTex = gl.getParameter(gl.MAX_TEXTURE_SIZE);
  if (width > maxTex) {
    throw new GainMLPError(`the image is ${width} pixels wide; this GPU's textures hold ${maxTex}`);
  }
  const prep = prepareMlp(params, width, height);
  const pack = packParams(prep);
  if (pack.rows > maxTex) throw new GainMLPError('the network is too large for this GPU\'s textures');
  const h14 = ceil4(prep.h1);
  // the per-colour table: h14 texels of the colour term, then S and the luma guide
  const per = h14 + 1;
  const k = colours.count;
  pack.tableWidth = Math.min(maxTex, 8192);
  const tableRows = Math.max(1, Math.ceil((k * per) / pack.tableWidth));
  if (tableRows > maxTex) throw new GainMLPError(`the image has ${k} colours; this GPU's textures hold fewer`);
  const tables = colourTables(prep, 'direct', colours, eps);
  const table = new Float32Array(tableRows * pack.tableWidth * 4);
  const { gridGuide } = params;
  const bilateral = params.grids.some((g) => g.shape[2] > 1);
  for (let c = 0, s = colours.s; c < k; c++) {
    const b = c * per * 4;
    for (let o = 0; o < prep.h1; o++) table[b + o] = tables.term[c * prep.h1 + o];
    const s0 = s[3 * c], s1 = s[3 * c + 1], s2 = s[3 * c + 2];
    table[b + h14 * 4] = s0;
    table[b + h14 * 4 + 1] = s1;
    table[b + h14 * 4 + 2] = s2;
    table[b + h14 * 4 + 3] = bilateral ? lumaGuide(s0, s1, s2, gridGuide[0], gridGuide[1]) : 0;
  }
  const stripRows = Math.max(1, Math.min(height, Math.floor(STRIP_PIXELS / width), maxTex));

  stats.prepare = clock() - t;
  t = clock();
  const program = gl.createProgram();
  const vs = compile(gl, gl.VERTEX_SHADER, VERTEX);
  // weights as literals for networks of the usual size, else fetched from the texture (on
  // SwiftShader, 1 MP: literals 2x faster than the texture, 3x faster than uniforms;
  // docs/results/web/decode_1mp_weight_modes.txt)
  const fitsUniforms = pack.weightTexels + 64 <= gl.getParameter(gl.MAX_FRAGMENT_UNIFORM_VECTORS);
  const weightMode = weights !== 'auto' ? weights : pack.weightTexels <= CONST_WEIGHT_TEXELS ? 'const' : 'texture';
  if (weightMode === 'uniform' && !fitsUniforms) throw new Error('the weights do not fit the uniforms here');
  stats.weights = weightMode;
  const fs = compile(gl, gl.FRAGMENT_SHADER, fragmentSource(prep, pack, kind, weightMode));
  gl.attachShader(program, vs);
  gl.attachShader(program, fs);
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
    throw new Error(`WebGL program does not link: ${gl.getProgramInfoLog(program)}`);
  }
  gl.useProgram(program);
  stats.compile = clock() - t;
  stats.inputs = 0;
  stats.gpu = 0;
  const textures = [];
  const bind = (unit, name, tex) => {
    gl.activeTexture(gl.TEXTURE0 + unit);
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.uniform1i(gl.getUniformLocation(program, name), unit);
  };
  gl.activeTexture(gl.TEXTURE7);
  const packTex = floatTexture(gl, PACK_WIDTH, pack.rows, pack.data);
  const colData = new Float32Array(width * h14 * 4);
  for (let i = 0; i < width; i++) for (let o = 0; o < prep.h1; o++) colData[(i * h14) * 4 + o] = prep.colTerms[i * prep.h1 + o];
  const colTex = floatTexture(gl, h14, width, colData);
  const rowTex = floatTexture(gl, h14, stripRows, null);
  const tableTex = floatTexture(gl, pack.tableWidth, tableRows, table);
  const idTex = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, idTex);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
  gl.texStorage2D(gl.TEXTURE_2D, 1, gl.R32UI, width, stripRows);
  textures.push(packTex, colTex, rowTex, tableTex, idTex);
  bind(0, 'uIds', idTex);
  bind(1, 'uTable', tableTex);
  bind(2, 'uCol', colTex);
  bind(3, 'uRow', rowTex);
  bind(4, 'uP', packTex);
  const u = (name) => gl.getUniformLocation(program, name);
  gl.uniform2f(u('uSize'), width, height);
  gl.uniform2f(u('uViewA'), prep.uvOffset[0], prep.uvOffset[1]);
  gl.uniform2f(u('uViewS'), prep.uvScale[0], prep.uvScale[1]);
  gl.uniform3f(u('uPi'), PI_1, PI_2, PI_3);
  gl.uniform1f(u('uEps'), eps);
  if (weightMode === 'uniform') gl.uniform4fv(u('uW[0]'), pack.data.subarray(0, pack.weightTexels * 4));
  gl.uniform3fv(u('uOutCentre'), params.outCentre);
  gl.uniform3fv(u('uOutScale'), params.outScale);
  gl.uniform3fv(u('uOutMin'), params.outMin);
  gl.uniform3fv(u('uOutMax'), params.outMax);

  gl.activeTexture(gl.TEXTURE7); // a unit no sampler uses, so creating the target unbinds nothing
  const target = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, target);
  gl.texStorage2D(gl.TEXTURE_2D, 1, gl.RGBA32F, width, stripRows);
  textures.push(target);
  const fb = gl.createFramebuffer();
  gl.bindFramebuffer(gl.FRAMEBUFFER, fb);
  gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, target, 0);
  if (gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) {
    throw new Error('WebGL cannot render to a float texture here');
  }
  const vao = gl.createVertexArray();
  gl.bindVertexArray(vao);

  const out = new Float32Array(width * height * 3);
  const ids = new Uint32Array(colours.ids.buffer, colours.ids.byteOffset, colours.ids.length);
  const rowData = new Float32Array(h14 * stripRows * 4);
  const back = new Float32Array(width * stripRows * 4);
  try {
    for (let r0 = 0; r0 < height; r0 += stripRows) {
      t = clock();
      const rows = Math.min(stripRows, height - r0);
      rowData.fill(0);
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < prep.h1; o++) rowData[r * h14 * 4 + o] = prep.rowTerms[(r0 + r) * prep.h1 + o];
      }
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, idTex);
      gl.pixelStorei(gl.UNPACK_ALIGNMENT, 4);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, width, rows, gl.RED_INTEGER, gl.UNSIGNED_INT,
        ids.subarray(r0 * width, (r0 + rows) * width));
      gl.activeTexture(gl.TEXTURE3);
      gl.bindTexture(gl.TEXTURE_2D, rowTex);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, h14, rows, gl.RGBA, gl.FLOAT, rowData);
      stats.inputs += clock() - t;
      t = clock();
      gl.uniform1i(u('uRow0'), r0);
      gl.viewport(0, 0, width, rows);
      gl.drawArrays(gl.TRIANGLES, 0, 3);
      gl.readPixels(0, 0, width, rows, gl.RGBA, gl.FLOAT, back);
      stats.gpu += clock() - t;
      for (let i = 0, p = r0 * width * 3; i < rows * width; i++, p += 3) {
        out[p] = back[4 * i];
        out[p + 1] = back[4 * i + 1];
        out[p + 2] = back[4 * i + 2];
      }
      if (onRows) onRows(r0 + rows, height);
    }
    const err = gl.getError();
    if (err !== gl.NO_ERROR) throw new Error(`WebGL error 0x${err.toString(16)}`);
  } finally {
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.deleteFramebuffer(fb);
    for (const t of textures) gl.deleteTexture(t);
    gl.deleteVertexArray(vao);
    gl.deleteProgram(program);
    gl.deleteShader(vs);
    gl.deleteShader(fs);
  }
  return out;
}

export const webglInternals = { fragmentSource, packParams };
