// page.mjs — drives wordcount.c's goroutines from a page: each click starts
// split and count on the runtime's threads and shows what count sends back.
import { start } from 'gort';

const result = document.querySelector('#result');

/** Counts the words and letters of text with the module's two goroutines. */
async function wordcount(rt, text) {
  const words = rt.chan({ codec: 'f64', cap: 16 });
  const totals = rt.chan({ codec: 'f64' });
  rt.go('split', text, words);
  rt.go('count', words, totals, rt.context.background());
  const { value: nwords } = await totals.recv();
  const { value: nletters } = await totals.recv();
  return { nwords, nletters };
}

try {
  const rt = await start({ module: new URL('../build/wordcount/web/wordcount.mjs', import.meta.url) });
  const show = async () => {
    const { nwords, nletters } = await wordcount(rt, document.querySelector('#text').value);
    result.textContent = `${nwords} words, ${nletters} letters`;
  };
  document.querySelector('#go').addEventListener('click', show);
  await show();
} catch (err) {
  result.textContent = `${err.name}: ${err.message}`;
}
