// main.mjs — drives wordcount.c's goroutines from Node: `node main.mjs`
// once the module is built (see CMakeLists.txt).
import { start } from 'gort';

const TEXT = 'The quick brown fox jumps over the lazy dog';

const rt = await start({ module: new URL('./build/wordcount/node/wordcount.js', import.meta.url) });
const words = rt.chan({ codec: 'f64', cap: 16 });
const totals = rt.chan({ codec: 'f64' });
rt.go('split', TEXT, words);
const counter = rt.go('count', words, totals, rt.context.background());
const { value: nwords } = await totals.recv();
const { value: nletters } = await totals.recv();
await counter; // count has returned
console.log(`${nwords} words, ${nletters} letters`);
await rt.close();
