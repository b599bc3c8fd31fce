// codec.js — how JS values travel in channels. Scalar codecs ('f64', 'i32',
// 'bool') store the value in the channel's element itself; the others store
// it as a payload, a pointer-free object of the gort heap (its bytes), which
// the collector frees once no channel or operation holds it. A 'json'
// payload is either the codec's binary form or JSON text, told apart by its
// first byte (below); both decode, whoever wrote them.

const encoder = new TextEncoder();
// ignoreBOM: a text that begins with U+FEFF keeps it (by default the
// decoder takes a leading byte-order mark for a marker and drops it).
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

// Text goes through one reused buffer each way: in V8 a fresh Uint8Array per
// value (TextEncoder.encode, a slice of the shared heap) costs ~0.4 us, more
// than encoding or decoding 100 bytes of text (~50-80 ns). The buffer is not
// shared memory, which browsers' TextDecoder refuses. Larger texts get arrays of their
// own, so that one big value does not hold memory for good.
//
// V8 copies between shared and non-shared memory a word at a time only when
// source and destination sit at the same offset modulo a word, and a byte
// at a time otherwise (4x slower: 500 bytes took 207 ns against 53): copies
// through the buffer put the bytes at the shared side's offset modulo
// COPY_ALIGN, which the buffer has room for.
// Text is encoded at the offset the last copy into shared memory went to
// (payloads mostly share one), so that its copy needs no shift.
const SCRATCH_BYTES = 64 * 1024;
const COPY_ALIGN = 8;
const scratch = new Uint8Array(SCRATCH_BYTES + COPY_ALIGN);
const encodeTargets = Array.from({ length: COPY_ALIGN }, (_, shift) => scratch.subarray(shift));
// Whether encodeInto writes into, and decode reads from, a view of shared
// memory: Node's do (decoding 100 bytes there took 90 ns, against 127 for a
// copy out and a decode), and Chromium's refuse one ("must not be shared"),
// where text goes through the reused buffer instead.
const acceptsShared = (use) => {
  if (typeof SharedArrayBuffer != 'function') return false;
  try {
    use(new Uint8Array(new SharedArrayBuffer(8)));
    return true;
  } catch {
    return false;
  }
};
const ENCODE_INTO_SHARED = acceptsShared((view) => encoder.encodeInto('', view));
const DECODE_SHARED = acceptsShared((view) => decoder.decode(view));
let encodeShift = 0;

// Where they refuse shared memory (browsers), short text is encoded, and
// short ASCII text decoded, by the loops below instead, straight to and from
// the runtime's memory: Chromium's encodeInto and decode cost 0.4-0.5 us a
// call whatever the length up to some hundreds of bytes, and the copy through
// the reused buffer comes on top; the loops took 0.25 us to encode 100 ASCII
// characters and 0.23 us to decode them. Longer text, and text with bytes
// over 0x7f to decode, goes the engine's way (the loops' cost grows with the
// length: 472 characters took the encode loop 2.4 us).
const SHORT_TEXT = 128;
const LOOP_TEXT = !ENCODE_INTO_SHARED;
const LOOP_DECODE = !DECODE_SHARED;
// The character codes of the text being decoded (reused: a fresh array per
// decode costs as much as the loop).
const charCodes = [];
// UTF-8's lead bytes and the replacement character (what TextEncoder writes
// for a lone surrogate).
const LEAD_2 = 0xc0, LEAD_3 = 0xe0, LEAD_4 = 0xf0, CONTINUATION = 0x80, SIX_BITS = 0x3f;
const REPLACEMENT = 0xfffd;
// UTF-16's surrogates: a high one [HIGH, LOW) then a low one [LOW, END).
const SURROGATE_HIGH = 0xd800, SURROGATE_LOW = 0xdc00, SURROGATE_END = 0xe000;

/**
 * Encodes text (text.length * 3 bytes must fit target at `at`) as UTF-8
 * into target as TextEncoder does, lone surrogates as U+FFFD: the bytes
 * written.
 */
