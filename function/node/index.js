'use strict';
// minilambda example function in Node.js (no dependencies).
//
// The function contract: the event (JSON) arrives on stdin, the result goes
// to stdout, logs go to stderr, exit 0 means success. This one echoes the
// event back with a greeting built from it.

function handle(event) {
  let subject;
  if (event !== null && typeof event === 'object' && typeof event.name === 'string') {
    subject = event.name;
  } else {
    subject = JSON.stringify(event === undefined ? null : event);
  }
  return { message: 'Processed: ' + subject, input_received: event === undefined ? null : event };
}

function main() {
  const chunks = [];
  process.stdin.on('data', (c) => chunks.push(c));
  process.stdin.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    let event = null;
    try {
      if (raw.trim() !== '') event = JSON.parse(raw);
    } catch (e) {
      process.stderr.write(`hello-node: the event is not JSON: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    const name = process.env.MINILAMBDA_FUNCTION_NAME || 'hello-node';
    const invocation = process.env.MINILAMBDA_INVOCATION_ID || '-';
    process.stderr.write(`hello-node: ${name} invocation ${invocation} received ${Buffer.byteLength(raw)} bytes\n`);
    process.stdout.write(JSON.stringify(handle(event)) + '\n');
  });
}

if (require.main === module) {
  main();
}

module.exports = { handle };
