// DOM helpers for the dashboard. Everything the platform returns (function
// names, outputs, logs, error messages) is untrusted, so nodes are built
// here and text goes in as text nodes: there is no way through this module
// to parse a string as HTML.

// Properties el() sets directly; anything else is refused, so a caller
// cannot reach innerHTML, outerHTML, srcdoc, href or an inline style by
// accident.
const SAFE_PROPS = new Set([
  'id', 'title', 'type', 'value', 'name', 'disabled', 'checked', 'hidden',
  'colSpan', 'tabIndex', 'htmlFor', 'selected', 'placeholder', 'rows',
]);

/**
 * el(tag, props, ...children): a new element. props: `class`, `text`
 * (textContent), `data` (dataset entries), `on<event>` handlers, `aria-*`
 * and `role` attributes, and the properties in SAFE_PROPS. Children are
 * nodes or strings (added as text); null and undefined are skipped.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = String(v);
    else if (k === 'data') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'role' || k.startsWith('aria-')) node.setAttribute(k, String(v));
    else if (SAFE_PROPS.has(k)) node[k] = v;
    else throw new Error(`el: property ${k} is not allowed`);
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** Remove every child of `node`. */
export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** Set `node`'s text (any value; null and undefined give ''). */
export function setText(node, v) {
  node.textContent = v === undefined || v === null ? '' : String(v);
}

/** Show or hide `node` (the `hidden` attribute; the CSS makes it win). */
export function show(node, visible) {
  node.hidden = !visible;
}

/**
 * fillSelect(select, values, anyLabel): replace the options with `values`
 * (strings), preceded by an empty-valued `anyLabel` option when given. The
 * current choice is kept when it is still offered.
 */
export function fillSelect(select, values, anyLabel) {
  const before = select.value;
  clear(select);
  if (anyLabel !== undefined) select.append(el('option', { value: '', text: anyLabel }));
  for (const v of values) select.append(el('option', { value: v, text: v }));
  if (before !== '' && values.includes(before)) select.value = before;
  else if (anyLabel === undefined && values.length > 0 && !values.includes(before)) select.value = values[0];
}

/** An RFC 3339 timestamp as "YYYY-MM-DD HH:MM:SS" in local time; '' for none. */
export function fmtTime(ts) {
  if (typeof ts !== 'string' || ts === '') return '';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A number for a table cell: up to `digits` decimals, '—' for none. */
export function fmtNum(v, digits = 2) {
  if (v === undefined || v === null || Number.isNaN(v)) return '—';
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(digits).replace(/\.?0+$/, '');
}
