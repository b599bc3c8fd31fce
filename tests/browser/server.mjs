// server.mjs — the static server of the browser tests: the repository's
// dist/ and the test page, on 127.0.0.1 at a free port (tarball.test.mjs
// serves other folders of a scratch project the same way).
//
//   /dist/...            the built package
//   /tests/browser/...   the test page and its script
//   /moved/...           only the .wasm (served as application/octet-stream,
//                        as many static hosts do) and the pthread worker
//                        file: what a page that passes wasmURL and workerURL
//                        uses; the glue is deliberately not here
//   /plain/...           the same files as above without the two isolation
//                        headers: a page that is not cross-origin isolated
//
// Every other response carries Cross-Origin-Opener-Policy: same-origin and
// Cross-Origin-Embedder-Policy: require-corp, which give a page
// SharedArrayBuffer.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.ts': 'text/plain; charset=utf-8',
};

const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// What /moved/ serves, by name: files of dist/ and their Content-Type.
const MOVED_FILES = {
  'gort.wasm': { file: 'dist/wasm/web/gort.wasm', type: 'application/octet-stream' },
  'gort.worker.js': { file: 'dist/wasm/web/gort.worker.js', type: MIME_TYPES['.js'] },
};

// The folders of the repository served as they are.
const SERVED_FOLDERS = ['dist', 'tests/browser'];

/** The file that answers path (absolute) and its Content-Type, or null. */
function targetOf(root, folders, path) {
  if (path.startsWith('/moved/')) {
    const name = path.slice('/moved/'.length);
    const moved = Object.hasOwn(MOVED_FILES, name) ? MOVED_FILES[name] : null;
    return moved && { file: join(root, moved.file), type: moved.type };
  }
  const file = normalize(join(root, path));
  // normalize() has resolved every '..': the file must still be inside a served folder.
  if (!folders.some((folder) => file.startsWith(join(root, folder) + sep))) return null;
  return { file, type: MIME_TYPES[extname(file)] ?? 'application/octet-stream' };
}

/**
 * Serves root's dist/ and tests/browser/ (see above), or the folders of
 * root that options.folders names (relative paths, served at /<folder>/).
 * @param {string} root the repository's folder, or another project's
 * @param {{ folders?: string[] }} [options]
 * @returns {Promise<{ origin: string, requests: string[], close: () => Promise<void> }>}
 *   requests: the path of every request so far, in order
 */
export async function serve(root, { folders = SERVED_FOLDERS } = {}) {
  const requests = [];
  const server = createServer(async (request, response) => {
    let path;
    try {
      path = decodeURIComponent(new URL(request.url, 'http://localhost').pathname);
    } catch {
      response.writeHead(400).end();
      return;
    }
    requests.push(path);
    const isolated = !path.startsWith('/plain/');
    if (!isolated) path = path.slice('/plain'.length);
    const headers = { 'Cache-Control': 'no-store', ...(isolated ? ISOLATION_HEADERS : {}) };
    const target = targetOf(root, folders, path);
    const body = target && await readFile(target.file).catch(() => null);
    if (!body) {
      response.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      response.end(`not found: ${path}\n`);
      return;
    }
    response.writeHead(200, { ...headers, 'Content-Type': target.type, 'Content-Length': body.length });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
