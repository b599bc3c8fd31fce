// goroutine.js — rt.go(name, ...args): starting a goroutine the module
// exports (GORT_EXPORT_GO in C, gort/js.h) and waiting for it to end. The
// module tells each goroutine's parameters ("chan in, number n"), so the
// arguments are checked here, before anything reaches C.

import { GortError } from './errors.js';
import { Channel, selectAsync } from './channel.js';
import { UNIT_CODEC } from './codec.js';
import { Context } from './context.js';
import { E } from './realm.js';

const KINDS = ['number', 'string', 'chan', 'context'];

/** One parameter of an exported goroutine: its kind and name. */
function parseParams(name, text) {
  if (text.trim() === '') return [];
  return text.split(',').map((part, i) => {
    const [kind, pname = `arg${i}`] = part.trim().split(/\s+/);
    if (!KINDS.includes(kind)) {
      throw new GortError(`gort: goroutine '${name}' declares a parameter of unknown kind '${kind}' (${text})`, 'EINVAL');
    }
    return { kind, name: pname };
  });
}

function describe(value) {
  if (value === null) return 'null';
  if (value instanceof Channel) return 'a chan';
  if (value instanceof Context) return 'a context';
  return `a ${typeof value}`;
}

/** The names of the module's exported goroutines. */
function exportedNames(realm) {
  const p = realm.module._gort_js_go_names();
  if (p === 0) return [];
  try {
    realm.refresh();
    const names = [];
    for (let at = p; realm.u8[at] !== 0;) {
      const name = realm.cString(at);
      names.push(name);
      at += new TextEncoder().encode(name).length + 1;
    }
    return names.sort();
  } finally {
    realm.module._gort_js_free(p);
  }
}

/** The parameters of the goroutine `name` exports, from the realm's cache; null for none. */
function paramsOf(realm, name) {
  realm.goParams ??= new Map();
  if (!realm.goParams.has(name)) {
    const p = realm.withCString(name, (n) => realm.module._gort_js_go_params(n));
    realm.goParams.set(name, p === 0 ? null : parseParams(name, realm.cString(p)));
  }
  return realm.goParams.get(name);
}

function signature(name, params) {
  return `${name}(${params.map((p) => `${p.kind} ${p.name}`).join(', ')})`;
}

/** Throws a TypeError naming the first argument that does not fit its parameter. */
function checkArgs(rt, name, params, args) {
  if (args.length !== params.length) {
    throw new TypeError(`gort: ${signature(name, params)} takes ${params.length} argument${params.length === 1 ? '' : 's'}, not ${args.length}`);
  }
  params.forEach((param, i) => {
    const a = args[i];
    const fits =
      param.kind === 'number' ? typeof a == 'number' :
      param.kind === 'string' ? typeof a == 'string' :
      param.kind === 'chan' ? a === null || a instanceof Channel :
      a instanceof Context;
    if (fits && param.kind === 'string' && a.includes('\0')) {
      throw new TypeError(`gort: ${signature(name, params)}: argument ${i + 1} (${param.name}) contains a NUL character, which a C string cannot hold`);
    }
    if (!fits) {
      throw new TypeError(`gort: ${signature(name, params)}: argument ${i + 1} (${param.name}) must be a ${param.kind}${param.kind === 'chan' ? ' or null' : ''}, not ${describe(a)}`);
    }
    if ((a instanceof Channel || a instanceof Context) && a.rt.id !== rt.id) {
      throw new GortError(`gort: ${signature(name, params)}: argument ${i + 1} (${param.name}) belongs to another runtime`, 'EINVAL');
    }
  });
}

/**
 * A goroutine started from JS. Awaiting it (or its done promise) waits until
 * its function returns; a fatal error of the runtime rejects it with the
 * runtime's FatalError.
 */
export class Goroutine {
  #doneChannel;
  #done = null;

  /** @internal */
  constructor(id, name, doneChannel) {
    /** Go's goroutine id. */
    this.id = id;
    /** The exported function's name. */
    this.name = name;
    this.#doneChannel = doneChannel;
  }

  /** Resolves when the goroutine's function has returned. */
  get done() {
    // Made when first asked for: only a wait someone observes keeps a Node
    // process alive (a goroutine nobody awaits may run as long as it likes).
    this.#done ??= selectAsync([{ recv: this.#doneChannel }], { keepAlive: true }).then(() => {
      this.#doneChannel[Symbol.dispose]();
    });
    return this.#done;
  }

  then(onFulfilled, onRejected) { return this.done.then(onFulfilled, onRejected); }
}

/** rt.go: starts the goroutine `name` exports, with args checked against its parameters. */
export function go(rt, name, args) {
  const realm = rt.realm;
  realm.check();
  if (typeof name != 'string') throw new TypeError(`gort: go() takes the name of an exported goroutine, not ${describe(name)}`);
  const params = paramsOf(realm, name);
  if (params === null) {
    const names = exportedNames(realm);
    throw new GortError(`gort: no goroutine named '${name}' in this module (it exports: ${names.join(', ') || 'none'})`, 'EINVAL');
  }
  checkArgs(rt, name, params, args);
  const m = realm.module;
  const record = realm.withCString(name, (n) => m._gort_js_go_args_new(n, args.length));
  if (record === 0) throw new RangeError('gort: out of memory for a goroutine\'s arguments');
  let started = false;
  let doneChannel = null;
  try {
    params.forEach((param, i) => {
      const a = args[i];
      let r = E.OK;
      if (param.kind === 'number') m._gort_js_go_arg_number(record, i, a);
      else if (param.kind === 'string') r = realm.withCString(a, (s) => m._gort_js_go_arg_string(record, i, s));
      else r = m._gort_js_go_arg_handle(record, i, a === null ? 0 : a.h, param.kind === 'context' ? 1 : 0);
      if (r !== E.OK) throw new RangeError('gort: out of memory for a goroutine\'s arguments');
    });
    doneChannel = rt.chanOf(UNIT_CODEC, 0);
    const id = m._gort_js_go_start(record, doneChannel.h);
    if (id < 0) {
      if (-id === E.STATE) throw new GortError('gort: the runtime is not running', 'ESTATE');
      throw new RangeError('gort: out of memory for a goroutine');
    }
    started = true;
    return new Goroutine(id, name, doneChannel);
  } finally {
    if (!started) {
      m._gort_js_go_args_free(record);
      doneChannel?.[Symbol.dispose]();
    }
  }
}
