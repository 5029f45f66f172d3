// Lecture mode: the exact networks of ff.construct, computed on the server, drawn here.
import { EXTENT, bytes } from './draw.js';

const $ = id => document.getElementById(id);

function drawMask(canvas, b64, extent, polygons) {
  const ctx = canvas.getContext('2d'), W = canvas.width, H = canvas.height;
  const v = bytes(b64), n = Math.round(Math.sqrt(v.length));
  const img = new ImageData(n, n);
  for (let i = 0; i < n * n; i++) img.data.set(v[i] ? [8, 119, 189, 255] : [253, 233, 210, 255], i * 4);
  const off = new OffscreenCanvas(n, n); off.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false; ctx.drawImage(off, 0, 0, W, H);
  const [lo, hi] = extent, toX = x => (x - lo) / (hi - lo) * W, toY = y => (1 - (y - lo) / (hi - lo)) * H;
  for (const poly of polygons || []) {
    ctx.strokeStyle = '#222'; ctx.lineWidth = 1.5; ctx.beginPath();
    poly.forEach(([x, y], i) => (i ? ctx.lineTo(toX(x), toY(y)) : ctx.moveTo(toX(x), toY(y))));
    ctx.closePath(); ctx.stroke();
  }
  return { toX, toY };
}

function table(caption, rows) {
  const body = rows.map(r => `<tr>${(Array.isArray(r) ? r : [r]).map(v => `<td>${+v.toFixed(3)}</td>`).join('')}</tr>`).join('');
  return `<table><caption>${caption}</caption>${body}</table>`;
}

export function initLecture(send, options, showError) {
  let kind = 'xor';
  const polygons = [[]];
  const ask = () => {
    if (kind === 'xor') send({ type: 'lecture', kind });
    if (kind === 'pulses') send({ type: 'lecture', kind, n: Number($('pulse-n').value), target: $('pulse-target').value });
  };
  document.querySelectorAll('.ltab').forEach(b => b.addEventListener('click', () => {
    kind = b.dataset.kind;
    document.querySelectorAll('.ltab').forEach(x => x.classList.toggle('active', x === b));
    for (const k of ['xor', 'polygon', 'pulses']) $(`l-${k}`).hidden = k !== kind;
    if (kind === 'polygon') drawPolygonCanvas(); else ask();
  }));
  // A slider fires many events a second: ask at most every 100 ms (the server limits messages).
  let pending = null;
  $('pulse-n').addEventListener('input', e => {
    $('pulse-n-v').textContent = e.target.value;
    if (!pending) pending = setTimeout(() => { pending = null; ask(); }, 100);
  });
  $('pulse-target').addEventListener('change', ask);

  const canvas = $('poly-canvas');
  const toPlane = (px, py) => [(px / canvas.width) * 2 * EXTENT - EXTENT, EXTENT - (py / canvas.height) * 2 * EXTENT];
  let built = null;
  function drawPolygonCanvas() {
    const ctx = canvas.getContext('2d');
    const { toX, toY } = built ? drawMask(canvas, built.region, built.extent, [])
      : (ctx.fillStyle = '#fff', ctx.fillRect(0, 0, canvas.width, canvas.height),
        { toX: x => (x + EXTENT) / (2 * EXTENT) * canvas.width, toY: y => (1 - (y + EXTENT) / (2 * EXTENT)) * canvas.height });
    polygons.forEach(poly => {
      ctx.strokeStyle = '#222'; ctx.fillStyle = '#222'; ctx.lineWidth = 1.5; ctx.beginPath();
      poly.forEach(([x, y], i) => (i ? ctx.lineTo(toX(x), toY(y)) : ctx.moveTo(toX(x), toY(y))));
      if (poly.length > 2) ctx.closePath();
      ctx.stroke();
      poly.forEach(([x, y]) => { ctx.beginPath(); ctx.arc(toX(x), toY(y), 3, 0, 7); ctx.fill(); });
    });
  }
  canvas.addEventListener('click', e => {
    const r = canvas.getBoundingClientRect();
    const p = toPlane((e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height);
    polygons[polygons.length - 1].push(p.map(v => Math.round(v * 1000) / 1000));
    built = null; drawPolygonCanvas();
  });
  $('poly-next').addEventListener('click', () => { if (polygons[polygons.length - 1].length) polygons.push([]); });
  $('poly-clear').addEventListener('click', () => { polygons.length = 0; polygons.push([]); built = null; $('poly-story').textContent = ''; drawPolygonCanvas(); });
  $('poly-build').addEventListener('click', () => send({ type: 'lecture', kind: 'polygon', polygons: polygons.filter(p => p.length) }));

  return {
    open() { if (kind === 'polygon') drawPolygonCanvas(); else ask(); },
    show(m) {
      showError('');
      if (m.kind === 'xor') {
        const inputs = m.inputs;
        $('xor-tables').innerHTML = table('X', inputs)
          + table('W', m.W) + table('c', [m.c])
          + m.steps.map(s => table(s.name, s.values)).join('')
          + table('w', m.w.map(v => [v])) + table('b', [[m.b]]);
        drawMask($('xor-region'), m.region, m.extent, []);
        const ctx = $('xor-region').getContext('2d'), W = $('xor-region').width;
        inputs.forEach(([a, b], i) => {
          const x = (a - m.extent[0]) / (m.extent[1] - m.extent[0]) * W, y = (1 - (b - m.extent[0]) / (m.extent[1] - m.extent[0])) * W;
          ctx.beginPath(); ctx.arc(x, y, 7, 0, 7); ctx.fillStyle = (a ^ b) ? '#0877bd' : '#f59322'; ctx.fill();
          ctx.strokeStyle = '#222'; ctx.lineWidth = 2; ctx.stroke();
        });
      } else if (m.kind === 'polygon') {
        built = m; drawPolygonCanvas();
        $('poly-story').textContent = `MLP sizes ${JSON.stringify(m.sizes)}: ${m.story}`;
      } else if (m.kind === 'pulses') {
        const c = $('pulse-canvas'), ctx = c.getContext('2d'), W = c.width, H = c.height;
        ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W, H);
        const all = m.fit.concat(m.target), lo = Math.min(...all) - 0.2, hi = Math.max(...all) + 0.2;
        const X = i => i / (m.x.length - 1) * W, Y = v => (1 - (v - lo) / (hi - lo)) * H;
        for (const [series, colour, width] of [[m.target, '#f59322', 2], [m.fit, '#183d4e', 2]]) {
          ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.beginPath();
          series.forEach((v, i) => (i ? ctx.lineTo(X(i), Y(v)) : ctx.moveTo(X(i), Y(v)))); ctx.stroke();
        }
        ctx.fillStyle = '#f59322'; ctx.fillText(`target: ${m.target_name}`, 8, 14);
        ctx.fillStyle = '#183d4e'; ctx.fillText(`${m.n} pulses`, 8, 28);
        $('pulse-story').textContent = `MLP sizes ${JSON.stringify(m.sizes)} (four ReLUs per pulse); largest error ${m.max_error.toFixed(3)}`;
      }
    },
  };
}
