// Types of 'gort/worker': a worker joins a runtime whose handle was posted to
// it. build.sh makes dist/worker.d.cts (the types of require('gort/worker'))
// from this file by turning './index.js' into './index.cjs'.
import type { RuntimeHandle, RuntimeView } from './index.js';

// What worker.node.js and worker.browser.js export besides attach and
// WorkerRuntime (api.js): everything of 'gort' but start().
export {
  isSupported, Runtime, Channel, select, Context, ContextError, Canceled, DeadlineExceeded, Goroutine,
  GortError, ChannelClosedError, PanicError, RuntimeClosedError, NotIsolatedError, FatalError, DeadlockError,
  openHeapMap,
} from './index.js';
export type {
  CodecTypes, CodecName, BytesInput, UserCodec, StartOptions, OperationOptions, Received, ReceivedSync,
  TryReceived, ChannelHandle, ContextHandle, RuntimeHandle, TickerChannel, SelectCase, Selected, Select,
  Contexts, ChanOptions, GoArg, RuntimeView, HeapMapHandle, HeapMapReader,
} from './index.js';

/**
 * A runtime as an attached worker sees it: the main thread's API (open() the
 * handles posted to it) plus the blocking forms (sendSync, recvSync,
 * select.sync).
 */
export interface WorkerRuntime extends RuntimeView {}
export declare class WorkerRuntime implements Disposable {
  private constructor();
  /**
   * Gives this worker's thread back for another worker to adopt (at most 8
   * workers are attached at once) and lets go of the handles this worker's
   * objects hold. Objects opened here must not be used afterwards. A worker
   * terminated from outside without detaching is cleaned up after by the
   * runtime (see attach()); detaching first is still the way that loses
   * nothing.
   */
  detach(): void;
  /** The runtime's name for this worker: Node's threadId, or a number the runtime gave. */
  readonly workerId: number;
  [Symbol.dispose](): void;
}

/**
 * Joins the runtime of handle (rt.handle, posted by the thread that started
 * it). Throws RuntimeClosedError when it has stopped, FatalError when it died
 * of a fatal error, GortError 'EAGAIN' when no thread is free. A fatal error
 * on this worker's own thread ends the runtime for every realm (FatalError).
 * In Node a worker whose script ends (or that calls process.exit()) detaches
 * on its way out. One terminated from outside while attached (Node: one made
 * by a thread that imported the package, the main thread's or an attached
 * worker's; browsers: any, through the Web Lock the worker holds) is cleaned up after once the runtime sees it end: its
 * pending operations are withdrawn (a value handed to it in the moment it
 * ended goes with it), its handles are let go and deadlocks are seen again;
 * if it was inside a call into the runtime, not waiting, the runtime ends
 * with FatalError.
 */
export declare function attach(handle: RuntimeHandle): Promise<WorkerRuntime>;
