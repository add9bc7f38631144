/**
 * The library build (`npm run build:lib`): src/index.ts as one ES module, `dist-lib/tabdynamo.js`, for
 * apps that `import { DynamoNode } from 'tabdynamo'` (package.json `exports`). Its declarations come
 * from `tsc -p tsconfig.lib.json` into `dist-lib/types/`.
 *
 * The dependencies stay imports (`peerjs`, `idb`, …) for the consuming app's bundler to resolve and
 * share. The node's two workers (Merkle trees, tick clock) are built as files of their own next to the
 * module, and the module refers to them as `new Worker(new URL('./assets/…', import.meta.url))`: the
 * pattern the consuming app's bundler (Vite, webpack 5) recognises and bundles again with the app, so
 * the workers resolve wherever the app is served from. test/e2e/example-minimal.test.ts checks this.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const manifest = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { dependencies?: Record<string, string> };
const dependencies = Object.keys(manifest.dependencies ?? {});

/** True for a dependency of the package or a path inside one (`@noble/hashes/legacy.js`). */
function isDependency(id: string): boolean {
  return dependencies.some((name) => id === name || id.startsWith(`${name}/`));
}

/**
 * Vite writes a library's worker URL as `new URL(/* @vite-ignore *\/ "" + new URL("assets/w.js",
 * import.meta.url).href, import.meta.url)`, a form no bundler recognises as a worker (vitejs/vite#21422),
 * so the consuming app would copy the file without bundling it again. This puts back the plain
 * `new URL("./assets/w.js", import.meta.url)` that Vite and webpack 5 do recognise. Lines stay where
 * they were, for the source map.
 */
function plainWorkerUrls(): Plugin {
  const emitted = /\/\* @vite-ignore \*\/(\s*)"" \+ new URL\("(assets\/[\w.-]+\.js)", import\.meta\.url\)\.href,/g;
  return {
    name: 'tabdynamo:plain-worker-urls',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      for (const output of Object.values(bundle)) {
        if (output.type !== 'chunk') continue;
        output.code = output.code.replace(emitted, (_match: string, space: string, file: string) => `${space}"./${file}",`);
        if (output.code.includes('@vite-ignore')) this.error(`${output.fileName}: a worker URL is left in Vite's library form`);
      }
    },
  };
}

export default defineConfig({
  plugins: [plainWorkerUrls()],
  // The app's public/ (icons, manifest) is not the library's.
  publicDir: false,
  // Worker URLs relative to the module (`assets/…`), not to the site's root (`/assets/…`).
  base: './',
  build: {
    outDir: 'dist-lib',
    target: 'es2022',
    sourcemap: true,
    // Readable output: the consuming app minifies its own bundle.
    minify: false,
    lib: {
      entry: fileURLToPath(new URL('./src/index.ts', import.meta.url)),
      formats: ['es'],
      fileName: () => 'tabdynamo.js',
    },
    rollupOptions: { external: isDependency },
  },
  // The workers keep their dependencies inside (a few kB of idb, comlink and hashes): they then run
  // even where the app's bundler copies them as they are.
  worker: { format: 'es' },
});
