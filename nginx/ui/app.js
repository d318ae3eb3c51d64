// The dashboard at /ui/: the functions and their config, an invoke form,
// invocation records with filters, and rate, error and latency charts from
// GET /metrics. Static files, no build step. Every value the platform
// returns is untrusted and reaches the page as text (dom.js); the page's
// CSP (nginx/minilambda.conf.in) allows no inline script besides.

import { el, clear, setText, show, fillSelect, fmtTime, fmtNum } from './dom.js';
import * as api from './api.js';
import * as metrics from './metrics.js';
import { draw } from './chart.js';

const $ = (id) => document.getElementById(id);

function intParam(name, lo, hi, dflt) {
  const raw = new URLSearchParams(window.location.search).get(name);
  const v = raw === null ? NaN : Number(raw);
  return Number.isInteger(v) && v >= lo && v <= hi ? v : dflt;
}

// ?refresh=N: seconds between polls (1 to 60).
const REFRESH_S = intParam('refresh', 1, 60, 5);
// Scrapes the charts keep: 10 minutes at the default refresh.
const HISTORY = 120;
// While /metrics is refused, ask again this seldom (seconds).
const METRICS_RETRY_S = 30;
// Seconds between reads of an open invocation that has not finished.
const FOLLOW_S = 1;
const FINAL = new Set(['COMPLETED', 'FAILED', 'TIMEOUT', 'CANCELLED']);
const FIELD_ORDER = ['id', 'name', 'image', 'image_id', 'image_present', 'command', 'timeout',
  'memory_mb', 'cpus', 'network', 'env', 'retries', 'user', 'runtime', 'keep_warm', 'reuse',
  'created_by', 'created_at', 'updated_at'];
const COLORS = { rate: '#1f6fb2', errors: '#c62828', mean: '#2e7d32', p95: '#ef6c00' };

const state = {
  functions: [], // records from GET /functions
  selected: '', // the function whose config is shown
  history: new metrics.History(HISTORY),
  metricsDenied: null, // the answer that refused /metrics, or null
  metricsNext: 0, // Date.now() before which /metrics is not asked again
  invocations: [], // the last GET /invocations
  invSeq: 0, // numbers GET /invocations calls
  openId: '', // the invocation shown in the detail pane
  openTimer: 0,
  sigs: {}, // what each table was last drawn from, to redraw only on change
  ticks: 0,
};

// --- small helpers --------------------------------------------------------

function showError(id, msg) {
  setText($(id), msg);
  show($(id), msg !== '');
}

function notice(msg) {
  showError('notice', msg);
}

function changed(table, data) {
  const sig = JSON.stringify(data);
  if (state.sigs[table] === sig) return false;
  state.sigs[table] = sig;
  return true;
}

function text(v) {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function statusBadge(s) {
  const word = typeof s === 'string' ? s : '';
  const cls = /^[A-Za-z]+$/.test(word) ? word.toLowerCase() : 'other';
  return el('span', { class: `status s-${cls}` }, word);
}

function idButton(id) {
  return el('button', { type: 'button', class: 'link mono', data: { id }, onclick: () => openInvocation(id) }, id);
}

function durationOf(rec) {
  const r = rec.result && typeof rec.result === 'object' ? rec.result : {};
  for (const v of [r.duration_ms, rec.duration_ms, rec.duration]) if (typeof v === 'number') return v;
  const a = Date.parse(rec.started_at);
  const b = Date.parse(rec.completed_at);
  return Number.isNaN(a) || Number.isNaN(b) ? null : b - a;
}

function fmtMs(v) {
  return v === null ? '' : `${fmtNum(v, 0)} ms`;
}

// Names the charts can show: registered functions and any the metrics know.
function chartNames() {
  const names = new Set(state.functions.map((f) => f.name));
  const latest = state.history.latest();
  if (latest) for (const n of latest.fns.keys()) if (n !== metrics.ALL) names.add(n);
  return [...names].sort();
}

// --- the API key ----------------------------------------------------------

function renderKeyState() {
  const k = api.key();
  setText($('key-state'), k !== '' ? `key ${k.slice(0, 12)}…` : api.waitingForKey() ? 'no key' : '');
  show($('key-forget'), k !== '');
}

function resetData() {
  state.functions = [];
  state.invocations = [];
  state.history = new metrics.History(HISTORY);
  state.metricsDenied = null;
  state.metricsNext = 0;
  state.selected = '';
  state.sigs = {};
  closeInvocation();
  show($('invoke-out'), false);
  show($('metrics-note'), false);
  renderFunctions();
  renderInvocations();
  renderMetrics();
}

api.onKeyNeeded((reason) => {
  resetData();
  setText($('key-reason'), reason);
  show($('key-error'), false);
  show($('key-panel'), true);
  renderKeyState();
  $('key-input').focus();
});

$('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const bad = api.setKey($('key-input').value.trim());
  if (bad !== '') {
    showError('key-error', `Not a usable key: ${bad}.`);
    return;
  }
  $('key-input').value = '';
  show($('key-panel'), false);
  renderKeyState();
  refresh();
});

