// Payload bodies (docs/payload-format.md): the Gain-MLP body (versions 1, 2, 3), the
// MLP-ITM body (version 1) and the conventional map body's header (version 1). Every field
// is checked before anything is allocated, with the Python decoder's checks and messages
// (gainmlp.codecs.mlp.format, .mlp.grid, .mlp_itm.format, .body_fields, .conventional).
// Weights come back as Float32Array matrices, row-major (out x in).

import { GainMLPError, pyTuple } from './errors.mjs';

const MAX_INPUTS = 16, MAX_FREQUENCIES = 24, MAX_HIDDEN_LAYERS = 8, MAX_OUTPUTS = 16, MAX_WIDTH = 1024;
const MAX_GRIDS = 4, MIN_GRID_SIDE = 2, MAX_GRID_SIDE = 256, MAX_GRID_CHANNELS = 8;
const MAX_GRID_FEATURES = 16, MAX_GRID_DEPTH = 64, MAX_GRID_VALUES = 1 << 20;

// ---------------------------------------------------------------- IEEE binary16

const HALF = new Float32Array(65536);
for (let h = 0; h < 65536; h++) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  HALF[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1024 + m) * 2 ** (e - 25);
}

/** `count` little-endian values of `precision` ('fp32'|'fp16') at `offset`, as float32. */
export function readFloats(data, offset, count, precision) {
  const out = new Float32Array(count);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (precision === 'fp32') {
    for (let i = 0; i < count; i++) out[i] = dv.getFloat32(offset + 4 * i, true);
  } else {
    for (let i = 0; i < count; i++) out[i] = HALF[dv.getUint16(offset + 2 * i, true)];
  }
  return out;
}

function allFinite(arr) {
  for (let i = 0; i < arr.length; i++) if (!Number.isFinite(arr[i])) return false;
  return true;
}

// ---------------------------------------------------------------- shared fields (body_fields)

const ITEM = { fp32: 4, fp16: 2, u8: 1, u8z: 1 };

function fieldName(codes, code, codec, what) {
  const name = codes[code];
  if (name === undefined) throw new GainMLPError(`${codec} body has unknown ${what} code ${code}`);
  return name;
}

function checkBodyVersion(version, supported, codec) {
  if (!supported.includes(version)) {
    throw new GainMLPError(`${codec} body version ${version} is not supported ` +
      `(this gainmlp reads ${pyTuple(supported)})`);
  }
}

function normalisationBytes(nIn, nOut) {
  return 8 * nIn + 16 * nOut;
}

function unpackNormalisation(data, offset, nIn, nOut, codec) {
  const ins = readFloats(data, offset, 2 * nIn, 'fp32');
  const outs = readFloats(data, offset + 8 * nIn, 4 * nOut, 'fp32');
  if (!allFinite(ins) || !allFinite(outs)) {
    throw new GainMLPError(`${codec} body holds non-finite normalisation constants`);
  }
  const pick = (arr, stride, k, n) => Float32Array.from({ length: n }, (_, i) => arr[i * stride + k]);
  const norm = {
    inCentre: pick(ins, 2, 0, nIn), inScale: pick(ins, 2, 1, nIn),
    outCentre: pick(outs, 4, 0, nOut), outScale: pick(outs, 4, 1, nOut),
    outMin: pick(outs, 4, 2, nOut), outMax: pick(outs, 4, 3, nOut),
  };
  if (norm.inScale.some((v) => v <= 0) || norm.outScale.some((v) => v <= 0)) {
    throw new GainMLPError(`${codec} body holds a non-positive normalisation scale`);
  }
  if (norm.outMin.some((v, i) => v > norm.outMax[i])) {
    throw new GainMLPError(`${codec} body holds an output minimum above its maximum`);
  }
  return norm;
}

// ---------------------------------------------------------------- Gain-MLP body (mlp.format)

const ACTIVATIONS = { 1: 'relu', 2: 'sine' };
const PRECISIONS = { 1: 'fp32', 2: 'fp16' };
const GRID_PRECISIONS = { 1: 'fp32', 2: 'fp16', 3: 'u8', 4: 'u8z' };
const TRANSFORMS = { 0: 'linear', 1: 'log2' };

