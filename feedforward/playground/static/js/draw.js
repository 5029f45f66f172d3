// Drawing: the region, the unit thumbnails with the weights as edges, the curves.
// Every function draws from the state it is given; nothing here talks to the server.

export const EXTENT = 2;
const POS = [8, 119, 189], NEG = [245, 147, 34], WHITE = [255, 255, 255];
const PALETTE = [NEG, POS, [44, 160, 44], [148, 103, 189], [214, 39, 40]];

export function bytes(b64) {
  const s = atob(b64), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const mix = (a, b, t) => [0, 1, 2].map(i => Math.round(a[i] + (b[i] - a[i]) * t));

// t in [0, 1]: orange at 0, white at 1/2, blue at 1 (TensorFlow Playground's colours).
export function diverging(t) {
  return t < 0.5 ? mix(NEG, WHITE, t * 2) : mix(WHITE, POS, (t - 0.5) * 2);
}

function paintGrid(ctx, n, colour, w, h) {
  const img = new ImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const c = colour(i);
    img.data.set([c[0], c[1], c[2], 255], i * 4);
  }
  const off = new OffscreenCanvas(n, n);
  off.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, w, h);
}

export function pointColour(y, task, classes) {
  if (task === 'regression') return 'rgb(60,60,60)';
  const c = classes === 2 ? (y ? POS : NEG) : PALETTE[y % PALETTE.length];
  return `rgb(${c.join(',')})`;
}

// The decision region (2-D) or the fitted curve (1-D), with the data points on top.
export function drawRegion(canvas, frame, points, opts) {
  const ctx = canvas.getContext('2d'), W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const r = frame.region;
  const toX = x => (x + EXTENT) / (2 * EXTENT) * W, toY = y => (1 - (y + EXTENT) / (2 * EXTENT)) * H;
  if (frame.dim === 2) {
    const v = bytes(r.values), n = Math.round(Math.sqrt(v.length));
    if (r.kind === 'classes') {
      const cls = bytes(r.classes);
      paintGrid(ctx, n, i => mix(WHITE, PALETTE[cls[i] % PALETTE.length], Math.max(0, (v[i] / 255 - 0.3) / 0.7) * 0.8), W, H);
    } else {
      paintGrid(ctx, n, i => diverging(0.15 + 0.7 * v[i] / 255), W, H);
    }
  } else {
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W, H);
    ctx.strokeStyle = '#eee'; ctx.beginPath(); ctx.moveTo(0, H / 2); ctx.lineTo(W, H / 2); ctx.stroke();
  }
  const yScale = frame.dim === 1 ? curveScale(frame, points) : null;
  const plot = (X, Y, stroke) => {
    for (let i = 0; i < X.length; i++) {
      const px = toX(X[i][0]);
      const py = frame.dim === 2 ? toY(X[i][1]) : yScale(Y[i]);
      ctx.beginPath(); ctx.arc(px, py, 3.2, 0, 2 * Math.PI);
      ctx.fillStyle = pointColour(Y[i], opts.task, opts.classes); ctx.fill();
      ctx.lineWidth = 1; ctx.strokeStyle = stroke; ctx.stroke();
    }
  };
  if (points && (frame.dim === 2) === (points.train.X[0] && points.train.X[0].length === 2)) {
    plot(points.train.X, points.train.y, '#fff');
    if (opts.showTest) plot(points.test.X, points.test.y, '#000');
  }
  if (frame.dim === 1) {
    const vals = r.values;
    ctx.strokeStyle = '#183d4e'; ctx.lineWidth = 2.5; ctx.beginPath();
    vals.forEach((v, i) => { const x = i / (vals.length - 1) * W, y = yScale(v); i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
    ctx.stroke();
  }
}

function curveScale(frame, points) {
  let lo = -1.5, hi = 1.5;
  const all = (points ? points.train.y.concat(points.test.y) : []).concat(frame.region.values || []);
  for (const v of all) { if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }
  const pad = (hi - lo) * 0.08, H = 360;
  return v => (1 - (v - lo + pad) / (hi - lo + 2 * pad)) * H;
}

function thumb(canvas, unit, dim, size) {
  const ctx = canvas.getContext('2d');
  const v = bytes(unit.values);
  if (dim === 2) {
    const n = Math.round(Math.sqrt(v.length));
    paintGrid(ctx, n, i => diverging(v[i] / 255), size, size);
  } else {
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = '#eee'; ctx.beginPath(); ctx.moveTo(0, size / 2); ctx.lineTo(size, size / 2); ctx.stroke();
    ctx.strokeStyle = '#183d4e'; ctx.lineWidth = 1.5; ctx.beginPath();
    for (let i = 0; i < v.length; i++) { const x = i / (v.length - 1) * size, y = (1 - v[i] / 255) * size; i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); }
    ctx.stroke();
  }
}

