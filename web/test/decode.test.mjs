// The plain-JavaScript decoder against what gainmlp's Python decoder writes
// (tests/web_fixtures.py): every body version, bare payloads, the colour conversion.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decodeGainmlpSync, GainMLPError } from '../gainmlp.mjs';
import { sdr8ToHdrSpace } from '../colour.mjs';
import { bytes, floats, manifest, maxAbsDiff } from './fixtures.mjs';

const TOLERANCE = 1e-4; // PQ code values

const m = manifest();
const sdr = { width: m.width, height: m.height, pixels: bytes('sdr.rgb') };
const JS_MAP_FORMATS = ['jpeg'];

for (const entry of m.payloads) {
  const mapFormat = entry.method.split('-')[1];
  const conventional = !entry.method.endsWith('mlp') && entry.method !== 'mlp-itm';
  const label = `${entry.name} (${entry.method}, body v${entry.body_version}, base q${entry.quality}` +
    `${entry.progressive ? ' progressive' : ''})`;
  if (conventional && !JS_MAP_FORMATS.includes(mapFormat)) {
    test(`${label}: a clear error for a map format the JS decoder does not decode`, () => {
      assert.throws(() => decodeGainmlpSync(bytes(`${entry.name}.jpg`), { name: entry.name }),
        (err) => err instanceof GainMLPError && err.message.includes(`the ${mapFormat} gain-map image cannot be decoded`));
    });
    continue;
  }
  test(`${label}: JPEG decodes as in Python`, () => {
    const result = decodeGainmlpSync(bytes(`${entry.name}.jpg`), { name: entry.name });
    assert.equal(result.width, m.width);
    assert.equal(result.height, m.height);
    assert.equal(result.payload.method, entry.method);
    const diff = maxAbsDiff(result.hdr, floats(`${entry.name}.f32`));
    assert.ok(diff <= TOLERANCE, `max |JS - Python| = ${diff}`);
  });
  test(`${label}: bare payload + SDR decodes to the committed pixels`, () => {
    const result = decodeGainmlpSync(bytes(`${entry.name}.gmlp`), { name: entry.name, sdr });
    const diff = maxAbsDiff(result.hdr, floats(`${entry.name}.bare.f32`));
    assert.ok(diff <= TOLERANCE, `max |JS - Python| = ${diff}`);
  });
}

test('every body version of the MLP and MLP-ITM formats is covered', () => {
  const versions = new Set(m.payloads.map((e) => `${e.method.endsWith('mlp') ? 'mlp' : e.method}:${e.body_version}`));
  for (const v of ['mlp:1', 'mlp:2', 'mlp:3', 'mlp-itm:1', 'gain-jpeg:1']) assert.ok(versions.has(v), v);
});

test('SDR in HDR space matches gainmlp.colorimetry for every colour set-up', () => {
  const pixels = bytes('colour.rgb');
  const n = pixels.length / 3;
  let worst = 0;
  for (const c of m.colour) {
    const got = sdr8ToHdrSpace(pixels, n, { primaries: c.primaries, transfer: c.transfer, whiteNits: c.white });
    const want = floats(`${c.name}.f32`);
    const diff = maxAbsDiff(got, want);
    worst = Math.max(worst, diff);
    // float32 results: at most one float32 step apart (different pow() implementations)
    assert.ok(diff <= 1.2e-7, `${c.name}: max diff ${diff}`);
  }
  assert.ok(worst < 1.2e-7);
});

test('corrupt and truncated files give the errors Python gives', () => {
  for (const e of m.errors) {
    assert.ok(e.message, `${e.name}: Python decoded it`);
    assert.throws(() => decodeGainmlpSync(bytes('errors', `${e.name}.jpg`), { name: `${e.name}.jpg` }),
      (err) => {
        assert.ok(err instanceof GainMLPError, `${e.name}: ${err.stack}`);
        assert.equal(err.message, e.message, e.name);
        return true;
      });
  }
});