/** Grid limits (gainmlp.codecs.mlp.grid.check_grid_shapes); shapes are arrays of dims. */
function checkGridShapes(shapes) {
  if (!(shapes.length >= 1 && shapes.length <= MAX_GRIDS)) {
    throw new GainMLPError(`${shapes.length} grids, expected 1..${MAX_GRIDS}`);
  }
  for (const shape of shapes) {
    const [rows, cols, bins, chans] = shape.length === 3 ? [shape[0], shape[1], 1, shape[2]] : shape;
    const name = shape.join('x');
    if (!(rows >= MIN_GRID_SIDE && rows <= MAX_GRID_SIDE && cols >= MIN_GRID_SIDE && cols <= MAX_GRID_SIDE &&
      chans >= 1 && chans <= MAX_GRID_CHANNELS)) {
      throw new GainMLPError(`grid ${name} is outside the limits (${MIN_GRID_SIDE}..${MAX_GRID_SIDE} per side, ` +
        `1..${MAX_GRID_CHANNELS} channels)`);
    }
    if (shape.length === 4 && !(bins >= 2 && bins <= MAX_GRID_DEPTH)) {
      throw new GainMLPError(`grid ${name} has ${bins} luma bins, outside 2..${MAX_GRID_DEPTH}`);
    }
    if (rows * cols * bins * chans > MAX_GRID_VALUES) {
      throw new GainMLPError(`grid ${name} has more than ${MAX_GRID_VALUES} values`);
    }
  }
  if (shapes.reduce((s, x) => s + x[x.length - 1], 0) > MAX_GRID_FEATURES) {
    throw new GainMLPError(`grids have more than ${MAX_GRID_FEATURES} channels in all`);
  }
}

function gridHeadSize(shapes, precision) {
  const nChan = shapes.reduce((s, x) => s + x[x.length - 1], 0);
  const dims = shapes.some((s) => s.length === 4) ? 8 + 6 * shapes.length : 5 * shapes.length;
  return 4 + dims + (precision === 'u8' || precision === 'u8z' ? 8 * nChan : 0);
}

function fanIns(nIn, nFreq, hidden, nGrid, entry) {
  const fans = [2 * nFreq * nIn + 1, ...hidden];
  if (nGrid) fans[entry - 1] += nGrid;
  return fans;
}

function mlpBodySize(nIn, nFreq, hidden, nOut, precision, shapes, entry, gridPrecision) {
  let size = 8 + 2 * hidden.length + normalisationBytes(nIn, nOut);
  const nGrid = shapes.reduce((s, x) => s + x[x.length - 1], 0);
  const outs = [...hidden, nOut];
  let count = 0;
  fanIns(nIn, nFreq, hidden, nGrid, entry).forEach((fan, layer) => { count += outs[layer] * fan; });
  size += count * ITEM[precision];
  if (shapes.length) {
    const values = shapes.reduce((s, x) => s + x.reduce((p, d) => p * d, 1), 0);
    size += gridHeadSize(shapes, gridPrecision) + values * ITEM[gridPrecision];
  }
  return size;
}