$('key-forget').addEventListener('click', () => {
  api.forgetKey();
  resetData();
  renderKeyState();
  refresh();
});

// --- health ---------------------------------------------------------------

async function loadHealth() {
  const r = await api.request('GET', '/healthz', { open: true });
  const badge = $('health');
  const j = r.json && typeof r.json === 'object' ? r.json : null;
  if (r.status === 200 && j) {
    setText(badge, 'healthy');
    badge.className = 'badge good';
  } else if (j && typeof j.status === 'string') {
    const failed = Array.isArray(j.failed) ? j.failed.map(text).join(', ') : text(j.code);
    setText(badge, `unhealthy: ${failed}`);
    badge.className = 'badge bad';
  } else {
    setText(badge, r.status === 0 ? 'unreachable' : `health: HTTP ${r.status}`);
    badge.className = 'badge bad';
  }
  badge.title = j ? `GET /healthz: ${JSON.stringify(j)}` : 'GET /healthz';
}

// --- functions ------------------------------------------------------------

async function loadFunctions() {
  const r = await api.request('GET', '/functions');
  if (r.status === 0) notice(`The platform did not answer: ${r.text}`);
  else notice('');
  if (r.status === 401) return;
  if (!r.ok || !Array.isArray(r.json)) {
    showError('functions-error', `GET /functions: ${api.errorText(r)}`);
    return;
  }
  showError('functions-error', '');
  state.functions = r.json.filter((f) => f && typeof f === 'object' && typeof f.name === 'string');
}

function warmText(f, latest) {
  const parts = [];
  if (f.keep_warm !== undefined) parts.push(`keep ${text(f.keep_warm)}`);
  if (f.reuse !== undefined) parts.push(`reuse ${text(f.reuse)}`);
  const m = latest ? latest.fns.get(f.name) : undefined;
  if (m && m.warm !== null) parts.push(`${fmtNum(m.warm)} warm now`);
  return parts.length > 0 ? parts.join(' · ') : '—';
}

function limitsText(f) {
  const parts = [];
  if (f.timeout !== undefined) parts.push(`${text(f.timeout)} s`);
  if (f.memory_mb !== undefined) parts.push(`${text(f.memory_mb)} MB`);
  if (f.cpus !== undefined) parts.push(`${fmtNum(f.cpus)} cpu`);
  return parts.join(' · ');
}

