// The OpenAPI checks of tests/integration/openapi.sh, in Node because the
// validators are npm packages (installed at test time next to a copy of
// this file, never committed). Prints one line per check:
// "PASS<TAB>what" or "FAIL<TAB>what<TAB>why"; the shell turns them into TAP.
//
//   node check.mjs validate DOC
//     DOC is a valid OpenAPI document (@seriousme/openapi-schema-validator),
//     its $refs resolve, and every example in it is valid by its schema.
//   node check.mjs examples DOC BASE_URL [KEY]
//     Run every documented example against the live API at BASE_URL: the
//     answer has the documented status, its schema accepts it, it has the
//     example's fields with their types, and an error has the example's
//     code. Creating requests (POST) go first, then reads and changes,
//     then deletions in reverse order, so each finds what it needs; ids
//     in examples are replaced by the live ones earlier answers gave.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [mode, docPath, base, key] = process.argv.slice(2);
const doc = JSON.parse(readFileSync(docPath, "utf8"));
let failures = 0;

function pass(what) {
  console.log(`PASS\t${what}`);
}

function fail(what, why) {
  failures++;
  console.log(`FAIL\t${what}\t${String(why).replace(/\s+/g, " ").slice(0, 600)}`);
}

function check(what, ok, why) {
  if (ok) pass(what);
  else fail(what, why);
}

// One Ajv holding the whole document, so that "#/components/..." refs
// resolve; a schema is compiled by its JSON pointer in the document.
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addFormat("binary", true);
ajv.addSchema(doc, "doc", undefined, false);
const pointer = (...parts) =>
  parts.map((p) => String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("/");
const validators = new Map();
function schemaAt(...parts) {
  const ref = `doc#/${pointer(...parts)}`;
  if (!validators.has(ref)) validators.set(ref, ajv.compile({ $ref: ref }));
  return validators.get(ref);
}

function operations() {
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) ops.push({ path, method, op });
  }
  return ops;
}

async function validate() {
  const v = new Validator();
  const res = await v.validate(doc);
  check("the document is valid OpenAPI " + doc.openapi, res.valid, JSON.stringify(res.errors));
  try {
    v.resolveRefs();
    pass("every $ref resolves");
  } catch (e) {
    fail("every $ref resolves", e.message);
  }
  for (const { path, method, op } of operations()) {
    const where = `${method.toUpperCase()} ${path}`;
    const statusOf = new Map(exampleNames(op).map((x) => [x.name, x.status]));
    for (const [type, m] of Object.entries(op.requestBody?.content ?? {})) {
      for (const [name, ex] of Object.entries(m.examples ?? {})) {
        // A body the API refuses with 400 is one the schema refuses too.
        const ok = schemaAt("paths", path, method, "requestBody", "content", type, "schema");
        const refused = statusOf.get(name) === "400";
        check(`${where} example ${name}: the request body's schema ` +
          (refused ? "refuses it too" : "accepts it"), ok(ex.value) !== refused,
          JSON.stringify(ok.errors));
      }
    }
    for (const [status, r] of Object.entries(op.responses)) {
      for (const [type, m] of Object.entries(r.content ?? {})) {
        for (const [name, ex] of Object.entries(m.examples ?? {})) {
          const ok = schemaAt("paths", path, method, "responses", status, "content", type, "schema");
          check(`${where} example ${name}: the ${status} answer's schema accepts it`, ok(ex.value),
            JSON.stringify(ok.errors));
        }
      }
    }
  }
}

// Example ids -> live ids, learnt from answers.
const ids = new Map();

function learn(example, live) {
  if (Array.isArray(example) && Array.isArray(live)) {
    example.forEach((x, i) => i < live.length && learn(x, live[i]));
  } else if (example && live && typeof example === "object" && typeof live === "object") {
    for (const [k, v] of Object.entries(example)) {
      if (/(^|_)id$/.test(k) && typeof v === "string" && typeof live[k] === "string" && !ids.has(v))
        ids.set(v, live[k]);
      else learn(v, live[k]);
    }
  }
}

const kind = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

