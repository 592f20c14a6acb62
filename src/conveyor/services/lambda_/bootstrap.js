// The child side of a Node.js execution environment: load the handler once, then serve invocations.
//
// The same protocol as bootstrap.py: frames are a 4-byte big-endian length plus JSON; stdin carries
// invocations and fd 3 carries results (the launcher points fd 1 at the log, so console output, child
// processes and stray writes all land in the function's log and never in the protocol). Error payloads
// use the Node.js runtime's shape ({errorType, errorMessage, trace}).
'use strict';

const fs = require('fs');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const TAIL = 4096;
const PROTOCOL_FD = 3;
let captured = [];
let capturedSize = 0;
let currentRequest = null;

function logWrite(text) {
  const data = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(2, data, off);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
    }
  }
  captured.push(text);
  capturedSize += text.length;
  if (capturedSize > 4 * TAIL) {
    const joined = captured.join('').slice(-TAIL);
    captured = [joined];
    capturedSize = joined.length;
  }
}

function take() {
  const text = captured.join('').slice(-TAIL);
  captured = [];
  capturedSize = 0;
  return text;
}

// console.* lines look like the managed runtime's: timestamp, request id, level, message.
for (const [name, level] of [['log', 'INFO'], ['info', 'INFO'], ['warn', 'WARN'], ['error', 'ERROR'],
  ['debug', 'DEBUG'], ['trace', 'TRACE']]) {
  console[name] = (...args) => {
    const rid = currentRequest || 'undefined';
    logWrite(`${new Date().toISOString()}\t${rid}\t${level}\t${util.format(...args)}\n`);
  };
}
process.stdout.write = (chunk) => { logWrite(String(chunk)); return true; };
process.stderr.write = (chunk) => { logWrite(String(chunk)); return true; };

function writeFrame(doc) {
  const body = Buffer.from(JSON.stringify(doc), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  const data = Buffer.concat([head, body]);
  let off = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(PROTOCOL_FD, data, off);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
    }
  }
}

// Peak resident memory of this process image (VmHWM starts afresh at exec; resourceUsage().maxRSS
// keeps the high-water mark of the server process this one was spawned from).
function peakRssMb() {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Math.floor(Number(m[1]) / 1024) : 0;
  } catch (err) {
    return 0;
  }
}

function errorDoc(err, type) {
  if (err instanceof Error) {
    return { errorType: type || err.name || 'Error', errorMessage: err.message,
      trace: String(err.stack || '').split('\n') };
  }
  return { errorType: type || 'string', errorMessage: String(err), trace: [] };
}

async function loadHandler(spec) {
  const dot = spec.lastIndexOf('.');
  if (dot <= 0 || dot === spec.length - 1) {
    return { error: { errorType: 'Runtime.MalformedHandlerName', errorMessage: `Bad handler ${spec}`, trace: [] } };
  }
  const modulePath = path.resolve(process.cwd(), spec.slice(0, dot));
  const name = spec.slice(dot + 1);
  let mod = null;
  try {
    const candidates = ['.js', '.mjs', '.cjs'].map((ext) => modulePath + ext);
    const file = candidates.find((f) => fs.existsSync(f));
    if (!file) {
      return { error: { errorType: 'Runtime.ImportModuleError',
        errorMessage: `Error: Cannot find module '${path.basename(modulePath)}'`, trace: [] } };
    }
    if (file.endsWith('.mjs')) {
      mod = await import(pathToFileURL(file).href);
    } else {
      try {
        mod = require(file);
      } catch (err) {
        if (err.code !== 'ERR_REQUIRE_ESM') throw err;
        mod = await import(pathToFileURL(file).href); // .js in a "type": "module" package
      }
    }
  } catch (err) {
    return { error: errorDoc(err, err instanceof SyntaxError ? 'Runtime.UserCodeSyntaxError' : 'Runtime.ImportModuleError') };
  }
  const handler = mod[name] !== undefined ? mod[name] : (mod.default || {})[name];
  if (typeof handler !== 'function') {
    return { error: { errorType: 'Runtime.HandlerNotFound',
      errorMessage: `${path.basename(modulePath)}.${name} is undefined or not exported`, trace: [] } };
  }
  return { handler };
}