function renderFunctions() {
  const latest = state.history.latest();
  const rows = state.functions.map((f) => [f, warmText(f, latest)]);
  if (!changed('functions', [rows, state.selected])) return;
  const body = $('functions').tBodies[0];
  clear(body);
  for (const [f, warm] of rows) {
    body.append(el('tr', {
      class: f.name === state.selected ? 'selected' : '',
      tabIndex: 0,
      data: { name: f.name },
      onclick: () => selectFunction(f.name),
      onkeydown: (ev) => { if (ev.key === 'Enter') selectFunction(f.name); },
    },
    el('td', { class: 'name' }, f.name),
    el('td', { class: 'mono clip', title: text(f.image) }, text(f.image)),
    el('td', {}, limitsText(f)),
    el('td', {}, text(f.network)),
    el('td', {}, text(f.retries)),
    el('td', {}, warm)));
  }
  setText($('fn-count'), `(${state.functions.length})`);
  show($('functions-empty'), state.functions.length === 0 && !api.waitingForKey());
  const names = state.functions.map((f) => f.name);
  fillSelect($('invoke-fn'), names);
  fillSelect($('inv-function'), names, 'any');
  fillSelect($('chart-fn'), chartNames(), 'all functions');
  if (!names.includes(state.selected)) state.selected = '';
  renderConfig();
}

function renderConfig() {
  const f = state.functions.find((x) => x.name === state.selected);
  show($('fn-detail'), f !== undefined);
  if (f === undefined) return;
  setText($('fn-detail-name'), f.name);
  const dl = $('fn-config');
  clear(dl);
  const keys = [...FIELD_ORDER.filter((k) => k in f), ...Object.keys(f).filter((k) => !FIELD_ORDER.includes(k))];
  for (const k of keys) dl.append(el('dt', {}, k), el('dd', { class: 'mono' }, f[k] === null ? '—' : text(f[k])));
}

function selectFunction(name) {
  state.selected = name;
  $('invoke-fn').value = name;
  $('chart-fn').value = name;
  renderFunctions();
  renderCharts();
}

// --- invoking -------------------------------------------------------------

function invokeFailed(msg) {
  show($('invoke-out'), true);
  const summary = $('invoke-summary');
  setText(summary, '');
  summary.dataset.status = 'refused';
  showError('invoke-error', msg);
  show($('invoke-streams'), false);
}

// The request body as the user typed the event: checked as JSON here so a
// typo gets a message at once, but sent as typed, since the platform hands
// the function the event's bytes exactly as they arrive.
function invokeBody() {
  const parts = [];
  const raw = $('invoke-event').value;
  if (raw.trim() !== '') {
    try {
      JSON.parse(raw);
    } catch (err) {
      return { error: `The event is not JSON: ${err.message}` };
    }
    parts.push(`"event":${raw}`);
  }
  const t = $('invoke-timeout').value.trim();
  if (t !== '') {
    const n = Number(t);
    if (!Number.isInteger(n) || n < 0 || n > 900) {
      return { error: 'The timeout is whole seconds from 0 to 900 (0: the function\'s own).' };
    }
    parts.push(`"timeout":${n}`);
  }
  return { body: `{${parts.join(',')}}` };
}

async function invoke(ev) {
  ev.preventDefault();
  const name = $('invoke-fn').value;
  if (name === '') {
    invokeFailed('No function to invoke: register one first.');
    return;
  }
  const { body, error } = invokeBody();
  if (error !== undefined) {
    invokeFailed(error);
    return;
  }
  const isAsync = $('invoke-async').checked;
  const path = `/invoke/${encodeURIComponent(name)}${isAsync ? '/async' : ''}`;
  const summary = $('invoke-summary');
  show($('invoke-out'), true);
  setText(summary, `POST ${path} …`);
  summary.dataset.status = 'running';
  showError('invoke-error', '');
  show($('invoke-streams'), false);
  $('invoke-submit').disabled = true;
  let r;
  try {
    r = await api.request('POST', path, { body });
  } catch (err) {
    if (!(err instanceof api.KeyNeeded)) throw err;
    invokeFailed('An API key is needed first.');
    return;
  } finally {
    $('invoke-submit').disabled = false;
  }
  showAnswer(name, isAsync, r);
}

