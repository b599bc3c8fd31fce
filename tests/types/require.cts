// The types of require('gort') and require('gort/worker') in a CommonJS
// TypeScript file, checked (never run) by tsc in tests/types.test.mjs: the
// "types" conditions under "require" name dist/*.d.cts, which TypeScript
// reads as CommonJS declarations.
import gort = require('gort');
import gortWorker = require('gort/worker');

export async function main(): Promise<void> {
  const rt: gort.Runtime = await gort.start({ procs: 2 });
  const ch = rt.chan({ codec: 'f64' });
  await ch.send(1);
  const r: gort.Received<number> = await ch.recv();
  const s: gort.Selected = await gort.select([{ recv: ch }, null]);
  // One declaration of each class for both entry points, as in the CommonJS copy.
  const channel: gortWorker.Channel<number> = ch;
  void [r, s, channel];
  // @ts-expect-error: an 'f64' channel carries numbers
  await ch.send('1');
  await rt.close();
}

export async function inWorker(handle: gort.RuntimeHandle): Promise<void> {
  const wr: gortWorker.WorkerRuntime = await gortWorker.attach(handle);
  wr.detach();
}