test('without WebGL2 (Node) the async API falls back to the CPU path, unless WebGL2 is required', async () => {
  const { decodeGainmlp, webglInfo } = await import('../gainmlp.mjs');
  assert.equal(webglInfo().available, false);
  const result = await decodeGainmlp(bytes('v2-gamma-default.jpg'));
  assert.equal(result.backend, 'cpu');
  assert.ok(maxAbsDiff(result.hdr, floats('v2-gamma-default.f32')) <= TOLERANCE);
  await assert.rejects(decodeGainmlp(bytes('v2-gamma-default.jpg'), { backend: 'webgl' }), /cannot run here/);
});

test('headroom: the rendition for a display agrees with gainmlp.display on every API path', async () => {
  const { decodeGainmlp, decodeGainmlpHere } = await import('../gainmlp.mjs');
  const { decodeGainmlpThreads } = await import('../threads_node.mjs');
  assert.ok(m.headroom.length >= 9);
  const weights = new Set();
  for (const h of m.headroom) {
    const input = bytes(`${h.name}.jpg`);
    const want = floats('headroom', h.file);
    const label = `${h.name}, headroom ${h.stops}`;
    const sync = decodeGainmlpSync(input, { headroom: h.stops });
    assert.ok(maxAbsDiff(sync.hdr, want) <= TOLERANCE, `${label}: max |JS - Python| = ${maxAbsDiff(sync.hdr, want)}`);
    assert.equal(sync.headroom.stops, h.stops);
    assert.ok(Math.abs(sync.headroom.weight - h.weight) <= 1e-6, `${label}: weight ${sync.headroom.weight} vs ${h.weight}`);
    assert.ok(Math.abs(sync.headroom.capacity - h.capacity) <= 1e-5, `${label}: capacity`);
    weights.add(h.weight === 0 ? 0 : h.weight === 1 ? 1 : 'between');
    if (h.weight === 1) assert.deepEqual(sync.hdr, decodeGainmlpSync(input).hdr, `${label}: the HDR unchanged`);
    // every other path gives these pixels, bit for bit
    for (const [how, result] of [['here', await decodeGainmlpHere(input, { headroom: h.stops })],
      ['async', await decodeGainmlp(input, { headroom: h.stops })],
      ['threads', await decodeGainmlpThreads(input, { headroom: h.stops, threads: 3 })]]) {
      assert.deepEqual(result.hdr, sync.hdr, `${label}: ${how}`);
      assert.deepEqual(result.headroom, sync.headroom, `${label}: ${how}`);
    }
  }
  assert.deepEqual([...weights].sort(), [0, 1, 'between'].sort(), 'no, some and ample headroom');
  assert.equal(decodeGainmlpSync(bytes('v2-gamma-default.jpg')).headroom, null);
  assert.equal(decodeGainmlpSync(bytes('v2-gamma-default.jpg'), { headroom: null }).headroom, null);
});

test('headroom: a negative or non-finite headroom gives the error Python gives', async () => {
  const { decodeGainmlp } = await import('../gainmlp.mjs');
  const { decodeGainmlpThreads } = await import('../threads_node.mjs');
  const input = bytes('v2-gamma-default.jpg');
  const cases = [[-1, m.headroom_errors['-1.0']], [NaN, m.headroom_errors.nan], [Infinity, m.headroom_errors.inf]];
  for (const [stops, message] of cases) {
    assert.ok(message, `Python refuses ${stops}`);
    const same = (err) => err instanceof GainMLPError && err.message === message;
    assert.throws(() => decodeGainmlpSync(input, { headroom: stops }), same);
    await assert.rejects(decodeGainmlp(input, { headroom: stops }), same);
    await assert.rejects(decodeGainmlpThreads(input, { headroom: stops, threads: 2 }), same);
  }
  assert.throws(() => decodeGainmlpSync(input, { headroom: '2' }),
    (err) => err instanceof GainMLPError && err.message === 'headroom 2 must be a number of stops >= 0');
});