function utf8Loop(text, target, at) {
  let p = at;
  for (let i = 0, n = text.length; i < n; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      target[p++] = c;
    } else if (c < 0x800) {
      target[p++] = LEAD_2 | (c >> 6);
      target[p++] = CONTINUATION | (c & SIX_BITS);
    } else {
      if (c >= SURROGATE_HIGH && c < SURROGATE_END) {
        const low = c < SURROGATE_LOW && i + 1 < n ? text.charCodeAt(i + 1) : 0;
        if (low >= SURROGATE_LOW && low < SURROGATE_END) {
          const cp = 0x10000 + ((c - SURROGATE_HIGH) << 10) + (low - SURROGATE_LOW);
          i++;
          target[p++] = LEAD_4 | (cp >> 18);
          target[p++] = CONTINUATION | ((cp >> 12) & SIX_BITS);
          target[p++] = CONTINUATION | ((cp >> 6) & SIX_BITS);
          target[p++] = CONTINUATION | (cp & SIX_BITS);
          continue;
        }
        c = REPLACEMENT;
      }
      target[p++] = LEAD_3 | (c >> 12);
      target[p++] = CONTINUATION | ((c >> 6) & SIX_BITS);
      target[p++] = CONTINUATION | (c & SIX_BITS);
    }
  }
  return p - at;
}

/** The text of u8[start, start + len) if every byte of it is ASCII, else null. */
function asciiAt(u8, start, len) {
  charCodes.length = len;
  for (let i = 0; i < len; i++) {
    const b = u8[start + i];
    if (b >= 0x80) return null;
    charCodes[i] = b;
  }
  return String.fromCharCode.apply(null, charCodes);
}

/**
 * text's UTF-8 bytes: a view of the reused buffer when they fit it (valid
 * until the next encode; callers copy them out at once), else a fresh array.
 */
function utf8(text) {
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  if (text.length * 3 > SCRATCH_BYTES) return encoder.encode(text);
  const written = LOOP_TEXT && text.length <= SHORT_TEXT
    ? utf8Loop(text, scratch, encodeShift)
    : encoder.encodeInto(text, encodeTargets[encodeShift]).written;
  return scratch.subarray(encodeShift, encodeShift + written);
}

/**
 * Encodes text as UTF-8 into target (a view of the runtime's memory, which
 * Node's encodeInto writes as fast as any other): the bytes written, or -1
 * when they do not all fit (the caller then encodes the value anew: a JSON
 * text over the staging area's 64 KB is made twice).
 */
function utf8Into(text, target) {
  if (ENCODE_INTO_SHARED) {
    const { read, written } = encoder.encodeInto(text, target);
    return read === text.length ? written : -1;
  }
  if (LOOP_TEXT && text.length <= SHORT_TEXT && text.length * 3 <= target.length) return utf8Loop(text, target, 0);
  const { read, written } = encoder.encodeInto(text, scratch);
  if (read !== text.length || written > target.length) return -1;
  target.set(scratch.subarray(0, written));
  return written;
}

function stringOf(v) {
  if (typeof v != 'string') throw new TypeError(`gort: a 'string' channel carries strings, not ${describe(v)}`);
  return v;
}

function jsonText(v) {
  const text = JSON.stringify(v);
  if (text === undefined) throw new TypeError(`gort: a 'json' channel cannot carry ${describe(v)} (JSON.stringify gives nothing)`);
  return text;
}

/**
 * A view of the reused buffer holding u8[start, start + len) (u8 may be
 * shared memory), valid until the buffer's next use; null when it does not
 * fit the buffer.
 */
function copyOut(u8, start, len) {
  if (len > SCRATCH_BYTES) return null;
  const at = start % COPY_ALIGN;
  scratch.set(u8.subarray(start, start + len), at);
  return scratch.subarray(at, at + len);
}

/** A fresh array of u8[start, start + len) (u8 may be shared memory). */
function bytesAt(u8, start, len) {
  return copyOut(u8, start, len)?.slice() ?? u8.slice(start, start + len);
}

