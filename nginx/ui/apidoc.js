// The API reference at /ui/api.html: the OpenAPI document this platform
// serves at /openapi.json, rendered for people. Static, no build step,
// nothing fetched from elsewhere. The document is data like any answer:
// every string of it (summaries, descriptions, names, examples) reaches the
// page as text through dom.js, and the `code` spans of its descriptions
// become <code> elements made here, so no part of it is parsed as HTML.
// A $ref becomes a link to the component's section on this page.
//
// The sections carry data-* attributes (method, path, status, param,
// schema, scheme) so tests/integration/ui.mjs can compare what is shown
// with the document it fetches itself.

import { el, clear, setText, show } from './dom.js';
import * as api from './api.js';

const $ = (id) => document.getElementById(id);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
// How deep nested schemas are drawn before "…" (a document may nest without end).
const MAX_DEPTH = 8;
// Component kinds with a section of their own, and the prefix of its anchor.
const KINDS = { schemas: 'schema', securitySchemes: 'security', parameters: 'parameter',
  responses: 'response', requestBodies: 'body', headers: 'header', examples: 'example' };

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v) => (typeof v === 'string' ? v : '');

// --- anchors ----------------------------------------------------------------

// Anchor ids are made from the document's names but hold only [A-Za-z0-9_.-],
// so an id is never surprising and a link is always a plain fragment.
const ids = new Map(); // "kind\0name" -> id
const taken = new Set();

function anchorFor(prefix, name) {
  const k = `${prefix}\0${name}`;
  if (ids.has(k)) return ids.get(k);
  const base = `${prefix}-${String(name).replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  let id = base;
  for (let i = 2; taken.has(id); i++) id = `${base}-${i}`;
  taken.add(id);
  ids.set(k, id);
  return id;
}

/** A link to the element with id `id` on this page (ids from anchorFor). */
function jump(id, ...children) {
  const a = el('a', {}, ...children);
  a.href = `#${id}`; // a fragment of anchorFor's alphabet: never another URL
  return a;
}

let doc = {};

// The section a "$ref" names, or null when it names nothing this page shows.
function refTarget(ref) {
  const m = /^#\/components\/([^/]+)\/([^/]+)$/.exec(str(ref));
  if (!m) return null;
  const unescape = (s) => s.replace(/~1/g, '/').replace(/~0/g, '~');
  const kind = unescape(m[1]);
  const name = unescape(m[2]);
  const comps = isObj(doc.components) ? doc.components : {};
  if (!Object.hasOwn(KINDS, kind) || !isObj(comps[kind]) || !Object.hasOwn(comps[kind], name)) return null;
  return { kind, name, id: anchorFor(KINDS[kind], name) };
}

function refLink(ref) {
  const t = refTarget(ref);
  if (t === null) return el('code', { class: 'unresolved', title: 'this $ref names nothing in the document' }, str(ref) || '$ref');
  return jump(t.id, el('code', { data: { ref: t.name } }, t.name));
}

// --- text -------------------------------------------------------------------

// A description's line: text, with `...` spans as <code>.
function inline(s) {
  const parts = String(s).split('`');
  // An odd number of backticks: the last one opens nothing and stays text.
  if (parts.length % 2 === 0) {
    const last = parts.pop();
    parts[parts.length - 1] += `\`${last}`;
  }
  return parts.map((p, i) => (i % 2 === 1 ? el('code', {}, p) : p));
}

// A description: one <p> a paragraph (blank lines apart); line breaks kept.
function prose(s, cls = 'prose') {
  if (typeof s !== 'string' || s.trim() === '') return [];
  return s.split(/\n\s*\n/).filter((p) => p.trim() !== '').map((p) => el('p', { class: cls }, ...inline(p)));
}

// Values as <code> elements, `sep` between them.
function codeList(values, sep = ' ') {
  const out = [];
  values.forEach((v, i) => {
    if (i > 0) out.push(sep);
    out.push(el('code', {}, typeof v === 'string' ? v : JSON.stringify(v)));
  });
  return out;
}

