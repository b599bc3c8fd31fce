// A module Web Worker of bench/js.mjs in Chromium (page.mjs starts it):
// plays the role its first message names (roles.mjs), with the ports that
// message carries.
import { runRole } from './roles.mjs';

self.addEventListener('message', ({ data }) => {
  runRole(data, {
    post: (message) => self.postMessage(message),
    nextMessage: () => new Promise((resolve) => self.addEventListener('message', (e) => resolve(e.data), { once: true })),
  });
}, { once: true });