function showAnswer(name, isAsync, r) {
  const j = r.json && typeof r.json === 'object' ? r.json : {};
  const summary = $('invoke-summary');
  clear(summary);
  if (isAsync && r.status === 202 && typeof j.invocation_id === 'string') {
    summary.dataset.status = 'queued';
    summary.append(`HTTP 202 · ${name} queued as `, idButton(j.invocation_id));
    show($('invoke-streams'), false);
    openInvocation(j.invocation_id);
    loadInvocations().then(renderInvocations, () => {});
    return;
  }
  // A run's answer (200, or 502/504 from the function itself) carries its
  // output; any other answer is the platform's JSON error.
  const ran = typeof j.status === 'string' && ('result' in j || 'logs' in j);
  summary.dataset.status = ran ? j.status : 'error';
  const bits = [`HTTP ${r.status}`];
  if (ran) {
    bits.push(j.status);
    if (typeof j.duration === 'number') bits.push(`${j.duration} ms`);
    if (typeof j.start === 'string') bits.push(`${j.start} start`);
    if (typeof j.exit_code === 'number') bits.push(`exit ${j.exit_code}`);
    if (j.truncated === true) bits.push('output truncated');
  }
  summary.append(bits.join(' · '));
  if (typeof j.invocation_id === 'string') summary.append(' · ', idButton(j.invocation_id));
  showError('invoke-error', r.ok ? '' : api.errorText(r));
  show($('invoke-streams'), ran);
  setText($('invoke-result'), ran ? text(j.result) : '');
  setText($('invoke-logs'), ran ? text(j.logs) : '');
}

$('invoke-form').addEventListener('submit', (ev) => {
  invoke(ev).catch((err) => invokeFailed(String(err)));
});

// --- invocation records ---------------------------------------------------

async function loadInvocations() {
  const q = new URLSearchParams();
  if ($('inv-function').value !== '') q.set('function', $('inv-function').value);
  if ($('inv-status').value !== '') q.set('status', $('inv-status').value);
  const limit = Number($('inv-limit').value);
  q.set('limit', String(Number.isInteger(limit) && limit >= 1 && limit <= 1000 ? limit : 20));
  // A poll and a change of filter can overlap: only the latest call counts.
  const seq = ++state.invSeq;
  const r = await api.request('GET', `/invocations?${q}`);
  if (seq !== state.invSeq || r.status === 401) return;
  if (!r.ok || !Array.isArray(r.json)) {
    showError('invocations-error', `GET /invocations: ${api.errorText(r)}`);
    return;
  }
  showError('invocations-error', '');
  state.invocations = r.json.filter((x) => x && typeof x === 'object' && typeof x.id === 'string');
}

function renderInvocations() {
  if (!changed('invocations', [state.invocations, state.openId])) return;
  const body = $('invocations').tBodies[0];
  clear(body);
  for (const rec of state.invocations) {
    const id = rec.id;
    const attempts = rec.attempts !== undefined ? `${text(rec.attempts)}/${text(rec.max_attempts)}` : '';
    body.append(el('tr', {
      class: id === state.openId ? 'selected' : '',
      tabIndex: 0,
      data: { id, status: text(rec.status) },
      onclick: () => openInvocation(id),
      onkeydown: (ev) => { if (ev.key === 'Enter') openInvocation(id); },
    },
    el('td', { class: 'mono', title: id }, id.slice(0, 8)),
    el('td', { class: 'name' }, text(rec.function_name ?? rec.function)),
    el('td', {}, statusBadge(rec.status)),
    el('td', {}, fmtTime(rec.created_at)),
    el('td', {}, fmtMs(durationOf(rec))),
    el('td', {}, attempts),
    el('td', { class: 'clip', title: text(rec.error) }, text(rec.error))));
  }
  show($('invocations-empty'), state.invocations.length === 0 && !api.waitingForKey());
}

function closeInvocation() {
  clearTimeout(state.openTimer);
  state.openId = '';
  show($('inv-detail'), false);
}

