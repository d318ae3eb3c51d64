'use strict';
// minilambda example function in Node.js (no dependencies).
//
// The function contract: the event (JSON) arrives on stdin, the result goes
// to stdout, logs go to stderr, exit 0 means success. This one answers
// {"message": "Processed: " + event.message (or "No message"),
//  "input_received": event}. serve() from minilambda-loop.js runs it once per
// process, or call after call when the function is registered with
// "reuse": "process".

const { serve } = require('./minilambda-loop');

function handle(event) {
  let message = 'No message';
  if (event !== null && typeof event === 'object' && !Array.isArray(event) && 'message' in event) {
    message = typeof event.message === 'string' ? event.message : JSON.stringify(event.message);
  }
  const env = process.env;
  process.stderr.write(`hello-node: ${env.MINILAMBDA_FUNCTION_NAME || 'hello-node'} invocation ` +
    `${env.MINILAMBDA_INVOCATION_ID || '-'} attempt ${env.MINILAMBDA_ATTEMPT || '-'}\n`);
  return { message: 'Processed: ' + message, input_received: event };
}

if (require.main === module) {
  serve(handle);
}

module.exports = { handle };
