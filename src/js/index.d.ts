// Types of 'gort' (index.node.js on Node, index.browser.js in browsers and
// bundlers). build.sh copies this file to dist/index.d.cts, the types of
// require('gort'). The Web types it names (AbortSignal, ReadableStream,
// WritableStream, WebAssembly) come from the "dom" lib or @types/node.
// `using` and `await using` work on channels, contexts and runtimes: the lib
// that declares Symbol.dispose and Symbol.asyncDispose is pulled in here.
/// <reference lib="esnext.disposable" />
/// <reference lib="es2022.error" />

/** What each codec name carries: recv() gives this type (and send() takes it, except for 'bytes'). */
export interface CodecTypes {
  /** Anything JSON.stringify takes, as JSON.parse gives it back. */
  json: unknown;
  string: string;
  /** Received as a fresh Uint8Array; sent from any typed array, DataView or ArrayBuffer. */
  bytes: Uint8Array;
  /** A float64 in the channel's element. */
  f64: number;
  /** An integer from -2147483648 to 2147483647 (others throw TypeError). */
  i32: number;
  bool: boolean;
}
/** A codec: how values travel in a channel. */
export type CodecName = keyof CodecTypes;
/** What a 'bytes' channel sends: the bytes of any view or buffer. */
export type BytesInput = ArrayBufferView | ArrayBuffer | SharedArrayBuffer;
export interface UserCodec<T> {
  name?: string;
  /** The bytes of a value (copied into the gort heap). */
  encode(value: T): Uint8Array;
  /** A value from a fresh, non-shared copy of its bytes. */
  decode(bytes: Uint8Array): T;
}

export interface StartOptions {
  /**
   * Logical processors (GOMAXPROCS), 1 to 64; default: the CPUs less one, at
   * least 1 and at most 4 (the thread that starts the runtime, a page's main
   * thread or Node's event loop, keeps a CPU: with a processor on every CPU
   * its calls wait for the OS to give it one). The pool gets procs + 3 threads.
   */
  procs?: number;
  /** GOGC: a percentage, or 'off' / false. Default 100. */
  gogc?: number | 'off' | false;
  /** GOMEMLIMIT, a soft limit in bytes. */
  memoryLimit?: number;
  /** GODEBUG settings, e.g. 'gctrace=1,gccheckmark=1'. */
  godebug?: string;
  /** Where the .wasm is, when not beside the package's files. */
  wasmURL?: string | URL;
  /** Where the pthread worker file is, when not beside the package's files. */
  workerURL?: string | URL;
  /**
   * A module of the user's, built with gort_wasm_module (CMake), instead of
   * the package's: the URL (or, on Node, the path) of its glue for this
   * platform, `<name>/node/<name>.js` on Node and `<name>/web/<name>.mjs` in
   * browsers. Its .wasm and worker file are found beside the glue.
   */
  module?: string | URL;
  /**
   * Reports a deadlock after a quiet spell of this many ms: the main thread's
   * waiting operations reject with DeadlockError once, for this long, no
   * goroutine could run, no timer of the runtime was pending and no JS party
   * (the main thread or an attached worker) started an operation. A
   * browser's event loop never ends, so without it a page never learns of a
   * deadlock; leave it unset where a user's input, the network or a JS timer
   * may still act on a waiting operation's channel after such a spell. On
   * Node a deadlock is also reported when the process has nothing else to do.
   */
  deadlockAfterMs?: number;
}

export interface OperationOptions {
  /** Aborting withdraws the operation: a value not yet taken is not sent, nothing is received. */
  signal?: AbortSignal;
}

/**
 * v, ok := <-c. ok is false once the channel is closed and drained; value is
 * then the zero value (0 for 'f64' and 'i32', false for 'bool', undefined for
 * the others).
 */
export type Received<T> = { value: T; ok: true } | { value: T | undefined; ok: false };
/** recvSync's result: a receive, or { timedOut: true } when its timeout ran out first. */
export type ReceivedSync<T> =
  | (Received<T> & { timedOut?: undefined })
  | { value: undefined; ok: false; timedOut: true };

