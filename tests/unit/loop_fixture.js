'use strict';
// A handler for tests/unit/loop_helpers.py, served by
// function/node/minilambda-loop.js (found through ML_FUNCTION_DIR): what it
// does is chosen by the event's "op".
const path = require('path');
const { serve } = require(path.join(process.env.ML_FUNCTION_DIR, 'node', 'minilambda-loop.js'));

const CALL_VARS = ['MINILAMBDA_INVOCATION_ID', 'MINILAMBDA_FUNCTION_NAME',
  'MINILAMBDA_ATTEMPT', 'MINILAMBDA_DEADLINE_MS'];

async function handle(event) {
  const op = event !== null && typeof event === 'object' ? event.op : undefined;
  switch (op) {
    case 'env': {
      const out = {};
      for (const k of CALL_VARS) out[k] = process.env[k] === undefined ? null : process.env[k];
      return out;
    }
    case 'print':
      console.log('stray');
      process.stdout.write('more ');
      return { ok: 1 };
    case 'raise':
      throw new Error('boom');
    case 'exit':
      process.exitCode = event.code;
      return undefined;
    case 'big':
      return 'x'.repeat(event.n);
    case 'log':
      process.stderr.write('to-log\n');
      return undefined;
    case 'bytes':
      return Buffer.from([0, 1, 0x72, 0x61, 0x77]);
    case 'async':
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { waited: true };
    default:
      return event;
  }
}

serve(handle);