/** The text of the UTF-8 bytes u8[start, start + len) (u8 may be shared memory). */
function textAt(u8, start, len) {
  if (DECODE_SHARED) return decoder.decode(u8.subarray(start, start + len));
  const ascii = LOOP_DECODE && len <= SHORT_TEXT ? asciiAt(u8, start, len) : null;
  return ascii ?? decoder.decode(copyOut(u8, start, len) ?? u8.slice(start, start + len));
}

/**
 * Copies bytes into u8 (the runtime's shared memory) at `at`, from the
 * same offset modulo a word as `at` (through the reused buffer when they
 * are not there already).
 */
export function copyIn(u8, at, bytes) {
  const shift = at % COPY_ALIGN;
  encodeShift = shift;
  const len = bytes.length;
  if (bytes.byteOffset % COPY_ALIGN === shift || len > SCRATCH_BYTES) {
    u8.set(bytes, at);
    return;
  }
  if (bytes.buffer === scratch.buffer) scratch.copyWithin(shift, bytes.byteOffset, bytes.byteOffset + len);
  else scratch.set(bytes, shift);
  u8.set(scratch.subarray(shift, shift + len), at);
}

// ---- the 'json' codec's binary form ----
//
// JSON's values go between JS parties in a binary form of JSON's data model
// when they are plain data (objects with Object.prototype or no prototype,
// arrays, strings, finite numbers, booleans, null): a tag byte per value,
// strings as their UTF-8 bytes after a length, numbers as int32 or float64.
// On Node 20 a 0.5 KB object took JSON.stringify and encodeInto 1.1 us and
// the decode and JSON.parse 1.0 us, where this form takes 0.43 and 0.6 us,
// into and out of shared memory: V8's JSON escapes text a character at a
// time (1.4 ns each), and UTF-8 needs no escapes. What it decodes to is
// what JSON.parse(JSON.stringify(v)) gives: -0 becomes 0, NaN and the
// infinities null, undefined, functions and symbols are left out of
// objects and null in arrays, and the keys keep
// their order. Any other value (a toJSON, a Date, a Map, a class instance, a
// BigInt, a boxed primitive, text with a lone surrogate, which JSON escapes
// and UTF-8 cannot carry, nesting deeper than MAX_NESTING, which may be a
// cycle, or more than the codec's buffer holds) goes whole as JSON text, by
// JSON.stringify, with its errors: its getters then run a second time.
//
// A payload is JSON text when its first byte is not a tag: tags are below
// the first bytes JSON text can have ('\t' 0x09 and the characters above
// it), so C sends JSON text (gort_js_send_bytes) and JS reads either.
const TAG_NULL = 1, TAG_FALSE = 2, TAG_TRUE = 3, TAG_INT32 = 4, TAG_FLOAT64 = 5, TAG_STRING = 6, TAG_ARRAY = 7, TAG_OBJECT = 8;
const LAST_TAG = TAG_OBJECT;
// A string's length: one byte up to SHORT_STRING ASCII characters (keys,
// mostly), else LONG_STRING and the UTF-8 length in 4 bytes.
const SHORT_STRING = 24;
const LONG_STRING = 0xff;
const LONG_HEADER = 5;
// Counts of elements and keys: 4 bytes.
const COUNT_BYTES = 4;
// Deeper than this, a value goes as JSON text (and a cycle gets JSON's TypeError).
const MAX_NESTING = 64;
// The most one value may take before its check of the room left: a tag and a float64.
const VALUE_MAX_BYTES = 9;

// The writer's own buffer, not shared memory (encodeInto writes into it in
// every browser, and a getter that sends a value meanwhile finds its JSON
// text's buffer untouched); what it wrote is copied out at the target's
// offset modulo a word.
const binary = new Uint8Array(SCRATCH_BYTES + COPY_ALIGN);
const float64Bytes = new Uint8Array(8);
const float64Cell = new Float64Array(float64Bytes.buffer);
const hasIsWellFormed = typeof String.prototype.isWellFormed == 'function';
const SURROGATE = /[\ud800-\udfff]/;
// Thrown inside the writer: the value goes as JSON text instead.
const AS_JSON = Symbol('as JSON text');
let writing = false;
let out = 0;
let outEnd = 0;

function room(n) {
  if (out + n > outEnd) throw AS_JSON;
}