function exampleText(v) {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

// Examples of a media type, parameter or schema, each folded.
function examples(o) {
  const out = [];
  if (!isObj(o)) return out;
  if (isObj(o.examples)) {
    for (const [name, ex] of Object.entries(o.examples)) {
      if (!isObj(ex)) continue;
      const label = [`Example ${name}`, str(ex.summary)].filter((x) => x !== '').join(': ');
      if (str(ex.$ref) !== '') {
        out.push(el('p', { class: 'example' }, `${label}: `, refLink(ex.$ref)));
        continue;
      }
      out.push(el('details', { class: 'example' }, el('summary', {}, label),
        ...prose(ex.description), 'value' in ex ? el('pre', {}, exampleText(ex.value)) : null));
    }
  } else if (Array.isArray(o.examples)) {
    o.examples.forEach((v, i) => out.push(el('details', { class: 'example' },
      el('summary', {}, `Example ${i + 1}`), el('pre', {}, exampleText(v)))));
  }
  if ('example' in o) {
    out.push(el('details', { class: 'example' }, el('summary', {}, 'Example'), el('pre', {}, exampleText(o.example))));
  }
  return out;
}

// --- schemas ----------------------------------------------------------------

// The type of `s` on one line: a link for a $ref, "array of …", the types.
function typeOf(s, depth = 0) {
  if (s === true) return ['any'];
  if (s === false) return ['nothing'];
  if (!isObj(s)) return ['?'];
  if (typeof s.$ref === 'string') return [refLink(s.$ref)];
  if (depth > MAX_DEPTH) return ['…'];
  let types = Array.isArray(s.type) ? s.type.map(String) : typeof s.type === 'string' ? [s.type] : [];
  const out = [];
  if (types.includes('array') || (types.length === 0 && 'items' in s)) {
    out.push('array of ', ...(s.items !== undefined ? typeOf(s.items, depth + 1) : ['any']));
    types = types.filter((t) => t !== 'array');
    if (types.length > 0) out.push(` or ${types.join(' or ')}`);
  } else if (types.length > 0) {
    out.push(types.join(' or '));
  } else if (isObj(s.properties) || 'additionalProperties' in s) {
    out.push('object');
  } else {
    for (const k of ['allOf', 'oneOf', 'anyOf']) {
      if (!Array.isArray(s[k])) continue;
      const sep = k === 'allOf' ? ' and ' : ' or ';
      s[k].forEach((sub, i) => out.push(...(i > 0 ? [sep] : []), ...typeOf(sub, depth + 1)));
      return out;
    }
    out.push(Object.hasOwn(s, 'enum') || Object.hasOwn(s, 'const') ? 'value' : 'any');
  }
  if (typeof s.format === 'string') out.push(` (${s.format})`);
  return out;
}

// The constraints of `s`, one short item each.
function facts(s) {
  if (!isObj(s)) return [];
  const f = [];
  const add = (label, ...nodes) => f.push(el('span', { class: 'fact' }, label, ...nodes));
  if (Array.isArray(s.enum)) add('one of: ', ...codeList(s.enum));
  if ('const' in s) add('exactly ', ...codeList([s.const]));
  // Bounds: 3.1's exclusiveMinimum/Maximum are numbers, 3.0's flags on minimum/maximum.
  const bound = (incl, excl, strict, loose) => {
    if (typeof s[excl] === 'number') return [`${strict} ${s[excl]}`, false];
    if (typeof s[incl] === 'number') return s[excl] === true ? [`${strict} ${s[incl]}`, false] : [`${loose} ${s[incl]}`, true];
    return ['', false];
  };
  const [lo, loIncl] = bound('minimum', 'exclusiveMinimum', '>', '≥');
  const [hi, hiIncl] = bound('maximum', 'exclusiveMaximum', '<', '≤');
  if (loIncl && hiIncl) add(`${s.minimum}..${s.maximum}`);
  else if (lo !== '' || hi !== '') add([lo, hi].filter((x) => x !== '').join(', '));
  const range = (what, a, b) => {
    if (a === undefined && b === undefined) return;
    add(`${what} ${a ?? 0}..${b ?? '∞'}`);
  };
  range('length', s.minLength, s.maxLength);
  range('items', s.minItems, s.maxItems);
  range('keys', s.minProperties, s.maxProperties);
  if (s.uniqueItems === true) add('unique items');
  if (typeof s.pattern === 'string') add('pattern ', el('code', {}, s.pattern));
  if ('default' in s) add('default ', ...codeList([s.default]));
  if (s.readOnly === true) add('read-only');
  if (s.writeOnly === true) add('write-only');
  if (s.nullable === true) add('or null');
  if (s.deprecated === true) add('deprecated');
  if (typeof s['x-error-code'] === 'string') add('refused with ', el('code', {}, s['x-error-code']));
  return f;
}

// Whether `s` needs a block of its own (properties, alternatives, ...).
function hasBody(s) {
  if (!isObj(s) || typeof s.$ref === 'string') return false;
  return isObj(s.properties) || ['allOf', 'oneOf', 'anyOf'].some((k) => Array.isArray(s[k])) ||
    isObj(s.additionalProperties) || s.additionalProperties === false ||
    (isObj(s.items) && hasBody(s.items));
}

// A schema drawn in full: type, constraints, description, properties,
// alternatives, what other keys may hold.
// A property's cell has its type and description already: `inner` leaves
// them out.
function schemaBlock(s, depth = 0, { inner = false } = {}) {
  const box = el('div', { class: 'schema' });
  if (!isObj(s)) {
    box.append(el('p', { class: 'type' }, ...typeOf(s)));
    return box;
  }
  if (!inner) box.append(el('p', { class: 'type' }, el('span', { class: 'muted' }, 'type '), ...typeOf(s, depth), ...facts(s)));
  if (typeof s.$ref === 'string') return box;
  if (!inner) box.append(...prose(s.description));
  if (depth >= MAX_DEPTH) {
    if (hasBody(s)) box.append(el('p', { class: 'muted' }, '… (nested deeper than this page draws)'));
    return box;
  }
  if (isObj(s.properties)) {
    const req = new Set(Array.isArray(s.required) ? s.required.map(String) : []);
    const rows = Object.entries(s.properties).map(([name, p]) => el('tr', { data: { prop: name } },
      el('td', {}, el('code', {}, name), req.has(name) ? el('span', { class: 'req' }, ' required') : null),
      el('td', {}, ...typeOf(p, depth + 1), ...facts(p)),
      el('td', {}, ...prose(isObj(p) ? p.description : undefined),
        hasBody(p) ? schemaBlock(p, depth + 1, { inner: true }) : null)));
    box.append(el('table', { class: 'props' },
      el('thead', {}, el('tr', {}, el('th', {}, 'field'), el('th', {}, 'type'), el('th', {}, 'description'))),
      el('tbody', {}, ...rows)));
    for (const name of req) {
      if (!Object.hasOwn(s.properties, name)) box.append(el('p', {}, 'required: ', el('code', {}, name)));
    }
  } else if (Array.isArray(s.required) && s.required.length > 0) {
    box.append(el('p', {}, 'required: ', ...codeList(s.required)));
  }
  if (isObj(s.items) && hasBody(s.items)) {
    box.append(el('p', { class: 'muted' }, 'each item:'), schemaBlock(s.items, depth + 1));
  }
  for (const [k, label] of [['allOf', 'all of'], ['oneOf', 'exactly one of'], ['anyOf', 'any of']]) {
    if (!Array.isArray(s[k])) continue;
    box.append(el('p', { class: 'muted' }, `${label}:`),
      el('ul', { class: 'alts' }, ...s[k].map((sub) => el('li', {}, schemaBlock(sub, depth + 1)))));
  }
  if (s.additionalProperties === false) {
    box.append(el('p', { class: 'muted' }, 'no other fields'));
  } else if (isObj(s.additionalProperties)) {
    box.append(el('p', {}, el('span', { class: 'muted' }, 'every other key: '),
      ...typeOf(s.additionalProperties, depth + 1), ...facts(s.additionalProperties)));
    if (hasBody(s.additionalProperties)) box.append(schemaBlock(s.additionalProperties, depth + 1));
  }
  box.append(...examples(s));
  return box;
}

// The error codes a response's schema lists: `code`'s enum, in the schema
// itself or in one of its allOf/oneOf/anyOf parts.
function errorCodes(s, depth = 0) {
  if (!isObj(s) || depth > MAX_DEPTH) return [];
  const out = [];
  const code = isObj(s.properties) ? s.properties.code : undefined;
  if (isObj(code) && Array.isArray(code.enum)) out.push(...code.enum.map(String));
  for (const k of ['allOf', 'oneOf', 'anyOf']) {
    if (Array.isArray(s[k])) for (const sub of s[k]) out.push(...errorCodes(sub, depth + 1));
  }
  return [...new Set(out)];
}

// --- operations -------------------------------------------------------------

function securityOf(op) {
  const req = Array.isArray(op.security) ? op.security : Array.isArray(doc.security) ? doc.security : null;
  if (req === null) return el('p', { class: 'security' }, el('span', { class: 'muted' }, 'Security: '), 'none declared');
  if (req.length === 0 || req.some((r) => isObj(r) && Object.keys(r).length === 0)) {
    return el('p', { class: 'security', data: { open: '1' } }, el('span', { class: 'muted' }, 'Security: '), 'no key needed');
  }
  const alts = [];
  req.forEach((r, i) => {
    if (!isObj(r)) return;
    if (i > 0) alts.push(' or ');
    Object.entries(r).forEach(([name, scopes], j) => {
      if (j > 0) alts.push(' and ');
      const t = refTarget(`#/components/securitySchemes/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`);
      alts.push(t ? jump(t.id, el('code', {}, name)) : el('code', { class: 'unresolved' }, name));
      if (Array.isArray(scopes) && scopes.length > 0) alts.push(' with scope ', ...codeList(scopes, ' or '));
    });
  });
  return el('p', { class: 'security' }, el('span', { class: 'muted' }, 'Security: '), ...alts);
}

// Path-level parameters, then the operation's (which override by name and place).
function paramsOf(pathItem, op) {
  const all = new Map();
  for (const list of [pathItem.parameters, op.parameters]) {
    if (!Array.isArray(list)) continue;
    for (const p of list) {
      if (!isObj(p)) continue;
      const key = typeof p.$ref === 'string' ? `ref:${p.$ref}` : `${str(p.in)}:${str(p.name)}`;
      all.set(key, p);
    }
  }
  return [...all.values()];
}

function paramTable(params) {
  const rows = params.map((p) => {
    if (typeof p.$ref === 'string') {
      return el('tr', { data: { param: `ref:${p.$ref}` } }, el('td', { colSpan: 4 }, refLink(p.$ref)));
    }
    const schema = isObj(p.schema) ? p.schema : isObj(p.content) ? Object.values(p.content)[0]?.schema : undefined;
    return el('tr', { data: { param: `${str(p.in)}:${str(p.name)}` } },
      el('td', {}, el('code', {}, str(p.name)), p.required === true ? el('span', { class: 'req' }, ' required') : null,
        p.deprecated === true ? el('span', { class: 'fact' }, 'deprecated') : null),
      el('td', {}, str(p.in)),
      el('td', {}, ...typeOf(schema), ...facts(schema)),
      el('td', {}, ...prose(p.description), ...examples(p)));
  });
  return el('table', { class: 'params' },
    el('thead', {}, el('tr', {}, el('th', {}, 'name'), el('th', {}, 'in'), el('th', {}, 'type'), el('th', {}, 'description'))),
    el('tbody', {}, ...rows));
}

// The error shape the document gives each error response: all of a $ref
// and an object that only narrows `code` to an enum. The codes are listed
// above it, so it is drawn as its $ref alone.
function errorShape(s) {
  if (!isObj(s) || !Array.isArray(s.allOf) || Object.keys(s).some((k) => k !== 'allOf')) return null;
  const refs = s.allOf.filter((p) => isObj(p) && typeof p.$ref === 'string');
  const rest = s.allOf.filter((p) => !refs.includes(p));
  const narrows = (p) => isObj(p) && isObj(p.properties) && Object.keys(p.properties).join() === 'code' &&
    Object.keys(p).every((k) => k === 'properties' || k === 'type') && isObj(p.properties.code) &&
    Object.keys(p.properties.code).join() === 'enum';
  return refs.length === 1 && rest.length === 1 && narrows(rest[0]) ? refs[0].$ref : null;
}

function contentBlock(content) {
  const out = [];
  if (!isObj(content)) return out;
  for (const [type, media] of Object.entries(content)) {
    const schema = isObj(media) ? media.schema : undefined;
    const ref = errorShape(schema);
    out.push(el('div', { class: 'media', data: { media: type } },
      el('p', {}, el('span', { class: 'muted' }, 'as '), el('code', {}, type)),
      ref !== null
        ? el('div', { class: 'schema' }, el('p', { class: 'type' }, el('span', { class: 'muted' }, 'type '),
          refLink(ref), el('span', { class: 'muted' }, ' with one of the codes above')))
        : schema !== undefined ? schemaBlock(schema, 1) : null,
      ...examples(media)));
  }
  return out;
}

function headersBlock(headers) {
  if (!isObj(headers)) return null;
  const rows = Object.entries(headers).map(([name, h]) => el('tr', { data: { header: name } },
    el('td', {}, el('code', {}, name)),
    el('td', {}, ...(isObj(h) && typeof h.$ref === 'string' ? [refLink(h.$ref)] : typeOf(isObj(h) ? h.schema : undefined))),
    el('td', {}, ...prose(isObj(h) ? h.description : undefined))));
  return el('table', { class: 'params' },
    el('thead', {}, el('tr', {}, el('th', {}, 'header'), el('th', {}, 'type'), el('th', {}, 'description'))),
    el('tbody', {}, ...rows));
}

function responseBlock(status, r) {
  const box = el('div', { class: 'response', data: { status } });
  const head = el('h4', {}, el('span', { class: `status-code c${status[0]}` }, status));
  box.append(head);
  if (!isObj(r)) return box;
  if (typeof r.$ref === 'string') {
    head.append(' ', refLink(r.$ref));
    return box;
  }
  box.append(...prose(r.description));
  const codes = [];
  if (isObj(r.content)) {
    for (const m of Object.values(r.content)) if (isObj(m)) codes.push(...errorCodes(m.schema));
  }
  if (codes.length > 0) {
    const uniq = [...new Set(codes)];
    box.append(el('p', { class: 'codes', data: { codes: uniq.join(' ') } },
      el('span', { class: 'muted' }, uniq.length === 1 ? 'error code: ' : 'error codes: '), ...codeList(uniq, ', ')));
  }
  const h = headersBlock(r.headers);
  if (h) box.append(el('p', { class: 'muted' }, 'headers:'), h);
  box.append(...contentBlock(r.content));
  if (isObj(r['x-examples'])) {
    const names = Object.entries(r['x-examples']).map(([n, ex]) => [n, isObj(ex) ? str(ex.summary) : '']);
    box.append(el('p', { class: 'muted' }, 'examples: ',
      ...names.flatMap(([n, s], i) => [i > 0 ? '; ' : '', el('code', {}, n), s !== '' ? ` (${s})` : ''])));
  }
  return box;
}

function operationSection(path, method, op, pathItem) {
  const id = anchorFor('op', `${method} ${path}`);
  const sec = el('section', { id, class: 'panel op', data: { method, path } });
  sec.append(el('h3', {}, el('span', { class: `method m-${method}` }, method.toUpperCase()), ' ',
    el('code', { class: 'path' }, path), op.deprecated === true ? el('span', { class: 'fact' }, 'deprecated') : null));
  if (typeof op.summary === 'string') sec.append(el('p', { class: 'summary' }, ...inline(op.summary)));
  sec.append(...prose(op.description));
  const meta = [];
  if (typeof op.operationId === 'string') meta.push('operationId ', el('code', {}, op.operationId));
  if (Array.isArray(op.tags) && op.tags.length > 0) meta.push(meta.length ? ' · tags ' : 'tags ', ...codeList(op.tags));
  if (meta.length > 0) sec.append(el('p', { class: 'muted' }, ...meta));
  sec.append(securityOf(op));

  const params = paramsOf(pathItem, op);
  if (params.length > 0) sec.append(el('h4', {}, 'Parameters'), paramTable(params));

  const body = op.requestBody;
  if (isObj(body)) {
    const b = el('div', { class: 'body' });
    sec.append(el('h4', {}, 'Request body'), b);
    if (typeof body.$ref === 'string') b.append(el('p', {}, refLink(body.$ref)));
    else {
      b.append(el('p', { class: 'muted' }, body.required === true ? 'required' : 'optional'),
        ...prose(body.description), ...contentBlock(body.content));
    }
  }

  if (isObj(op.responses)) {
    sec.append(el('h4', {}, 'Responses'));
    for (const [status, r] of Object.entries(op.responses)) sec.append(responseBlock(status, r));
  }
  return sec;
}

// --- components -------------------------------------------------------------

function schemeSection(name, s) {
  const sec = el('section', { id: anchorFor('security', name), class: 'panel component', data: { scheme: name } });
  sec.append(el('h3', {}, el('code', {}, name)));
  if (!isObj(s)) return sec;
  const facts2 = [];
  for (const k of ['type', 'scheme', 'bearerFormat', 'in', 'name', 'openIdConnectUrl']) {
    if (typeof s[k] === 'string') facts2.push(el('dt', {}, k), el('dd', {}, el('code', {}, s[k])));
  }
  if (facts2.length > 0) sec.append(el('dl', { class: 'config' }, ...facts2));
  sec.append(...prose(s.description));
  if (isObj(s.flows)) sec.append(el('pre', {}, exampleText(s.flows)));
  return sec;
}

function componentSection(kind, name, c) {
  const prefix = KINDS[kind];
  const sec = el('section', { id: anchorFor(prefix, name), class: 'panel component', data: { [prefix]: name } });
  sec.append(el('h3', {}, el('code', {}, name)));
  if (kind === 'schemas') sec.append(schemaBlock(c));
  else if (kind === 'responses') sec.append(responseBlock('response', c));
  else if (kind === 'parameters' && isObj(c)) sec.append(paramTable([c]));
  else sec.append(...prose(isObj(c) ? c.description : undefined), el('pre', {}, exampleText(c)));
  return sec;
}

// --- the page ---------------------------------------------------------------

function tocList(items) {
  return el('ul', {}, ...items.map(([id, ...label]) => el('li', {}, jump(id, ...label))));
}

function render(d) {
  doc = d;
  const info = isObj(d.info) ? d.info : {};
  const content = $('content');
  const toc = $('toc');
  clear(content);
  clear(toc);

  // Anchors first, so that a $ref drawn early finds a section drawn later.
  const comps = isObj(d.components) ? d.components : {};
  for (const kind of Object.keys(KINDS)) {
    if (isObj(comps[kind])) for (const name of Object.keys(comps[kind])) anchorFor(KINDS[kind], name);
  }

  const title = str(info.title) || 'API';
  document.title = `${title} API reference`;
  const head = el('section', { id: 'info', class: 'panel' },
    el('h2', { id: 'doc-title' }, title, ' ',
      el('span', { class: 'muted', id: 'doc-version' }, `version ${typeof info.version === 'string' ? info.version : '?'}`),
      el('span', { class: 'muted' }, `OpenAPI ${str(d.openapi) || str(d.swagger) || '?'}`)),
    ...prose(info.description));
  if (Array.isArray(d.servers) && d.servers.length > 0) {
    head.append(el('p', { class: 'muted' }, 'servers: ', ...codeList(d.servers.map((s) => (isObj(s) ? str(s.url) : '')))));
  }
  content.append(head);

  const ops = [];
  const paths = isObj(d.paths) ? d.paths : {};
  const opsBox = el('div', { id: 'operations' });
  content.append(el('h2', { class: 'part' }, 'Operations'), opsBox);
  for (const [path, item] of Object.entries(paths)) {
    if (!isObj(item)) continue;
    for (const method of METHODS) {
      if (!isObj(item[method])) continue;
      const sec = operationSection(path, method, item[method], item);
      opsBox.append(sec);
      ops.push([sec.id, el('span', { class: `method m-${method}` }, method.toUpperCase()), ' ', path]);
    }
  }
  if (ops.length === 0) opsBox.append(el('p', { class: 'muted' }, 'The document lists no operations.'));

  const tocParts = [el('h2', {}, 'Contents'), el('h3', {}, jump('info', 'Overview')),
    el('h3', {}, 'Operations'), tocList(ops)];

  const schemes = isObj(comps.securitySchemes) ? Object.entries(comps.securitySchemes) : [];
  if (schemes.length > 0) {
    const box = el('div', { id: 'security' });
    content.append(el('h2', { class: 'part' }, 'Security schemes'), box);
    for (const [name, s] of schemes) box.append(schemeSection(name, s));
    tocParts.push(el('h3', {}, 'Security schemes'), tocList(schemes.map(([n]) => [anchorFor('security', n), n])));
  }
  for (const [kind, label] of [['schemas', 'Schemas'], ['parameters', 'Parameters'], ['responses', 'Responses'],
    ['requestBodies', 'Request bodies'], ['headers', 'Headers'], ['examples', 'Examples']]) {
    if (!isObj(comps[kind])) continue;
    const entries = Object.entries(comps[kind]);
    if (entries.length === 0) continue;
    const box = el('div', { id: `components-${kind}` });
    content.append(el('h2', { class: 'part' }, label), box);
    for (const [name, c] of entries) box.append(componentSection(kind, name, c));
    tocParts.push(el('h3', {}, label), tocList(entries.map(([n]) => [anchorFor(KINDS[kind], n), n])));
  }
  toc.append(...tocParts);
}

async function load() {
  const main = $('doc');
  let r;
  try {
    r = await api.request('GET', '/openapi.json', { open: true });
  } catch (err) {
    r = { status: 0, ok: false, json: null, text: String(err) };
  }
  if (!r.ok || !isObj(r.json) || !isObj(r.json.paths)) {
    const why = r.ok ? 'it is not an OpenAPI document (no "paths" object)' : api.errorText(r);
    setText($('notice'), `Could not show /openapi.json: ${why}`);
    show($('notice'), true);
    clear($('toc'));
    $('toc').append(el('h2', {}, 'Contents'), el('p', { class: 'muted' }, 'Nothing to show.'));
    main.dataset.state = 'error';
    return;
  }
  render(r.json);
  main.dataset.state = 'rendered';
  // A link from elsewhere named a section before it existed: follow it
  // again now, so the browser scrolls there and :target marks it (the
  // fragment is dropped first, as following the same one is no move).
  const want = window.location.hash.slice(1);
  if (/^[A-Za-z0-9_.-]+$/.test(want) && document.getElementById(want) !== null) {
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
    window.location.replace(`#${want}`);
  }
}

load().catch((err) => {
  setText($('notice'), `The page failed: ${err && err.message ? err.message : err}`);
  show($('notice'), true);
  $('doc').dataset.state = 'error';
});
