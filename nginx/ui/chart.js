// Line charts on <canvas>, drawn by hand (no library, no CDN): a y axis
// from 0 to a round maximum, a time axis over the window, one line per
// series, gaps where a value is null.

/** The smallest 1, 2 or 5 × 10^k at or above v (1 for v <= 0). */
export function roundUp(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function label(v) {
  if (v >= 1000) return `${(v / 1000).toFixed(v % 1000 === 0 ? 0 : 1)}k`;
  if (Number.isInteger(v)) return String(v);
  return v.toPrecision(2).replace(/\.?0+$/, '');
}

/**
 * draw(canvas, series, {from, to, unit, empty}): draw `series` ([{color,
 * points: [[t, v|null]]}]) for t in [from, to] (seconds). `empty` is
 * written when no point has a value. Sets canvas.dataset.points (values
 * drawn), .peak (largest) and .latest (the last value of the first series),
 * and the aria-label, so the chart can be read without pixels.
 */
export function draw(canvas, series, { from, to, unit = '', empty = 'no data yet' }) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 320;
  const h = canvas.clientHeight || 140;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);

  let peak = 0;
  let points = 0;
  for (const s of series) {
    for (const [, v] of s.points) {
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      points++;
      peak = Math.max(peak, v);
    }
  }
  const first = series.length > 0 ? series[0].points : [];
  const last = first.length > 0 ? first[first.length - 1][1] : null;
  canvas.dataset.points = String(points);
  canvas.dataset.peak = String(peak);
  canvas.dataset.latest = last === null || last === undefined ? '' : String(last);
  canvas.setAttribute('aria-label', points === 0 ? empty
    : `latest ${label(last ?? 0)}${unit}, peak ${label(peak)}${unit}`);

  const box = { l: 46, r: 8, t: 8, b: 18 };
  const pw = w - box.l - box.r;
  const ph = h - box.t - box.b;
  const top = roundUp(peak);
  const x = (t) => box.l + (to > from ? ((t - from) / (to - from)) * pw : pw);
  const y = (v) => box.t + ph - (v / top) * ph;

  g.font = '11px system-ui, sans-serif';
  g.lineWidth = 1;
  g.textBaseline = 'middle';
  for (const v of [0, top / 2, top]) {
    g.strokeStyle = v === 0 ? '#9aa3ad' : '#e3e7eb';
    g.beginPath();
    g.moveTo(box.l, Math.round(y(v)) + 0.5);
    g.lineTo(w - box.r, Math.round(y(v)) + 0.5);
    g.stroke();
    g.fillStyle = '#5f6b76';
    g.textAlign = 'right';
    g.fillText(`${label(v)}${unit}`, box.l - 6, y(v));
  }
  g.textBaseline = 'alphabetic';
  g.textAlign = 'left';
  g.fillText(`-${Math.round((to - from) / 60) || 1} min`, box.l, h - 4);
  g.textAlign = 'right';
  g.fillText('now', w - box.r, h - 4);

  if (points === 0) {
    g.textAlign = 'center';
    g.fillText(empty, box.l + pw / 2, box.t + ph / 2);
    return;
  }
  g.lineWidth = 1.75;
  g.lineJoin = 'round';
  for (const s of series) {
    g.strokeStyle = s.color;
    g.fillStyle = s.color;
    for (const seg of segments(s.points, from)) {
      if (seg.length === 1) {
        // A lone value (the first rate, or one between gaps): a dot.
        g.beginPath();
        g.arc(x(seg[0][0]), y(seg[0][1]), 2.5, 0, 2 * Math.PI);
        g.fill();
        continue;
      }
      g.beginPath();
      g.moveTo(x(seg[0][0]), y(seg[0][1]));
      for (const [t, v] of seg.slice(1)) g.lineTo(x(t), y(v));
      g.stroke();
    }
  }
}

/** The runs of drawable points (finite values at or after `from`). */
function segments(points, from) {
  const out = [];
  let cur = [];
  for (const [t, v] of points) {
    if (v === null || v === undefined || !Number.isFinite(v) || t < from) {
      if (cur.length > 0) out.push(cur);
      cur = [];
      continue;
    }
    cur.push([t, v]);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
