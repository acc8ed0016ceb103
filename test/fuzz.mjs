// Shared by the seeded fuzz and fault tests: a replayable random generator and message mutations.

/** A small deterministic generator (mulberry32): the same seed replays the same run. */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every path into `o` (objects and arrays), e.g. ['params', 'options', 'numBeams']. */
export function paths(o, prefix = []) {
  if (typeof o !== 'object' || o === null) return [prefix];
  return Object.entries(o).flatMap(([k, v]) => [[...prefix, k], ...(typeof v === 'object' && v !== null ? paths(v, [...prefix, k]).filter((p) => p.length > prefix.length + 1) : [])]);
}

export const valueAt = (o, path) => path.reduce((x, k) => (x == null ? undefined : x[k]), o);

/** A copy of `o` with the value at `path` replaced, or removed when `value` is `REMOVE`. */
export const REMOVE = Symbol('remove');
export function withValue(o, path, value) {
  const copy = structuredClone(o);
  let x = copy;
  for (const k of path.slice(0, -1)) x = x[k];
  if (value === REMOVE) delete x[path.at(-1)];
  else x[path.at(-1)] = value;
  return copy;
}

/** A value of another type than `v`, one no validator may accept in its place. */
export function wrongType(v, rnd) {
  const pool = typeof v === 'number' ? ['7', null, {}, [], true, NaN, Infinity] : typeof v === 'string' ? [7, null, {}, [], true] : typeof v === 'boolean' ? ['true', 1, null, {}] : Array.isArray(v) ? ['[]', 3, {}, null] : ['x', 3, null, true, []];
  return pool[Math.floor(rnd() * pool.length)];
}
