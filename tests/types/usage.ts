// The package's API as a TypeScript user writes it, checked (never run) by
// tsc in tests/types.test.mjs: every declaration of 'gort' and 'gort/worker'
// is used at least once, the types of results are pinned with Equal<>, and
// the lines marked @ts-expect-error are misuse the declarations must reject
// (tsc fails on such a line that compiles).
import {
  start, select, isSupported, Runtime, Channel, Context, ContextError, Canceled, DeadlineExceeded, Goroutine,
  GortError, ChannelClosedError, PanicError, RuntimeClosedError, NotIsolatedError, FatalError, DeadlockError,
  type BytesInput, type ChannelHandle, type CodecName, type CodecTypes, type ContextHandle, type Contexts,
  type GoArg, type OperationOptions, type Received, type ReceivedSync, type RuntimeHandle, type RuntimeView,
  type Select, type SelectCase, type Selected, type StartOptions, type TickerChannel, type TryReceived,
  type UserCodec, type WorstWindow,
} from 'gort';
import * as worker from 'gort/worker';
import { attach, WorkerRuntime } from 'gort/worker';
// @ts-expect-error: 'gort/worker' has everything of 'gort' but start()
import { start as noStartInWorkers } from 'gort/worker';

/** true when A and B are the same type (not merely assignable). */
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends (<X>() => X extends B ? 1 : 2) ? true : false;
/** Compiles only when value's type is exactly T. */
function expectType<T>() {
  return <V>(value: V & (Equal<V, T> extends true ? unknown : never)): V => value;
}

interface Job { id: number; tags: string[] }
interface Point { x: number; y: number }
const pointCodec: UserCodec<Point> = {
  name: 'point',
  encode: (p) => new Uint8Array([p.x, p.y]),
  decode: (bytes) => ({ x: bytes[0], y: bytes[1] }),
};

