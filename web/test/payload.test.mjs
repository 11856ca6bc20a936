// The container and payload readers: CRC-32, segments, APP11 chunks, the outer header, and
// error messages formatted as Python formats them.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { GainMLPError, pyFloat, pyTuple } from '../errors.mjs';
import { crc32, extractPayload, parsePayload, parseSegments } from '../payload.mjs';
import { unpackMlpBody } from '../body.mjs';
import { displayInternals } from '../display.mjs';
import { toU16 } from '../png.mjs';
import { bytes } from './fixtures.mjs';

test('CRC-32 is zlib\'s', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

test('floats and tuples are written as Python writes them', () => {
  const cases = [[0.015625, '0.015625'], [5, '5.0'], [1e-5, '1e-05'], [0.0001, '0.0001'], [1e16, '1e+16'],
    [123456789012345.6, '123456789012345.6'], [NaN, 'nan'], [-Infinity, '-inf'], [Math.fround(0.1), '0.10000000149011612'],
    [-2.5e-7, '-2.5e-07'], [1.5e300, '1.5e+300'], [0, '0.0']];
  for (const [x, want] of cases) assert.equal(pyFloat(x), want, String(x));
  assert.equal(pyTuple([1]), '(1,)');
  assert.equal(pyTuple([1, 2, 3]), '(1, 2, 3)');
});

test('a fixture payload parses, and its body version 2 unpacks', () => {
  const payload = parsePayload(bytes('v2-gamma-default.gmlp'));
  assert.equal(payload.method, 'gamma-mlp');
  assert.equal(payload.eps, 1 / 64);
  const params = unpackMlpBody(payload.body);
  assert.equal(params.version, 2);
  assert.deepEqual(params.hidden, [16, 16]);
  assert.equal(params.grids.length, 1);
});

test('the APP11 payload of a fixture JPEG is the fixture payload', () => {
  const jpg = bytes('v3-gamma-mixed.jpg');
  const segments = parseSegments(jpg);
  assert.equal(segments[0].marker, 0xd8);
  assert.equal(segments.at(-1).marker, 0xda);
  assert.deepEqual(extractPayload(jpg, segments), bytes('v3-gamma-mixed.gmlp'));
});

test('every truncation of a payload is refused with a one-line error', () => {
  const data = bytes('v1-gamma-fp32.gmlp');
  for (let n = 0; n < data.length; n += 97) {
    assert.throws(() => parsePayload(data.subarray(0, n)), (err) => err instanceof GainMLPError && !err.message.includes('\n'));
  }
});

test('half floats round to nearest even for the HDR canvas', () => {
  const { floatToHalf } = displayInternals;
  assert.equal(floatToHalf(1), 0x3c00);
  assert.equal(floatToHalf(-2), 0xc000);
  assert.equal(floatToHalf(65504), 0x7bff);
  assert.equal(floatToHalf(1e6), 0x7c00);
  assert.equal(floatToHalf(2 ** -24), 1);
});

test('16-bit PNG values round like numpy (halves to even)', () => {
  assert.equal(toU16(0), 0);
  assert.equal(toU16(1), 65535);
  assert.equal(toU16(2), 65535);
  assert.equal(toU16(0.5 / 65535), 0);
  assert.equal(toU16(1.5 / 65535), 2);
});

test('coded grids (precision u8z) inflate alike through DecompressionStream and Node zlib', async () => {
  const { inflateGrids } = await import('../body.mjs');
  for (const name of ['v2-gamma-u6z.gmlp', 'v3-gamma-u8z.gmlp']) {
    const body = parsePayload(bytes(name)).body;
    const direct = unpackMlpBody(body); // Node's synchronous zlib
    const copy = body.slice();
    await inflateGrids(copy); // what a browser runs before unpackMlpBody
    const viaStream = unpackMlpBody(copy);
    assert.equal(direct.gridPrecision, 'u8z');
    assert.deepEqual(viaStream.grids.map((g) => Array.from(g.data)), direct.grids.map((g) => Array.from(g.data)));
    const message = /coded grid values do not inflate to exactly \d+ bytes/;
    for (const bad of [body.slice(0, body.length - 1), Uint8Array.from([...body, 0])]) {
      assert.throws(() => unpackMlpBody(bad), message);
      const seen = bad.slice();
      await inflateGrids(seen);
      assert.throws(() => unpackMlpBody(seen), message);
    }
  }
});