test('the per-colour kernels (wasm, generated, loop) agree with the per-pixel reference and Python', () => {
  const fast = m.payloads.filter((e) => e.method.endsWith('-mlp') || e.method === 'mlp-itm');
  assert.ok(fast.length >= 10);
  for (const entry of fast) {
    const input = bytes(`${entry.name}.jpg`);
    const want = floats(`${entry.name}.f32`);
    const reference = decodeGainmlpSync(input, { cpuKernel: 'reference' }).hdr;
    const kernels = entry.method === 'mlp-itm' ? ['auto'] : ['wasm', 'generated', 'loop'];
    for (const kernel of kernels) {
      const r = decodeGainmlpSync(input, { cpuKernel: kernel });
      if (kernel !== 'auto') assert.equal(r.timings.kernel, kernel);
      if (entry.method !== 'mlp-itm') assert.equal(decodeGainmlpSync(input).timings.kernel, 'wasm', 'auto: wasm');
      // float32 outputs of float64 evaluations: the same up to one float32 rounding step; the
      // WebAssembly kernel evaluates in float32 (as the Python decoder): the specification's 2e-5
      const limit = kernel === 'wasm' ? 2e-5 : 2.4e-7;
      assert.ok(maxAbsDiff(r.hdr, reference) <= limit, `${entry.name} ${kernel} vs reference`);
      assert.ok(maxAbsDiff(r.hdr, want) <= TOLERANCE, `${entry.name} ${kernel} vs Python`);
    }
  }
});

test('the network on several threads (Node) gives the pixels of one thread, bit for bit', async () => {
  const { decodeGainmlpThreads } = await import('../threads_node.mjs');
  for (const name of ['v2-gamma-default', 'v3-gamma-mixed', 'v1-gain-fp16-relu', 'itm-fp16']) {
    const one = decodeGainmlpSync(bytes(`${name}.jpg`));
    for (const threads of [2, 3]) {
      const many = await decodeGainmlpThreads(bytes(`${name}.jpg`), { threads });
      assert.deepEqual(many.hdr, one.hdr, `${name}, ${threads} threads`);
    }
    const bare = await decodeGainmlpThreads(bytes(`${name}.gmlp`), { sdr, threads: 2 });
    assert.deepEqual(bare.hdr, decodeGainmlpSync(bytes(`${name}.gmlp`), { sdr }).hdr, `${name} bare`);
  }
  await assert.rejects(decodeGainmlpThreads(bytes('errors', 'crc.jpg'), { name: 'crc.jpg', threads: 2 }),
    (err) => err instanceof GainMLPError && err.message === 'payload CRC-32 mismatch: the file is corrupt');
});

test("the WebAssembly kernel's float32 sine and 2^x", async () => {
  const { wasmMath } = await import('../mlp_wasm.mjs');
  const n = 1 << 16;
  const xs = Float32Array.from({ length: n }, (_, i) => -2000 + (4000 * i) / n);
  const sin = wasmMath('sin', xs);
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(sin[i] - Math.sin(xs[i])));
  assert.ok(worst < 5e-6, `sine: max error ${worst}`); // |x| <= 2000: a float32 ulp of x is 1.2e-4
  const small = Float32Array.from({ length: n }, (_, i) => -20 + (40 * i) / n);
  const sinSmall = wasmMath('sin', small);
  worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(sinSmall[i] - Math.sin(small[i])));
  assert.ok(worst < 3e-7, `sine on [-20, 20]: max error ${worst}`);
  const ys = Float32Array.from({ length: n }, (_, i) => -126 + (253 * i) / n);
  const exp = wasmMath('exp2', ys);
  worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(exp[i] / 2 ** ys[i] - 1));
  assert.ok(worst < 4e-7, `2^x: max relative error ${worst}`);
  const edges = wasmMath('exp2', new Float32Array([-5000, -200, 200, 5000]));
  assert.ok(edges[0] < 1e-37 && edges[1] < 1e-37 && edges[2] > 1e38 && edges[3] > 1e38, String(edges));
});
