// cjs-import-meta.mjs — esbuild's inject for the CommonJS copy (build-cjs.mjs):
// import.meta.url of a module, in the .cjs file made from it. The copy sits in
// the same folder as the ES module, so relative URLs resolve alike.
import { pathToFileURL } from 'node:url';

export const __gort_import_meta_url = pathToFileURL(__filename).href;
