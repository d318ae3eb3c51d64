// The Lambda API with the real AWS SDK for JavaScript (v3), as an
// application would use it: a custom endpoint, the credentials in
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (a key's, or dummy ones on an
// instance with keys optional). Prints "PASS<TAB>what" or
// "FAIL<TAB>what<TAB>why" per check; tests/integration/lambda_api.sh turns
// them into TAP.
//
//   node sdk.mjs ENDPOINT FUNCTION FAILING_FUNCTION
import {
  LambdaClient,
  InvokeCommand,
  GetFunctionCommand,
  paginateListFunctions,
  ListFunctionsCommand,
} from "@aws-sdk/client-lambda";

const [endpoint, fn, failing] = process.argv.slice(2);
const client = new LambdaClient({
  endpoint,
  region: "us-east-1",
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
  },
  maxAttempts: 1,
});
const label = process.env.SDK_LABEL ?? "sdk";
let failures = 0;
function check(what, ok, why) {
  if (ok) console.log(`PASS\t${label}: ${what}`);
  else {
    failures++;
    console.log(`FAIL\t${label}: ${what}\t${String(why).replace(/\s+/g, " ").slice(0, 400)}`);
  }
}
const text = (u8) => new TextDecoder().decode(u8 ?? new Uint8Array());

async function step(what, fnc) {
  try {
    await fnc();
  } catch (e) {
    check(what, false, `${e.name}: ${e.message}`);
  }
}

await step("InvokeCommand RequestResponse", async () => {
  const out = await client.send(new InvokeCommand({
    FunctionName: fn, Payload: new TextEncoder().encode('{"sdk":1}'),
  }));
  check("InvokeCommand RequestResponse", out.StatusCode === 200 && text(out.Payload) === '{"sdk":1}',
    JSON.stringify({ status: out.StatusCode, payload: text(out.Payload) }));
  check("ExecutedVersion is $LATEST", out.ExecutedVersion === "$LATEST", out.ExecutedVersion);
  check("the request id is the invocation id", /^[0-9a-f-]{36}$/.test(out.$metadata.requestId ?? ""),
    out.$metadata.requestId);
});
await step("InvokeCommand Event", async () => {
  const out = await client.send(new InvokeCommand({
    FunctionName: fn, InvocationType: "Event", Payload: new TextEncoder().encode("{}"),
  }));
  check("InvokeCommand Event", out.StatusCode === 202, out.StatusCode);
});
await step("InvokeCommand Tail", async () => {
  const out = await client.send(new InvokeCommand({
    FunctionName: failing, LogType: "Tail", Payload: new TextEncoder().encode("{}"),
  }));
  const tail = Buffer.from(out.LogResult ?? "", "base64").toString();
  check("InvokeCommand Tail: FunctionError and the tail", out.FunctionError === "Unhandled" &&
    tail.includes("oops") && JSON.parse(text(out.Payload)).errorType === "Runtime.ExitError",
    JSON.stringify({ fe: out.FunctionError, tail, payload: text(out.Payload) }));
});
await step("an unknown function", async () => {
  try {
    await client.send(new InvokeCommand({ FunctionName: "no-such-function" }));
    check("an unknown function", false, "it succeeded");
  } catch (e) {
    check("an unknown function: ResourceNotFoundException", e.name === "ResourceNotFoundException" &&
      e.$metadata?.httpStatusCode === 404, `${e.name} ${e.$metadata?.httpStatusCode}`);
  }
});
await step("ListFunctionsCommand paging", async () => {
  const names = [];
  for await (const page of paginateListFunctions({ client, pageSize: 1 }, {}))
    for (const f of page.Functions ?? []) names.push(f.FunctionName);
  const first = await client.send(new ListFunctionsCommand({ MaxItems: 1 }));
  check("ListFunctionsCommand pages one at a time to the end",
    names.length >= 2 && names.includes(fn) && names.join() === [...names].sort().join() &&
      first.Functions.length === 1 && typeof first.NextMarker === "string",
    JSON.stringify({ names, first }));
});
await step("GetFunctionCommand", async () => {
  const out = await client.send(new GetFunctionCommand({ FunctionName: fn }));
  check("GetFunctionCommand", out.Configuration?.FunctionName === fn &&
    out.Configuration?.PackageType === "Image" && typeof out.Code?.ImageUri === "string",
    JSON.stringify(out.Configuration));
});
process.exit(failures > 0 ? 1 : 0);
