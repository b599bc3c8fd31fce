// edge_texts.mjs — texts a random draw seldom makes, which the codec tests
// send in Node (codec_fuzz.test.mjs) and the browser test through a worker
// (page.mjs): a leading U+FEFF (a byte-order mark to a decoder that drops
// one), NUL, DEL and the last ASCII, the first two- and three-byte
// characters, astral ones and lone surrogates at either end (UTF-8 carries
// those as U+FFFD), and ASCII around 128 characters (the browsers' text
// loops' limit, src/js/codec.js).
export const EDGE_TEXTS = [
  '', '\ufeff', '\ufeffabc', 'a\ufeff', '\u0000', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff', '\u{10000}', '\u{10ffff}',
  '\ud800', '\udfff', 'x\ud800', '\udc00x', '\ud83d\ude00', '\ude00\ud83d', 'é✓😀',
  ...[1, 127, 128, 129, 200, 400].map((n) => 'z'.repeat(n)), 'y'.repeat(127) + 'é', 'y'.repeat(128) + '😀',
];
