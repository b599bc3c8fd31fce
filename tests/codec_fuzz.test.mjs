// A seeded fuzzer of the npm package's value codecs (src/js/codec.js): libFuzzer
// cannot drive JS, so this one draws its inputs from a seeded generator,
// both arbitrary bytes and structured values. Checked: decoding arbitrary
// bytes never fails except as documented (the 'json' codec's SyntaxError for
// bytes that are not JSON), 'bytes' hands back what it got, and every value
// a codec takes round-trips through it and through the runtime's channels
// (payloads of every size from 0 to 64 KB on the gort heap, read back by the
// package's own decoder, compared byte for byte) while goroutines collect.
//
// GORT_FUZZ_SEED picks the seed (the default is fixed, so that `npm test` is
// repeatable) and GORT_FUZZ_SECONDS how long each test draws inputs (`npm
// run fuzz` passes its time through); a failure names the seed and the input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CODECS, codecOf, copyIn } from '../src/js/codec.js';
import { EDGE_TEXTS } from './browser/edge_texts.mjs';

const SEED = BigInt(process.env.GORT_FUZZ_SEED ?? '20261205');
const SECONDS = Number(process.env.GORT_FUZZ_SECONDS ?? '2');
// Inputs drawn per test at least, however fast the time runs out (a batch
// through the runtime's channels takes ~80 ms under gccheckmark).
const MIN_INPUTS = 200;
const MIN_BATCHES = 25;

/** splitmix64: the same generator as the C tests'. */
function generator(seed) {
  let state = seed & 0xffffffffffffffffn;
  const next = () => {
    state = (state + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
    return z ^ (z >> 31n);
  };
  const below = (n) => Number(next() % BigInt(n));
  return { next, below };
}

// Sizes that matter: empty, around the 4-byte rounding of payloads and the
// tiny allocator's 16 bytes, size-class edges, past 32 KB (a large object).
const EDGE_SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 4095, 4096, 8192, 32767, 32768, 32769, 65536, 65537];

function randomBytes(rng) {
  const n = rng.below(4) === 0 ? EDGE_SIZES[rng.below(EDGE_SIZES.length)] : rng.below(300);
  const bytes = new Uint8Array(n);
  const style = rng.below(4);
  for (let i = 0; i < n; i++) {
    if (style === 0) bytes[i] = rng.below(256);
    else if (style === 1) bytes[i] = 0x20 + rng.below(0x5f); // printable ASCII
    else if (style === 2) bytes[i] = [0x22, 0x5b, 0x5d, 0x7b, 0x7d, 0x3a, 0x2c, 0x5c, 0x30, 0x2d, 0x65][rng.below(11)]; // JSON punctuation
    else bytes[i] = 0x80 + rng.below(0x80); // continuation and lead bytes of UTF-8
  }
  return bytes;
}

// Code points from every range that UTF-8 encodes differently, and lone
// surrogates (which a JS string may hold and UTF-8 cannot).
function randomString(rng, wellFormed) {
  const n = rng.below(4) === 0 ? EDGE_SIZES[rng.below(EDGE_SIZES.length)] >> 1 : rng.below(40);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rng.below(6);
    if (r === 0) s += String.fromCharCode(rng.below(0x80));
    else if (r === 1) s += String.fromCharCode(0x80 + rng.below(0x780));
    else if (r === 2) s += String.fromCharCode(0x800 + rng.below(0xd000));
    else if (r === 3) s += String.fromCodePoint(0x10000 + rng.below(0x100000));
    else if (r === 4 && !wellFormed) s += String.fromCharCode(0xd800 + rng.below(0x800));
    else s += '\u0000"\\\n'[rng.below(4)];
  }
  return s;
}

