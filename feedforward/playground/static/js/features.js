// Each input feature's own picture over the plane (or the line), drawn as the network's first column.
const EXTENT = 2;
const FEATURES = {
  'x1': (a, b) => a, 'x2': (a, b) => b, 'x1^2': (a, b) => a * a, 'x2^2': (a, b) => b * b,
  'x1x2': (a, b) => a * b, 'sin x1': (a, b) => Math.sin(a), 'sin x2': (a, b) => Math.sin(b),
};

export function featureUnitFor(name, dim) {
  const n = dim === 2 ? 24 : 200, vals = [];
  for (let i = 0; i < (dim === 2 ? n * n : n); i++) {
    const a = -EXTENT + 2 * EXTENT * (dim === 2 ? i % n : i) / (n - 1);
    const b = dim === 2 ? EXTENT - 2 * EXTENT * Math.floor(i / n) / (n - 1) : 0;
    vals.push(FEATURES[name](a, b));
  }
  const m = Math.max(...vals.map(Math.abs)) || 1;
  let s = '';
  for (const v of vals) s += String.fromCharCode(Math.round((v / m + 1) / 2 * 255));
  return { values: btoa(s) };
}
