// api.js — what every entry point exports besides start().
export { isSupported, Runtime } from './runtime.js';
export { Channel, select } from './channel.js';
export { Context, ContextError, Canceled, DeadlineExceeded } from './context.js';
export { Goroutine } from './goroutine.js';
export {
  GortError, ChannelClosedError, PanicError, RuntimeClosedError, NotIsolatedError, FatalError, DeadlockError,
} from './errors.js';
export { openHeapMap } from './observe.js';