function unpackGridSection(data, off, nHidden, bilateral) {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < off + 4) throw new GainMLPError('MLP body is truncated inside its grid section');
  const [count, entry, prec, reserved] = data.subarray(off, off + 4);
  off += 4;
  if (!(count >= 1 && count <= MAX_GRIDS) || reserved !== 0) {
    throw new GainMLPError(`MLP body declares ${count} grids (limit ${MAX_GRIDS}) or a non-zero reserved byte`);
  }
  if (!(entry >= 1 && entry <= nHidden)) {
    throw new GainMLPError(`MLP body's grids enter layer ${entry}, outside 1..${nHidden}`);
  }
  const precision = fieldName(GRID_PRECISIONS, prec, 'MLP', 'grid precision');
  let guide = [0, 1];
  if (bilateral) {
    if (data.length < off + 8) throw new GainMLPError('MLP body is truncated inside its grid guide range');
    const low = dv.getFloat32(off, true);
    const high = dv.getFloat32(off + 4, true);
    off += 8;
    if (!(Number.isFinite(low) && Number.isFinite(high) && high > low)) {
      throw new GainMLPError('MLP body holds a bad grid guide range');
    }
    guide = [low, high];
  }
  const dimSize = bilateral ? 6 : 5;
  if (data.length < off + dimSize * count) throw new GainMLPError('MLP body is truncated inside its grid shapes');
  let shapes = [];
  for (let i = 0; i < count; i++) {
    const p = off + dimSize * i;
    const rows = dv.getUint16(p, true), cols = dv.getUint16(p + 2, true);
    if (bilateral) {
      const bins = data[p + 4], chans = data[p + 5];
      shapes.push(bins === 1 ? [rows, cols, chans] : [rows, cols, bins, chans]);
    } else {
      shapes.push([rows, cols, data[p + 4]]);
    }
  }
  off += dimSize * count;
  checkGridShapes(shapes);
  let consts = new Float32Array(0);
  if (precision === 'u8' || precision === 'u8z') {
    const nChan = shapes.reduce((s, x) => s + x[x.length - 1], 0);
    if (data.length < off + 8 * nChan) throw new GainMLPError('MLP body is truncated inside its grid constants');
    consts = readFloats(data, off, 2 * nChan, 'fp32');
    let bad = !allFinite(consts);
    for (let c = 0; c < nChan; c++) if (consts[2 * c + 1] <= 0) bad = true;
    if (bad) throw new GainMLPError('MLP body holds bad grid quantisation constants');
  }
  shapes = shapes.map((s) => s.slice());
  return { shapes, entry, precision, consts, guide };
}

// ---------------------------------------------------------------- coded grids (precision u8z)

const INFLATED = new WeakMap(); // body -> inflated grid values, filled by inflateGrids

/** Node's synchronous raw inflate (zlib), or null in a browser. */
function nodeInflateRaw() {
  const zlib = globalThis.process?.getBuiltinModule?.('node:zlib');
  return zlib ? zlib.inflateRawSync : null;
}

function inflateError(size) {
  return new GainMLPError(`MLP body's coded grid values do not inflate to exactly ${size} bytes`);
}

/** The grid values of a u8z body: inflated by inflateGrids before, or by Node's zlib here. */
function inflatedValues(body, stream, size) {
  let out = INFLATED.get(body);
  if (out === undefined) {
    const inflateRaw = nodeInflateRaw();
    if (!inflateRaw) {
      throw new GainMLPError('this payload stores its grids deflate-coded: decode it with the ' +
        'asynchronous decodeGainmlp (decodeGainmlpSync needs Node here)');
    }
    try { // info: how much input the stream used (bytes after its end are an error)
      const { buffer, engine } = inflateRaw(stream, { maxOutputLength: size + 1, info: true });
      out = engine.bytesWritten === stream.length ? new Uint8Array(buffer) : null;
    } catch {
      throw inflateError(size);
    }
  }
  if (!(out instanceof Uint8Array) || out.length !== size) throw inflateError(size);
  return out;
}

/**
 * Inflate a u8z body's grid values with the platform's DecompressionStream('deflate-raw')
 * (browsers and Node), so that unpackMlpBody(body) finds them; a no-op for other bodies.
 * Await it before unpackMlpBody where Node's synchronous zlib is not available (browsers).
 */
export async function inflateGrids(body) {
  if (INFLATED.has(body) || body.length < 8 || !(body[0] === 2 || body[0] === 3)) return;
  const nHidden = body[6];
  const headEnd = 8 + 2 * nHidden + normalisationBytes(body[4], body[7]);
  if (body.length < headEnd + 4 || body[headEnd + 2] !== 4) return;
  let grid, expected;
  try { // the checks unpackMlpBody makes, to learn where the stream starts and its size
    const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const hidden = Array.from({ length: nHidden }, (_, i) => dv.getUint16(8 + 2 * i, true));
    grid = unpackGridSection(body, headEnd, nHidden, body[0] === 3);
    expected = mlpBodySize(body[4], body[5], hidden, body[7], PRECISIONS[body[2]] || 'fp32', grid.shapes,
      grid.entry, grid.precision);
  } catch {
    return; // unpackMlpBody gives the error
  }
  const size = grid.shapes.reduce((s, x) => s + x.reduce((p, d) => p * d, 1), 0);
  if (body.length <= expected - size) return;
  const stream = body.subarray(expected - size);
  const out = await inflateRaw(stream, size);
  // the stream must end at the body's last byte: without that byte it must not inflate
  // (not every DecompressionStream refuses bytes after the end of the stream)
  const ends = out !== null && (await inflateRaw(stream.subarray(0, stream.length - 1), size)) === null;
  INFLATED.set(body, ends ? out : null);
}

