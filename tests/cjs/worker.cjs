// The CommonJS worker_threads worker of tests/cjs/main.cjs: require('gort/worker'),
// attach() to the runtime whose handle it was given, answer requests with the
// blocking forms until the requests channel is closed, then close replies and
// detach.
'use strict';
const { workerData } = require('node:worker_threads');
const { attach, WorkerRuntime } = require('gort/worker');

async function main() {
  const wr = await attach(workerData.rt);
  if (!(wr instanceof WorkerRuntime)) throw new Error('attach() did not give a WorkerRuntime of this copy');
  const requests = wr.open(workerData.requests);
  const replies = wr.open(workerData.replies);
  for (;;) {
    const { value, ok } = requests.recvSync();
    if (!ok) break;
    replies.sendSync({ i: value.i, squared: value.i * value.i, by: wr.constructor.name });
  }
  replies.close();
  wr.detach();
}

main().catch((err) => {
  // An uncaught error reaches the parent as the worker's 'error' event.
  setImmediate(() => { throw err; });
});