export type TryReceived<T> = { state: 'ok'; value: T } | { state: 'empty' } | { state: 'closed' };

/** Plain, structured-cloneable data naming a channel, a context or a runtime. */
export interface ChannelHandle {
  gort: 'chan';
  runtime: string;
  h: number;
  /** 'custom' for a user codec (give it again to open()), 'time' for timers, 'unit' for a context's done. */
  codec: CodecName | 'custom' | 'time' | 'unit';
}
export interface ContextHandle { gort: 'context'; runtime: string; h: number }
export interface RuntimeHandle {
  gort: 'runtime';
  runtime: string;
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  state: number;
  /** The glue of a user's module (start({ module })), which attach() loads instead of the package's; null for the package's. */
  glue: string | null;
}

/**
 * A channel (Go's chan T): recv() gives T; send() takes In (T, except for a
 * 'bytes' channel, which takes any BytesInput).
 */
export declare class Channel<T = unknown, In = T> implements AsyncIterable<T>, Disposable {
  private constructor();
  /** c <- v: resolves when a receiver took v (cap 0) or it was buffered. Rejects with ChannelClosedError. */
  send(value: In, options?: OperationOptions): Promise<void>;
  /** v, ok := <-c */
  recv(options?: OperationOptions): Promise<Received<T>>;
  /** select { case c <- v: default: }: true when sent. Throws ChannelClosedError on a closed channel. */
  trySend(value: In): boolean;
  /** select { case v, ok := <-c: default: } */
  tryRecv(): TryReceived<T>;
  /** close(c); throws PanicError('close of closed channel'). */
  close(): void;
  /** len(c) */
  readonly len: number;
  /** cap(c) */
  readonly cap: number;
  /**
   * Data for postMessage: open() it in another realm of the runtime. It opens
   * while this object is kept and not disposed; the object opened holds the
   * channel by itself.
   */
  readonly handle: ChannelHandle;
  /** Receives until closed and drained; break does not close the channel. */
  [Symbol.asyncIterator](): AsyncGenerator<T, void, undefined>;
  /** The values received, as a stream (cancelling it does not close the channel). */
  readable(): ReadableStream<T>;
  /** A stream whose chunks are sent; closing it closes the channel. */
  writable(): WritableStream<In>;
  /**
   * Worker only (throws GortError 'EWOULDBLOCK' elsewhere): blocking send. A
   * fatal error of the runtime while it blocks wakes it to throw FatalError,
   * rt.close() to throw RuntimeClosedError (so do recvSync and select.sync).
   */
  sendSync(value: In): void;
  /** Worker only (throws GortError 'EWOULDBLOCK' elsewhere): blocking receive, for at most timeout ms. */
  recvSync(options?: { timeout?: number }): ReceivedSync<T>;
  /** Releases this handle of the channel. */
  [Symbol.dispose](): void;
}

/** A ticker's channel: stop() (or dispose) stops it. */
export interface TickerChannel extends Channel<number> { stop(): void }

/** A case of select: receive, send, or null (or undefined) for a nil channel's case, which is never ready. */
export type SelectCase = { recv: Channel<any, any> } | { send: Channel<any, any>; value: unknown } | null | undefined;
/** The case that proceeded (its index in cases; -1 for default or a timeout), and what it received. */
export interface Selected { index: number; value: unknown; ok: boolean }

/** Go's select, and its forms without waiting and with blocking. */
export interface Select {
  /** One ready case, chosen uniformly at random; with a signal, aborting withdraws every case. */
  (cases: readonly SelectCase[], options?: OperationOptions): Promise<Selected>;
  /** select with default: index -1 when no case is ready. */
  try(cases: readonly SelectCase[]): Selected;
  /** Worker only: a blocking select, for at most timeout ms (index -1 when it ran out). */
  sync(cases: readonly SelectCase[], options?: { timeout?: number }): Selected;
}
/** Go's select: select(cases), select.try(cases), select.sync(cases, { timeout }). */
export declare const select: Select;