function renderRecord(rec) {
  const detail = $('inv-detail');
  detail.dataset.status = text(rec.status);
  const r = rec.result && typeof rec.result === 'object' ? rec.result : {};
  const exit = r.exit_code ?? rec.exit_code;
  const summary = $('inv-detail-summary');
  clear(summary);
  const bits = [text(rec.function_name ?? rec.function)];
  if (rec.attempts !== undefined) bits.push(`attempt ${text(rec.attempts)} of ${text(rec.max_attempts)}`);
  if (rec.created_at) bits.push(`created ${fmtTime(rec.created_at)}`);
  if (rec.started_at) bits.push(`started ${fmtTime(rec.started_at)}`);
  if (rec.completed_at) bits.push(`ended ${fmtTime(rec.completed_at)}`);
  const d = durationOf(rec);
  if (d !== null) bits.push(fmtMs(d));
  if (typeof rec.start === 'string') bits.push(`${rec.start} start`);
  if (typeof exit === 'number') bits.push(`exit ${exit}`);
  summary.append(statusBadge(rec.status), ` ${bits.join(' · ')}`);
  showError('inv-detail-error', text(rec.error));
  setText($('inv-detail-output'), text(r.output ?? rec.output ?? rec.stdout));
  setText($('inv-detail-logs'), text(r.logs ?? rec.logs ?? rec.stderr));
  setText($('inv-detail-record'), JSON.stringify(rec, null, 2));
  show($('inv-cancel'), rec.status === 'PENDING' || rec.status === 'RUNNING');
}