function writeCount(at, n) {
  binary[at] = n;
  binary[at + 1] = n >>> 8;
  binary[at + 2] = n >>> 16;
  binary[at + 3] = n >>> 24;
}

function writeString(s) {
  const n = s.length;
  if (n <= SHORT_STRING) {
    room(1 + n);
    let q = out + 1;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return writeLongString(s);
      binary[q++] = c;
    }
    binary[out] = n;
    out = q;
    return;
  }
  writeLongString(s);
}

function writeLongString(s) {
  if (hasIsWellFormed ? !s.isWellFormed() : SURROGATE.test(s)) throw AS_JSON;
  room(LONG_HEADER);
  const start = out + LONG_HEADER;
  const { read, written } = encoder.encodeInto(s, binary.subarray(start, outEnd));
  if (read !== s.length) throw AS_JSON;
  binary[out] = LONG_STRING;
  writeCount(out + 1, written);
  out = start + written;
}

/** Writes x; false (nothing written) for what JSON leaves out: undefined, a function, a symbol. */
function writeValue(x, depth) {
  room(VALUE_MAX_BYTES);
  switch (typeof x) {
    case 'string':
      binary[out++] = TAG_STRING;
      writeString(x);
      return true;
    case 'number':
      if (x === (x | 0)) { // -0 too, written as 0
        binary[out] = TAG_INT32;
        writeCount(out + 1, x);
        out += 5;
      } else if (x - x === 0) { // finite
        binary[out] = TAG_FLOAT64;
        float64Cell[0] = x;
        binary.set(float64Bytes, out + 1);
        out += 9;
      } else {
        binary[out++] = TAG_NULL;
      }
      return true;
    case 'boolean':
      binary[out++] = x ? TAG_TRUE : TAG_FALSE;
      return true;
    case 'object': {
      if (x === null) {
        binary[out++] = TAG_NULL;
        return true;
      }
      if (depth >= MAX_NESTING || typeof x.toJSON == 'function') throw AS_JSON;
      if (Array.isArray(x)) {
        const n = x.length;
        binary[out] = TAG_ARRAY;
        writeCount(out + 1, n);
        out += 1 + COUNT_BYTES;
        for (let i = 0; i < n; i++) {
          if (!writeValue(x[i], depth + 1)) binary[out++] = TAG_NULL;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(x);
      if (proto !== Object.prototype && proto !== null) throw AS_JSON;
      const keys = Object.keys(x);
      const countAt = out + 1;
      binary[out] = TAG_OBJECT;
      out += 1 + COUNT_BYTES;
      let count = 0;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        const at = out;
        writeString(key);
        if (writeValue(x[key], depth + 1)) count++;
        else out = at;
      }
      writeCount(countAt, count);
      return true;
    }
    case 'bigint':
      throw AS_JSON;
    default:
      return false;
  }
}

/**
 * Writes v in the binary form at binary[shift...]: its length, or -1 when v
 * goes as JSON text instead (also while a getter of a value being written
 * sends one: that one goes as JSON text).
 */
function binaryOf(v, shift) {
  if (writing) return -1;
  writing = true;
  out = shift;
  outEnd = binary.length;
  try {
    return writeValue(v, 0) ? out - shift : -1;
  } catch (err) {
    if (err === AS_JSON) return -1;
    throw err;
  } finally {
    writing = false;
  }
}

// The reader, over the bytes [read, readEnd) of readBytes (which may be
// shared memory). Short strings, keys mostly, come back from a cache of
// the last ones read: a key that is already a string of the engine's goes
// into an object faster.
const KEY_CACHE_SIZE = 1024;
const keyCache = new Array(KEY_CACHE_SIZE).fill('');
let readBytes = binary;
let read = 0;
let readEnd = 0;

function malformed() {
  return new SyntaxError('gort: a json payload that is neither JSON text nor the codec\'s binary form');
}

function need(n) {
  if (read + n > readEnd) throw malformed();
}

function readCount() {
  need(COUNT_BYTES);
  const u8 = readBytes;
  const n = (u8[read] | (u8[read + 1] << 8) | (u8[read + 2] << 16) | (u8[read + 3] << 24)) >>> 0;
  read += COUNT_BYTES;
  return n;
}

function readString() {
  need(1);
  const n = readBytes[read];
  if (n === LONG_STRING) {
    read++;
    const len = readCount();
    need(len);
    const s = textAt(readBytes, read, len);
    read += len;
    return s;
  }
  if (n > SHORT_STRING) throw malformed();
  read++;
  need(n);
  return shortString(n);
}

/** The ASCII string of the n bytes at read. */
function shortString(n) {
  const u8 = readBytes;
  const at = read;
  read += n;
  // Length, first, middle and last byte tell most keys apart.
  const slot = n === 0 ? 0 : (n * 7 + u8[at] * 31 + u8[at + (n >> 1)] * 131 + u8[at + n - 1] * 257) & (KEY_CACHE_SIZE - 1);
  let s = keyCache[slot];
  if (s.length === n) {
    let i = 0;
    while (i < n && s.charCodeAt(i) === u8[at + i]) i++;
    if (i === n) return s;
  }
  s = asciiAt(u8, at, n);
  if (s === null) throw malformed();
  keyCache[slot] = s;
  return s;
}

function readValue(depth) {
  need(1);
  const u8 = readBytes;
  switch (u8[read++]) {
    case TAG_NULL: return null;
    case TAG_FALSE: return false;
    case TAG_TRUE: return true;
    case TAG_INT32: return readCount() | 0;
    case TAG_FLOAT64:
      need(8);
      for (let i = 0; i < 8; i++) float64Bytes[i] = u8[read + i];
      read += 8;
      // What the writer never writes, JSON cannot hold.
      if (!(float64Cell[0] - float64Cell[0] === 0) || (float64Cell[0] === 0 && 1 / float64Cell[0] < 0)) throw malformed();
      return float64Cell[0];
    case TAG_STRING: return readString();
    case TAG_ARRAY: {
      if (depth >= MAX_NESTING) throw malformed();
      const n = readCount();
      if (n > readEnd - read) throw malformed(); // a byte each at least
      const a = new Array(n);
      for (let i = 0; i < n; i++) a[i] = readValue(depth + 1);
      return a;
    }
    case TAG_OBJECT: {
      if (depth >= MAX_NESTING) throw malformed();
      const n = readCount();
      if (n > (readEnd - read) / 2) throw malformed(); // a key's length and a tag at least
      const o = {};
      for (let i = 0; i < n; i++) {
        const key = readString();
        const value = readValue(depth + 1);
        // As JSON.parse makes them: own data properties, whatever
        // Object.prototype has of the name (__proto__, a setter, a frozen one).
        if (key in Object.prototype) Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
        else o[key] = value;
      }
      return o;
    }
    default: throw malformed();
  }
}

/** The json codec's value of u8[start, start + len): the binary form or JSON text. */
function jsonValueAt(u8, start, len) {
  const first = len > 0 ? u8[start] : 0;
  if (first === 0 || first > LAST_TAG) return JSON.parse(textAt(u8, start, len));
  readBytes = u8;
  read = start;
  readEnd = start + len;
  try {
    const value = readValue(0);
    if (read !== readEnd) throw malformed();
    return value;
  } finally {
    readBytes = binary;
  }
}

// Element kinds, as src/js/bridge.h numbers them.
export const ELEM_PAYLOAD = 0;
export const ELEM_F64 = 1;
export const ELEM_I32 = 2;
export const ELEM_BOOL = 3;
export const ELEM_UNIT = 4;

function bytesOf(value) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer != 'undefined' && value instanceof SharedArrayBuffer)) {
    return new Uint8Array(value);
  }
  throw new TypeError(`gort: the 'bytes' codec takes a Uint8Array, another typed array or an ArrayBuffer, not ${describe(value)}`);
}