function randomJSON(rng, depth = 0) {
  const r = rng.below(depth > 4 ? 5 : 8);
  switch (r) {
    case 0: return null;
    case 1: return rng.below(2) === 0;
    case 2: return [0, -0, 1, -1, 2 ** 53, -(2 ** 31), 1e308, 5e-324, 0.1][rng.below(9)];
    case 3: return Number(rng.next() % 1000000n) / 7;
    case 4: return randomString(rng, false);
    case 5: case 6: return Array.from({ length: rng.below(5) }, () => randomJSON(rng, depth + 1));
    default: {
      const o = {};
      for (let i = rng.below(5); i > 0; i--) o[randomString(rng, false)] = randomJSON(rng, depth + 1);
      return o;
    }
  }
}

/** What JSON makes of a value: -0 becomes 0. */
const jsonNormal = (v) => JSON.parse(JSON.stringify(v));

// The reference decoder: UTF-8 as is, a leading U+FEFF kept (a text's
// first character, not a marker to drop).
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** A string as UTF-8 carries it: lone surrogates become U+FFFD. */
const utf8Normal = (s) => UTF8.decode(new TextEncoder().encode(s));

// The 'json' codec's binary form begins with a tag byte (1 to 8), JSON text
// never does.
const isBinaryForm = (bytes) => bytes.length > 0 && bytes[0] >= 1 && bytes[0] <= 8;

/** v is JSON data: JSON carries it unchanged, and so does the codec. */
function assertJSONData(v) {
  assert.deepEqual(jsonNormal(v), v, 'not JSON data');
  assert.deepEqual(CODECS.json.decode(CODECS.json.encode(v)), v, 'does not round-trip');
}

/** Runs body(rng, i) for SECONDS (and at least MIN_INPUTS inputs); a failure names the seed and input. */
async function fuzz(name, body, minInputs = MIN_INPUTS) {
  const rng = generator(SEED ^ BigInt([...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7)));
  const until = Date.now() + SECONDS * 1000;
  let i = 0;
  for (; i < minInputs || Date.now() < until; i++) {
    try {
      await body(rng, i);
    } catch (err) {
      err.message = `${name}: input ${i} of seed ${SEED} (GORT_FUZZ_SEED=${SEED}): ${err.message}`;
      throw err;
    }
  }
  return i;
}

test('codec fuzz: decoding arbitrary bytes never fails but as documented', async () => {
  const custom = codecOf({ encode: (v) => v, decode: (b) => b.length });
  await fuzz('decode', (rng) => {
    const bytes = randomBytes(rng);
    const copy = bytes.slice();
    const text = CODECS.string.decode(bytes);
    assert.equal(typeof text, 'string');
    assert.equal(text, UTF8.decode(copy), 'string decode differs from UTF-8 decoding');
    assert.equal(CODECS.bytes.decode(bytes), bytes);
    let parsed;
    let failed = null;
    try {
      parsed = CODECS.json.decode(bytes);
    } catch (err) {
      failed = err;
    }
    if (failed) {
      assert.ok(failed instanceof SyntaxError, `json decode threw ${failed?.constructor?.name}: ${failed?.message}`);
    } else if (isBinaryForm(bytes)) {
      assertJSONData(parsed);
    } else {
      assert.deepEqual(parsed, JSON.parse(text));
    }
    assert.equal(custom.decode(bytes), copy.length);
    assert.deepEqual(bytes, copy, 'decoding changed its input');
    // The same bytes read where channels keep them: in shared memory, at an offset.
    const shared = new Uint8Array(new SharedArrayBuffer(bytes.length + 16));
    const at = 1 + rng.below(15);
    shared.set(bytes, at);
    assert.equal(CODECS.string.decodeAt(shared, at, bytes.length), text);
    const own = CODECS.bytes.decodeAt(shared, at, bytes.length);
    assert.ok(!(own.buffer instanceof SharedArrayBuffer), "'bytes' hands back a view of shared memory");
    assert.deepEqual(own, copy);
    if (!failed) assert.deepEqual(CODECS.json.decodeAt(shared, at, bytes.length), parsed);
    assert.equal(custom.decodeAt(shared, at, bytes.length), copy.length);
  });
});

