#!/usr/bin/env node
// The JavaScript decoder from the command line (Node 20+; `npx gainmlp-web ...` once the
// package is installed), on the CPU (a payload's network on every core: threads_node.mjs):
//
//   node web/cli.mjs decode IN.jpg -o OUT.png       16-bit PQ BT.2020 PNG with cICP, as
//                                                   `gainmlp decode IN.jpg -o OUT.png` writes
//   node web/cli.mjs decode IN.jpg -o OUT.exr       linear BT.2020 half-float OpenEXR
//                                                   (1.0 = 100 cd/m2, --exr-white), as gainmlp
//   node web/cli.mjs decode IN.jpg -o OUT.f32       raw float32 little-endian H x W x 3 PQ, and
//                                                   OUT.f32.json with its width and height
//   node web/cli.mjs decode P.gmlp --sdr S.png -o OUT.png   a bare payload and its SDR
//   node web/cli.mjs decode IN.jpg --headroom 2 -o OUT.png   for a display with 2 stops of
//                                                   HDR headroom (gainmlp.display)
//   node web/cli.mjs decode IN.jpg --use-gainmap -o OUT.png  the standard gain map of a file
//                                                   that carries a payload too
//   node web/cli.mjs info IN.jpg                    the payload's header (or the gain map's) as JSON
//
// Any gain-map JPEG without a payload (Ultra HDR, Adobe, ISO 21496-1, Apple) decodes
// through its standard map, as `gainmlp decode` does. Errors print one line
// `gainmlp: error: ...` and exit with status 2; outputs are written to a temporary file and
// renamed, so a failure never leaves a partial file.

import { accessSync, constants, existsSync, lstatSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, inflateSync } from 'node:zlib';

import { pyFloat } from './errors.mjs';
import { GainMLPError, VERSION, decodeGainmlpSync, decodeJpeg, isGainMapJpeg, pqToLinearNits, readGainMapJpeg, readGainmlp } from './gainmlp.mjs';
import { takesGainMap } from './gainmap.mjs';
import { encodeExr } from './exr.mjs';
import { decodeSdrPng, encodeHdrPng } from './png.mjs';
import { decodeGainmlpThreads } from './threads_node.mjs';

const HELP = {
  main: `usage: gainmlp-web COMMAND [options]   (node web/cli.mjs COMMAND ...)

The gainmlp JavaScript decoder ${VERSION}: gainmlp JPEGs (SDR + MLP payload) and standard
gain-map JPEGs (Ultra HDR, Adobe, ISO 21496-1, Apple) to HDR.

commands:
  decode   decode a photo to an HDR image (.png, .exr or .f32)
  info     what a photo carries: the payload's header, or the gain map's metadata

gainmlp-web COMMAND --help describes each command.`,
  decode: `usage: gainmlp-web decode IN [--sdr SDR] [--headroom STOPS] [--use-gainmap]
                          [--threads N] [--exr-white NITS] -o OUT.png|OUT.exr|OUT.f32

Decode IN (a gainmlp JPEG, any gain-map JPEG, or a bare payload with --sdr) to HDR.

options:
  -o, --output OUT   .png: 16-bit PQ BT.2020 with cICP (as gainmlp decode);
                     .exr: linear BT.2020 half floats, ZIP, 1.0 = --exr-white cd/m2;
                     .f32: raw float32 PQ, H x W x 3, with OUT.f32.json {width, height}
  --sdr SDR          the SDR image (PNG or JPEG) of a bare payload
  --headroom STOPS   render for a display with STOPS of HDR headroom (log2 of its peak
                     over SDR white; 0 = SDR); default: the full HDR
  --use-gainmap      decode a file's standard gain map even when it carries a payload
  --threads N        threads for the payload's network (default: every core)
  --exr-white NITS   cd/m2 that 1.0 stands for in .exr output (default 100)
  -h, --help         show this help`,
  info: `usage: gainmlp-web info IN [--use-gainmap]

Print what IN carries as JSON: a gainmlp payload's header, or else a standard gain map's
metadata (flavour, source, colour space, ISO 21496-1 fields, Apple headroom).

options:
  --use-gainmap      describe the standard gain map of a file that carries a payload too
  -h, --help         show this help`,
};

function fail(message) {
  throw new GainMLPError(message);
}

/** An input must exist and be a regular file (gainmlp's cli/_validate.check_input). */
function checkInput(path) {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if (err.code === 'ENOENT') fail(`${path}: no such file`);
    fail(`${path}: cannot read (${err.code})`);
  }
  if (st.isDirectory()) fail(`${path}: is a folder, not an image file`);
  if (!st.isFile()) fail(`${path}: is not a regular file (a device, FIFO or socket)`);
}