/** DecompressionStream('deflate-raw') of `stream`: exactly `size` bytes, else null. */
async function inflateRaw(stream, size) {
  const out = new Uint8Array(size);
  let got = 0;
  try {
    const chunks = new Blob([stream]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    for await (const chunk of chunks) {
      if (got + chunk.length > size) return null;
      out.set(chunk, got);
      got += chunk.length;
    }
  } catch {
    return null; // a corrupt or truncated stream
  }
  return got === size ? out : null;
}

/**
 * One grid's u8 values (shape [rows, cols, C] or [rows, cols, bins, C], channels interleaved)
 * from its coded bytes: per channel, a plane of rows x (cols * bins) residuals (v minus the
 * mean of the left and upper neighbours rounded down; the left one on the first row, the
 * upper one in the first column, 0 at the origin), modulo 256 (gainmlp.codecs.mlp.grid).
 */
function restoreResiduals(res, shape) {
  const chans = shape[shape.length - 1];
  const rows = shape[0];
  const k = shape.slice(1, -1).reduce((p, d) => p * d, 1);
  const out = new Uint8Array(rows * k * chans);
  const v = new Uint8Array(rows * k);
  for (let c = 0; c < chans; c++) {
    const base = c * rows * k;
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < k; j++) {
        const i = r * k + j;
        const pred = r === 0 ? (j === 0 ? 0 : v[i - 1]) : j === 0 ? v[i - k] : (v[i - 1] + v[i - k]) >> 1;
        v[i] = (res[base + i] + pred) & 0xff;
        out[i * chans + c] = v[i];
      }
    }
  }
  return out;
}

/**
 * Parse and check a Gain-MLP body (versions 1-3).
 * @returns params: activation, outputTransform, precision, nFrequencies, nInputs, nOutputs,
 *   hidden (widths), normalisation (inCentre, ...), weights [{rows, cols, data}],
 *   grids [{shape:[rows, cols, bins, C], data}] (bins 1 for plain grids), gridEntry,
 *   gridGuide [low, high], version
 */