/** The error of a context that is done. */
export declare class ContextError extends GortError {
  readonly code: 'ECANCELED' | 'EDEADLINE';
}
/** 'context canceled' */
export declare const Canceled: ContextError & { readonly code: 'ECANCELED' };
/** 'context deadline exceeded' */
export declare const DeadlineExceeded: ContextError & { readonly code: 'EDEADLINE' };

export declare class Context implements Disposable {
  private constructor();
  /** Closed when the context is done; null for a context that never is (Background). */
  readonly done: Channel<void> | null;
  /** null, then Canceled or DeadlineExceeded. */
  readonly err: ContextError | null;
  readonly deadline: Date | null;
  /** An AbortSignal of this realm that aborts (with err as its reason) when the context is done. */
  readonly signal: AbortSignal;
  /** The value for key carried by this context or an ancestor (as JSON gives it back), or undefined. */
  value(key: string): unknown;
  /** Cancels it and what was derived from it; throws GortError for a context without a cancel (Background). */
  cancel(): void;
  /** Data for postMessage, as a channel's handle (it opens while this object is kept). */
  readonly handle: ContextHandle;
  [Symbol.dispose](): void;
}

/** rt.context: Go's context constructors. */
export interface Contexts {
  background(): Context;
  withCancel(parent: Context): Context;
  withTimeout(parent: Context, ms: number): Context;
  /** deadline: a Date or epoch milliseconds. */
  withDeadline(parent: Context, deadline: Date | number): Context;
  /** value: anything JSON.stringify takes. */
  withValue(parent: Context, key: string, value: unknown): Context;
  /** A context cancelled when signal aborts. */
  fromSignal(signal: AbortSignal): Context;
}

/** Options of chan(): cap is the buffer (0, the default, is unbuffered). */
export interface ChanOptions<C> { cap?: number; codec: C }

/**
 * A goroutine's argument, as its parameter in C says: a number, a string
 * (without NUL characters), a channel or null (the nil channel), a context.
 */
export type GoArg = number | string | Channel<any, any> | null | Context;

/**
 * A goroutine started by rt.go(). Awaiting it (or done) waits until its
 * function returns; a fatal error of the runtime rejects it with FatalError.
 * Only a goroutine someone awaits keeps a Node process alive.
 */