function makeContext(frame) {
  const env = process.env;
  const deadline = Date.now() + (frame.remaining_ms || 3000);
  return {
    awsRequestId: frame.request_id,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME || '',
    functionVersion: frame.version || env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST',
    invokedFunctionArn: frame.arn || '',
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || '128',
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME || '',
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME || '',
    clientContext: frame.client_context ? JSON.parse(frame.client_context) : undefined,
    identity: undefined,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

// Callback-style handlers (three parameters) finish when they call back; others return a value or a promise.
function run(handler, event, context) {
  return new Promise((resolve, reject) => {
    const callback = (err, value) => (err ? reject(err) : resolve(value));
    try {
      const out = handler(event, context, callback);
      if (handler.length < 3 || (out && typeof out.then === 'function')) {
        Promise.resolve(out).then(resolve, reject);
      }
    } catch (err) {
      reject(err);
    }
  });
}

async function main() {
  const started = process.hrtime.bigint();
  const { handler, error: initError } = await loadHandler(process.env._HANDLER || '');
  const initMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (initError) {
    logWrite(`${initError.errorType}: ${initError.errorMessage}\n`);
  }
  writeFrame({ ready: true, init_ms: initMs });

  let cold = true;
  let pending = Buffer.alloc(0);
  const frames = [];
  let busy = false;

  async function serve() {
    if (busy) return;
    busy = true;
    while (frames.length) {
      const frame = frames.shift();
      const rid = frame.request_id;
      const version = frame.version || '$LATEST';
      take();
      logWrite(`START RequestId: ${rid} Version: ${version}\n`);
      currentRequest = rid;
      const t0 = process.hrtime.bigint();
      let doc;
      if (initError) {
        doc = { error: initError };
      } else {
        try {
          const event = frame.event ? JSON.parse(frame.event) : {};
          const result = await run(handler, event, makeContext(frame));
          const text = JSON.stringify(result);
          doc = { payload: text === undefined ? 'null' : text };
        } catch (err) {
          doc = { error: errorDoc(err) };
          logWrite(`${new Date().toISOString()}\t${rid}\tERROR\tInvoke Error \t${JSON.stringify(doc.error)}\n`);
        }
      }
      currentRequest = null;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const memory = Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || '128');
      const used = peakRssMb();
      let report = `REPORT RequestId: ${rid}\tDuration: ${ms.toFixed(2)} ms\tBilled Duration: ` +
        `${Math.max(1, Math.ceil(ms))} ms\tMemory Size: ${memory} MB\tMax Memory Used: ${used} MB`;
      if (cold) report += `\tInit Duration: ${initMs.toFixed(2)} ms`;
      if (used > memory) {
        // As in bootstrap.py: over its memory size, the invocation fails and the environment ends.
        doc = { error: { errorType: 'Runtime.OutOfMemory',
          errorMessage: `RequestId: ${rid} Error: Runtime exited with error: signal: killed` }, exit: true };
        report += '\tStatus: error\tError Type: Runtime.OutOfMemory';
      }
      logWrite(`END RequestId: ${rid}\n${report}\n`);
      doc.log = take();
      doc.duration_ms = ms;
      cold = false;
      writeFrame(doc);
      if (doc.exit) process.exit(0);
    }
    busy = false;
  }

  process.stdin.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readUInt32BE(0);
      if (pending.length < 4 + size) break;
      frames.push(JSON.parse(pending.subarray(4, 4 + size).toString('utf8')));
      pending = pending.subarray(4 + size);
    }
    serve();
  });
  process.stdin.on('end', () => process.exit(0));
}

main();