export function unpackMlpBody(body) {
  const data = body;
  if (data.length < 8) throw new GainMLPError(`MLP body is truncated (${data.length} bytes)`);
  const [version, act, prec, transform, nIn, nFreq, nHidden, nOut] = data.subarray(0, 8);
  checkBodyVersion(version, [1, 2, 3], 'MLP');
  const activation = fieldName(ACTIVATIONS, act, 'MLP', 'activation');
  const precision = fieldName(PRECISIONS, prec, 'MLP', 'precision');
  const outputTransform = fieldName(TRANSFORMS, transform, 'MLP', 'output transform');
  if (!(nIn >= 1 && nIn <= MAX_INPUTS && nFreq >= 1 && nFreq <= MAX_FREQUENCIES &&
    nHidden >= 1 && nHidden <= MAX_HIDDEN_LAYERS && nOut >= 1 && nOut <= MAX_OUTPUTS)) {
    throw new GainMLPError(`MLP body declares an absurd shape (${nIn} inputs, ${nFreq} frequencies, ` +
      `${nHidden} hidden layers, ${nOut} outputs)`);
  }
  let off = 8;
  if (data.length < off + 2 * nHidden) throw new GainMLPError('MLP body is truncated inside its hidden widths');
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const hidden = [];
  for (let i = 0; i < nHidden; i++) hidden.push(dv.getUint16(off + 2 * i, true));
  off += 2 * nHidden;
  for (const w of hidden) {
    if (!(w >= 1 && w <= MAX_WIDTH)) {
      throw new GainMLPError(`MLP body declares an absurd hidden width ${w} (limit ${MAX_WIDTH})`);
    }
  }
  const headEnd = off + normalisationBytes(nIn, nOut);
  let grid = { shapes: [], entry: 1, precision: 'fp16', consts: new Float32Array(0), guide: [0, 1] };
  if (version === 2 || version === 3) grid = unpackGridSection(data, headEnd, nHidden, version === 3);
  const expected = mlpBodySize(nIn, nFreq, hidden, nOut, precision, grid.shapes, grid.entry, grid.precision);
  let coded = null; // grid precision u8z: the values are a deflate stream after the weights
  if (grid.precision === 'u8z') {
    const values = grid.shapes.reduce((s, x) => s + x.reduce((p, d) => p * d, 1), 0);
    if (data.length <= expected - values) {
      throw new GainMLPError(`MLP body has ${data.length} bytes but its declared shape needs ` +
        `${expected - values} and coded grid values`);
    }
    coded = inflatedValues(body, data.subarray(expected - values), values);
  } else if (data.length !== expected) {
    throw new GainMLPError(`MLP body has ${data.length} bytes but its declared shape needs ${expected}`);
  }
  const norm = unpackNormalisation(data, off, nIn, nOut, 'MLP');
  off = headEnd;
  if (grid.shapes.length) off += gridHeadSize(grid.shapes, grid.precision);
  const nGrid = grid.shapes.reduce((s, x) => s + x[x.length - 1], 0);
  const fans = fanIns(nIn, nFreq, hidden, nGrid, grid.entry);
  const weights = [];
  [...hidden, nOut].forEach((rows, layer) => {
    const cols = fans[layer];
    const w = readFloats(data, off, rows * cols, precision);
    off += rows * cols * ITEM[precision];
    if (!allFinite(w)) throw new GainMLPError('MLP body holds non-finite weights');
    weights.push({ rows, cols, data: w });
  });
  const grids = [];
  let ch0 = 0;
  for (const shape of grid.shapes) {
    const chans = shape[shape.length - 1];
    const count = shape.reduce((p, d) => p * d, 1);
    let g;
    if (grid.precision === 'u8' || grid.precision === 'u8z') {
      const q = coded ? restoreResiduals(coded.subarray(0, count), shape) : data.subarray(off, off + count);
      if (coded) coded = coded.subarray(count); else off += count;
      g = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const c = ch0 + (i % chans);
        // float32(low + float32(q * step)), as numpy evaluates it
        g[i] = Math.fround(grid.consts[2 * c] + Math.fround(q[i] * grid.consts[2 * c + 1]));
      }
    } else {
      g = readFloats(data, off, count, grid.precision);
      off += count * ITEM[grid.precision];
    }
    if (!allFinite(g)) throw new GainMLPError('MLP body holds non-finite grid values');
    const full = shape.length === 3 ? [shape[0], shape[1], 1, shape[2]] : shape;
    grids.push({ shape: full, data: g });
    ch0 += chans;
  }
  return {
    version, activation, precision, outputTransform, nFrequencies: nFreq, nInputs: nIn, nOutputs: nOut,
    hidden, ...norm, weights, grids, gridEntry: grid.entry, gridGuide: grid.guide, gridPrecision: grid.precision,
  };
}

// ---------------------------------------------------------------- MLP-ITM body (mlp_itm.format)

const ITM_HEADER = 12 + normalisationBytes(5, 3); // 100

function itmLayerShapes(fs, fc, ls, lc, ws, wc) {
  const spatial = [[ws, 4 * fs]];
  for (let i = 0; i < ls - 1; i++) spatial.push([ws, ws]);
  spatial.push([2 * wc, ws]);
  const colour = [[wc, 6 * fc]];
  for (let i = 0; i < lc - 1; i++) colour.push([wc, wc]);
  colour.push([3, wc]);
  return [spatial, colour];
}

