// The page: one state object (the server's settings and the last frame), views redrawn from it.
// Controls send what changed; the server checks it and answers with the settings it took
// (or an error, shown at the top): the page always shows the server's truth.

import { drawChart, drawNetwork, drawRegion } from './draw.js';
import { featureUnitFor } from './features.js';
import { initLecture } from './lecture.js';

const $ = id => document.getElementById(id);
const state = { config: null, options: null, frame: null, points: null, curves: [], token: null, ws: null };

function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}
const setConfig = values => send({ type: 'config', values });

function showError(text) {
  const el = $('error');
  el.textContent = text; el.hidden = !text;
  clearTimeout(showError.timer);
  if (text) showError.timer = setTimeout(() => { el.hidden = true; }, 8000);
}

// ------------------------------------------------------------------ controls
function option(select, value, label) {
  const o = document.createElement('option'); o.value = value; o.textContent = label ?? value; select.appendChild(o);
}

function buildControls(options) {
  options.datasets.forEach(d => option($('dataset'), d.name, d.label));
  options.modes.forEach(m => option($('mode'), m));
  Object.keys(options.units).forEach(u => option($('activation'), u));
  Object.keys(options.outputs).forEach(o => option($('output'), o));
  options.targets.forEach(t => option($('pulse-target'), t));
  options.features.forEach(f => {
    const l = document.createElement('label'); l.className = 'check';
    l.innerHTML = `<input type="checkbox" value="${f}" data-testid="feature-${f.replace(/[^a-z0-9]/g, '')}"> ${f}`;
    $('features').appendChild(l);
  });
  const simple = ['optimizer', 'mode', 'output', 'lr', 'momentum', 'weight_decay', 'batch_size', 'grad_tol', 'points', 'seed'];
  for (const id of simple) $(id).addEventListener('change', e => setConfig({ [id]: e.target.value }));
  for (const id of ['noise', 'train_fraction']) {
    $(id).addEventListener('input', e => { $(`${id}-v`).textContent = e.target.value; });
    $(id).addEventListener('change', e => setConfig({ [id]: e.target.value }));
  }
  for (const id of ['nesterov', 'growing_batch', 'relu_bias']) $(id).addEventListener('change', e => setConfig({ [id]: e.target.checked }));
  $('features').addEventListener('change', () => {
    setConfig({ features: [...$('features').querySelectorAll('input:checked')].map(i => i.value) });
  });
  $('dataset').addEventListener('change', e => {
    // The output unit follows the data set's task, as the lecture pairs them.
    const d = options.datasets.find(x => x.name === e.target.value);
    const output = d.task === 'regression' ? 'gaussian' : d.classes === 2 ? 'bernoulli' : 'categorical';
    setConfig({ dataset: d.name, output });
  });
  $('activation').addEventListener('change', e => {
    setConfig({ layers: state.config.layers.map(l => ({ units: l.units, activation: e.target.value, hparams: {} })) });
  });
  $('layer-add').addEventListener('click', () => {
    const layers = state.config.layers.map(l => ({ ...l }));
    const last = layers[layers.length - 1];
    layers.push({ units: last ? last.units : 4, activation: last ? last.activation : 'tanh', hparams: last ? last.hparams : {} });
    setConfig({ layers });
  });
  $('layer-remove').addEventListener('click', () => setConfig({ layers: state.config.layers.slice(0, -1) }));
  $('play').addEventListener('click', () => send({ type: state.frame && state.frame.playing ? 'pause' : 'play' }));
  $('step').addEventListener('click', () => send({ type: 'step' }));
  $('reset').addEventListener('click', () => send({ type: 'reset' }));
  $('show-test').addEventListener('change', render);
  $('load').addEventListener('change', loadModel);
  $('tab-play').addEventListener('click', () => switchTab(false));
  $('tab-lecture').addEventListener('click', () => switchTab(true));
}

function switchTab(lecture) {
  $('playground').hidden = lecture; $('lecture').hidden = !lecture;
  $('tab-play').classList.toggle('active', !lecture); $('tab-lecture').classList.toggle('active', lecture);
  if (lecture) state.lecture.open();
}

function layerControls() {
  const el = $('layer-controls'); el.innerHTML = '';
  state.config.layers.forEach((layer, k) => {
    const div = document.createElement('div'); div.className = 'lc';
    div.innerHTML = `<button data-d="1" data-testid="units-add-${k + 1}">+</button><button data-d="-1" data-testid="units-remove-${k + 1}">&minus;</button> ${layer.units}<br>`;
    const sel = document.createElement('select'); sel.setAttribute('data-testid', `activation-${k + 1}`);
    Object.keys(state.options.units).forEach(u => option(sel, u));
    sel.value = layer.activation;
    sel.addEventListener('change', () => {
      setConfig({ layers: state.config.layers.map((l, i) => (i === k ? { units: l.units, activation: sel.value, hparams: {} } : l)) });
    });
    div.appendChild(sel);
    div.querySelectorAll('button').forEach(b => b.addEventListener('click', () => {
      setConfig({ layers: state.config.layers.map((l, i) => (i === k ? { ...l, units: l.units + Number(b.dataset.d) } : l)) });
    }));
    el.appendChild(div);
  });
}

