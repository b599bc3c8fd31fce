// ping_pong.mjs — two async loops of one thread handing values to each
// other over two unbuffered channels, for the package's Node test and the
// browser page (served from here): the
// round the first loop is at is what an event source that fires meanwhile
// records (it reads progress.round), and the sum of the echoed values says
// that every value came back once.

/**
 * Runs `rounds` round trips between a loop that sends i on a and receives
 * on b, and an echo that sends back each value plus one.
 * @returns {Promise<{ sum: number, expected: number }>}
 */
export async function pingPong(a, b, rounds, progress) {
  const echo = (async () => { for (let i = 0; i < rounds; i++) await b.send((await a.recv()).value + 1); })();
  let sum = 0;
  for (progress.round = 0; progress.round < rounds; progress.round++) {
    await a.send(progress.round);
    sum += (await b.recv()).value;
  }
  await echo;
  return { sum, expected: rounds * (rounds - 1) / 2 + rounds };
}
