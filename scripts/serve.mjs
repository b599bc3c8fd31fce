// `npm start`: the browser playground (web/). Builds the npm package into
// dist/ when it is missing or older than its sources (src/js/build.sh, after
// npm ci when the dev dependencies are missing), then serves the playground
// on 127.0.0.1 and prints its URL.
//
//   node scripts/serve.mjs [--port N] [--no-build]
//
// What the server answers, and nothing else:
//   /                        web/index.html
//   /<file>                  a file of web/ (no folder outside it)
//   /dist/<name>.js          the package's ES modules (what the page imports)
//   /dist/wasm/web/<file>    the browser glue, its .wasm and its worker file
// Every response, errors included, carries the two cross-origin isolation
// headers (they give the page SharedArrayBuffer). A path with a '..' or '.'
// segment, a backslash or a NUL (encoded or not), or one that resolves
// (through a symlink) outside its folder, is refused with 404; so is a
// request whose Host is not this server's loopback address (a page of
// another site reaching it through a rebound DNS name).
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const WEB = join(root, 'web');
const DIST = join(root, 'dist');

const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.md': 'text/plain; charset=utf-8',
};

const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

// The files of dist/ the page loads: the ES modules at its top and the web glue.
const DIST_FILE = /^[a-z][a-z0-9.-]*\.js$/;
const DIST_WEB_FILES = new Set(['gort.mjs', 'gort.wasm', 'gort.worker.js']);

// What the page needs from dist/: when one is missing, or older than any
// source of the package, npm start builds the package again.
const DIST_NEEDED = ['index.browser.js', 'observe.js', 'knobs.js', 'wasm/web/gort.mjs', 'wasm/web/gort.wasm', 'wasm/web/gort.worker.js'];
const SOURCE_FOLDERS = ['src', 'include'];

function newestIn(folder) {
  let newest = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestIn(path));
    else if (/\.(c|h|js|ts|txt|cmake)$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Why dist/ must be built again, or null when it is up to date. */
export function distOutOfDate() {
  for (const f of DIST_NEEDED) if (!existsSync(join(DIST, f))) return `dist/${f} is missing`;
  const built = Math.min(...DIST_NEEDED.map((f) => statSync(join(DIST, f)).mtimeMs));
  const sources = Math.max(...SOURCE_FOLDERS.map((f) => newestIn(join(root, f))));
  return sources > built ? 'the package\'s sources changed since dist/ was built' : null;
}

/**
 * The file that answers a request path (the raw path of the request line,
 * without its query), or null. Checks segments after decoding, then the
 * real path of the file against the real path of its folder.
 */
export async function fileFor(rawPath) {
  if (!rawPath.startsWith('/')) return null;
  let path;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return null;
  }
  if (path.includes('\0') || path.includes('\\')) return null;
  const segments = path.slice(1).split('/');
  if (segments.some((s) => s === '..' || s === '.' || (s === '' && segments.length > 1))) return null;
  let folder, rest;
  if (path === '/') {
    folder = WEB; rest = ['index.html'];
  } else if (segments[0] === 'dist') {
    folder = DIST; rest = segments.slice(1);
    const ok = (rest.length === 1 && DIST_FILE.test(rest[0])) ||
      (rest.length === 3 && rest[0] === 'wasm' && rest[1] === 'web' && DIST_WEB_FILES.has(rest[2]));
    if (!ok) return null;
  } else {
    folder = WEB; rest = segments;
  }
  const file = join(folder, ...rest);
  try {
    const [real, realFolder] = await Promise.all([realpath(file), realpath(folder)]);
    if (!real.startsWith(realFolder + sep)) return null;
    if (!(await stat(real)).isFile()) return null;
    return real;
  } catch {
    return null;
  }
}

/**
 * Serves the playground on host (127.0.0.1) at port (0: a free one).
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function servePlayground({ port = 0, host = '127.0.0.1' } = {}) {
  let allowedHosts = new Set();
  const server = createServer(async (request, response) => {
    const deny = (status, text) => {
      response.writeHead(status, { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
      response.end(request.method === 'HEAD' ? undefined : `${text}\n`);
    };
    if (!allowedHosts.has(request.headers.host)) return deny(421, 'misdirected request: this server answers only as ' + [...allowedHosts][0]);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      return deny(405, 'method not allowed');
    }
    const rawPath = request.url.split(/[?#]/, 1)[0];
    const file = await fileFor(rawPath);
    const body = file && await readFile(file).catch(() => null);
    if (!body) return deny(404, 'not found');
    response.writeHead(200, {
      ...HEADERS,
      'Content-Type': MIME_TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': body.length,
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const bound = server.address().port;
  allowedHosts = new Set([`${host}:${bound}`, `localhost:${bound}`]);
  return {
    url: `http://${host}:${bound}/`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function main(argv) {
  let port = 8080;
  let build = true;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') port = Number(argv[++i]);
    else if (argv[i] === '--no-build') build = false;
    else throw new Error(`serve.mjs: unknown argument '${argv[i]}' (--port N, --no-build)`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('serve.mjs: --port takes a port number (0 for a free one)');
  const why = distOutOfDate();
  if (why && build) {
    // The package's build needs its dev dependencies (esbuild); a fresh clone has none.
    if (!existsSync(join(root, 'node_modules/esbuild'))) {
      console.log('installing the dev dependencies (npm ci) ...');
      execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
    }
    console.log(`building the package into dist/ (${why}) ...`);
    execFileSync('bash', [join(root, 'src/js/build.sh')], { stdio: 'inherit' });
  } else if (why) {
    console.log(`note: ${why} (--no-build: serving it as it is)`);
  }
  let served;
  try {
    served = await servePlayground({ port });
  } catch (err) {
    if (err.code !== 'EADDRINUSE' || port === 0) throw err;
    console.log(`port ${port} is taken: using a free one`);
    served = await servePlayground({ port: 0 });
  }
  console.log(`gort playground: ${served.url}`);
  console.log('(Ctrl-C stops it)');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}
