// Types of the gort package (ES module and CommonJS alike).

/** A codec: how values travel in a channel. */
export type CodecName = 'json' | 'string' | 'bytes' | 'f64' | 'i32' | 'bool';
export interface UserCodec<T> {
  name?: string;
  /** The bytes of a value (copied into the gort heap). */
  encode(value: T): Uint8Array;
  /** A value from a fresh, non-shared copy of its bytes. */
  decode(bytes: Uint8Array): T;
}

export interface StartOptions {
  /** Logical processors (GOMAXPROCS); default: the CPUs, at most 4. The pool gets procs + 3 threads. */
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
}

export interface OperationOptions {
  /** Aborting withdraws the operation: a value not yet taken is not sent, nothing is received. */
  signal?: AbortSignal;
}

export interface Received<T> {
  value: T | undefined;
  /** false once the channel is closed and drained (value is then the zero value). */
  ok: boolean;
}

export type TryReceived<T> = { state: 'ok'; value: T } | { state: 'empty' } | { state: 'closed' };

/** Plain, structured-cloneable data naming a channel, a context or a runtime. */
export interface ChannelHandle { gort: 'chan'; runtime: string; h: number; codec: string }
export interface ContextHandle { gort: 'context'; runtime: string; h: number }
export interface RuntimeHandle { gort: 'runtime'; runtime: string; module: WebAssembly.Module; memory: WebAssembly.Memory; state: number; urls: unknown }

export declare class Channel<T = unknown> implements AsyncIterable<T> {
  private constructor();
  /** c <- v: resolves when a receiver took v (cap 0) or it was buffered. Rejects with ChannelClosedError. */
  send(value: T, options?: OperationOptions): Promise<void>;
  /** v, ok := <-c */
  recv(options?: OperationOptions): Promise<Received<T>>;
  /** select { case c <- v: default: }: true when sent. Throws ChannelClosedError on a closed channel. */
  trySend(value: T): boolean;
  /** select { case v, ok := <-c: default: } */
  tryRecv(): TryReceived<T>;
  /** close(c); throws PanicError('close of closed channel'). */
  close(): void;
  /** len(c) */
  readonly len: number;
  /** cap(c) */
  readonly cap: number;
  /** Data for postMessage. */
  readonly handle: ChannelHandle;
  /** Receives until closed and drained; break does not close the channel. */
  [Symbol.asyncIterator](): AsyncIterator<T>;
  /** The values received, as a stream (cancelling it does not close the channel). */
  readable(): ReadableStream<T>;
  /** A stream whose chunks are sent; closing it closes the channel. */
  writable(): WritableStream<T>;
  /** Worker only: blocking send. */
  sendSync(value: T): void;
  /** Worker only: blocking receive, for at most timeout ms. */
  recvSync(options?: { timeout?: number }): Received<T> & { timedOut?: true };
  /** Releases this handle of the channel. */
  [Symbol.dispose](): void;
}

/** A ticker's channel: stop() (or dispose) stops it. */
export interface TickerChannel extends Channel<number> { stop(): void }

export type SelectCase = { recv: Channel<any> } | { send: Channel<any>; value: unknown } | null;
export interface Selected { index: number; value: unknown; ok: boolean }

/** Go's select: one ready case, chosen uniformly at random; null is a nil channel's case. */
export declare function select(cases: SelectCase[], options?: OperationOptions): Promise<Selected>;
export declare namespace select {
  /** select with default: index -1 when no case is ready. */
  function tryCases(cases: SelectCase[]): Selected;
  export { tryCases as try };
  /** Worker only: a blocking select, for at most timeout ms (index -1 when it ran out). */
  function sync(cases: SelectCase[], options?: { timeout?: number }): Selected;
}

export declare class ContextError extends GortError {}
/** 'context canceled' */
export declare const Canceled: ContextError;
/** 'context deadline exceeded' */
export declare const DeadlineExceeded: ContextError;

export declare class Context {
  private constructor();
  /** Closed when the context is done; null for a context that never is (Background). */
  readonly done: Channel<void> | null;
  /** null, then Canceled or DeadlineExceeded. */
  readonly err: ContextError | null;
  readonly deadline: Date | null;
  /** An AbortSignal of this realm that aborts when the context is done. */
  readonly signal: AbortSignal;
  value(key: string): unknown;
  cancel(): void;
  readonly handle: ContextHandle;
  [Symbol.dispose](): void;
}

export interface Contexts {
  background(): Context;
  withCancel(parent: Context): Context;
  withTimeout(parent: Context, ms: number): Context;
  withDeadline(parent: Context, deadline: Date | number): Context;
  withValue(parent: Context, key: string, value: unknown): Context;
  fromSignal(signal: AbortSignal): Context;
}

export declare class Runtime implements AsyncDisposable {
  private constructor();
  readonly id: string;
  readonly procs: number;
  readonly context: Contexts;
  chan<T = unknown>(options?: { cap?: number; codec?: CodecName | UserCodec<T> }): Channel<T>;
  /** time.After(ms): receives the runtime clock's time (ms) once. */
  after(ms: number): Channel<number>;
  /** time.NewTicker(ms) */
  tick(ms: number): TickerChannel;
  select(cases: SelectCase[], options?: OperationOptions): Promise<Selected>;
  /** Starts one of the module's goroutines: 'echo'(in, out), 'primes'(out, n). */
  go(name: string, ...args: Array<Channel<any> | number>): void;
  readonly handle: RuntimeHandle;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export declare function start(options?: StartOptions): Promise<Runtime>;
export declare function isSupported(): { supported: boolean; reason?: string };

export declare class GortError extends Error { readonly code: string }
export declare class ChannelClosedError extends GortError { readonly value: unknown }
export declare class PanicError extends GortError {}
export declare class RuntimeClosedError extends GortError {}
export declare class NotIsolatedError extends GortError {}
export declare class FatalError extends GortError {}