export async function mainThread(): Promise<void> {
  const support = isSupported();
  if (!support.supported) throw new Error(support.reason);

  const options: StartOptions = {
    procs: 2, gogc: 'off', memoryLimit: 256 << 20, godebug: 'gctrace=1',
    wasmURL: new URL('./gort.wasm', 'file:///srv/app/'), workerURL: '/assets/gort.worker.js',
    deadlockAfterMs: 2000,
  };
  await using rt = await start(options);
  expectType<Runtime>()(rt);
  const view: RuntimeView = rt;
  expectType<string>()(view.id);
  expectType<number>()(rt.procs);

  // make(chan T) with each codec: the codec decides the element type.
  const jobs = rt.chan<Job>({ cap: 16 });
  const anything = rt.chan({ codec: 'json' });
  const words = rt.chan({ codec: 'string' });
  const blobs = rt.chan({ cap: 2, codec: 'bytes' });
  const reals = rt.chan({ codec: 'f64' });
  const ints = rt.chan({ cap: 4, codec: 'i32' });
  const flags = rt.chan({ codec: 'bool' });
  const points = rt.chan({ codec: pointCodec });
  const inline = rt.chan({ codec: { encode: (s: Set<number>) => new Uint8Array(s), decode: (b) => new Set(b) } });
  const codecName: CodecName = Math.random() < 0.5 ? 'f64' : 'string';
  const chosen = rt.chan({ codec: codecName });
  expectType<Channel<Job>>()(jobs);
  expectType<Channel<unknown>>()(anything);
  expectType<Channel<string>>()(words);
  expectType<Channel<Uint8Array, BytesInput>>()(blobs);
  expectType<Channel<number>>()(reals);
  expectType<Channel<number>>()(ints);
  expectType<Channel<boolean>>()(flags);
  expectType<Channel<Point>>()(points);
  expectType<Channel<Set<number>>>()(inline);
  expectType<Channel<unknown, unknown>>()(chosen);
  const numberTypes: [CodecTypes['f64'], CodecTypes['bool']] = [1, true];

  // send, recv, and the forms that never wait.
  await jobs.send({ id: 1, tags: [] });
  const controller = new AbortController();
  const opts: OperationOptions = { signal: controller.signal };
  await jobs.send({ id: 2, tags: ['x'] }, opts);
  const received = await jobs.recv({ signal: AbortSignal.timeout(100) });
  expectType<Received<Job>>()(received);
  if (received.ok) expectType<Job>()(received.value);
  else expectType<Job | undefined>()(received.value);
  const { value: word, ok } = await words.recv();
  if (ok) word.toUpperCase();
  await blobs.send(new Float32Array([1.5]));
  await blobs.send(new ArrayBuffer(8));
  await blobs.send(new DataView(new ArrayBuffer(2)));
  const blob = await blobs.recv();
  if (blob.ok) expectType<Uint8Array>()(blob.value);
  expectType<boolean>()(reals.trySend(0.5));
  const tried: TryReceived<number> = ints.tryRecv();
  switch (tried.state) {
    case 'ok': expectType<number>()(tried.value); break;
    case 'empty': case 'closed': break;
  }
  flags.close();
  expectType<number>()(ints.len + ints.cap);

  // range over a channel, and streams.
  for await (const p of points) expectType<Point>()(p);
  const reader = words.readable().getReader();
  const chunk = await reader.read();
  if (!chunk.done) expectType<string>()(chunk.value);
  const writer = blobs.writable().getWriter();
  await writer.write(new Uint16Array([7]));
  await writer.close();

  // select, its default form, and a nil channel's case.
  const cases: SelectCase[] = [{ recv: jobs }, { send: words, value: 'hi' }, null, undefined];
  const chosenCase: Selected = await select(cases, { signal: controller.signal });
  if (chosenCase.index === 0 && chosenCase.ok) console.log(chosenCase.value);
  const fixedCases = [{ recv: reals }, { send: ints, value: 3 }] as const;
  expectType<Selected>()(await select(fixedCases));
  expectType<Selected>()(select.try([{ recv: reals }]));
  expectType<Selected>()(await rt.select([{ recv: ints }, null]));
  const selectFn: Select = select;
  expectType<Selected>()(selectFn.sync([{ recv: reals }], { timeout: 5 }));

  // timers.
  const after = rt.after(100);
  expectType<Channel<number>>()(after);
  const fired = await after.recv();
  if (fired.ok) fired.value.toFixed(3);
  {
    using ticker = rt.tick(50);
    expectType<TickerChannel>()(ticker);
    for await (const at of ticker) if (at > 1000) break;
    ticker.stop();
  }

  // contexts.
  const contexts: Contexts = rt.context;
  const background = contexts.background();
  expectType<Channel<void> | null>()(background.done);
  using timed = contexts.withTimeout(background, 100);
  using cancellable = contexts.withCancel(timed);
  using byDate = contexts.withDeadline(timed, new Date(Date.now() + 1000));
  using byEpoch = contexts.withDeadline(timed, Date.now() + 1000);
  using valued = contexts.withValue(timed, 'user', { name: 'ada' });
  using fromSignal = contexts.fromSignal(controller.signal);
  expectType<unknown>()(valued.value('user'));
  expectType<Date | null>()(byDate.deadline ?? byEpoch.deadline);
  cancellable.cancel();
  const err = cancellable.err;
  expectType<ContextError | null>()(err);
  if (err === Canceled || err === DeadlineExceeded) expectType<'ECANCELED' | 'EDEADLINE'>()(err.code);
  expectType<'ECANCELED'>()(Canceled.code);
  const signal: AbortSignal = fromSignal.signal;
  await jobs.send({ id: 3, tags: [] }, { signal });
  if (timed.done) await select([{ recv: timed.done }, { recv: jobs }]);

  // goroutines of the module.
  rt.go('primes', reals, 10);
  rt.go('echo', jobs, anything);
  rt.go('echo', null, words);
  const primesArgs: [GoArg, GoArg] = [reals, 20];
  rt.go('primes', ...primesArgs);
  const measuring: Goroutine = rt.go('utf8len', reals, 'héllo');
  const goroutineId: number = measuring.id;
  await measuring;
  await measuring.done;
  rt.go('untildone', rt.context.background(), reals);

  // handles, for postMessage, and open() on the other side.
  const runtimeHandle: RuntimeHandle = rt.handle;
  const channelHandle: ChannelHandle = jobs.handle;
  const contextHandle: ContextHandle = timed.handle;
  expectType<'json' | 'string' | 'bytes' | 'f64' | 'i32' | 'bool' | 'custom' | 'time' | 'unit'>()(channelHandle.codec);
  new Worker('./worker.js', { type: 'module' }).postMessage({ runtimeHandle, channelHandle, contextHandle });
  expectType<Channel<Job>>()(rt.open<Job>(channelHandle));
  expectType<Channel<Point>>()(rt.open(points.handle, { codec: pointCodec }));
  expectType<Context>()(rt.open(contextHandle));
  const either: ChannelHandle | ContextHandle = Math.random() < 0.5 ? channelHandle : contextHandle;
  const opened = rt.open(either);
  if (opened instanceof Context) opened.cancel();
  else expectType<Channel<unknown, unknown>>()(opened);

  // errors, and what they carry.
  try {
    await words.send('late');
  } catch (e) {
    if (e instanceof ChannelClosedError) {
      expectType<unknown>()(e.value);
      expectType<'ECLOSED'>()(e.code);
    } else if (e instanceof PanicError) {
      expectType<'ECLOSECLOSED' | 'ECLOSENIL'>()(e.code);
    } else if (e instanceof RuntimeClosedError) {
      expectType<'ECLOSEDRUNTIME'>()(e.code);
    } else if (e instanceof DeadlockError) {
      expectType<'EDEADLOCK'>()(e.code);
    } else if (e instanceof FatalError) {
      console.error(e.message, e.code === 'EFATAL');
    } else if (e instanceof NotIsolatedError) {
      expectType<'ENOTISOLATED'>()(e.code);
    } else if (e instanceof ContextError) {
      expectType<'ECANCELED' | 'EDEADLINE'>()(e.code);
    } else if (e instanceof GortError) {
      expectType<string>()(e.code);
      throw new GortError(`wrapped: ${e.message}`, e.code, { cause: e });
    }
  }

  // Watching the collector: the MMU and where its worst windows lie.
  const events = rt.events({ historyMs: 5000 });
  expectType<Record<number, number | null>>()(events.mmu([10]));
  const worst = events.worstWindows(10, 3);
  expectType<WorstWindow[] | null>()(worst);
  if (worst) expectType<number>()(worst[0].start + worst[0].end + worst[0].utilization + worst[0].pausedNs);
  // @ts-expect-error: the window is a number of ms
  events.worstWindows('10ms');

  // Explicit disposal: channels and contexts let their handle go; the
  // runtime closes (also at the end of this function, by `await using`).
  {
    using scratch = rt.chan({ codec: 'i32' });
    scratch.trySend(1);
  }
  timed[Symbol.dispose]();
  await rt.close();
}