function hparamControls() {
  // The slope or alpha of the first layer's unit, applied to every layer with that unit.
  const el = $('hparams'); el.innerHTML = '';
  const first = state.config.layers[0]; if (!first) return;
  for (const name of state.options.units[first.activation] || []) {
    const l = document.createElement('label');
    l.innerHTML = `${name} <input type="text" inputmode="decimal" data-testid="hparam-${name}">`;
    const input = l.querySelector('input');
    input.value = first.hparams[name] ?? '';
    input.placeholder = 'default';
    input.addEventListener('change', () => {
      setConfig({ layers: state.config.layers.map(layer => {
        if (layer.activation !== first.activation) return layer;
        const hp = { ...layer.hparams };
        if (input.value.trim() === '') delete hp[name]; else hp[name] = input.value;
        return { ...layer, hparams: hp };
      }) });
    });
    el.appendChild(l);
  }
}

function showConfig() {
  const c = state.config;
  for (const id of ['dataset', 'optimizer', 'mode', 'output', 'lr', 'momentum', 'weight_decay', 'batch_size', 'points', 'seed', 'noise', 'train_fraction']) $(id).value = c[id];
  $('noise-v').textContent = c.noise; $('train_fraction-v').textContent = c.train_fraction;
  $('grad_tol').value = c.grad_tol ?? '';
  for (const id of ['nesterov', 'growing_batch', 'relu_bias']) $(id).checked = c[id];
  $('features').querySelectorAll('input').forEach(i => { i.checked = c.features.includes(i.value); });
  $('layer-count').textContent = c.layers.length;
  $('activation').value = c.layers.length ? c.layers[0].activation : 'identity';
  $('loss-formula').textContent = state.options.outputs[c.output].loss;
  document.querySelectorAll('.sgd-only').forEach(e => { e.style.display = c.optimizer === 'sgd' ? '' : 'none'; });
  document.querySelectorAll('.mb-only').forEach(e => { e.style.display = c.mode === 'minibatch' ? '' : 'none'; });
  layerControls(); hparamControls();
}

// --------------------------------------------------------------------- views
const fmt = v => (v === null || v === undefined ? '' : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4));
const featureCache = (() => { const cache = {}; return (f, dim) => (cache[f + dim] ||= featureUnitFor(f, dim)); })();

function render() {
  const f = state.frame; if (!f) return;
  $('epoch').textContent = String(f.epoch);
  $('updates').textContent = String(f.updates);
  $('rate').textContent = String(Math.round(f.updates_per_second || 0));
  $('play').textContent = f.playing ? 'pause' : 'play';
  $('play').dataset.playing = f.playing ? 'true' : 'false';
  $('status').textContent = f.status;
  if (f.train_loss !== undefined) {
    $('train-loss').textContent = fmt(f.train_loss); $('test-loss').textContent = fmt(f.test_loss);
    $('train-accuracy').textContent = fmt(f.train_acc); $('test-accuracy').textContent = fmt(f.test_acc);
    $('grad-norm').textContent = fmt(f.grad_norm);
    $('metric-name').textContent = f.metric === 'r2' ? 'R\u00B2' : 'accuracy';
  }
  const d = state.options.datasets.find(x => x.name === state.config.dataset);
  drawRegion($('region'), f, state.points, { showTest: $('show-test').checked, task: d.task, classes: d.classes });
  drawNetwork($('units'), f, featureCache, $('region'));
  drawChart($('loss-chart'), state.curves, [
    { key: 'train_loss', label: 'train loss', colour: '#183d4e' }, { key: 'test_loss', label: 'test loss', colour: '#f59322' }]);
  drawChart($('accuracy-chart'), state.curves, [
    { key: 'train_acc', label: `train ${f.metric === 'r2' ? 'R\u00B2' : 'accuracy'}`, colour: '#183d4e' },
    { key: 'test_acc', label: 'test', colour: '#f59322' }], { lo: 0, hi: 1 });
  drawChart($('grad-chart'), state.curves, [{ key: 'grad_norm', label: '\u2016\u2207J\u2016 (log)', colour: '#9467bd' }], { log: true });
}

function onFrame(f) {
  state.frame = f;
  if (f.points) state.points = f.points;
  if (f.curves) {
    if (f.curves.reset) state.curves = [];
    state.curves.push(...f.curves.points);
  }
  render();
}

async function loadModel(e) {
  const file = e.target.files[0]; e.target.value = '';
  if (!file) return;
  const r = await fetch(`/import/${state.token}?name=${encodeURIComponent(file.name)}`, { method: 'POST', body: file });
  const body = await r.json();
  if (!r.ok) { showError(body.error); return; }
  showError(''); onFrame(body.frame);
}

// -------------------------------------------------------------- the channel
function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  state.ws = ws;
  ws.onmessage = e => {
    const m = JSON.parse(e.data);
    if (m.type === 'hello') {
      state.token = m.session; state.options = m.options; state.config = m.config;
      $('export').href = `/export/${m.session}`;
      buildControls(m.options); showConfig();
      state.lecture = initLecture(send, m.options, showError);
      document.body.dataset.ready = 'true';
    } else if (m.type === 'frame') onFrame(m);
    else if (m.type === 'config') { state.config = m.config; showError(''); showConfig(); }
    else if (m.type === 'lecture') state.lecture.show(m);
    else if (m.type === 'error') { showError(m.message); if (state.config) showConfig(); }
  };
  ws.onclose = () => { $('status').textContent = 'disconnected from the server: reload the page'; document.body.dataset.ready = 'false'; };
}

connect();
