// Calls to the minilambda API from the dashboard: same origin, the API key
// (if any) as `Authorization: Bearer`, and the access rules handled once.
//
// The key lives in sessionStorage: it survives a reload of this tab and dies
// with it, and no other tab or later visit sees it. When a call answers 401
// the key (if any) is dropped and the page stops calling the API until the
// user gives one: every 401 counts as a failed key check, and the platform
// answers 429 to an address after MINILAMBDA_AUTH_FAILURES of them a
// minute, so polling on without a key would lock the user out.

const KEY_STORE = 'minilambda.key';

let waiting = false;
let onNeedKey = () => {};

/** Thrown instead of calling the API while the page waits for a key. */
export class KeyNeeded extends Error {
  constructor() {
    super('waiting for an API key');
    this.name = 'KeyNeeded';
  }
}

/** fn(reason) is called when the API wants a key (reason: a sentence). */
export function onKeyNeeded(fn) {
  onNeedKey = fn;
}

/** The key this tab uses, or ''. */
export function key() {
  try {
    return sessionStorage.getItem(KEY_STORE) || '';
  } catch {
    return ''; // storage disabled: no key kept
  }
}

/**
 * Use `k` from now on. Returns an error sentence when it cannot be a key
 * (a header value must be visible ASCII), else ''.
 */
export function setKey(k) {
  if (!/^[\x21-\x7e]{1,512}$/.test(k)) return 'a key is printable ASCII without spaces, as POST /keys showed it';
  try {
    sessionStorage.setItem(KEY_STORE, k);
  } catch (err) {
    return `this browser does not keep it (sessionStorage: ${err.message})`;
  }
  waiting = false;
  return '';
}

/** Drop the key; the next 401 asks for one again. */
export function forgetKey() {
  try {
    sessionStorage.removeItem(KEY_STORE);
  } catch {
    // nothing was stored
  }
}

/** True while the page waits for the user to give a key. */
export function waitingForKey() {
  return waiting;
}

/**
 * request(method, path, {body, open}): one call. `body` is a JSON string
 * sent as is (so an event reaches the function byte for byte). `open`
 * routes (GET /healthz) never need a key and are sent even while waiting
 * for one. Resolves to {status, ok, json, text, headers} whatever the
 * status (json: the parsed body when it is JSON, else null); status 0
 * when the platform did not answer. Rejects with KeyNeeded while waiting
 * for a key.
 */
export async function request(method, path, { body, open = false } = {}) {
  if (waiting && !open) throw new KeyNeeded();
  const headers = {};
  const k = key();
  if (k !== '' && !open) headers.Authorization = `Bearer ${k}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit' });
  } catch (err) {
    return { status: 0, ok: false, json: null, text: String(err.message || err), headers: new Headers() };
  }
  const text = await res.text();
  let json = null;
  if ((res.headers.get('Content-Type') || '').includes('json')) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null; // a truncated or odd body: callers use text
    }
  }
  // A 401 to a call made before the user changed the key says nothing
  // about the new one.
  if (res.status === 401 && !open && k === key()) {
    const refused = k !== '';
    forgetKey();
    if (!waiting) {
      waiting = true;
      onNeedKey(refused ? `The key was refused: ${errorText({ status: 401, json, text })}`
        : 'This platform needs an API key for that.');
    }
  }
  return { status: res.status, ok: res.ok, json, text, headers: res.headers };
}

/** GET `path` and return its JSON; rejects with an Error naming the failure. */
export async function getJSON(path) {
  const r = await request('GET', path);
  if (!r.ok || r.json === null) throw new Error(`GET ${path}: ${errorText(r)}`);
  return r.json;
}

/** One line for a failed answer: HTTP status, the API's code and sentence. */
export function errorText(r) {
  if (r.status === 0) return `the platform did not answer (${r.text})`;
  const j = r.json;
  if (j && typeof j === 'object' && typeof j.error === 'string') {
    return `HTTP ${r.status} ${typeof j.code === 'string' ? j.code : ''}: ${j.error}`;
  }
  return `HTTP ${r.status}: ${String(r.text).slice(0, 200)}`;
}
