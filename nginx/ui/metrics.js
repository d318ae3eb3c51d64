// GET /metrics for the dashboard: the Prometheus text exposition parsed,
// per-function counters gathered, and rates derived between two scrapes in
// the page (the platform keeps only counters; Prometheus does the same
// arithmetic with rate() and histogram_quantile()).

/** Statuses that count as errors in the charts (see docs/guide.md, Metrics). */
export const ERROR_STATUSES = ['failed', 'timeout', 'error'];

/** The name of the synthetic entry that sums every function. */
export const ALL = '*';

/**
 * parse(text): the samples of a text exposition as [{name, labels, value}].
 * Comments and malformed lines are skipped; label values are unescaped
 * (\\, \" and \n).
 */
export function parse(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line[0] === '#') continue;
    const s = parseLine(line);
    if (s !== null) out.push(s);
  }
  return out;
}

function parseLine(line) {
  const m = /^([A-Za-z_:][A-Za-z0-9_:]*)/.exec(line);
  if (m === null) return null;
  const name = m[1];
  let i = name.length;
  const labels = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const l = /^([A-Za-z_][A-Za-z0-9_]*)="/.exec(line.slice(i));
      if (l === null) return null;
      i += l[0].length;
      let v = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) return null;
        i++;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          v += e === 'n' ? '\n' : e === undefined ? '' : e;
        } else {
          v += c;
        }
      }
      labels[l[1]] = v;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  const value = parseValue(rest[0]);
  if (value === null) return null;
  return { name, labels, value };
}

function parseValue(s) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (s === undefined || !/^[-+]?[0-9.eE+-]+$/.test(s)) return null;
  const v = Number(s);
  return Number.isNaN(v) ? null : v;
}

function blank() {
  return { total: 0, statuses: {}, inFlight: 0, warm: null, buckets: new Map(), sum: 0, count: 0 };
}

/**
 * byFunction(samples): Map function name → {total, statuses {status: n},
 * inFlight, warm (minilambda_warm_containers, null when absent), buckets
 * Map(le → cumulative count), sum, count}, plus ALL summing them.
 */
export function byFunction(samples) {
  const fns = new Map();
  const get = (f) => {
    if (!fns.has(f)) fns.set(f, blank());
    return fns.get(f);
  };
  for (const { name, labels, value } of samples) {
    const f = labels.function;
    if (f === undefined) continue;
    const s = get(f);
    switch (name) {
      case 'Total_Invocations': s.total = value; break;
      case 'minilambda_invocations_total':
        if (labels.status !== undefined) s.statuses[labels.status] = value;
        break;
      case 'minilambda_invocations_in_flight': s.inFlight = value; break;
      case 'minilambda_warm_containers': s.warm = value; break;
      case 'Invocation_Duration_ms_bucket':
        if (labels.le !== undefined) s.buckets.set(Number(labels.le === '+Inf' ? Infinity : labels.le), value);
        break;
      case 'Invocation_Duration_ms_sum': s.sum = value; break;
      case 'Invocation_Duration_ms_count': s.count = value; break;
      default: break;
    }
  }
  const all = blank();
  for (const s of fns.values()) {
    all.total += s.total;
    for (const [k, v] of Object.entries(s.statuses)) all.statuses[k] = (all.statuses[k] || 0) + v;
    all.inFlight += s.inFlight;
    if (s.warm !== null) all.warm = (all.warm || 0) + s.warm;
    for (const [le, v] of s.buckets) all.buckets.set(le, (all.buckets.get(le) || 0) + v);
    all.sum += s.sum;
    all.count += s.count;
  }
  fns.set(ALL, all);
  return fns;
}

/** How much a counter grew from `a` to `b` (a reset, b < a: b itself). */
function grew(a, b) {
  return b >= a ? b - a : b;
}

/**
 * quantile(q, buckets): the q-quantile of a histogram given as Map(le →
 * cumulative count), interpolated linearly inside its bucket as Prometheus's
 * histogram_quantile does; a rank in the +Inf bucket gives the highest
 * finite bound. null for an empty histogram.
 */
export function quantile(q, buckets) {
  const les = [...buckets.keys()].sort((x, y) => x - y);
  if (les.length === 0) return null;
  const total = buckets.get(les[les.length - 1]);
  if (!(total > 0)) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const le of les) {
    const cum = buckets.get(le);
    if (cum >= rank) {
      if (le === Infinity) return lower;
      if (cum === below) return le;
      return lower + (le - lower) * ((rank - below) / (cum - below));
    }
    lower = le;
    below = cum;
  }
  return lower;
}

/**
 * rates(prev, cur, seconds): per function in `cur` (a byFunction map) what
 * happened since `prev`: {rate, errors (per second), mean and p95 (ms, null
 * when nothing finished)}. A function absent from `prev` started at zero.
 */
export function rates(prev, cur, seconds) {
  const out = new Map();
  for (const [f, c] of cur) {
    const p = prev.get(f) || blank();
    const total = grew(p.total, c.total);
    let errors = 0;
    for (const st of ERROR_STATUSES) errors += grew(p.statuses[st] || 0, c.statuses[st] || 0);
    const n = grew(p.count, c.count);
    const delta = new Map();
    for (const [le, v] of c.buckets) delta.set(le, grew(p.buckets.get(le) || 0, v));
    out.set(f, {
      rate: seconds > 0 ? total / seconds : null,
      errors: seconds > 0 ? errors / seconds : null,
      mean: n > 0 ? grew(p.sum, c.sum) / n : null,
      p95: n > 0 ? quantile(0.95, delta) : null,
    });
  }
  return out;
}

/**
 * History keeps the last `size` scrapes ({t: seconds, fns: byFunction map})
 * and the rates between neighbours.
 */
export class History {
  constructor(size) {
    this.size = size;
    this.samples = [];
    this.derived = []; // {t, rates}: one fewer than samples
  }

  push(t, fns) {
    const last = this.samples[this.samples.length - 1];
    if (last !== undefined) this.derived.push({ t, rates: rates(last.fns, fns, t - last.t) });
    this.samples.push({ t, fns });
    if (this.samples.length > this.size) this.samples.shift();
    if (this.derived.length > this.size - 1) this.derived.shift();
  }

  latest() {
    return this.samples[this.samples.length - 1];
  }

  /**
   * [[t, value]] of field `k` of function `f`'s rates; null is a gap (no
   * latency when nothing finished). Before its series appear a function's
   * rates are 0.
   */
  series(f, k) {
    return this.derived.map((d) => {
      const r = d.rates.get(f);
      if (r !== undefined) return [d.t, r[k]];
      return [d.t, k === 'rate' || k === 'errors' ? 0 : null];
    });
  }
}
