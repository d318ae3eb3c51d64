// The dashboard in a real browser: Debian's chromium, headless, driven by
// puppeteer-core. Run by tests/integration/ui.sh, which starts the stack,
// registers the functions and installs puppeteer-core outside the source
// tree. Prints one line per check, "ok - ..." or "not ok - ..." (with "# "
// lines of detail), which ui.sh turns into TAP.
//
// Environment: UI_NODE (the directory holding node_modules/puppeteer-core),
// BASE (http://127.0.0.1:PORT), UI_MODE (open | auth | api), SHOT
// (screenshot path), CHROMIUM (executable); open mode: INV_ID (an async
// invocation made with curl); auth mode: ADMIN_KEY. api mode: the API
// reference (/ui/api.html) against the /openapi.json this script fetches
// itself, then against a document with markup in its strings (served to
// the page in place of the real one), then against a failing fetch.

import { createRequire } from 'node:module';

const env = (k) => {
  const v = process.env[k];
  if (v === undefined || v === '') throw new Error(`ui.mjs: ${k} is not set`);
  return v;
};
const require = createRequire(`${env('UI_NODE')}/`);
const puppeteer = require('puppeteer-core');

const BASE = env('BASE');
const MODE = env('UI_MODE');
const IMAGE = env('IMAGE'); // the test image the stack registered
const WAIT = 30000; // ms any one state may take to show on a busy machine

let failures = 0;
function check(cond, desc, detail) {
  console.log(`${cond ? 'ok' : 'not ok'} - ${desc}`);
  if (!cond) {
    failures++;
    if (detail !== undefined) for (const l of String(detail).split('\n')) console.log(`# ${l}`);
  }
  return cond;
}

// waitFor(desc, fn, ...args): poll fn in the page until it is truthy; one
// check either way. Returns the value, or null on timeout.
async function waitFor(page, desc, fn, ...args) {
  try {
    const h = await page.waitForFunction(fn, { timeout: WAIT, polling: 100 }, ...args);
    const v = await h.jsonValue();
    check(true, desc);
    return v;
  } catch (err) {
    check(false, desc, err.message);
    return null;
  }
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent);
const visible = (page, sel) => page.$eval(sel, (e) => !e.closest('[hidden]'));