// The fields of `example` that `live` lacks or has with another type
// (null stands for any type: a field may be null until it is known).
function shapeDiff(example, live, at = "") {
  const out = [];
  if (example === null || live === null) return out;
  if (kind(example) !== kind(live)) return [`${at || "body"}: ${kind(live)}, not ${kind(example)}`];
  if (Array.isArray(example)) {
    if (example.length > 0 && live.length > 0) out.push(...shapeDiff(example[0], live[0], `${at}[0]`));
  } else if (typeof example === "object") {
    for (const [k, v] of Object.entries(example)) {
      if (!(k in live)) out.push(`${at}.${k} missing`);
      else out.push(...shapeDiff(v, live[k], `${at}.${k}`));
    }
  }
  return out;
}

// The examples of `op`, by status: those with an answer body sit in its
// media; those without (204) are named by the response's "x-examples".
function exampleNames(op) {
  const names = [];
  for (const [status, r] of Object.entries(op.responses)) {
    for (const [type, m] of Object.entries(r.content ?? {}))
      for (const name of Object.keys(m.examples ?? {})) names.push({ name, status, type });
    for (const name of Object.keys(r["x-examples"] ?? {})) names.push({ name, status, type: null });
  }
  return names;
}

async function runExample(path, method, op, { name, status, type }) {
  const where = `${method.toUpperCase()} ${path} example ${name}`;
  const expected = type ? op.responses[status].content[type].examples[name].value : null;
  const headers = {};
  const query = new URLSearchParams();
  let url = path;
  for (const p of op.parameters ?? []) {
    const ex = p.examples?.[name];
    if (p.in === "path") {
      if (!ex) return fail(where, `no example value for path parameter ${p.name}`);
      const v = ids.get(ex.value) ?? ex.value;
      url = url.replace(`{${p.name}}`, encodeURIComponent(v));
    } else if (ex && p.in === "query") {
      query.set(p.name, String(ex.value));
    } else if (ex && p.in === "header") {
      headers[p.name] = String(ex.value);
    }
  }
  let body;
  const content = op.requestBody?.content ?? {};
  const json = content["application/json"]?.examples?.[name];
  if (json) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json.value);
  } else if (content["application/x-tar"]) {
    // An upload's request is `docker save` of the images its answer lists.
    headers["Content-Type"] = "application/x-tar";
    body = execFileSync("docker", ["save", ...expected.images], { maxBuffer: 1 << 30 });
  }
  if (key) headers.Authorization = `Bearer ${key}`;
  const qs = query.toString();
  let res, text;
  try {
    res = await fetch(`${base}${url}${qs ? "?" + qs : ""}`, {
      method: method.toUpperCase(),
      headers,
      body,
      signal: AbortSignal.timeout(120000),
    });
    text = await res.text();
  } catch (e) {
    return fail(where, `request failed: ${e.message}`);
  }
  if (res.status !== Number(status))
    return fail(where, `expected HTTP ${status}, got ${res.status}: ${text}`);
  const ctype = res.headers.get("content-type") ?? "";
  if (type === null) return check(where, text.length === 0, `a body: ${text}`);
  if (type !== "application/json") {
    return check(where, ctype.startsWith(type) && text.length > 0,
      `Content-Type ${ctype}, ${text.length} bytes`);
  }
  let live;
  try {
    live = JSON.parse(text);
  } catch (e) {
    return fail(where, `the answer is not JSON (${ctype}): ${text}`);
  }
  const ok = schemaAt("paths", path, method, "responses", status, "content", type, "schema");
  const problems = [];
  if (!ok(live)) problems.push("schema: " + JSON.stringify(ok.errors));
  problems.push(...shapeDiff(expected, live));
  if (expected && typeof expected === "object" && "code" in expected && live?.code !== expected.code)
    problems.push(`code ${live?.code}, not ${expected.code}`);
  learn(expected, live);
  check(where, problems.length === 0, problems.join("; ") + " -- answer: " + text);
}

async function examples() {
  const ops = operations();
  const order = [
    ...ops.filter((o) => o.method === "post"),
    ...ops.filter((o) => o.method === "get" || o.method === "patch"),
    ...ops.filter((o) => o.method === "delete").reverse(),
  ];
  for (const o of ops)
    check(`${o.method.toUpperCase()} ${o.path} has an example`, exampleNames(o.op).length > 0,
      "no response of it has an example");
  for (const { path, method, op } of order)
    for (const ex of exampleNames(op)) await runExample(path, method, op, ex);
}

if (mode === "validate") await validate();
else if (mode === "examples") await examples();
else {
  console.error("usage: check.mjs validate DOC | examples DOC BASE_URL [KEY]");
  process.exit(2);
}
process.exit(failures > 0 ? 1 : 0);
