// The dashboard in a real browser: Debian's chromium, headless, driven by
// puppeteer-core. Run by tests/integration/ui.sh, which starts the stack,
// registers the functions and installs puppeteer-core outside the source
// tree. Prints one line per check, "ok - ..." or "not ok - ..." (with "# "
// lines of detail), which ui.sh turns into TAP.
//
// Environment: UI_NODE (the directory holding node_modules/puppeteer-core),
// BASE (http://127.0.0.1:PORT), UI_MODE (open | auth), SHOT (screenshot
// path), CHROMIUM (executable); open mode: INV_ID (an async invocation made
// with curl); auth mode: ADMIN_KEY.

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
  else throw new Error(`ui.mjs: unknown UI_MODE ${MODE}`);
} catch (err) {
  check(false, `the browser run (${MODE}) went to its end`, err.stack || err);
} finally {
  if (browser) await browser.close();
}
process.exitCode = failures > 0 ? 1 : 0;
