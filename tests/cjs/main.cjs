// A CommonJS program of tests/cjs.test.mjs: it loads the package with
// require('gort'), through the package's own name (the repository's
// package.json is the package, and a file inside a package may require it by
// name through its "exports"). It starts a runtime, sends, receives and
// selects, shares channels with a CommonJS worker_threads worker that
// require('gort/worker') and attach(), closes the runtime and exits by itself.
'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const { Worker } = require('node:worker_threads');

// Which file the "require" condition named: the CommonJS copy. A Node that
// can require() ES modules (20.19+, 22.12+) would otherwise load the ES module
// copy and the program would pass without the CommonJS build.
assert.equal(path.basename(require.resolve('gort')), 'index.node.cjs');
assert.equal(path.basename(require.resolve('gort/worker')), 'worker.node.cjs');

const { start, select, Channel, ChannelClosedError, PanicError } = require('gort');
const workerApi = require('gort/worker');
// Both entry points share one copy of each module: a channel or an error of
// one is an instance of the other's class.
assert.equal(workerApi.Channel, Channel);
assert.equal(workerApi.ChannelClosedError, ChannelClosedError);
assert.equal(typeof workerApi.attach, 'function');
assert.equal('start' in workerApi, false);

async function main() {
  const rt = await start({ procs: 2 });
  try {
    // An unbuffered hand-off between two Promises of the main thread.
    const ch = rt.chan({ codec: 'string' });
    const receiving = ch.recv();
    await ch.send('hello from require');
    assert.deepEqual(await receiving, { value: 'hello from require', ok: true });

    // select: the one ready case among a nil channel's case and an empty channel.
    const empty = rt.chan({ codec: 'i32' });
    const full = rt.chan({ cap: 1, codec: 'json' });
    await full.send({ n: 1 });
    assert.deepEqual(await select([null, { recv: empty }, { recv: full }]), { index: 2, value: { n: 1 }, ok: true });
    assert.deepEqual(select.try([{ recv: empty }]), { index: -1, value: undefined, ok: false });

    // Goroutines of the module: the first 10 primes by the concurrent sieve.
    const primes = rt.chan({ codec: 'f64' });
    rt.go('primes', primes, 10);
    const got = [];
    for await (const p of primes) got.push(p);
    assert.deepEqual(got, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);

    // Errors are this copy's classes.
    full.close();
    await assert.rejects(full.send(2), (err) =>
      err instanceof ChannelClosedError && err.name === 'ChannelClosedError' && err.value === 2);
    assert.throws(() => full.close(), (err) => err instanceof PanicError && err.name === 'PanicError');

    // A CommonJS worker attaches and answers each request with a blocking send.
    const requests = rt.chan({ codec: 'json' });
    const replies = rt.chan({ codec: 'json' });
    const worker = new Worker(path.join(__dirname, 'worker.cjs'), {
      workerData: { rt: rt.handle, requests: requests.handle, replies: replies.handle },
    });
    const exited = new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.once('exit', resolve);
    });
    for (let i = 0; i < 3; i++) {
      await requests.send({ i });
      assert.deepEqual(await replies.recv(), { value: { i, squared: i * i, by: 'WorkerRuntime' }, ok: true });
    }
    requests.close();
    assert.deepEqual(await replies.recv(), { value: undefined, ok: false });
    assert.equal(await exited, 0);
  } finally {
    await rt.close();
  }
  console.log('gort from require: ok');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