test('codec: texts of every edge round-trip whole', () => {
  for (const s of EDGE_TEXTS) {
    assert.equal(CODECS.string.decode(CODECS.string.encode(s)), utf8Normal(s), JSON.stringify(s));
    assert.deepEqual(CODECS.json.decode(CODECS.json.encode({ s })), { s }, JSON.stringify(s)); // JSON escapes lone surrogates
  }
  assert.equal(CODECS.string.decode(CODECS.string.encode('\ufeffabc')), '\ufeffabc', 'a leading U+FEFF is dropped');
});

test('codec fuzz: values round-trip through each codec', async () => {
  await fuzz('roundtrip', (rng) => {
    const s = randomString(rng, rng.below(2) === 0);
    assert.equal(CODECS.string.decode(CODECS.string.encode(s)), utf8Normal(s));
    const v = randomJSON(rng);
    assert.deepEqual(CODECS.json.decode(CODECS.json.encode(v)), jsonNormal(v));
    // A long text does not fit the codecs' reused buffer and takes an array of its own.
    const long = `${s}x`.repeat(Math.ceil(70000 / (s.length + 1)));
    assert.equal(CODECS.string.decode(CODECS.string.encode(long)), utf8Normal(long));
    const b = randomBytes(rng);
    assert.deepEqual(CODECS.bytes.decode(CODECS.bytes.encode(b)), b);
    const f = new Float64Array([Number(rng.next()) / 3, -0, NaN]);
    assert.deepEqual(new Uint8Array(CODECS.bytes.encode(f)), new Uint8Array(f.buffer));
  });
});

// The binary form, altered: cut short, bytes changed, added or taken out,
// read at an offset amid other bytes. Each reading fails with a SyntaxError
// or gives JSON data, and the same whatever the bytes around it are: it
// never reads past its own.
test('codec fuzz: altered binary forms fail as JSON does or give JSON data, reading only their own bytes', async () => {
  const shared = new Uint8Array(new SharedArrayBuffer(1 << 17));
  let binaryForms = 0;
  await fuzz('binary', (rng) => {
    const v = randomJSON(rng);
    const bytes = CODECS.json.encode(v).slice();
    if (!isBinaryForm(bytes)) return; // a lone surrogate somewhere: JSON text
    binaryForms++;
    const altered = [...bytes];
    for (let k = rng.below(4); k >= 0; k--) {
      const i = rng.below(altered.length + 1);
      const r = rng.below(4);
      if (r === 0) altered.length = Math.max(1, i);
      else if (r === 1 && i < altered.length) altered[i] = rng.below(256);
      else if (r === 2) altered.splice(i, 0, rng.below(256));
      else altered.splice(Math.max(1, i), 1);
    }
    const at = 1 + rng.below(64);
    const readings = [0x00, 0xff, null].map((fill) => {
      for (let i = 0; i < at + altered.length + 64; i++) shared[i] = fill ?? rng.below(256);
      shared.set(altered, at);
      try {
        return { value: CODECS.json.decodeAt(shared, at, altered.length) };
      } catch (err) {
        assert.ok(err instanceof SyntaxError, `threw ${err?.constructor?.name}: ${err?.message}`);
        return { failed: true };
      }
    });
    assert.deepEqual(readings[1], readings[0], 'the reading depends on the bytes after it');
    assert.deepEqual(readings[2], readings[0], 'the reading depends on the bytes around it');
    if (!readings[0].failed) assertJSONData(readings[0].value);
    // Unaltered, at the same offset: the value itself.
    shared.set(bytes, at);
    assert.deepEqual(CODECS.json.decodeAt(shared, at, bytes.length), jsonNormal(v));
  });
  assert.ok(binaryForms > 0);
});