/** Parse and check an MLP-ITM body (version 1): spatial and colour layers {w, b, rows, cols}. */
export function unpackItmBody(body) {
  const data = body;
  if (data.length < ITM_HEADER) throw new GainMLPError(`MLP-ITM body is truncated (${data.length} bytes)`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const [version, act, prec, fusion, fs, fc, ls, lc] = data.subarray(0, 8);
  const ws = dv.getUint16(8, true);
  const wc = dv.getUint16(10, true);
  checkBodyVersion(version, [1], 'MLP-ITM');
  fieldName({ 1: 'relu' }, act, 'MLP-ITM', 'activation');
  const precision = fieldName(PRECISIONS, prec, 'MLP-ITM', 'precision');
  fieldName({ 1: 'film' }, fusion, 'MLP-ITM', 'fusion');
  if (!(fs >= 1 && fs <= MAX_FREQUENCIES && fc >= 1 && fc <= MAX_FREQUENCIES)) {
    throw new GainMLPError(`MLP-ITM declares ${fs}/${fc} frequencies, outside 1..${MAX_FREQUENCIES}`);
  }
  if (!(ls >= 1 && ls <= MAX_HIDDEN_LAYERS && lc >= 1 && lc <= MAX_HIDDEN_LAYERS)) {
    throw new GainMLPError(`MLP-ITM declares ${ls}/${lc} hidden layers, outside 1..${MAX_HIDDEN_LAYERS}`);
  }
  if (!(ws >= 1 && ws <= MAX_WIDTH && wc >= 1 && wc <= MAX_WIDTH)) {
    throw new GainMLPError(`MLP-ITM declares an absurd hidden width (${ws}/${wc}, limit ${MAX_WIDTH})`);
  }
  const [spatialShapes, colourShapes] = itmLayerShapes(fs, fc, ls, lc, ws, wc);
  const nParams = [...spatialShapes, ...colourShapes].reduce((s, [o, i]) => s + o * i + o, 0);
  const expected = ITM_HEADER + nParams * ITEM[precision];
  if (data.length !== expected) {
    throw new GainMLPError(`MLP-ITM body has ${data.length} bytes but its declared shape needs ${expected}`);
  }
  const norm = unpackNormalisation(data, 12, 5, 3, 'MLP-ITM');
  let off = ITM_HEADER;
  const layers = [];
  for (const [rows, cols] of [...spatialShapes, ...colourShapes]) {
    const w = readFloats(data, off, rows * cols, precision);
    off += rows * cols * ITEM[precision];
    const b = readFloats(data, off, rows, precision);
    off += rows * ITEM[precision];
    if (!allFinite(w) || !allFinite(b)) throw new GainMLPError('MLP-ITM body holds non-finite weights');
    layers.push({ rows, cols, w, b });
  }
  return {
    version, precision, spatialFrequencies: fs, colourFrequencies: fc, spatialWidth: ws, colourWidth: wc,
    ...norm, spatial: layers.slice(0, spatialShapes.length), colour: layers.slice(spatialShapes.length),
  };
}

// ---------------------------------------------------------------- conventional body (codecs.conventional)

const MAP_FORMATS = { 1: 'jpeg', 2: 'heic', 3: 'jxl', 4: 'avif' };

/** The conventional body's header, checked against the image size (codecs.conventional). */
export function unpackMapBody(method, body, width, height) {
  const fmt = method.split('-')[1];
  if (body.length < 32) throw new GainMLPError('gain-map body is truncated');
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const [version, fmtCode, scale, quality] = body.subarray(0, 4);
  const lo = [0, 1, 2].map((i) => dv.getFloat32(4 + 4 * i, true));
  const hi = [0, 1, 2].map((i) => dv.getFloat32(16 + 4 * i, true));
  const mw = dv.getUint16(28, true);
  const mh = dv.getUint16(30, true);
  if (version !== 1) throw new GainMLPError(`gain-map body version ${version} is not supported`);
  if (MAP_FORMATS[fmtCode] !== fmt) {
    throw new GainMLPError(`gain-map body holds format code ${fmtCode}, method says ${fmt}`);
  }
  const ok = [...lo, ...hi].every((v) => Number.isFinite(v) && Math.abs(v) < 64) &&
    hi.every((v, i) => v > lo[i]);
  if (!ok) throw new GainMLPError('gain-map body has invalid normalisation bounds');
  if (mw > width || mh > height) {
    throw new GainMLPError(`gain map ${mw}x${mh} is larger than the image ${width}x${height}`);
  }
  return { format: fmt, scale, quality, lo, hi, mapWidth: mw, mapHeight: mh, image: body.subarray(32) };
}
