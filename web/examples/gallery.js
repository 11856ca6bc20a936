// The gallery page: decodes a folder of photos in the package's Web Worker and draws each
// one, HDR where the browser can. Photos come from `?photos=a.jpg,b.jpg`, from the JSON
// list `?list=photos.json` (an array of URLs; default: photos.json beside this page), or
// from a folder the visitor opens. When every photo is drawn, `document.body.dataset.state`
// is 'done' and `window.galleryResults` describes each (what the browser test reads).
//
// In a project that installed the package: import { ... } from 'gainmlp';

import { decodeGainmlp, displayCapabilities, drawHdr } from '../gainmlp.mjs';

const gallery = document.getElementById('gallery');
const headroomSelect = document.getElementById('headroom');
const gainmapBox = document.getElementById('use-gainmap');
let photos = [];
let generation = 0;

function describe(result) {
  if (result.source === 'gainmap') {
    const g = result.gainmap;
    return `${g.flavour} gain map (${g.metadataSource}), ${g.colourSpace} base`;
  }
  return `gainmlp payload: ${result.payload.method}`;
}

async function show(photo, run) {
  const figure = document.createElement('figure');
  const canvas = document.createElement('canvas');
  const caption = document.createElement('figcaption');
  caption.textContent = `${photo.name}: decoding...`;
  figure.append(canvas, caption);
  gallery.append(figure);
  const t0 = performance.now();
  const headroom = headroomSelect.value === '' ? undefined : Number(headroomSelect.value);
  try {
    const result = await decodeGainmlp(photo.source, { name: photo.name, headroom,
      use: gainmapBox.checked ? 'gainmap' : 'auto' });
    if (run !== generation) return null;
    const mode = await drawHdr(canvas, result);
    const ms = performance.now() - t0;
    const peak = result.source === 'gainmap' ? result.peakNits : result.payload.peakNits;
    caption.innerHTML = '';
    const name = document.createElement('b');
    name.textContent = photo.name;
    caption.append(name, ` ${result.width}x${result.height}, ${describe(result)}; peak ${Math.round(peak)} cd/m²; ` +
      `${mode}, decoded in the ${result.thread} thread in ${ms.toFixed(0)} ms` +
      (result.headroom ? `; headroom ${result.headroom.stops} stops, weight ${result.headroom.weight.toFixed(2)}` : ''));
    return { name: photo.name, width: result.width, height: result.height, source: result.source, mode,
      thread: result.thread, flavour: result.gainmap ? result.gainmap.flavour : null, ms,
      headroom: result.headroom };
  } catch (err) {
    caption.className = 'error';
    caption.textContent = `${photo.name}: ${err.message}`;
    return { name: photo.name, error: err.message };
  }
}

async function render() {
  const run = ++generation;
  gallery.textContent = '';
  document.body.dataset.state = 'decoding';
  const results = [];
  for (const photo of photos) { // one at a time: the worker decodes them in turn anyway
    const r = await show(photo, run);
    if (run !== generation) return;
    results.push(r);
  }
  window.galleryResults = results;
  document.body.dataset.state = 'done';
}

async function initialPhotos() {
  const params = new URLSearchParams(location.search);
  if (params.get('photos')) return params.get('photos').split(',').filter(Boolean);
  const list = params.get('list') || 'photos.json';
  const response = await fetch(list);
  return response.ok ? response.json() : [];
}

const caps = displayCapabilities();
document.getElementById('caps').textContent = caps.hdrScreen
  ? 'This screen reports high dynamic range.' : 'This screen does not report HDR: the SDR view is shown.';
headroomSelect.addEventListener('change', render);
gainmapBox.addEventListener('change', render);
document.getElementById('folder').addEventListener('change', (event) => {
  photos = [...event.target.files].filter((f) => /\.jpe?g$/i.test(f.name))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((f) => ({ name: f.name, source: f }));
  render();
});
photos = (await initialPhotos()).map((url) => ({ name: decodeURIComponent(url.split('/').pop()), source: url }));
render();
