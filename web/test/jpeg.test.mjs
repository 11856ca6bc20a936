// The JPEG decoder gives libjpeg-turbo's pixels (what Pillow, and so gainmlp, decodes), for
// every layout Pillow writes; bad input gives Pillow-side errors, never a crash.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { GainMLPError } from '../errors.mjs';
import { decodeJpeg, jpegSize } from '../jpeg.mjs';
import { bytes, manifest } from './fixtures.mjs';

const m = manifest();

for (const c of m.jpeg) {
  test(`${c.name}: ${c.width}x${c.height} ${c.mode} subsampling ${c.subsampling}` +
    `${c.progressive ? ' progressive' : ''} decodes bit-exactly as Pillow`, () => {
    const got = decodeJpeg(bytes('jpeg', `${c.name}.jpg`), c.name);
    const want = bytes('jpeg', `${c.name}.rgb`);
    assert.equal(got.width, c.width);
    assert.equal(got.height, c.height);
    let differing = 0;
    for (let i = 0; i < want.length; i++) if (want[i] !== got.pixels[i]) differing++;
    assert.equal(differing, 0, `${differing} samples differ from Pillow`);
  });
}

test('every layout is covered: 4:4:4, 4:2:2, 4:2:0, grey, progressive, restart markers', () => {
  const subs = new Set(m.jpeg.map((c) => c.subsampling));
  assert.deepEqual([...subs].sort(), [0, 1, 2]);
  assert.ok(m.jpeg.some((c) => c.progressive) && m.jpeg.some((c) => c.mode === 'L'));
});

test('the base JPEGs of the payload fixtures decode bit-exactly too (via the size header)', () => {
  const data = bytes('v2-gamma-default.jpg');
  assert.deepEqual(jpegSize(data), { width: m.width, height: m.height });
});

test('truncated or corrupt JPEGs give one-line errors', () => {
  const data = bytes('jpeg', 'j0.jpg');
  const sos = data.lastIndexOf(0xda) - 1;
  const cases = {
    'image data is corrupt or truncated': [data.subarray(0, sos + 40), data.subarray(0, data.length - 2)],
    'not a readable image (corrupt or unsupported)': [data.subarray(0, 1), new Uint8Array([0xff, 0xd8, 0xff, 0xd9])],
  };
  for (const [message, inputs] of Object.entries(cases)) {
    for (const input of inputs) {
      assert.throws(() => decodeJpeg(input, 'x.jpg'),
        (err) => err instanceof GainMLPError && err.message === `x.jpg: ${message}`);
    }
  }
});

test('random corruption of the entropy-coded data never crashes the decoder', () => {
  const data = bytes('jpeg', 'j3.jpg');
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let k = 0; k < 200; k++) {
    const copy = data.slice();
    for (let j = 0; j < 4; j++) copy[Math.floor(200 + rand() * (copy.length - 200))] = Math.floor(rand() * 256);
    try {
      const r = decodeJpeg(copy, 'x');
      assert.equal(r.pixels.length, r.width * r.height * 3);
    } catch (err) {
      assert.ok(err instanceof GainMLPError, err.stack);
    }
  }
});

test('unsupported JPEGs say what is unsupported', () => {
  const data = bytes('jpeg', 'j0.jpg').slice();
  const sof = data.findIndex((b, i) => b === 0xff && data[i + 1] === 0xc0);
  data[sof + 1] = 0xc9; // arithmetic coding
  assert.throws(() => decodeJpeg(data, 'x'), /arithmetic-coded JPEGs are not supported/);
});