function describe(value) {
  if (value === null) return 'null';
  if (typeof value == 'object') return value.constructor ? value.constructor.name : 'an object';
  return typeof value;
}

/**
 * The codecs by name. A scalar codec has `kind` and `check`; a payload
 * codec has `encode` (value -> Uint8Array, which the caller copies out before
 * it encodes again), `decode` (a Uint8Array -> value) and `decodeAt` (the
 * value of the bytes u8[start, start + len) of the runtime's shared memory);
 * a text codec also `encodeInto` (value, target: the bytes it wrote into
 * target, a view of the runtime's memory, or -1 when they did not all fit).
 */
export const CODECS = {
  f64: {
    name: 'f64', kind: ELEM_F64,
    check(v) { if (typeof v != 'number') throw new TypeError(`gort: an 'f64' channel carries numbers, not ${describe(v)}`); },
  },
  i32: {
    name: 'i32', kind: ELEM_I32,
    check(v) {
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
        throw new TypeError(`gort: an 'i32' channel carries integers from -2147483648 to 2147483647, not ${typeof v == 'number' ? v : describe(v)}`);
      }
    },
  },
  bool: {
    name: 'bool', kind: ELEM_BOOL,
    check(v) { if (typeof v != 'boolean') throw new TypeError(`gort: a 'bool' channel carries booleans, not ${describe(v)}`); },
  },
  string: {
    name: 'string', kind: ELEM_PAYLOAD,
    encode(v) {
      return utf8(stringOf(v));
    },
    encodeInto(v, target) {
      return utf8Into(stringOf(v), target);
    },
    decode(bytes) { return decoder.decode(bytes); },
    decodeAt: textAt,
  },
  bytes: {
    name: 'bytes', kind: ELEM_PAYLOAD,
    encode: bytesOf,
    decode(bytes) { return bytes; },
    // A fresh array of its own: views of shared memory break TextDecoder and web APIs.
    decodeAt: bytesAt,
  },
  json: {
    name: 'json', kind: ELEM_PAYLOAD,
    encode(v) {
      // (A getter that sends a value meanwhile moves encodeShift.)
      const shift = encodeShift;
      const n = binaryOf(v, shift);
      return n >= 0 ? binary.subarray(shift, shift + n) : utf8(jsonText(v));
    },
    encodeInto(v, target) {
      const shift = target.byteOffset % COPY_ALIGN;
      const n = binaryOf(v, shift);
      if (n < 0) return utf8Into(jsonText(v), target);
      if (n > target.length) return -1;
      target.set(binary.subarray(shift, shift + n));
      return n;
    },
    decode(bytes) { return jsonValueAt(bytes, 0, bytes.length); },
    decodeAt: jsonValueAt,
  },
};

