#!/usr/bin/env node
// The JavaScript decoder from the command line (Node 20+), on the CPU (the network on every
// core: threads_node.mjs; --threads N):
//
//   node web/cli.mjs decode IN.jpg -o OUT.png       16-bit PQ BT.2020 PNG with cICP, as
//                                                   `gainmlp decode IN.jpg -o OUT.png` writes
//   node web/cli.mjs decode IN.jpg -o OUT.f32       raw float32 little-endian H x W x 3
//   node web/cli.mjs decode P.gmlp --sdr S.png -o OUT.png   a bare payload and its SDR
//   node web/cli.mjs decode IN.jpg --headroom 2 -o OUT.png   rendered for a display with
//                                                   2 stops of HDR headroom (gainmlp.display)
//   node web/cli.mjs info IN.jpg                    the payload's header as JSON
//
// Errors print one line `gainmlp: error: ...` and exit with status 2; outputs are written
// to a temporary file and renamed, so a failure never leaves a partial file.

import { existsSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';

import { GainMLPError, decodeJpeg, readGainmlp } from './gainmlp.mjs';
import { decodeSdrPng, encodeHdrPng } from './png.mjs';
import { decodeGainmlpThreads } from './threads_node.mjs';

const USAGE = `usage: node web/cli.mjs decode IN [--sdr SDR] [--threads N] [--headroom STOPS] -o OUT.png|OUT.f32
       node web/cli.mjs info IN`;

function fail(message) {
  throw new GainMLPError(message);
}

function readInput(path) {
  if (!existsSync(path)) fail(`${path}: no such file`);
  if (statSync(path).isDirectory()) fail(`${path}: is a folder, not an image`);
  return new Uint8Array(readFileSync(path));
}

function parseArgs(argv) {
  const args = { command: argv[0], input: null, output: null, sdr: null, threads: null, headroom: null };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-o' || a === '--output') args.output = argv[++i];
    else if (a === '--sdr') args.sdr = argv[++i];
    else if (a === '--threads') {
      args.threads = Number(argv[++i]);
      if (!Number.isInteger(args.threads) || args.threads < 1) fail(`--threads takes a positive integer\n${USAGE}`);
    }
    else if (a === '--headroom') args.headroom = parseFloatArg('--headroom', argv[++i]);
    else if (a === '-h' || a === '--help') args.help = true;
    else if (a.startsWith('-')) fail(`unknown option ${a}\n${USAGE}`);
    else if (!args.input) args.input = a;
    else fail(`unexpected argument ${a}\n${USAGE}`);
  }
  return args;
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

function writeAtomically(path, data) {
  const folder = dirname(path) || '.';
  if (!existsSync(folder)) fail(`${path}: folder ${folder} does not exist`);
  if (existsSync(path) && statSync(path).isDirectory()) fail(`${path}: is a folder; name an output file`);
  const tmp = join(folder, `.${basename(path)}.${process.pid}.part`);
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
  if (!args.input || !args.output) fail(`decode needs an input and -o OUT\n${USAGE}`);
  const ext = extname(args.output).toLowerCase();
  if (ext !== '.png' && ext !== '.f32') fail(`${args.output}: output must end in .png or .f32`);
  if (existsSync(args.output) && existsSync(args.input) &&
    realpathSync(args.output) === realpathSync(args.input)) {
    fail(`${args.output}: is the input ${args.input}; refusing to overwrite an input`);
  }
  const data = readInput(args.input);
  const sdr = args.sdr ? readSdr(args.sdr) : null;
  // the network on every core (threads_node.mjs), the same pixels as on one
  const result = await decodeGainmlpThreads(data, { name: args.input, sdr, headroom: args.headroom, sharedHdr: true,
    ...(args.threads ? { threads: args.threads } : {}) });
  const { width, height, hdr } = result;
  const out = ext === '.png'
    ? encodeHdrPng(hdr, width, height, (x) => new Uint8Array(deflateSync(x, { level: 6 })))
    : new Uint8Array(hdr.buffer, hdr.byteOffset, hdr.byteLength);
  writeAtomically(args.output, out);
  const t = result.timings;
  console.log(`wrote ${args.output}: ${width}x${height} HDR (PQ BT.2020) from ${result.payload.method} ` +
    `(JPEG ${t.jpeg.toFixed(0)} ms, colour ${t.colour.toFixed(0)} ms, network ${t.network.toFixed(0)} ms)`);
}

function info(args) {
  if (!args.input) fail(`info needs an input\n${USAGE}`);
  const { payload } = readGainmlp(readInput(args.input), args.input, { bare: true });
  const { body, ...rest } = payload;
  console.log(JSON.stringify({ ...rest, bodyBytes: body.length, bodyVersion: body[0] }));
}

async function main(argv) {
  try {
    const args = parseArgs(argv);
    if (args.help || !args.command) {
      console.log(USAGE);
      return args.help ? 0 : 2;
    }
    if (args.command === 'decode') await decode(args);
    else if (args.command === 'info') info(args);
    else fail(`unknown command ${args.command}\n${USAGE}`);
    return 0;
  } catch (err) {
    if (err instanceof GainMLPError) {
      process.stderr.write(`gainmlp: error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