async function setField(page, sel, value) {
  await page.$eval(sel, (e, v) => {
    e.value = v;
    e.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

async function invokeForm(page, fn, event, { async = false } = {}) {
  await page.select('#invoke-fn', fn);
  await setField(page, '#invoke-event', event);
  const box = await page.$('#invoke-async');
  if ((await box.evaluate((e) => e.checked)) !== async) await box.click();
  await page.click('#invoke-submit');
}

// What the page did: errors, CSP violations, responses by status.
function watch(page) {
  const seen = { errors: [], statuses: [], requests: [] };
  page.on('pageerror', (err) => seen.errors.push(String(err.message || err)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) seen.errors.push(m.text());
  });
  page.on('response', (r) => seen.statuses.push([r.status(), new URL(r.url()).pathname]));
  page.on('request', (r) => seen.requests.push([new URL(r.url()).pathname, r.headers().authorization || '']));
  return seen;
}

async function newPage(browser) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  // Injected by the browser, not the page, so the CSP does not apply.
  await page.evaluateOnNewDocument(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return page;
}

async function common(page, seen) {
  check(seen.errors.length === 0, 'no script errors on the page', seen.errors.join('\n'));
  const csp = await page.evaluate(() => window.__csp);
  check(csp.length === 0, 'no Content-Security-Policy violations', csp.join('\n'));
  check(await page.evaluate(() => window.__xss === undefined), 'no untrusted output ran as script');
}

// The metrics parser and rate arithmetic, in the browser that runs them.
async function unitChecks(page) {
  const r = await page.evaluate(async () => {
    const m = await import('./metrics.js');
    const s = m.parse([
      '# HELP x y',
      'Total_Invocations{function="a\\"b\\\\c\\nd"} 7',
      'Invocation_Duration_ms_bucket{function="f",le="10"} 0',
      'Invocation_Duration_ms_bucket{function="f",le="110"} 50',
      'Invocation_Duration_ms_bucket{function="f",le="210"} 100',
      'Invocation_Duration_ms_bucket{function="f",le="+Inf"} 100',
      'Invocation_Duration_ms_sum{function="f"} 11000',
      'Invocation_Duration_ms_count{function="f"} 100',
      'minilambda_invocations_total{function="f",status="failed"} 4',
      'minilambda_up{component="engine"} 1',
      'garbage{function="f" 3',
    ].join('\n'));
    const fns = m.byFunction(s);
    const later = m.byFunction(m.parse('Total_Invocations{function="f"} 10\n' +
      'minilambda_invocations_total{function="f",status="failed"} 9\n' +
      'minilambda_invocations_total{function="f",status="timeout"} 1\n'));
    const r1 = m.rates(fns, later, 5).get('f');
    return {
      n: s.length,
      odd: s[0].labels.function,
      p50: m.quantile(0.5, fns.get('f').buckets),
      p95: m.quantile(0.95, fns.get('f').buckets),
      inf: m.quantile(0.99, new Map([[10, 0], [110, 1], [Infinity, 100]])),
      rate: r1.rate,
      errors: r1.errors,
      all: fns.get(m.ALL).total,
    };
  });
  check(r.n === 9, 'metrics parser: samples read, the malformed line skipped', JSON.stringify(r));
  check(r.odd === 'a"b\\c\nd', 'metrics parser: label escapes undone', JSON.stringify(r.odd));
  check(r.p50 === 110 && Math.abs(r.p95 - 200) < 1e-9, 'metrics: p50 and p95 interpolated in their buckets', JSON.stringify(r));
  check(r.inf === 110, 'metrics: a quantile in +Inf gives the highest finite bound', JSON.stringify(r));
  check(r.rate === 2 && r.errors === 1.2, 'metrics: rates between scrapes (10 more in 5 s; 6 errors)', JSON.stringify(r));
  check(r.all === 7, 'metrics: the all-functions row sums them', JSON.stringify(r));
}

async function openMode(browser) {
  const page = await newPage(browser);
  const seen = watch(page);
  const res = await page.goto(`${BASE}/ui/?refresh=1`, { waitUntil: 'load' });
  check(res.status() === 200, '/ui/ loads', String(res.status()));
  await waitFor(page, 'the registered function is listed',
    () => document.querySelector('#functions tr[data-name="ui-echo"]'));
  const row = await text(page, '#functions tr[data-name="ui-echo"]');
  check(row.includes(IMAGE) && row.includes('120 s'),
    'its row shows its image and timeout', row);
  check(!(await visible(page, '#key-panel')), 'no key is asked for on a loopback bind without keys');
  await unitChecks(page);

  // Its config.
  await page.click('#functions tr[data-name="ui-echo"]');
  await waitFor(page, 'clicking it shows its config',
    () => !document.querySelector('#fn-detail').hidden && document.querySelector('#fn-config').textContent.includes('memory_mb'));
  const cfg = await text(page, '#fn-config');
  check(cfg.includes('["sh","-c"') && cfg.includes('"UI":"dashboard"'), 'the config shows command and env', cfg);

  // A synchronous run through the form: result, logs, duration.
  const event = '{"order": 42,  "from": "the form"}';
  await invokeForm(page, 'ui-echo', event);
  await waitFor(page, 'an invoke through the form succeeds',
    () => document.querySelector('#invoke-summary').dataset.status === 'succeeded');
  check(await text(page, '#invoke-result') === event, 'its result is the event, byte for byte',
    await text(page, '#invoke-result'));
  check((await text(page, '#invoke-logs')).includes('ui-echo read an event'), 'its logs are shown',
    await text(page, '#invoke-logs'));
  const summary = await text(page, '#invoke-summary');
  check(/HTTP 200 · succeeded · \d+ ms/.test(summary), 'its status and duration are shown', summary);

  // Untrusted output stays text.
  await invokeForm(page, 'ui-xss', '{}');
  await waitFor(page, 'a function writing HTML answers',
    () => document.querySelector('#invoke-summary').dataset.status === 'succeeded');
  check((await text(page, '#invoke-result')).includes('<img src=x onerror=window.__xss=1>'),
    'HTML in a result is shown as text', await text(page, '#invoke-result'));
  check((await text(page, '#invoke-logs')).includes('<script>window.__xss=2</script>'),
    'HTML in logs is shown as text', await text(page, '#invoke-logs'));
  check(await page.$$eval('#invoke-out img, #invoke-out script', (l) => l.length) === 0,
    'no element was made from the output');

  // A failing run and a bad event.
  await invokeForm(page, 'ui-fail', '{"n": 1}');
  await waitFor(page, 'a failing function shows as failed',
    () => document.querySelector('#invoke-summary').dataset.status === 'failed');
  const fail = await text(page, '#invoke-summary');
  const err = await text(page, '#invoke-error');
  check(fail.includes('HTTP 502') && fail.includes('exit 3') && err.includes('function_failed'),
    'with its HTTP status, exit code and error code', `${fail} / ${err}`);
  await invokeForm(page, 'ui-echo', '{"broken": ');
  await waitFor(page, 'an event that is not JSON is refused in the page',
    () => document.querySelector('#invoke-summary').dataset.status === 'refused' &&
      document.querySelector('#invoke-error').textContent.includes('not JSON'));

  // Async through the form: its record opens and is followed to the end.
  await invokeForm(page, 'ui-echo', '{"async": true}', { async: true });
  const id = await waitFor(page, 'an async invoke through the form is queued',
    () => document.querySelector('#invoke-summary').dataset.status === 'queued' &&
      document.querySelector('#invoke-summary button[data-id]').dataset.id);
  await waitFor(page, 'its record opens and is followed until COMPLETED',
    (i) => document.querySelector('#inv-detail-id').textContent === i &&
      document.querySelector('#inv-detail').dataset.status === 'COMPLETED', id);
  check(await text(page, '#inv-detail-output') === '{"async": true}', 'the record shows its output',
    await text(page, '#inv-detail-output'));
  check((await text(page, '#inv-detail-logs')).includes('ui-echo read an event'), 'and its logs');

  // The list: the run made with curl, filters, opening a record.
  const pre = env('INV_ID');
  await waitFor(page, 'the invocations list shows both async runs',
    (a, b) => document.querySelector(`#invocations tr[data-id="${a}"]`) &&
      document.querySelector(`#invocations tr[data-id="${b}"]`), pre, id);
  await page.select('#inv-function', 'ui-fail');
  // (ui-fail's own synchronous calls have records too: only they stay.)
  await waitFor(page, 'filtering by another function hides them',
    (a, b) => !document.querySelector(`#invocations tr[data-id="${a}"]`) &&
      !document.querySelector(`#invocations tr[data-id="${b}"]`) &&
      [...document.querySelectorAll('#invocations tbody tr td.name')].every((c) => c.textContent === 'ui-fail'),
    pre, id);
  await page.select('#inv-function', 'ui-echo');
  await page.select('#inv-status', 'COMPLETED');
  await waitFor(page, 'filtering by function and status lists them again',
    (a) => document.querySelector(`#invocations tr[data-id="${a}"]`), pre);
  const statuses = await page.$$eval('#invocations tbody tr', (l) => l.map((r) => r.dataset.status));
  check(statuses.length >= 2 && statuses.every((s) => s === 'COMPLETED'), 'every row listed is COMPLETED', statuses.join(','));
  await page.click(`#invocations tr[data-id="${pre}"]`);
  await waitFor(page, 'opening a record from the list shows its output',
    (a) => document.querySelector('#inv-detail-id').textContent === a &&
      document.querySelector('#inv-detail-output').textContent === '{"from":"curl"}', pre);

  // Charts from /metrics.
  await waitFor(page, 'the metrics table counts the runs',
    () => {
      const r = document.querySelector('#metrics-table tr[data-name="ui-echo"]');
      return r && Number(r.cells[1].textContent) >= 3 && Number(r.cells[2].textContent) >= 3;
    });
  const failRow = await page.$eval('#metrics-table tr[data-name="ui-fail"]', (r) => r.cells[3].textContent);
  check(failRow === '1', 'and the failed one', failRow);
  await page.select('#chart-fn', 'ui-echo');
  await waitFor(page, 'the rate chart of ui-echo has drawn a rate above 0',
    () => Number(document.querySelector('#chart-rate').dataset.peak) > 0);
  await waitFor(page, 'the latency chart of ui-echo has drawn a latency',
    () => Number(document.querySelector('#chart-latency').dataset.peak) > 0);
  await page.select('#chart-fn', 'ui-fail');
  await waitFor(page, 'the error chart of ui-fail has drawn an error rate above 0',
    () => Number(document.querySelector('#chart-errors').dataset.peak) > 0);
  await page.select('#chart-fn', '');
  check(await visible(page, '#metrics-note') === false, 'no metrics warning when /metrics answers');

  await common(page, seen);
  await page.screenshot({ path: env('SHOT'), fullPage: true });
  await page.close();
}

async function authMode(browser) {
  const admin = env('ADMIN_KEY');
  const page = await newPage(browser);
  const seen = watch(page);
  await page.goto(`${BASE}/ui/?refresh=1`, { waitUntil: 'load' });
  await waitFor(page, 'with keys required the page asks for one',
    () => !document.querySelector('#key-panel').hidden);
  check((await text(page, '#key-reason')).includes('needs an API key'), 'saying why', await text(page, '#key-reason'));
  check(await page.$$eval('#functions tbody tr', (l) => l.length) === 0, 'and shows no functions');
  const n401 = seen.statuses.filter(([s]) => s === 401).length;
  const t0 = await page.evaluate(() => Number(document.body.dataset.ticks));
  await waitFor(page, 'the page keeps ticking while it waits',
    (t) => Number(document.body.dataset.ticks) >= t + 3, t0);
  const more = seen.statuses.filter(([s]) => s === 401).length - n401;
  check(more === 0 && n401 <= 3, 'but makes no call that needs a key meanwhile (failed checks are throttled)',
    `${n401} 401s first, ${more} more`);

  await page.type('#key-input', 'mlk_not-a-key-at-all');
  await page.click('#key-form button');
  await waitFor(page, 'a wrong key is refused and asked for again',
    () => !document.querySelector('#key-panel').hidden && document.querySelector('#key-reason').textContent.includes('refused'));
  check(await page.evaluate(() => sessionStorage.getItem('minilambda.key')) === null, 'a refused key is not kept');

  await page.type('#key-input', admin);
  const since = seen.requests.length;
  await page.click('#key-form button');
  await waitFor(page, 'with the admin key the function is listed',
    () => document.querySelector('#functions tr[data-name="ui-echo"]'));
  check(await visible(page, '#key-panel') === false, 'and the key panel is gone');
  check(await page.evaluate(() => sessionStorage.getItem('minilambda.key')) === admin, 'the key is kept in sessionStorage');

  await invokeForm(page, 'ui-echo', '{"with": "a key"}');
  await waitFor(page, 'an invoke through the form succeeds with the key',
    () => document.querySelector('#invoke-summary').dataset.status === 'succeeded');
  check(await text(page, '#invoke-result') === '{"with": "a key"}', 'and shows its result', await text(page, '#invoke-result'));

  await waitFor(page, 'a /metrics the allow list refuses is explained, not fatal',
    () => !document.querySelector('#metrics-note').hidden && document.querySelector('#metrics-note').dataset.status === '403');
  const api = seen.requests.slice(since).filter(([p]) => !p.startsWith('/ui/') && p !== '/healthz');
  check(api.length > 0 && api.every(([, a]) => a === `Bearer ${admin}`), 'every API call since carried the key',
    api.filter(([, a]) => a !== `Bearer ${admin}`).map(([p]) => p).join(' '));

  await page.reload({ waitUntil: 'load' });
  await waitFor(page, 'after a reload the key is still used',
    () => document.querySelector('#functions tr[data-name="ui-echo"]') && document.querySelector('#key-panel').hidden);

  await common(page, seen);
  check(!seen.statuses.some(([s]) => s === 429), 'no answer was 429 (the page never tripped the failed-key limit)');
  await page.screenshot({ path: env('SHOT'), fullPage: true });

  await page.click('#key-forget');
  await waitFor(page, 'forgetting the key asks for one again',
    () => !document.querySelector('#key-panel').hidden && sessionStorage.getItem('minilambda.key') === null);
  await page.close();

  // The API reference needs no key either: /openapi.json is open.
  const doc = await (await fetch(`${BASE}/openapi.json`)).json();
  const ref = await newPage(browser);
  const refSeen = watch(ref);
  const state = await apiOpen(ref, `${BASE}/ui/api.html`);
  const n = await ref.$$eval('section.op', (l) => l.length);
  check(state === 'rendered' && n === docOps(doc).length && n > 0,
    'with keys required the API reference renders every operation without a key', `${state}, ${n} of ${docOps(doc).length}`);
  check(refSeen.statuses.length > 0 && refSeen.statuses.every(([st]) => st === 200 || st === 304) &&
    refSeen.requests.every(([, a]) => a === ''), 'every request of it was answered 200 (or 304) and carried no key',
  JSON.stringify(refSeen.statuses));
  await common(ref, refSeen);
  await ref.close();
}

// --- the API reference (/ui/api.html) ---------------------------------------

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
// The elements apidoc.js makes; anything else inside #doc came from the document.
const RENDERED_TAGS = new Set(['NAV', 'H2', 'H3', 'H4', 'P', 'SPAN', 'CODE', 'A', 'DIV', 'SECTION',
  'TABLE', 'THEAD', 'TBODY', 'TR', 'TH', 'TD', 'UL', 'LI', 'DETAILS', 'SUMMARY', 'PRE', 'DL', 'DT', 'DD']);
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
// A description's text as the page shows it: its `code` spans lose their backticks.
const plain = (t) => String(t).replace(/`/g, '');
const paras = (t) => (typeof t === 'string' ? t.split(/\n\s*\n/).filter((x) => x.trim() !== '').map(plain) : []);

// The operations of `doc`: [{key, path, method, op, item}], in its order.
function docOps(doc) {
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) if (isObj(item[method])) ops.push({ key: `${method} ${path}`, path, method, op: item[method], item });
  }
  return ops;
}

// The error codes a response schema lists: `code`'s enum, there or in an allOf/oneOf/anyOf part.
function codesOf(s) {
  if (!isObj(s)) return [];
  const out = [];
  if (isObj(s.properties) && isObj(s.properties.code) && Array.isArray(s.properties.code.enum)) out.push(...s.properties.code.enum);
  for (const k of ['allOf', 'oneOf', 'anyOf']) if (Array.isArray(s[k])) for (const sub of s[k]) out.push(...codesOf(sub));
  return [...new Set(out.map(String))];
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const diff = (want, got) => `want ${JSON.stringify(want)}\n got ${JSON.stringify(got)}`;

// What the page shows of each operation, by its data-* attributes and text.
const shownOps = (page) => page.$$eval('section.op', (l) => l.map((s) => ({
  key: `${s.dataset.method} ${s.dataset.path}`,
  heading: s.querySelector('h3').textContent,
  summary: s.querySelector('p.summary') ? s.querySelector('p.summary').textContent : null,
  text: s.textContent,
  security: s.querySelector('p.security') ? s.querySelector('p.security').textContent : '',
  params: [...s.querySelectorAll('tr[data-param]')].map((r) => r.dataset.param),
  body: s.querySelector('.body') !== null,
  bodyRefs: [...s.querySelectorAll('.body a[href^="#"] code[data-ref]')].map((c) => c.dataset.ref),
  statuses: [...s.querySelectorAll('.response[data-status]')].map((r) => r.dataset.status),
  codes: Object.fromEntries([...s.querySelectorAll('.response[data-status]')]
    .map((r) => [r.dataset.status, r.querySelector('.codes') ? r.querySelector('.codes').dataset.codes : ''])),
})));

// Every in-page link leads to an element, and no link leads off the page.
const links = (page) => page.$$eval('#doc a', (l) => l.map((a) => {
  const h = a.getAttribute('href') || '';
  return { h, ok: h.startsWith('#') && document.getElementById(h.slice(1)) !== null };
}));

async function apiOpen(page, url) {
  await page.goto(url, { waitUntil: 'load' });
  return waitFor(page, `${new URL(url).pathname} renders or reports (data-state)`,
    () => document.querySelector('#doc').dataset.state !== 'loading' && document.querySelector('#doc').dataset.state);
}

// The page against the document the platform serves.
async function apiReal(browser, doc) {
  const ops = docOps(doc);
  check(ops.length >= 10, 'the served /openapi.json lists operations (at least 10)', ops.length);
  const page = await newPage(browser);
  const seen = watch(page);

  // Reached from the dashboard's header.
  await page.goto(`${BASE}/ui/`, { waitUntil: 'load' });
  check(await page.$eval('header #api-link', (a) => a.getAttribute('href')).catch(() => null) === 'api.html',
    "the dashboard's header links to api.html");
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('header #api-link')]);
  check(new URL(page.url()).pathname === '/ui/api.html', 'following it opens /ui/api.html', page.url());
  const state = await waitFor(page, 'the API reference renders the document',
    () => document.querySelector('#doc').dataset.state !== 'loading' && document.querySelector('#doc').dataset.state);
  check(state === 'rendered', 'and renders it (not an error)', `${state}: ${await text(page, '#notice')}`);
  check(await page.$eval('header a[href="./"]', () => true).catch(() => false), 'its header links back to the dashboard');

  const title = await text(page, '#doc-title');
  check(title.includes(doc.info.title) && (await text(page, '#doc-version')) === `version ${doc.info.version}`,
    'it shows the title and version', title);
  const intro = await text(page, '#info');
  const want = paras(doc.info.description);
  check(want.length > 0 && want.every((p) => intro.includes(p)), "it shows the document's description", intro.slice(0, 300));

  // Every operation, in the document's order, with its parts.
  const shown = await shownOps(page);
  check(same(shown.map((o) => o.key), ops.map((o) => o.key)), 'every path and method of the served document is shown, in order',
    diff(ops.map((o) => o.key), shown.map((o) => o.key)));
  const byKey = new Map(shown.map((o) => [o.key, o]));
  const bad = { heading: [], summary: [], description: [], params: [], body: [], statuses: [], codes: [], security: [] };
  let nCodes = 0;
  let nParams = 0;
  for (const { key, path, method, op, item } of ops) {
    const o = byKey.get(key);
    if (!o) continue;
    if (!o.heading.startsWith(`${method.toUpperCase()} ${path}`)) bad.heading.push(key);
    if (typeof op.summary === 'string' && o.summary !== plain(op.summary)) bad.summary.push(key);
    if (!paras(op.description).every((p) => o.text.includes(p))) bad.description.push(key);
    const params = new Map();
    for (const p of [...(item.parameters || []), ...(op.parameters || [])]) params.set(`${p.in}:${p.name}`, p);
    nParams += params.size;
    if (!same([...params.keys()].sort(), [...o.params].sort())) bad.params.push(`${key}: ${diff([...params.keys()], o.params)}`);
    const refs = Object.values(isObj(op.requestBody) ? op.requestBody.content || {} : {})
      .map((m) => m.schema && m.schema.$ref).filter((r) => typeof r === 'string').map((r) => r.split('/').pop());
    if (o.body !== isObj(op.requestBody) || !refs.every((r) => o.bodyRefs.includes(r))) bad.body.push(`${key}: ${diff(refs, o.bodyRefs)}`);
    const statuses = Object.keys(op.responses || {});
    if (!same(statuses, o.statuses)) bad.statuses.push(`${key}: ${diff(statuses, o.statuses)}`);
    for (const st of statuses) {
      const r = op.responses[st];
      const codes = [...new Set(Object.values(r.content || {}).flatMap((m) => codesOf(m.schema)))];
      nCodes += codes.length;
      if (!same(codes, o.codes[st] === '' ? [] : (o.codes[st] || '').split(' '))) bad.codes.push(`${key} ${st}: ${diff(codes, o.codes[st])}`);
    }
    for (const req of op.security || []) {
      for (const [name, scopes] of Object.entries(req)) {
        if (!o.security.includes(name) || !scopes.every((sc) => o.security.includes(sc))) bad.security.push(`${key}: ${o.security}`);
      }
    }
  }
  check(bad.heading.length === 0, "each operation's heading is its method and path", bad.heading.join('\n'));
  check(bad.summary.length === 0, "each operation's summary is shown", bad.summary.join('\n'));
  check(bad.description.length === 0, "each operation's description is shown", bad.description.join('\n'));
  check(nParams > 0 && bad.params.length === 0, 'each operation shows exactly its parameters', bad.params.join('\n'));
  check(bad.body.length === 0, 'each request body is shown, linking its schemas', bad.body.join('\n'));
  check(bad.statuses.length === 0, 'each operation shows exactly its response statuses, in order', bad.statuses.join('\n'));
  check(nCodes > 0 && bad.codes.length === 0, 'each response shows exactly the error codes its schema lists', bad.codes.join('\n'));
  check(bad.security.length === 0, "each operation shows its security schemes and scopes", bad.security.join('\n'));

  // The components.
  const comps = doc.components || {};
  const schemas = Object.keys(comps.schemas || {});
  const shownSchemas = await page.$$eval('section[data-schema]', (l) => l.map((s) => s.dataset.schema));
  check(schemas.length > 0 && same(shownSchemas, schemas), 'every component schema has a section', diff(schemas, shownSchemas));
  const props = await page.$$eval('section[data-schema]', (l) => Object.fromEntries(l.map((s) => [s.dataset.schema,
    [...s.querySelectorAll(':scope > .schema > table.props > tbody > tr')].map((r) => r.dataset.prop)])));
  const badProps = schemas.filter((n) => !same(Object.keys(comps.schemas[n].properties || {}), props[n] || []));
  check(badProps.length === 0, "each schema's section lists its fields", badProps.map((n) => `${n}: ${diff(Object.keys(comps.schemas[n].properties || {}), props[n])}`).join('\n'));
  const schemes = Object.keys(comps.securitySchemes || {});
  const shownSchemes = await page.$$eval('section[data-scheme]', (l) => l.map((s) => [s.dataset.scheme, s.textContent]));
  check(schemes.length > 0 && same(shownSchemes.map(([n]) => n), schemes) &&
    shownSchemes.every(([n, t]) => paras(comps.securitySchemes[n].description).every((p) => t.includes(p)) &&
      t.includes(comps.securitySchemes[n].type)),
  'every security scheme is shown with its type and description', JSON.stringify(shownSchemes).slice(0, 400));

  // $ref links: all resolve, and one followed lands on its schema.
  const ls = await links(page);
  check(ls.length > schemas.length && ls.every((l) => l.ok), 'every link on the page leads to a section of it',
    ls.filter((l) => !l.ok).map((l) => l.h).join(' '));
  check(await page.$$eval('#doc .unresolved', (l) => l.length) === 0, 'no $ref is shown as unresolved');
  const withRef = ops.find((o) => isObj(o.op.requestBody) &&
    Object.values(o.op.requestBody.content || {}).some((m) => m.schema && typeof m.schema.$ref === 'string'));
  if (check(withRef !== undefined, 'an operation has a request body that is a $ref')) {
    const ref = Object.values(withRef.op.requestBody.content).find((m) => m.schema && m.schema.$ref).schema.$ref.split('/').pop();
    const i = ops.indexOf(withRef);
    const link = (await page.$$('section.op'))[i];
    const a = await link.$(`.body a code[data-ref="${ref}"]`);
    if (check(a !== null, `${withRef.key}'s body links to ${ref}`)) {
      await a.click();
      await waitFor(page, `following the link goes to ${ref}'s section, in view`,
        (n) => {
          const t = document.querySelector(':target');
          if (!t || t.dataset.schema !== n) return false;
          const r = t.getBoundingClientRect();
          return r.top >= -1 && r.top < window.innerHeight;
        }, ref);
    }
  }
  await common(page, seen);
  await page.screenshot({ path: env('SHOT'), fullPage: false });

  await page.close();

  // A link to a section works from outside too, once the document is drawn.
  const target = schemas[schemas.length - 1];
  const deep = await newPage(browser);
  const urls = [];
  deep.on('request', (r) => urls.push(r.url()));
  await apiOpen(deep, `${BASE}/ui/api.html#schema-${target}`);
  await waitFor(deep, `a link to #schema-${target} from outside lands on it`, (n) => {
    const t = document.querySelector(':target');
    return t && t.dataset.schema === n && window.scrollY > 0 && t.getBoundingClientRect().top < window.innerHeight;
  }, target);
  const paths = urls.map((u) => new URL(u)).map((x) => (x.origin === BASE ? x.pathname : x.href));
  const off = paths.filter((x) => !(x.startsWith('/ui/') || x === '/openapi.json'));
  check(paths.includes('/ui/apidoc.js') && paths.includes('/openapi.json') && off.length === 0,
    'the page asks this origin for its /ui/ files and /openapi.json, nothing else', paths.join(' '));
  await deep.close();
}

