// Types of 'gort/worker': a worker joins a runtime whose handle was posted to it.
import type { Channel, ChannelHandle, Context, ContextHandle, Contexts, RuntimeHandle, SelectCase, Selected, OperationOptions, CodecName, UserCodec, TickerChannel } from './index';
export * from './index';

/** A runtime as an attached worker sees it: the main thread's API plus the blocking forms. */
export declare class WorkerRuntime implements Disposable {
  private constructor();
  readonly id: string;
  readonly context: Contexts;
  /** A live channel or context from a handle posted to this worker (a user codec must be given again). */
  open<T = unknown>(handle: ChannelHandle, options?: { codec?: CodecName | UserCodec<T> }): Channel<T>;
  open(handle: ContextHandle): Context;
  chan<T = unknown>(options?: { cap?: number; codec?: CodecName | UserCodec<T> }): Channel<T>;
  after(ms: number): Channel<number>;
  tick(ms: number): TickerChannel;
  select(cases: SelectCase[], options?: OperationOptions): Promise<Selected>;
  go(name: string, ...args: Array<Channel<any> | number>): void;
  /** Gives this worker's thread back (at most 8 workers are attached at once). */
  detach(): void;
  [Symbol.dispose](): void;
}

/** Joins the runtime of handle (rt.handle, posted by the thread that started it). */
export declare function attach(handle: RuntimeHandle): Promise<WorkerRuntime>;