async function openInvocation(id) {
  clearTimeout(state.openTimer);
  const first = state.openId !== id;
  state.openId = id;
  renderInvocations();
  let r;
  try {
    r = await api.request('GET', `/invocations/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err instanceof api.KeyNeeded) return;
    throw err;
  }
  if (state.openId !== id) return; // another one was opened meanwhile
  show($('inv-detail'), true);
  setText($('inv-detail-id'), id);
  if (!r.ok || !r.json || typeof r.json !== 'object') {
    if (first) {
      for (const p of ['inv-detail-summary', 'inv-detail-output', 'inv-detail-logs', 'inv-detail-record']) setText($(p), '');
      show($('inv-cancel'), false);
    }
    $('inv-detail').dataset.status = 'error';
    showError('inv-detail-error', `GET /invocations/${id}: ${api.errorText(r)}`);
    return;
  }
  const before = $('inv-detail').dataset.status;
  renderRecord(r.json);
  if (!FINAL.has(r.json.status)) {
    state.openTimer = setTimeout(() => openInvocation(id).catch(() => {}), FOLLOW_S * 1000);
  } else if (!first && before !== r.json.status) {
    // It just finished: the list shows the new status too.
    loadInvocations().then(renderInvocations, () => {});
  }
}

$('inv-cancel').addEventListener('click', async () => {
  const id = state.openId;
  if (id === '') return;
  const r = await api.request('DELETE', `/invocations/${encodeURIComponent(id)}`);
  if (r.ok && r.json && typeof r.json === 'object') renderRecord(r.json);
  else showError('inv-detail-error', `DELETE /invocations/${id}: ${api.errorText(r)}`);
  await loadInvocations();
  renderInvocations();
});

$('inv-filter').addEventListener('submit', (ev) => {
  ev.preventDefault();
  loadInvocations().then(renderInvocations, () => {});
});
for (const id of ['inv-function', 'inv-status']) {
  $(id).addEventListener('change', () => loadInvocations().then(renderInvocations, () => {}));
}

// --- metrics and charts ---------------------------------------------------

async function loadMetrics() {
  if (Date.now() < state.metricsNext) return;
  const r = await api.request('GET', '/metrics');
  if (r.status === 200) {
    state.metricsDenied = null;
    state.history.push(Date.now() / 1000, metrics.byFunction(metrics.parse(r.text)));
    return;
  }
  if (r.status === 401) return; // the key panel asks
  // Refused (the metrics scope, MINILAMBDA_METRICS_ALLOW) or failing: the
  // rest of the page works without it; ask again now and then.
  state.metricsDenied = r;
  state.metricsNext = Date.now() + METRICS_RETRY_S * 1000;
}

function renderMetrics() {
  const note = $('metrics-note');
  const r = state.metricsDenied;
  if (r !== null) {
    const why = r.status === 403
      ? 'They need a key with the metrics scope, from an address MINILAMBDA_METRICS_ALLOW lets in.'
      : 'The platform could not serve them.';
    setText(note, `No charts: GET /metrics answered ${api.errorText(r)}. ${why} ` +
      `The rest of the page works without them; asking again every ${METRICS_RETRY_S} s.`);
    note.dataset.status = String(r.status);
  }
  show(note, r !== null);
  renderMetricsTable();
  renderCharts();
}

function renderMetricsTable() {
  const latest = state.history.latest();
  const last = state.history.derived[state.history.derived.length - 1];
  const names = latest ? [...latest.fns.keys()].filter((n) => n !== metrics.ALL).sort() : [];
  const rows = names.length > 0 ? [...names, metrics.ALL] : [];
  const body = $('metrics-table').tBodies[0];
  clear(body);
  for (const n of rows) {
    const s = latest.fns.get(n);
    const r = last ? last.rates.get(n) : undefined;
    const st = (k) => el('td', {}, fmtNum(s.statuses[k] ?? 0));
    body.append(el('tr', {
      class: n === metrics.ALL ? 'total' : '',
      data: { name: n },
      onclick: () => {
        $('chart-fn').value = n === metrics.ALL ? '' : n;
        renderCharts();
      },
    },
    el('td', { class: 'name' }, n === metrics.ALL ? 'all functions' : n),
    el('td', {}, fmtNum(s.total)),
    st('succeeded'), st('failed'), st('timeout'), st('error'), st('rejected'),
    el('td', {}, fmtNum(s.inFlight)),
    el('td', {}, s.warm === null ? '—' : fmtNum(s.warm)),
    el('td', {}, fmtNum(r ? r.rate : null)),
    el('td', {}, fmtNum(r ? r.mean : null, 0)),
    el('td', {}, fmtNum(r ? r.p95 : null, 0))));
  }
  fillSelect($('chart-fn'), chartNames(), 'all functions');
}

function renderCharts() {
  const f = $('chart-fn').value === '' ? metrics.ALL : $('chart-fn').value;
  const h = state.history;
  const to = Date.now() / 1000;
  const from = to - HISTORY * REFRESH_S;
  let empty = 'no data';
  if (state.metricsDenied !== null) empty = 'metrics unavailable';
  else if (h.samples.length < 2) empty = 'collecting…';
  const opts = { from, to, empty };
  draw($('chart-rate'), [{ color: COLORS.rate, points: h.series(f, 'rate') }], opts);
  draw($('chart-errors'), [{ color: COLORS.errors, points: h.series(f, 'errors') }], opts);
  draw($('chart-latency'), [
    { color: COLORS.mean, points: h.series(f, 'mean') },
    { color: COLORS.p95, points: h.series(f, 'p95') },
  ], opts);
  $('charts-panel').dataset.function = f;
}

$('chart-fn').addEventListener('change', renderCharts);
window.addEventListener('resize', renderCharts);

// --- polling --------------------------------------------------------------

// One round: the function list alone first (with no key it is the one call
// that answers 401), then the rest; then redraw what changed.
async function refresh() {
  try {
    await loadFunctions();
    if (!api.waitingForKey()) await Promise.all([loadMetrics(), loadInvocations()]);
  } catch (err) {
    if (!(err instanceof api.KeyNeeded)) notice(String(err));
  }
  renderFunctions();
  renderInvocations();
  renderMetrics();
}

async function tick() {
  state.ticks++;
  document.body.dataset.ticks = String(state.ticks);
  if (!document.hidden) {
    loadHealth().catch(() => {});
    if (!api.waitingForKey()) await refresh();
  }
  setTimeout(tick, REFRESH_S * 1000);
}

renderKeyState();
renderCharts();
tick();
