'use strict';
// minilambda-loop: run a Node.js handler as a minilambda function, cold or
// warm. No dependencies.
//
//   const { serve } = require('./minilambda-loop');
//   serve(async (event) => ({ ok: true }));  // event parsed from JSON (null if empty)
//
// The handler may return a value or a promise: an object, array or number
// is written as JSON plus a newline, a string or Buffer as is.
//
// Without MINILAMBDA_LOOP (a fresh container per call, the classic
// contract) serve() reads all of stdin once, runs the handler, writes its
// result to stdout and sets the exit code.
//
// With MINILAMBDA_LOOP=1 (a function registered with "reuse": "process") the
// process serves call after call on stdin/stdout:
//
//   request:  {"id":"...","function":"...","attempt":1,"deadline_ms":1795790000000,"event_length":N,"nonce":"..."}\n<N bytes>
//   response: {"exit_code":0,"result_length":M,"log_length":L,"nonce":"..."}\n<M bytes><L bytes>
//
// For each call process.env holds MINILAMBDA_INVOCATION_ID,
// MINILAMBDA_FUNCTION_NAME, MINILAMBDA_ATTEMPT and MINILAMBDA_DEADLINE_MS of
// that call; whatever the handler writes through process.stdout (console.log
// included) becomes part of the result, so a stray print never breaks the
// framing. What it writes through process.stderr (console.error included)
// is the call's log, sent in the answer (its L bytes), so no line of one
// call can reach another's record; a child process's own stderr is not
// captured (it reaches the platform apart, and only while the call runs is
// it the call's). The answer echoes the request's nonce: the platform takes
// no answer without it. Do not read stdin in the handler: the event is its
// argument.
//
// In both modes a thrown error (or a rejected promise) gives exit code 1
// with its stack on stderr, process.exitCode = n set by the handler gives n,
// and an event that is not JSON gives 1 (pass { raw: true } to get the
// event's bytes as a Buffer instead).

const CALL_ENV = [
  ['id', 'MINILAMBDA_INVOCATION_ID'],
  ['function', 'MINILAMBDA_FUNCTION_NAME'],
  ['attempt', 'MINILAMBDA_ATTEMPT'],
  ['deadline_ms', 'MINILAMBDA_DEADLINE_MS'],
];
const MAX_LINE = 65536;
const EXIT_PROTOCOL = 2;

function log(msg) {
  process.stderr.write(`minilambda-loop: ${msg}\n`);
}

function decode(raw, rawMode) {
  if (rawMode) return raw;
  const text = raw.toString('utf8');
  return text.trim() === '' ? null : JSON.parse(text);
}

function render(result) {
  if (result === undefined || result === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(result)) return result;
  if (typeof result === 'string') return Buffer.from(result, 'utf8');
  const json = JSON.stringify(result);
  return json === undefined ? Buffer.alloc(0) : Buffer.from(json + '\n', 'utf8');
}

// One call: { out, code }. Errors go to stderr.
async function runOne(handler, raw, rawMode) {
  let event;
  try {
    event = decode(raw, rawMode);
  } catch (e) {
    log(`the event is not JSON: ${e.message}`);
    return { out: Buffer.alloc(0), code: 1 };
  }
  process.exitCode = undefined;
  try {
    const out = render(await handler(event));
    const code = process.exitCode === undefined ? 0 : Number(process.exitCode);
    return { out, code };
  } catch (e) {
    process.stderr.write(`${(e && e.stack) || String(e)}\n`);
    return { out: Buffer.alloc(0), code: 1 };
  } finally {
    process.exitCode = undefined;
  }
}

function readAll(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

async function classic(handler, rawMode) {
  const raw = await readAll(process.stdin);
  const { out, code } = await runOne(handler, raw, rawMode);
  process.stdout.write(out);
  process.exitCode = code;
}

// The bytes read from stdin and not yet taken, as a list of chunks, so a
// large event is copied once, not once per chunk.
class ByteQueue {
  constructor() {
    this.chunks = [];
    this.length = 0;
  }

  push(chunk) {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  // Offset of the first newline, or -1.
  indexOfNewline() {
    let base = 0;
    for (const c of this.chunks) {
      const i = c.indexOf(10);
      if (i >= 0) return base + i;
      base += c.length;
    }
    return -1;
  }

  // The first n bytes, removed.
  shift(n) {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.length);
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return head;
  }
}

class ProtocolError extends Error {}

function parseRequest(line) {
  let req;
  try {
    req = JSON.parse(line.toString('utf8'));
  } catch (e) {
    throw new ProtocolError(`a request line is not JSON: ${e.message}`);
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) {
    throw new ProtocolError('a request line is not a JSON object');
  }
  const n = req.event_length;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ProtocolError(`event_length must be an integer >= 0, not ${JSON.stringify(n)}`);
  }
  return req;
}