// The page against a document whose strings hold markup: shown as text.
const MARK = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>' +
  '<a href="javascript:window.__xss=3">link</a><style>body{display:none}</style>';
const EVIL_SCHEMA = 'Evil<script>window.__xss=4</script>';
const EVIL_PATH = '/evil/<img src=x onerror=window.__xss=5>';

function evilDoc(doc) {
  const d = structuredClone(doc);
  d.info.title = `${doc.info.title} ${MARK}`;
  d.info.description = `Intro ${MARK}\n\nAnd \`<i>code</i>\` ${MARK}`;
  const [first] = docOps(d);
  first.op.summary = MARK;
  first.op.description = `Described ${MARK}`;
  const ref = `#/components/schemas/${EVIL_SCHEMA.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  d.components.schemas[EVIL_SCHEMA] = {
    type: 'object', description: MARK, required: [MARK],
    properties: { [MARK]: { type: 'string', description: MARK, enum: [MARK], default: MARK, pattern: MARK } },
    example: { note: MARK },
  };
  d.components.securitySchemes.bearer.description = MARK;
  d.paths[EVIL_PATH] = {
    parameters: [{ name: 'shared', in: 'header', description: 'A path-level parameter', schema: { type: 'string' } }],
    get: {
      summary: MARK, description: MARK, operationId: MARK, tags: [MARK],
      parameters: [{ name: MARK, in: 'query', description: MARK, schema: { $ref: ref } }],
      responses: {
        200: { description: MARK, content: { 'text/html': { schema: { $ref: ref }, examples: { [MARK]: { summary: MARK, value: MARK } } } } },
        400: { description: MARK, content: { 'application/json': { schema: { allOf: [{ $ref: '#/components/schemas/Error' }, { properties: { code: { enum: [MARK] } } }] } } } },
      },
    },
  };
  return d;
}

async function apiMarkup(browser, doc) {
  const evil = evilDoc(doc);
  const page = await newPage(browser);
  const seen = watch(page);
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/openapi.json') {
      r.respond({ status: 200, contentType: 'application/json', body: JSON.stringify(evil) });
    } else r.continue();
  });
  const state = await apiOpen(page, `${BASE}/ui/api.html`);
  check(state === 'rendered', 'a document with markup in every kind of string renders', state);
  // Give an <img onerror> or a script, had one been made, time to run.
  await new Promise((res) => setTimeout(res, 500));
  const r = await page.evaluate((mark, evilSchema, evilPath) => {
    const root = document.querySelector('#doc');
    const op = [...document.querySelectorAll('section.op')].find((s) => s.dataset.path === evilPath);
    const sch = [...document.querySelectorAll('section[data-schema]')].find((s) => s.dataset.schema === evilSchema);
    const first = document.querySelector('section.op');
    const paramLink = op ? op.querySelector('tr[data-param] a') : null;
    const target = paramLink ? document.getElementById(paramLink.getAttribute('href').slice(1)) : null;
    return {
      tags: [...new Set([...root.querySelectorAll('*')].map((e) => e.tagName))],
      images: document.images.length,
      scripts: document.scripts.length,
      styles: document.querySelectorAll('style').length,
      hrefs: [...root.querySelectorAll('a')].map((a) => a.getAttribute('href')).filter((h) => !h.startsWith('#')),
      title: document.querySelector('#doc-title').textContent,
      intro: [...document.querySelectorAll('#info p')].map((p) => p.textContent),
      firstSummary: first.querySelector('p.summary').textContent,
      op: op ? { summary: op.querySelector('p.summary').textContent, text: op.textContent,
        params: [...op.querySelectorAll('tr[data-param]')].map((x) => x.dataset.param),
        codes: [...op.querySelectorAll('.codes')].map((c) => c.dataset.codes),
        example: [...op.querySelectorAll('details.example pre')].map((p) => p.textContent) } : null,
      schema: sch ? sch.textContent : null,
      schemaId: sch ? sch.id : null,
      target: target ? target.dataset.schema : null,
      scheme: document.querySelector('section[data-scheme="bearer"]').textContent,
      visible: getComputedStyle(document.body).display,
    };
  }, MARK, EVIL_SCHEMA, EVIL_PATH);
  const extra = r.tags.filter((t) => !RENDERED_TAGS.has(t));
  check(extra.length === 0 && !r.tags.includes('IMG') && !r.tags.includes('SCRIPT') && !r.tags.includes('B'),
    'no element inside the rendered area but those the renderer makes (no img, script, b, style)', `${extra.join(' ')} of ${r.tags.join(' ')}`);
  check(r.images === 0 && r.scripts === 1 && r.styles === 0, 'the document holds no image, style or script but the page\'s own module',
    JSON.stringify({ images: r.images, scripts: r.scripts, styles: r.styles }));
  check(r.hrefs.length === 0, 'every link the renderer made is an in-page fragment (no javascript: link)', r.hrefs.join(' '));
  check(await page.evaluate(() => window.__xss === undefined), 'no markup of the document ran as script');
  check(r.visible !== 'none', "the document's <style> changed nothing");
  check(r.title.includes(MARK), 'markup in the title is shown as text', r.title);
  check(same(r.intro, [`Intro ${MARK}`, `And <i>code</i> ${MARK}`]), 'markup in the description is shown as text, paragraph by paragraph', JSON.stringify(r.intro));
  check(r.firstSummary === MARK, 'markup in a summary is shown as text', r.firstSummary);
  check(r.op !== null, 'a path holding markup is shown as an operation');
  if (r.op) {
    check(r.op.summary === MARK && r.op.text.includes(`GET ${EVIL_PATH}`) && r.op.text.includes(`operationId ${MARK}`),
      'its path, summary and operationId are text', r.op.text.slice(0, 300));
    check(same(r.op.params, ['header:shared', `query:${MARK}`]),
      "a parameter's name holding markup is text, after the path's own parameter", JSON.stringify(r.op.params));
    check(same(r.op.codes, [MARK]), 'an error code holding markup is text', JSON.stringify(r.op.codes));
    check(r.op.example.includes(MARK), 'an example value holding markup is text', JSON.stringify(r.op.example));
  }
  check(r.schema !== null && r.schema.includes(`${MARK} required`) && r.schema.includes(`pattern ${MARK}`),
    "a schema named with markup has its section, its fields' names and facts as text", (r.schema || '').slice(0, 300));
  check(/^schema-[A-Za-z0-9_.-]+$/.test(r.schemaId || ''), 'its anchor id holds only safe characters', r.schemaId);
  check(r.target === EVIL_SCHEMA, "a $ref to it (a '/' escaped as ~1) resolves to its section", r.target);
  check(r.scheme.includes(MARK), "markup in a security scheme's description is text", r.scheme.slice(0, 200));
  await common(page, seen);
  await page.close();
}

// A failing fetch of the document is said, not a blank page.
async function apiFailing(browser) {
  const page = await newPage(browser);
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/openapi.json') {
      r.respond({ status: 502, contentType: 'application/json',
        body: '{"error":"the minilambda pool is not answering","code":"pool_unavailable"}' });
    } else r.continue();
  });
  const state = await apiOpen(page, `${BASE}/ui/api.html`);
  const notice = await text(page, '#notice');
  check(state === 'error' && await visible(page, '#notice') && notice.includes('HTTP 502') && notice.includes('pool_unavailable'),
    'a failed fetch of /openapi.json is reported with its status and code', `${state}: ${notice}`);
  await page.close();
}

async function apiMode(browser) {
  const res = await fetch(`${BASE}/openapi.json`);
  check(res.status === 200, 'the test fetches /openapi.json itself', res.status);
  const doc = await res.json();
  await apiReal(browser, doc);
  await apiMarkup(browser, doc);
  await apiFailing(browser);
}

let browser;
try {
  browser = await puppeteer.launch({
    executablePath: env('CHROMIUM'),
    headless: true,
    // --no-sandbox: the test runs as root, where chromium's sandbox refuses.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  if (MODE === 'open') await openMode(browser);
  else if (MODE === 'auth') await authMode(browser);
  else if (MODE === 'api') await apiMode(browser);
  else throw new Error(`ui.mjs: unknown UI_MODE ${MODE}`);
} catch (err) {
  check(false, `the browser run (${MODE}) went to its end`, err.stack || err);
} finally {
  if (browser) await browser.close();
}
process.exitCode = failures > 0 ? 1 : 0;