function readInput(path) {
  checkInput(path);
  return new Uint8Array(readFileSync(path));
}

function parseArgs(argv) {
  const args = { command: argv[0], input: null, output: null, sdr: null, threads: null, headroom: null,
    useGainmap: false, exrWhite: 100 };
  if (args.command === '-h' || args.command === '--help') return { ...args, command: null, help: true };
  const usage = HELP[args.command] ? `\n${HELP[args.command].split('\n\n')[0]}` : '';
  const value = (i, option) => {
    if (i >= argv.length) fail(`argument ${option}: expected one argument${usage}`);
    return argv[i];
  };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') args.help = true;
    else if (a === '-o' || a === '--output') args.output = value(++i, a);
    else if (a === '--sdr') args.sdr = value(++i, a);
    else if (a === '--threads') {
      args.threads = Number(value(++i, a));
      if (!Number.isInteger(args.threads) || args.threads < 1) fail(`--threads takes a positive integer${usage}`);
    } else if (a === '--headroom') args.headroom = inRange('--headroom', parseFloatArg(a, value(++i, a)), 0, 16);
    else if (a === '--exr-white') args.exrWhite = inRange(a, parseFloatArg(a, value(++i, a)), 0.01, 100000);
    else if (a === '--use-gainmap') args.useGainmap = true;
    else if (a.startsWith('-')) fail(`unknown option ${a}${usage}`);
    else if (!args.input) args.input = a;
    else fail(`unexpected argument ${a}${usage}`);
  }
  return args;
}

/** `value` unless it is outside low..high or not finite (gainmlp's CLI ranges, cli/_validate.py). */
function inRange(option, value, low, high) {
  if (!(Number.isFinite(value) && value >= low && value <= high)) fail(`${option} must be in ${low}..${high}, not ${pyFloat(value)}`);
  return value;
}

/** A float as Python's float() reads it (argparse's type=float: 'inf', 'nan', '1e3'). */
function parseFloatArg(option, text) {
  const t = (text === undefined ? '' : text).trim().toLowerCase();
  const special = /^([+-]?)(inf|infinity|nan)$/.exec(t);
  const value = special ? (special[2] === 'nan' ? NaN : (special[1] === '-' ? -Infinity : Infinity))
    : (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t) ? Number(t) : undefined);
  if (value === undefined) fail(`argument ${option}: invalid float value: '${text === undefined ? '' : text}'`);
  return value;
}

/** What a non-regular file is, for refusing it (gainmlp.io.writing._kind); null for a file. */
function kindOf(st) {
  if (st.isDirectory()) return 'a folder; name an output file';
  if (st.isSymbolicLink()) return 'a symbolic link; name its target itself (links are neither followed nor replaced)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return st.isFile() ? null : 'not a regular file';
}

/**
 * Refuse an output that is one of `inputs` (the same file, through a link too), that is not
 * a regular file or a new name, or whose folder is missing or not writable, with the
 * messages of gainmlp.io.writing.check_output.
 */
function checkTarget(path, inputs = []) {
  let st = null;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (err.code !== 'ENOENT') fail(`${path}: cannot use as an output (${err.code})`);
  }
  if (st) {
    for (const src of inputs) {
      let same = false;
      try {
        const a = statSync(path), b = statSync(src);
        same = a.dev === b.dev && a.ino === b.ino;
      } catch {
        same = false;
      }
      if (same) fail(`${path}: is the input ${src}; refusing to overwrite an input`);
    }
    const kind = kindOf(st);
    if (kind) fail(`${path}: is ${kind}; refusing to write over it`);
  }
  const folder = dirname(path) || '.';
  if (!existsSync(folder) || !statSync(folder).isDirectory()) fail(`${path}: folder ${folder} does not exist`);
  try {
    accessSync(folder, constants.W_OK | constants.X_OK);
  } catch {
    fail(`${path}: folder ${folder} is not writable`);
  }
}

function writeAtomically(path, data) {
  const tmp = join(dirname(path) || '.', `.${basename(path)}.${process.pid}.part`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    if (existsSync(tmp)) unlinkSync(tmp);
    fail(`${path}: cannot write (${err.code || err.message})`);
  }
}

function readSdr(path) {
  const data = readInput(path);
  if (data[0] === 0xff && data[1] === 0xd8) return decodeJpeg(data, path);
  return decodeSdrPng(data, (x) => new Uint8Array(inflateSync(x)), path);
}