export declare class Goroutine implements PromiseLike<void> {
  private constructor();
  /** Go's goroutine id. */
  readonly id: number;
  /** The exported function's name. */
  readonly name: string;
  /** Resolves when the goroutine's function has returned. */
  readonly done: Promise<void>;
  then<R1 = void, R2 = never>(onFulfilled?: ((value: void) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null): PromiseLike<R1 | R2>;
}

/** A distribution: counts[i] values fell in [buckets[i], buckets[i+1]). */
export interface MetricHistogram { buckets: number[]; counts: number[] }
export interface MetricDescription {
  name: string; description: string; kind: 'uint64' | 'float64' | 'histogram'; cumulative: boolean;
}
/** One event of the rings (time in ns since the runtime's trace epoch). */
export interface TraceEvent {
  time: number;
  kind: 'gcPhase' | 'state' | 'stwBegin' | 'stwStopped' | 'stwEnd' | 'cycleLiveStart' | 'cycleLiveEnd' |
    'cycleMarked' | 'cycleGoal' | 'cycleTrigger' | 'cycleAssistRatio' | 'cycleAssistNs' | 'cycleMarkNs' | 'cycleEnd' |
    'goCreate' | 'goStart' | 'goBlock' | 'goUnblock' | 'goStop' | 'goEnd';
  lane: number | 'collector';
  /** For goroutine events the goroutine's id; for goBlock, { goid, reason } (Go's wait reason). */
  arg: number | string | { phase: string; cycle: number } | { goid: number; reason: string };
}
/** A window of the MMU's worst: where in time utilization was lowest. */
export interface WorstWindow {
  /** ns, the runtime's clock (the events' time base). */
  start: number;
  end: number;
  /** The share of GOMAXPROCS left to goroutines over the window, 0 to 1. */
  utilization: number;
  /** The GC phases in effect during the window, in order ('off': between cycles); none known before the first phase change kept. */
  phases: string[];
  /** The numbers of the cycles whose phases other than 'off' overlap the window. */
  cycles: number[];
  /** Stop-the-world pauses overlapping the window, and the ns of it they took. */
  pauses: number;
  pausedNs: number;
}
export interface ChromeTrace { traceEvents: object[]; displayTimeUnit: 'ms'; otherData: { source: 'gort'; lost: number } }
/** rt.events(): drains the event rings without calling into the module. */
export interface EventReader {
  /** Events since the last drain, in time order, and how many the rings overwrote first. */
  drain(): { events: TraceEvent[]; lost: number };
  /** Events lost so far. */
  readonly lost: number;
  /** MMU over the kept history per window (ms); null for windows longer than it. */
  /** Default windows: 1, 2, 5, 10, 20, 50, 100 and 1000 ms. */
  mmu(windowsMs?: readonly number[]): Record<number, number | null>;
  mmuCurve(points?: number): { windowMs: number; mmu: number | null }[];
  /**
   * The n (default 5) worst windows of windowMs over the kept history, lowest utilization first, none
   * overlapping (picked greedily; the first's utilization is the MMU of that window); fewer when no room is
   * left; null when the history is shorter than the window.
   */
  worstWindows(windowMs: number, n?: number): WorstWindow[] | null;
  /** Go's gctrace lines of the cycles kept. */
  gctrace(): string[];
  chromeTrace(options?: { fromMs?: number; toMs?: number }): ChromeTrace;
  /** Stops asking for goroutine events (if this reader asked for them); what was read stays. */
  close(): void;
}
export interface HeapMapArena { index: number; base: number; gen: number; changed: boolean; stale: boolean; bytes: Uint8Array }
export interface HeapMapPage {
  kind: 'free' | 'start' | 'rest'; spanclass?: number; sizeclass?: number; noscan?: boolean; elemsize?: number;
  nelems?: number; inuse?: number; marked?: number; npages?: number; sweep?: 'swept' | 'sweeping' | 'unswept'; cached?: boolean;
}
/**
 * reader.handle: what another thread needs to read the same heap map, as
 * plain data postMessage carries (the shared memory is passed, not copied).
 */
export interface HeapMapHandle {
  gort: 'heapMap';
  memory: WebAssembly.Memory;
  /** The names and values the module's observation layout published. */
  layout: Readonly<Record<string, number>>;
}
/** rt.heapMap(): copies the page table without calling into the module. */
export interface HeapMapReader {
  readonly pageSize: number;
  readonly pagesPerArena: number;
  /** Post it to a worker, whose openHeapMap(handle) reads the same heap there. */
  readonly handle: HeapMapHandle;
  read(): { arenas: HeapMapArena[]; sweepgen: number };
  page(arena: HeapMapArena, index: number, sweepgen?: number): HeapMapPage;
  /**
   * A span's objects: colors 0 free, 1 white, 2 grey, 3 black; types: the
   * gort_type names its objects were allocated with (null: untyped bytes),
   * the first few, typesMore: there were others; typeOf: per slot, the
   * index in types of its object's type, -1 for one of the others (null
   * while the span has held one type).
   */
  span(addr: number): {
    base: number; elemsize: number; nelems: number; colors: Uint8Array; types: (string | null)[]; typesMore: boolean;
    typeOf: Int8Array | null;
  } | null;
  /**
   * Pages where the collector worked since the last call: per arena a byte
   * per page, bit 1 the write barrier shaded an object there, bit 2 an
   * assist scanned there.
   */
  work(): { arenas: Uint8Array[]; shaded: number; assisted: number };
}

/**
 * What the main thread's Runtime and an attached worker's WorkerRuntime both
 * have (a type only: the package exports no value of this name).
 */
export interface RuntimeView {
  readonly id: string;
  readonly context: Contexts;
  /** make(chan T, cap) with the 'json' codec (the default). */
  chan<T = unknown>(options?: { cap?: number; codec?: 'json' }): Channel<T>;
  chan(options: ChanOptions<'string'>): Channel<string>;
  chan(options: ChanOptions<'bytes'>): Channel<Uint8Array, BytesInput>;
  chan(options: ChanOptions<'f64' | 'i32'>): Channel<number>;
  chan(options: ChanOptions<'bool'>): Channel<boolean>;
  chan<T>(options: ChanOptions<UserCodec<T>>): Channel<T>;
  chan(options: { cap?: number; codec?: CodecName | UserCodec<any> }): Channel<unknown, unknown>;
  /**
   * A live channel of this realm from a handle posted from another (a user
   * codec must be given again; another codec replaces the handle's). The
   * channel returned holds the channel by itself (a handle of its own), so
   * it works on after the object the handle was read from is disposed or
   * collected; GortError 'EINVAL' when that happened before this call.
   */
  open<T = unknown, In = T>(handle: ChannelHandle, options?: { codec?: CodecName | UserCodec<T> }): Channel<T, In>;
  /** A live context of this realm from a handle posted from another. */
  open(handle: ContextHandle): Context;
  open(handle: ChannelHandle | ContextHandle): Channel<unknown, unknown> | Context;
  /** time.After(ms): receives the runtime clock's time (ms) once. */
  after(ms: number): Channel<number>;
  /** time.NewTicker(ms); throws RangeError for ms <= 0. */
  tick(ms: number): TickerChannel;
  /** Go's select (the same as select()). */
  select(cases: readonly SelectCase[], options?: OperationOptions): Promise<Selected>;
  /** Go's runtime/metrics by name: all of them, or those named (RangeError for an unknown name). */
  metrics(names?: readonly string[]): Record<string, number | MetricHistogram>;
  /** Every metric's name, kind and meaning. */
  metricsInfo(): MetricDescription[];
  /** A reader of the event rings, keeping historyMs of events (default 10 s). */
  /** goroutines: also goroutine events (created, started, blocked, unblocked, stopped, ended) until close(). */
  events(options?: { historyMs?: number; collectorTakesP?: boolean; goroutines?: boolean }): EventReader;
  /** A reader of the heap's page table. */
  heapMap(): HeapMapReader;
  /** Records ms (default 1000) of events, goroutine events too unless goroutines is false, as a Chrome trace. */
  trace(options?: { ms?: number; everyMs?: number; goroutines?: boolean }): Promise<ChromeTrace>;
  /**
   * Go's go statement for a goroutine the module exports (GORT_EXPORT_GO in
   * C), with the arguments its parameters name. The package's module
   * exports echo(chan in, chan out), primes(chan out, number n),
   * churn(chan done, number n) (n trees of collector work, then n on done),
   * utf8len(chan out, string s), untildone(context ctx, chan out),
   * clockcheck(chan out, number n) (the runtime's clock across its threads,
   * as JSON: { otherThread, backwards, worstNs }), overflow() and trap()
   * (end the runtime with a FatalError, by a stack overflow and by a trap of
   * the module, for tests), the workloads, set_throttle and
   * set_seed. Throws
   * GortError 'EINVAL' for a name the module does not export, TypeError for
   * arguments that do not fit.
   */
  go(name: string, ...args: GoArg[]): Goroutine;
  /**
   * GOGC from now on (Go's debug.SetGCPercent): a non-negative integer, or
   * 'off'. Returns the previous setting.
   */
  setGCPercent(percent: number | 'off'): number | 'off';
  /**
   * The soft memory limit from now on, in bytes (Go's debug.SetMemoryLimit);
   * Infinity for none; without an argument only reads it. Returns the
   * previous limit (Infinity for none).
   */
  setMemoryLimit(bytes?: number): number;
  /**
   * GODEBUG's gccheckmark from the next collector cycle on: each cycle's
   * mark termination re-marks everything with the world stopped and ends the
   * runtime with a FatalError if the concurrent mark missed an object.
   * Returns the previous setting.
   */
  setGCCheckmark(on: boolean): boolean;
  /**
   * GODEBUG's gcstoptheworld=1 from the next collector cycle on: the whole
   * mark in one pause, only the sweep concurrent. Returns the previous
   * setting.
   */
  setGCStopTheWorld(on: boolean): boolean;
  /** GOMAXPROCS now (Go's runtime.GOMAXPROCS(0)). */
  readonly gomaxprocs: number;
  /**
   * Go's runtime.GOMAXPROCS(n): the processors that run goroutines from now
   * on, an integer from 1, cut to the procs the runtime started with (its
   * threads are made at start); 0 only reads it. The change stops the world;
   * resolves to the previous setting once it is made.
   */
  setGOMAXPROCS(n: number): Promise<number>;
}

/** A runtime, as the realm that started it holds it. */
export interface Runtime extends RuntimeView {}
export declare class Runtime implements AsyncDisposable {
  private constructor();
  readonly procs: number;
  /** Data for postMessage: a worker passes it to attach() (from 'gort/worker'). */
  readonly handle: RuntimeHandle;
  /** Stops the runtime; afterwards every call throws RuntimeClosedError. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A heap map reader from another thread's reader.handle: it reads the
 * runtime's shared memory as rt.heapMap() does, with no module loaded and no
 * thread of the runtime taken (TypeError for anything but such a handle).
 */
export declare function openHeapMap(handle: HeapMapHandle): HeapMapReader;

/** Loads the module and starts a runtime (NotIsolatedError where SharedArrayBuffer is missing). */
export declare function start(options?: StartOptions): Promise<Runtime>;
export declare function isSupported(): { supported: boolean; reason?: string };

/** The base class of gort's errors; code is the C API's error code name. */
export declare class GortError extends Error {
  constructor(message: string, code: string, options?: ErrorOptions);
  readonly code: string;
}
/** 'send on closed channel': the value was not sent; it is in value. */
export declare class ChannelClosedError extends GortError {
  constructor(value: unknown);
  readonly code: 'ECLOSED';
  readonly value: unknown;
}
/** 'close of closed channel' or 'close of nil channel'. */
export declare class PanicError extends GortError {
  readonly code: 'ECLOSECLOSED' | 'ECLOSENIL';
}
/** The runtime was closed or ended. */
export declare class RuntimeClosedError extends GortError {
  constructor(message?: string);
  readonly code: 'ECLOSEDRUNTIME';
}
/** SharedArrayBuffer is missing: the page is not cross-origin isolated (the message names the fix). */
export declare class NotIsolatedError extends GortError {
  constructor(message: string);
  readonly code: 'ENOTISOLATED';
}
/**
 * 'all goroutines are asleep - deadlock!': the main thread's waiting
 * operations that nothing can complete, on Node once the process has nothing
 * else to do, anywhere after a quiet spell of StartOptions.deadlockAfterMs
 * (they are withdrawn first). The runtime stays usable.
 */
export declare class DeadlockError extends GortError {
  constructor();
  readonly code: 'EDEADLOCK';
}
/**
 * A fatal error ('fatal error: ...', Go's words) ended the runtime, on one of
 * its threads or on an attached worker's own: every realm's waiting
 * operations reject with it, a worker blocked in sendSync, recvSync or
 * select.sync throws it, and every later call throws it. Where this thread
 * saw the failing thread's error, `cause` is that error: its stack names the
 * place in the module.
 */
export declare class FatalError extends GortError {
  constructor(message: string, options?: { cause?: unknown });
  readonly code: 'EFATAL';
}