// The runtime's own channels' elements, named in their handles: a context's
// Done (Go's chan struct{}) and a timer's (the monotonic time it fired, an
// int64 of nanoseconds in 8 bytes, read as milliseconds).
export const UNIT_CODEC = { name: 'unit', kind: ELEM_UNIT, check() {} };
export const TIME_CODEC = { name: 'time', kind: ELEM_F64, nanos: true, check() {} };

/** The codec of a channel's handle (a name the channel's maker gave it). */
export function codecOfHandle(name) {
  if (name === UNIT_CODEC.name) return UNIT_CODEC;
  if (name === TIME_CODEC.name) return TIME_CODEC;
  return codecOf(name);
}

/** The codec for a channel option: a name, or a user's { encode, decode }. */
export function codecOf(option = 'json') {
  if (typeof option == 'string') {
    const codec = CODECS[option];
    if (!codec) throw new TypeError(`gort: unknown codec '${option}' (f64, i32, bool, string, bytes, json, or { encode, decode })`);
    return codec;
  }
  if (option && typeof option.encode == 'function' && typeof option.decode == 'function') {
    return {
      name: option.name ?? 'custom', kind: ELEM_PAYLOAD, user: option,
      encode(v) {
        const bytes = option.encode(v);
        if (!(bytes instanceof Uint8Array)) throw new TypeError('gort: a codec\'s encode must return a Uint8Array');
        return bytes;
      },
      decode(bytes) { return option.decode(bytes); },
      decodeAt(u8, start, len) { return option.decode(bytesAt(u8, start, len)); },
    };
  }
  throw new TypeError('gort: a codec is a name (f64, i32, bool, string, bytes, json) or { encode, decode }');
}