// What JSON.stringify and JSON.parse would make of a value, the codec makes,
// whichever form it chose.
test('codec: json values come back as JSON makes them, in either form', () => {
  class Point { constructor() { this.x = 1; } }
  const cases = [
    { value: { a: 1, b: 'two', c: [true, false, null], d: { e: 1.5 } }, binary: true },
    { value: [1, -0, 0.1, 2 ** 31, -(2 ** 31), 2 ** 53, 1e308, 5e-324, NaN, Infinity, -Infinity], binary: true },
    { value: { u: undefined, f() {}, s: Symbol('s'), kept: 1 }, binary: true },
    { value: [undefined, () => 1, Symbol('s')], binary: true },
    // eslint-disable-next-line no-sparse-arrays
    { value: [1, , 3], binary: true },
    { value: { 2: 'b', 1: 'a', z: 'z', y: 'y' }, binary: true },
    { value: JSON.parse('{"__proto__":{"x":1},"constructor":2,"toString":3,"hasOwnProperty":4}'), binary: true },
    { value: Object.assign(Object.create(null), { k: 'null prototype' }), binary: true },
    { value: { text: 'é∑😀'.repeat(30), short: 'é', ascii: 'x'.repeat(200) }, binary: true },
    { value: '', binary: true },
    { value: 'a\u0000"\\\n', binary: true },
    { value: { d: new Date(0) }, binary: false },
    { value: { m: new Map([[1, 2]]), set: new Set([1]) }, binary: false },
    { value: new Point(), binary: false },
    { value: [new Number(3), new String('s'), new Boolean(false)], binary: false },
    { value: { toJSON: (key) => `key ${key}` }, binary: false },
    { value: { lone: 'a\ud800b' }, binary: false },
    { value: { lone: 'a\udc00'.repeat(20) }, binary: false },
    { value: new Uint8Array([1, 2]), binary: false },
    { value: { big: 'x'.repeat(70_000) }, binary: false },
  ];
  let deep = 0;
  for (let i = 0; i < 70; i++) deep = [deep];
  cases.push({ value: deep, binary: false });
  const shared = new Uint8Array(new SharedArrayBuffer(1 << 18));
  for (const { value, binary } of cases) {
    const what = String(JSON.stringify(value)).slice(0, 80);
    const expected = JSON.parse(JSON.stringify(value));
    const bytes = CODECS.json.encode(value);
    assert.equal(isBinaryForm(bytes), binary, `binary form for ${what}`);
    const back = CODECS.json.decode(bytes);
    assert.deepEqual(back, expected, what);
    assert.deepEqual(Object.getOwnPropertyNames(back ?? {}), Object.getOwnPropertyNames(expected ?? {}), `keys of ${what}`);
    assert.equal(JSON.stringify(back), JSON.stringify(value), what);
    const n = CODECS.json.encodeInto(value, shared.subarray(3));
    if (n >= 0) assert.deepEqual(CODECS.json.decodeAt(shared, 3, n), expected, `encodeInto ${what}`);
    else assert.ok(bytes.length > shared.length - 3 || !binary, `encodeInto gave up on ${what}`);
  }
  // JSON's errors, from either form.
  assert.throws(() => CODECS.json.encode(1n), TypeError);
  assert.throws(() => CODECS.json.encode({ a: [1n] }), TypeError);
  const cycle = { a: [] };
  cycle.a.push(cycle);
  assert.throws(() => CODECS.json.encode(cycle), /circular/);
  assert.throws(() => CODECS.json.encode(undefined), TypeError);
  assert.throws(() => CODECS.json.encode(() => 1), TypeError);
  // Getters run once, and a getter may send a value meanwhile.
  let calls = 0;
  const inner = { inner: ['value', 1] };
  const outer = {
    before: 'b'.repeat(40),
    get g() { calls++; assert.deepEqual(CODECS.json.decode(CODECS.json.encode(inner).slice()), inner); return 'got'; },
    after: [1, 2, 3],
  };
  assert.deepEqual(CODECS.json.decode(CODECS.json.encode(outer).slice()), { before: 'b'.repeat(40), g: 'got', after: [1, 2, 3] });
  assert.equal(calls, 1);
  const written = CODECS.json.encodeInto(outer, shared.subarray(5));
  assert.equal(written > 0, true);
  assert.deepEqual(CODECS.json.decodeAt(shared, 5, written), { before: 'b'.repeat(40), g: 'got', after: [1, 2, 3] });
  // Keys become own data properties, as JSON.parse makes them, even where
  // Object.prototype has a setter of that name.
  let setterCalls = 0;
  Object.defineProperty(Object.prototype, 'gortTrap', { set() { setterCalls++; }, configurable: true });
  try {
    const back = CODECS.json.decode(CODECS.json.encode(JSON.parse('{"gortTrap":1}')));
    assert.equal(setterCalls, 0);
    assert.deepEqual(Object.getOwnPropertyDescriptor(back, 'gortTrap'), { value: 1, writable: true, enumerable: true, configurable: true });
  } finally {
    delete Object.prototype.gortTrap;
  }
  // JSON text, as C sends it, leading whitespace included.
  for (const text of ['{"a":[1,2]}', ' \t\n\r{"a":[1,2]}']) assert.deepEqual(CODECS.json.decode(new TextEncoder().encode(text)), { a: [1, 2] });
});

