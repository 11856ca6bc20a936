// The package as npm ships it: the hand-written types (web/types/*.d.ts) declare exactly
// the exports of the modules package.json exports, and the exports resolve by the package's
// own name. tsc checks the types themselves (tests/test_web_package.py).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { WEB } from './fixtures.mjs';

const pkg = JSON.parse(readFileSync(join(WEB, 'package.json'), 'utf8'));

/** The value names a .d.ts declares (functions, classes, consts, re-exports); not types. */
function declared(file) {
  const text = readFileSync(join(WEB, file), 'utf8');
  const names = new Set();
  for (const m of text.matchAll(/^export (?:declare )?(?:function|class|const|let) (\w+)/gm)) names.add(m[1]);
  for (const m of text.matchAll(/^export \{([^}]*)\} from/gm)) {
    for (const n of m[1].split(',')) if (n.trim()) names.add(n.trim());
  }
  return names;
}

for (const [entry, target] of Object.entries(pkg.exports)) {
  if (typeof target === 'string') continue; // ./worker, ./package.json: no types
  test(`"${entry}": ${target.types} declares every export of ${target.default}, and nothing else`, async () => {
    const mod = await import(join(WEB, target.default));
    const actual = new Set(Object.keys(mod));
    const types = declared(target.types);
    assert.deepEqual([...actual].filter((n) => !types.has(n)).sort(), [], 'exported but not declared');
    assert.deepEqual([...types].filter((n) => !actual.has(n)).sort(), [], 'declared but not exported');
  });
}

test('the package resolves by its own name (exports), and the bin is the CLI', async () => {
  const byName = await import(`${pkg.name}`);
  const byPath = await import(join(WEB, 'gainmlp.mjs'));
  assert.equal(byName.decodeGainmlp, byPath.decodeGainmlp);
  assert.equal((await import(`${pkg.name}/display`)).drawHdr, byPath.drawHdr);
  assert.equal(typeof (await import(`${pkg.name}/cli`)).main, 'function');
  assert.deepEqual(Object.values(pkg.bin), ['./cli.mjs']);
  assert.equal(pkg.private, undefined);
  assert.equal(pkg.version, byPath.VERSION);
});
