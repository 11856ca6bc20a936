// Where decodeGainmlp's input comes from. In a browser a string is a URL (fetched); in Node
// a plain path or a file: URL is read from disk, and http(s) or data: URLs are fetched.
// Node's modules are imported only when running in Node, so this module loads in a page.

import { GainMLPError } from './errors.mjs';

/** True in Node (not in a browser page or a browser worker). */
export function inNode() {
  return typeof process !== 'undefined' && !!(process.versions && process.versions.node) &&
    typeof window === 'undefined' && typeof importScripts === 'undefined';
}

/** A Windows drive ('C:\\...') or no scheme at all: a path, not a URL. */
function isPlainPath(text) {
  return !/^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(text);
}

/**
 * The bytes of a local file named by `input` (a path, a file: URL string or a URL object)
 * in Node; null where `input` is to be fetched instead (any other URL, or not in Node).
 */
export async function readLocalInput(input) {
  if (!inNode()) return null;
  const isUrl = typeof URL !== 'undefined' && input instanceof URL;
  const text = isUrl ? input.href : String(input);
  if (!(isPlainPath(text) || text.startsWith('file:'))) return null;
  const { fileURLToPath } = await import('node:url');
  const { readFile, stat } = await import('node:fs/promises');
  let path = text;
  if (text.startsWith('file:')) {
    try {
      path = fileURLToPath(isUrl ? input : text);
    } catch (err) {
      throw new GainMLPError(`${text}: not a file URL this system can read (${err.message})`);
    }
  }
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new GainMLPError(`${path}: no such file`);
  }
  if (info.isDirectory()) throw new GainMLPError(`${path}: is a folder, not an image file`);
  if (!info.isFile()) throw new GainMLPError(`${path}: is not a regular file (a device, FIFO or socket)`);
  return new Uint8Array(await readFile(path));
}