// copyIn shifts what it copies to the destination's offset modulo a word
// (V8 copies shared memory a word at a time only then): from the codecs'
// own buffer and from users' arrays at any offset, of every size, exactly
// the bytes asked for land, and nothing beside them changes.
test('codec fuzz: copies into shared memory land whole at any alignment', async () => {
  const GUARD = 0xa5;
  const shared = new Uint8Array(new SharedArrayBuffer(140000));
  await fuzz('copyIn', (rng) => {
    const bytes = randomBytes(rng);
    const source = rng.below(3) === 0 ? CODECS.string.encode(randomString(rng, true))
      : rng.below(2) === 0 ? bytes : (() => {
        const room = new Uint8Array(bytes.length + 16);
        const offset = rng.below(16);
        room.set(bytes, offset);
        return room.subarray(offset, offset + bytes.length);
      })();
    const expected = source.slice();
    const at = 8 + rng.below(shared.length - source.length - 16);
    shared.fill(GUARD, at - 8, at + source.length + 8);
    copyIn(shared, at, source);
    assert.deepEqual(shared.slice(at, at + source.length), expected);
    for (const i of [at - 8, at - 1, at + source.length, at + source.length + 7]) assert.equal(shared[i], GUARD, `byte ${i - at} beside the copy changed`);
    // The next text is encoded at that copy's offset modulo a word, and still whole.
    const s = randomString(rng, true);
    assert.equal(CODECS.string.decode(CODECS.string.encode(s)), s);
  });
});

// The codecs as a browser runs them: there TextEncoder.encodeInto and
// TextDecoder.decode refuse views of shared memory, and a codec module loaded
// while they do takes its other paths: copies through its own buffer, and
// loops for short text. Here they refuse while refuseShared is set.
let refuseShared = false;
for (const [proto, method, viewArg] of [[TextEncoder.prototype, 'encodeInto', 1], [TextDecoder.prototype, 'decode', 0]]) {
  const native = proto[method];
  proto[method] = function (...args) {
    if (refuseShared && args[viewArg]?.buffer instanceof SharedArrayBuffer) throw new TypeError(`${method}: the view must not be shared`);
    return native.apply(this, args);
  };
}
// (Text over the codecs' 64 KB buffer does not go into shared memory that
// way: encodeInto says -1, and the caller makes a payload of its own.)
const BUFFER_BYTES = 64 * 1024;

