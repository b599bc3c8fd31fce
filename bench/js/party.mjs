// A worker_threads worker of bench/js.mjs in Node: plays the role its
// workerData names (roles.mjs).
import { parentPort, workerData } from 'node:worker_threads';
import { runRole } from './roles.mjs';

await runRole(workerData, {
  post: (message) => parentPort.postMessage(message),
  nextMessage: () => new Promise((resolve) => parentPort.once('message', resolve)),
});
