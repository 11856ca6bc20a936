// Where the tests find the fixtures the Python side writes (tests/web_fixtures.py):
// $GAINMLP_WEB_FIXTURES when set (tests/test_web.py sets it), else they are written once
// per test process into a temporary folder with the repository's Python.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = resolve(WEB, '..');

let cached = null;

function python() {
  if (process.env.GAINMLP_PYTHON) return process.env.GAINMLP_PYTHON;
  const venv = join(REPO, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

/** The fixture folder, written on first use. */
export function fixtureDir() {
  if (cached) return cached;
  let dir = process.env.GAINMLP_WEB_FIXTURES;
  if (!dir || !existsSync(join(dir, 'manifest.json'))) {
    dir = dir || mkdtempSync(join(tmpdir(), 'gainmlp-web-'));
    execFileSync(python(), [join(REPO, 'tests', 'web_fixtures.py'), dir], { stdio: 'inherit' });
  }
  cached = dir;
  return dir;
}

export function manifest() {
  return JSON.parse(readFileSync(join(fixtureDir(), 'manifest.json'), 'utf8'));
}

export function bytes(...parts) {
  return new Uint8Array(readFileSync(join(fixtureDir(), ...parts)));
}

export function floats(...parts) {
  const b = readFileSync(join(fixtureDir(), ...parts));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** max |a - b| over two equally long arrays. */
export function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return Infinity;
    if (d > m) m = d;
  }
  return m;
}

let gainmapCached = null;

/** The standard gain-map fixtures (tests/web_gainmap_fixtures.py), written on first use. */
export function gainmapFixtureDir() {
  if (gainmapCached) return gainmapCached;
  let dir = process.env.GAINMLP_WEB_GAINMAP_FIXTURES;
  if (!dir || !existsSync(join(dir, 'manifest.json'))) {
    dir = dir || mkdtempSync(join(tmpdir(), 'gainmlp-gainmap-'));
    execFileSync(python(), [join(REPO, 'tests', 'web_gainmap_fixtures.py'), dir], { stdio: 'inherit' });
  }
  gainmapCached = dir;
  return dir;
}

export function gainmapManifest() {
  return JSON.parse(readFileSync(join(gainmapFixtureDir(), 'manifest.json'), 'utf8'));
}