test('codec fuzz: where encodeInto and decode refuse shared memory (browsers), text is whole through copies and loops', async () => {
  refuseShared = true;
  const { string, json } = (await import('../src/js/codec.js?as-in-a-browser')).CODECS;
  const shared = new Uint8Array(new SharedArrayBuffer(1 << 20));
  const check = (rng, s) => {
    const expected = new TextEncoder().encode(s);
    assert.deepEqual(string.encode(s), expected, 'encode');
    const at = 1 + rng.below(15);
    // Room for the loops (3 bytes a unit) and room for exactly the bytes.
    for (const room of [s.length * 3 + rng.below(8), expected.length]) {
      const target = shared.subarray(at, at + room);
      const written = string.encodeInto(s, target);
      if (written === -1 && expected.length > BUFFER_BYTES) continue;
      assert.equal(written, expected.length, `encodeInto into ${room} bytes`);
      assert.deepEqual(shared.slice(at, at + written), expected, `encodeInto into ${room} bytes`);
      assert.equal(string.decodeAt(shared, at, written), utf8Normal(s), 'decodeAt');
    }
    if (expected.length > 0) assert.equal(string.encodeInto(s, shared.subarray(at, at + expected.length - 1)), -1, 'encodeInto without room');
    const n = json.encodeInto({ s }, shared.subarray(at, at + s.length * 6 + 16));
    if (n === -1 && s.length * 3 > BUFFER_BYTES) return;
    assert.ok(n > 0, 'json encodeInto');
    assert.deepEqual(json.decodeAt(shared, at, n), { s });
  };
  try {
    const rng = generator(SEED);
    for (const s of EDGE_TEXTS) check(rng, s);
    // Every byte, alone and amid ASCII: the decode loop takes only ASCII.
    for (let b = 0; b < 256; b++) {
      for (const bytes of [[b], [0x61, b, 0x62]]) {
        shared.set(bytes, 3);
        assert.equal(string.decodeAt(shared, 3, bytes.length), UTF8.decode(new Uint8Array(bytes)), `decodeAt of ${bytes}`);
      }
    }
    await fuzz('as in a browser', (rng) => {
      check(rng, randomString(rng, rng.below(2) === 0));
      const bytes = randomBytes(rng);
      const at = 1 + rng.below(15);
      shared.set(bytes, at);
      assert.equal(string.decodeAt(shared, at, bytes.length), UTF8.decode(bytes), 'decodeAt of arbitrary bytes');
    });
  } finally {
    refuseShared = false;
  }
});

const entry = fileURLToPath(new URL('../dist/index.node.js', import.meta.url));
if (!existsSync(entry)) throw new Error(`${entry} is missing: build it with src/js/build.sh`);
const { start } = await import(entry);
let rt;

before(async () => { rt = await start({ procs: 2, godebug: 'gccheckmark=1' }); });
after(async () => { await rt.close(); });

test('codec fuzz: payloads of every size round-trip through the runtime\'s channels', async () => {
  const chans = {
    bytes: rt.chan({ cap: 64, codec: 'bytes' }),
    string: rt.chan({ cap: 64, codec: 'string' }),
    json: rt.chan({ cap: 64, codec: 'json' }),
  };
  const unbuffered = rt.chan({ codec: 'bytes' });
  let inputs = 0;
  // A batch fills the buffers, then drains them: the values wait on the
  // gort heap meanwhile, and the collector runs (gccheckmark) as they pile up.
  await fuzz('channels', async (rng) => {
    const batch = [];
    for (let n = 1 + rng.below(32); n > 0; n--) {
      const kind = ['bytes', 'string', 'json'][rng.below(3)];
      const value = kind === 'bytes' ? randomBytes(rng) : kind === 'string' ? randomString(rng, false) : randomJSON(rng);
      await chans[kind].send(value);
      batch.push([kind, value]);
    }
    for (const [kind, value] of batch.filter(([k]) => k === 'bytes')) assert.deepEqual((await chans.bytes.recv()).value, value);
    for (const [kind, value] of batch.filter(([k]) => k === 'string')) assert.equal((await chans.string.recv()).value, utf8Normal(value));
    for (const [kind, value] of batch.filter(([k]) => k === 'json')) assert.deepEqual((await chans.json.recv()).value, jsonNormal(value));
    // A hand-off through an unbuffered channel: the receiver waits first.
    const b = randomBytes(rng);
    const got = unbuffered.recv();
    await unbuffered.send(b);
    assert.deepEqual((await got).value, b);
    inputs++;
  }, MIN_BATCHES);
  for (const ch of [...Object.values(chans), unbuffered]) {
    assert.equal(ch.len, 0);
    ch.close();
    assert.deepEqual(await ch.recv(), { value: undefined, ok: false });
  }
  assert.ok(inputs >= MIN_BATCHES);
});