function setCallEnv(req) {
  for (const [field, name] of CALL_ENV) {
    const v = req[field];
    if (v !== undefined && v !== null) {
      process.env[name] = String(v);
    } else if (field !== 'function') {
      delete process.env[name];
    }
  }
}

async function loop(handler, rawMode) {
  const q = new ByteQueue();
  let ended = false;
  let wake = null;
  const more = () => new Promise((resolve) => { wake = resolve; });
  const poke = () => {
    if (wake) {
      const w = wake;
      wake = null;
      w();
    }
  };
  process.stdin.on('data', (c) => { q.push(c); poke(); });
  process.stdin.on('end', () => { ended = true; poke(); });

  // The protocol keeps the real stdout; process.stdout.write is captured
  // into the running call's result (to stderr, as a log, between calls).
  const stdout = process.stdout;
  const realWrite = stdout.write.bind(stdout);
  // A response is done once the stream says it was handed to the OS: a
  // pipe may take a large one in several goes, and exiting before would
  // cut it.
  const respond = (buf) => new Promise((resolve, reject) => {
    realWrite(buf, (err) => (err ? reject(err) : resolve()));
  });
  let captured = null;
  let capturedErr = null;
  const toBuffer = (chunk, encoding) => {
    const enc = typeof encoding === 'string' ? encoding : 'utf8';
    return Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), enc);
  };
  const stderr = process.stderr;
  const realErrWrite = stderr.write.bind(stderr);
  // While a call runs its logs go into its answer; between calls, out.
  stderr.write = function captureErr(chunk, encoding, cb) {
    if (capturedErr === null) return realErrWrite(chunk, encoding, cb);
    const done = typeof encoding === 'function' ? encoding : cb;
    capturedErr.push(toBuffer(chunk, encoding));
    if (typeof done === 'function') process.nextTick(done);
    return true;
  };
  stdout.write = function capture(chunk, encoding, cb) {
    const done = typeof encoding === 'function' ? encoding : cb;
    const buf = toBuffer(chunk, encoding);
    if (captured !== null) captured.push(buf);
    else process.stderr.write(buf);
    if (typeof done === 'function') process.nextTick(done);
    return true;
  };

  for (;;) {
    let nl;
    while ((nl = q.indexOfNewline()) < 0) {
      if (q.length > MAX_LINE) throw new ProtocolError(`a request line is longer than ${MAX_LINE} bytes`);
      if (ended) {
        if (q.length === 0) return 0;
        throw new ProtocolError('stdin ended inside a request line');
      }
      await more();
    }
    const req = parseRequest(q.shift(nl + 1));
    const n = req.event_length;
    while (q.length < n) {
      if (ended) throw new ProtocolError(`stdin ended ${q.length} bytes into a ${n}-byte event`);
      await more();
    }
    const raw = q.shift(n);
    setCallEnv(req);
    captured = [];
    capturedErr = [];
    const result = await runOne(handler, raw, rawMode); // never throws
    captured.push(result.out);
    const body = Buffer.concat(captured);
    const logs = Buffer.concat(capturedErr);
    captured = null;
    capturedErr = null;
    const answer = { exit_code: result.code, result_length: body.length, log_length: logs.length };
    if (typeof req.nonce === 'string') answer.nonce = req.nonce;
    const head = JSON.stringify(answer);
    await respond(Buffer.concat([Buffer.from(head + '\n', 'ascii'), body, logs]));
  }
}

// Run `handler` as the function: once (classic), or for every request of
// the loop protocol when MINILAMBDA_LOOP=1 (then the process exits 0 at the
// end of the requests, or 2 when the request stream is malformed).
function serve(handler, options = {}) {
  const rawMode = Boolean(options.raw);
  if (process.env.MINILAMBDA_LOOP !== '1') {
    classic(handler, rawMode).catch((e) => {
      log(`reading the event failed: ${e.message}`);
      process.exitCode = 1;
    });
    return;
  }
  // Exit explicitly (a handler's timers must not keep the process), once
  // the last words were handed to the OS.
  loop(handler, rawMode).then(
    (code) => process.exit(code),
    (e) => {
      const msg = e instanceof ProtocolError ? e.message : `${(e && e.stack) || e}`;
      process.stderr.write(`minilambda-loop: ${msg}\n`, () => process.exit(EXIT_PROTOCOL));
    },
  );
}

module.exports = { serve };
