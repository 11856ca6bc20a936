// Type-checked (not run) by `tsc -p web/tsconfig.json` (tests/test_web_package.py): the
// package's own name resolves through package.json's "exports" to the hand-written types,
// and the documented uses compile under `strict`.

import { GainMLPError, decodeGainmlp, decodeGainmlpSync, drawHdr, isGainMapJpeg, readGainMapJpeg } from 'gainmlp';
import type { DecodeResult, GainMapMetadata } from 'gainmlp';
import { displayCapabilities } from 'gainmlp/display';
import { main } from 'gainmlp/cli';

export async function documentedUse(canvas: HTMLCanvasElement, bytes: Uint8Array): Promise<string> {
  const result: DecodeResult = await decodeGainmlp('photo.jpg', { headroom: 2, use: 'auto' });
  const pq: Float32Array = result.hdr;
  const peak: number = result.source === 'gainmap' ? result.peakNits ?? 10000 : result.payload!.peakNits;
  const sync = decodeGainmlpSync(bytes, { use: 'gainmap', linear: true });
  const meta: GainMapMetadata | undefined = sync.gainmap?.metadata;
  if (isGainMapJpeg(bytes)) readGainMapJpeg(bytes).metadata.gainMapMax[0].toFixed(2);
  const caps = displayCapabilities();
  const mode = await drawHdr(canvas, result, { mode: caps.hdrScreen ? 'hdr' : 'auto', exposure: 0 });
  const status: number = await main(['decode', 'photo.jpg', '-o', 'photo.exr']);
  try {
    await decodeGainmlp(new Blob([bytes.slice()]), { worker: false, backend: 'cpu', onProgress: (rows, total) => rows / total });
  } catch (err) {
    if (err instanceof GainMLPError) return err.message;
  }
  return `${pq.length} ${peak} ${meta?.hdrCapacityMax} ${mode} ${status}`;
}
