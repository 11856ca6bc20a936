// The decoder's module worker: decodeGainmlp (gainmlp.mjs) starts it in a browser page and
// sends it the jobs; the pixels come back as transferred ArrayBuffers.

import { serveDecodes } from './gainmlp.mjs';

serveDecodes(self);