// The network: features | hidden layers | output, thumbnails joined by the weights.
export function drawNetwork(el, frame, featureCache, regionCanvas) {
  const SIZE = 36, COL = 76, ROW = 46, LEFT = 8, TOP = 18;
  const columns = [frame.features.map(f => ({ name: f, unit: featureCache(f, frame.dim) }))];
  frame.units.forEach((layer, k) => columns.push(layer.map((u, j) => ({ name: `h${k + 1}.${j + 1}`, unit: u, flag: (frame.flags[k] || [])[j] }))));
  const outputs = frame.sizes[frame.sizes.length - 1];
  columns.push(Array.from({ length: outputs }, (_, j) => ({ name: outputs > 1 ? `z${j + 1}` : 'output', output: true })));
  const height = TOP + Math.max(...columns.map(c => c.length)) * ROW + 4;
  el.style.height = `${height}px`;
  const pos = (i, j, n) => [LEFT + i * COL, TOP + j * ROW + (Math.max(...columns.map(c => c.length)) - n) * ROW / 2];
  const key = JSON.stringify(columns.map(c => c.length)) + frame.dim;
  if (el.dataset.key !== key) {
    el.innerHTML = '';
    el.dataset.key = key;
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('width', LEFT + columns.length * COL); svg.setAttribute('height', height);
    el.appendChild(svg);
    columns.forEach((col, i) => {
      const tag = document.createElement('div');
      tag.className = 'tag'; tag.style.left = `${LEFT + i * COL - 17}px`; tag.style.top = '0px';
      tag.textContent = i === 0 ? 'features' : i === columns.length - 1 ? 'output' : `layer ${i}`;
      el.appendChild(tag);
      col.forEach((node, j) => {
        const c = document.createElement('canvas');
        c.width = c.height = SIZE;
        const [x, y] = pos(i, j, col.length);
        c.style.left = `${x}px`; c.style.top = `${y}px`;
        c.title = node.name;
        c.dataset.testid = i === 0 ? 'feature' : node.output ? 'output-unit' : 'unit';
        c.setAttribute('data-testid', c.dataset.testid);
        el.appendChild(c);
      });
    });
  }
  const svg = el.querySelector('svg');
  let lines = '';
  frame.weights.forEach((layer, k) => {
    const from = columns[k], to = columns[k + 1];
    const maxAbs = Math.max(1e-9, ...layer.W.flat().map(Math.abs));
    layer.W.forEach((row, a) => row.forEach((w, b) => {
      if (a >= from.length || b >= to.length) return;
      const [x1, y1] = pos(k, a, from.length), [x2, y2] = pos(k + 1, b, to.length);
      const width = 0.3 + 3.5 * Math.abs(w) / maxAbs;
      lines += `<line x1="${x1 + SIZE + 2}" y1="${y1 + SIZE / 2 + 2}" x2="${x2}" y2="${y2 + SIZE / 2 + 2}" stroke="${w >= 0 ? '#0877bd' : '#f59322'}" stroke-width="${width.toFixed(2)}" stroke-opacity="0.75"><title>w = ${w}</title></line>`;
    }));
  });
  svg.innerHTML = lines;
  const canvases = el.querySelectorAll('canvas');
  let n = 0;
  columns.forEach(col => col.forEach(node => {
    const c = canvases[n++];
    c.className = node.flag || '';
    if (node.flag) c.title = `${node.name}: ${node.flag}`;
    if (node.unit) thumb(c, node.unit, frame.dim, SIZE);
    else if (regionCanvas) c.getContext('2d').drawImage(regionCanvas, 0, 0, SIZE, SIZE);
  }));
}

// A chart of several series against the epoch (log scale for the gradient norm).
export function drawChart(canvas, points, series, { log = false, lo = null, hi = null } = {}) {
  const ctx = canvas.getContext('2d'), W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W, H);
  if (points.length < 1) return;
  const f = v => (log ? Math.log10(Math.max(v, 1e-12)) : v);
  const xs = points.map(p => p.epoch), x0 = xs[0], x1 = Math.max(xs[xs.length - 1], x0 + 1);
  let ymin = Infinity, ymax = -Infinity;
  for (const s of series) for (const p of points) { const v = p[s.key]; if (v !== null && Number.isFinite(v)) { ymin = Math.min(ymin, f(v)); ymax = Math.max(ymax, f(v)); } }
  if (lo !== null) ymin = lo; if (hi !== null) ymax = hi;
  if (!(ymax > ymin)) { ymax = ymin + 1; }
  ctx.font = '10px sans-serif';
  series.forEach((s, k) => {
    ctx.strokeStyle = s.colour; ctx.lineWidth = 1.5; ctx.beginPath();
    let started = false;
    points.forEach(p => {
      const v = p[s.key]; if (v === null || !Number.isFinite(v)) return;
      const x = 4 + (p.epoch - x0) / (x1 - x0) * (W - 8), y = H - 12 - (f(v) - ymin) / (ymax - ymin) * (H - 24);
      started ? ctx.lineTo(x, y) : ctx.moveTo(x, y); started = true;
    });
    ctx.stroke();
    ctx.fillStyle = s.colour; ctx.fillText(s.label, 6 + k * 90, 10);
  });
  ctx.fillStyle = '#999';
  ctx.fillText(`${log ? '10^' : ''}${ymax.toPrecision(3)}`, W - 60, 10);
  ctx.fillText(`${log ? '10^' : ''}${ymin.toPrecision(3)}  (x: epoch)`, W - 140, H - 2);
}
