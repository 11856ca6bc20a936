// The one error type of the decoder, and Python-compatible formatting of numbers in messages.
//
// Every problem with the input (a corrupt payload, a truncated file, an unsupported body)
// throws a GainMLPError whose message is the one line gainmlp's Python decoder prints for
// the same input (docs/payload-format.md, "Errors"), so both decoders can be tested against
// each other.

export class GainMLPError extends Error {
  constructor(message) {
    super(message);
    this.name = 'GainMLPError';
  }
}

/** Python's repr() of a float (e.g. 0.015625, 1e-05, 5.0, inf, nan). */
export function pyFloat(x) {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expText] = x.toExponential().split('e');
  const exp = Number(expText);
  const sign = mant.startsWith('-') ? '-' : '';
  const digits = mant.replace('-', '').replace('.', '');
  if (exp >= -4 && exp < 16) {
    if (exp >= digits.length - 1) return `${sign}${digits}${'0'.repeat(exp - digits.length + 1)}.0`;
    if (exp >= 0) return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
    return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : `${Math.abs(exp)}`;
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
}

/** Python's repr() of a tuple of ints, e.g. (1,) or (1, 2, 3). */
export function pyTuple(values) {
  return values.length === 1 ? `(${values[0]},)` : `(${values.join(', ')})`;
}

/** Python's repr() of a tuple of floats, e.g. (0.0, 1.0). */
export function pyFloatTuple(values) {
  return values.length === 1 ? `(${pyFloat(values[0])},)` : `(${values.map(pyFloat).join(', ')})`;
}

// Largest image either decoder accepts (gainmlp.errors.check_image_size).
export const MAX_PIXELS = 200_000_000;
export const MAX_SIDE = 65_535;

/** Refuse absurd dimensions before allocating anything (gainmlp.errors.check_image_size). */
export function checkImageSize(width, height, what = 'image') {
  if (width <= 0 || height <= 0) throw new GainMLPError(`${what} has an empty size ${width}x${height}`);
  if (width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS) {
    throw new GainMLPError(`${what} claims ${width}x${height} pixels, over the limit of ` +
      `${MAX_SIDE} per side / ${MAX_PIXELS / 1_000_000} MP`);
  }
}
