// The total-variation filter of benchmarks/base_deblock.py (tv_chambolle) in JavaScript, to
// check that a JS decoder can reproduce it bit for bit (docs/results/base_deblock.md).
// Usage: node base_deblock_tv.mjs IN.rgb WIDTH HEIGHT WEIGHT ITERATIONS OUT.f64
// IN: 8-bit RGB, row-major; OUT: the filtered values times 255 as float64, row-major.
// The same float64 operations in the same order as the numpy code (IEEE 754 makes
// +, -, *, / and sqrt correctly rounded in both).
import { readFileSync, writeFileSync } from 'node:fs';

const [input, w, h, weightArg, itArg, output] = process.argv.slice(2);
const width = Number(w);
const height = Number(h);
const weight = Number(weightArg);
const iterations = Number(itArg);
const bytes = readFileSync(input);
const n = width * height * 3;
const u = new Float64Array(n);
for (let i = 0; i < n; i++) u[i] = bytes[i] / 255.0;
const tau = 0.25;
const scale = tau / weight;
let px = new Float64Array(n);
let py = new Float64Array(n);
let out = u;
const row = width * 3;
for (let it = 0; it < iterations; it++) {
  if (it > 0) {
    out = new Float64Array(n);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) {
          const i = y * row + x * 3 + c;
          let d = -(px[i] + py[i]);
          if (x > 0) d += px[i - 3];
          if (y > 0) d += py[i - row];
          out[i] = u[i] + d;
        }
      }
    }
  }
  const nx = new Float64Array(n);
  const ny = new Float64Array(n);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const i = y * row + x * 3 + c;
        const gx = x < width - 1 ? out[i + 3] - out[i] : 0.0;
        const gy = y < height - 1 ? out[i + row] - out[i] : 0.0;
        const norm = Math.sqrt(gy * gy + gx * gx) * scale + 1.0;
        nx[i] = (px[i] - tau * gx) / norm;
        ny[i] = (py[i] - tau * gy) / norm;
      }
    }
  }
  px = nx;
  py = ny;
}
const result = new Float64Array(n);
for (let i = 0; i < n; i++) result[i] = out[i] * 255.0;
writeFileSync(output, Buffer.from(result.buffer));