async function decode(args) {
  if (!args.input || !args.output) fail(`decode needs an input and -o OUT\n${HELP.decode.split('\n\n')[0]}`);
  for (const input of [args.input, args.sdr]) if (input) checkInput(input); // before any output check, as gainmlp
  const ext = extname(args.output).toLowerCase();
  if (ext !== '.png' && ext !== '.f32' && ext !== '.exr') fail(`${args.output}: output must end in .png, .exr or .f32`);
  const inputs = [args.input, args.sdr].filter(Boolean);
  checkTarget(args.output, inputs);
  if (ext === '.f32') checkTarget(`${args.output}.json`, inputs);
  const data = readInput(args.input);
  const sdr = args.sdr ? readSdr(args.sdr) : null;
  const use = args.useGainmap ? 'gainmap' : 'auto';
  // a gain-map JPEG to .exr: straight to linear light, unclipped (as gainmlp decode)
  const options = { name: args.input, sdr, headroom: args.headroom, use, linear: ext === '.exr' };
  let result;
  if (takesGainMap(data, use)) result = decodeGainmlpSync(data, options);
  else {
    // the network on every core (threads_node.mjs), the same pixels as on one
    result = await decodeGainmlpThreads(data, { ...options, linear: false, sharedHdr: true,
      ...(args.threads ? { threads: args.threads } : {}) });
  }
  const { width, height, hdr } = result;
  if (ext === '.png') {
    writeAtomically(args.output, encodeHdrPng(hdr, width, height, (x) => new Uint8Array(deflateSync(x, { level: 6 }))));
  } else if (ext === '.exr') {
    const linear = result.linear ? hdr : pqToLinearNits(hdr);
    const { bytes, clipped } = encodeExr(linear, width, height, { white: args.exrWhite,
      deflate: (x) => new Uint8Array(deflateSync(x, { level: 6 })) });
    if (clipped) {
      process.stderr.write(`gainmlp: warning: ${clipped} values above ${(65504 * args.exrWhite).toFixed(0)} cd/m2 ` +
        "clipped to half-float's maximum; raise --exr-white to keep them\n");
    }
    writeAtomically(args.output, bytes);
  } else {
    writeAtomically(args.output, new Uint8Array(hdr.buffer, hdr.byteOffset, hdr.byteLength));
    writeAtomically(`${args.output}.json`, `${JSON.stringify({ width, height, channels: 3, dtype: 'float32',
      byteOrder: 'little', encoding: 'pq-bt2020' })}\n`);
  }
  const t = result.timings;
  const what = result.source === 'gainmap' ? `its ${result.gainmap.flavour} gain map` : result.payload.method;
  console.log(`wrote ${args.output}: ${width}x${height} HDR (${ext === '.exr' ? 'linear' : 'PQ'} BT.2020) from ${what} ` +
    `(JPEG ${t.jpeg.toFixed(0)} ms, total ${t.total.toFixed(0)} ms)`);
}

function info(args) {
  if (!args.input) fail(`info needs an input\n${HELP.info.split('\n\n')[0]}`);
  const data = readInput(args.input);
  if (takesGainMap(data, 'auto') || (data[0] === 0xff && data[1] === 0xd8 && isGainMapJpeg(data) && args.useGainmap)) {
    const gm = readGainMapJpeg(data);
    const { base, map, ...rest } = gm;
    console.log(JSON.stringify({ kind: 'gainmap', ...rest, baseBytes: base.length, mapBytes: map.length }));
    return;
  }
  const { payload } = readGainmlp(data, args.input, { bare: true });
  const { body, ...rest } = payload;
  console.log(JSON.stringify({ kind: 'payload', ...rest, bodyBytes: body.length, bodyVersion: body[0] }));
}

/** Run the command line on `argv` (without node and the script); returns the exit status. */
export async function main(argv) {
  try {
    const args = parseArgs(argv);
    if (args.help || !args.command) {
      const text = HELP[args.command] || HELP.main;
      if (args.help) console.log(text);
      else process.stderr.write(`${text}\n`);
      return args.help ? 0 : 2;
    }
    if (!HELP[args.command] || args.command === 'main') fail(`unknown command ${args.command}\n${HELP.main.split('\n\n')[0]}`);
    if (args.command === 'decode') await decode(args);
    else info(args);
    return 0;
  } catch (err) {
    if (err instanceof GainMLPError) {
      process.stderr.write(`gainmlp: error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

// run when started as a program (node cli.mjs, or the package's bin link), not when imported
const self = fileURLToPath(import.meta.url);
const started = process.argv[1] ? (() => {
  try {
    return realpathSync(process.argv[1]);
  } catch {
    return process.argv[1];
  }
})() : null;
if (started && (started === self || started === realpathSync(self))) {
  process.exitCode = await main(process.argv.slice(2));
}