/** An attached worker: the main thread's API plus the blocking forms. */
export async function inWorker(data: { runtime: RuntimeHandle; jobs: ChannelHandle; context: ContextHandle }): Promise<void> {
  using wr = await attach(data.runtime);
  expectType<WorkerRuntime>()(wr);
  const view: RuntimeView = wr;
  expectType<string>()(view.id);
  const jobs = wr.open<Job>(data.jobs);
  jobs.sendSync({ id: 4, tags: [] });
  const got = jobs.recvSync({ timeout: 100 });
  expectType<ReceivedSync<Job>>()(got);
  if (got.timedOut) expectType<undefined>()(got.value);
  else if (got.ok) expectType<Job>()(got.value);
  const ctx = wr.open(data.context);
  ctx.done?.recvSync();
  const local = wr.chan({ codec: 'i32' });
  wr.go('echo', local, jobs);
  expectType<Selected>()(worker.select.sync([{ recv: local }, { recv: wr.after(10) }], { timeout: 50 }));
  expectType<Selected>()(await wr.select([{ recv: local }]));
  wr.tick(10).stop();
  wr.context.withCancel(wr.context.background()).cancel();
  // The worker entry's classes are the main entry's (one module in both).
  expectType<typeof Channel>()(worker.Channel);
  if (!(new worker.RuntimeClosedError() instanceof RuntimeClosedError)) throw new Error('unreachable');
  wr.detach();
}

/** Misuse the declarations reject; tsc fails on any of these lines that compiles. */
export async function misuse(rt: Runtime, wr: WorkerRuntime, reals: Channel<number>, words: Channel<string>,
  ctxHandle: ContextHandle): Promise<void> {
  // @ts-expect-error: channels come from rt.chan() or open(), not a constructor
  new Channel();
  // @ts-expect-error: no codec of that name
  rt.chan({ codec: 'f32' });
  // @ts-expect-error: a user codec needs decode as well as encode
  rt.chan({ codec: { encode: (v: number) => new Uint8Array([v]) } });
  // @ts-expect-error: an 'f64' channel carries numbers
  await reals.send('1');
  // @ts-expect-error: a 'bytes' channel does not take a string
  await rt.chan({ codec: 'bytes' }).send('text');
  // @ts-expect-error: value may be undefined until ok says the channel was open
  (await words.recv()).value.toUpperCase();
  // @ts-expect-error: tryRecv has a value only in the 'ok' state
  words.tryRecv().value;
  // @ts-expect-error: a send case needs its value
  await select([{ send: reals }]);
  // @ts-expect-error: select takes an array of cases
  await select({ recv: reals });
  // @ts-expect-error: select.try does not wait: its result is no Promise
  await select.try([{ recv: reals }]).then;
  // @ts-expect-error: a goroutine's arguments are numbers, strings, channels, null or contexts
  rt.go('echo', { in: 1 });
  // @ts-expect-error: rt.go gives a Goroutine, whose id is a number
  const goroutineName: string = rt.go('echo', null, null).id;
  // @ts-expect-error: a context's handle opens as a Context, which has no send()
  wr.open(ctxHandle).send(1);
  // @ts-expect-error: attach() takes the runtime's handle, not the Runtime
  await attach(rt);
  // @ts-expect-error: err is read-only
  rt.context.background().err = null;
  // @ts-expect-error: withTimeout needs its ms
  rt.context.withTimeout(rt.context.background());
  // @ts-expect-error: recvSync's timeout is a number of ms
  reals.recvSync({ timeout: '10' });
  // @ts-expect-error: only a worker detaches
  rt.detach();
  // @ts-expect-error: only the runtime's starter closes it
  await wr.close();
  // @ts-expect-error: a worker's runtime has no handle to post on
  wr.handle;
  // @ts-expect-error: gogc is a percentage, 'off' or false
  await start({ gogc: 'on' });
  // @ts-expect-error: the quiet spell is a number of milliseconds
  await start({ deadlockAfterMs: '2s' });
  // @ts-expect-error: a ContextError's code is one of two
  const code: 'ECLOSED' = Canceled.code;
  void [noStartInWorkers, code];
}
