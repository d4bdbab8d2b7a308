// The sidecar as ESM with every production dependency inlined: the entry file plus the chunks that
// `run` loads lazily (chunks/ next to it). The Dockerfile's build stage and the benchmark both run
// this, so what is measured is what ships. Usage (repository root, after npm ci):
//   node image/bundle.ts OUT_FILE        e.g. /out/frr-advertiser.mjs

import { basename, dirname, extname } from "node:path";
import { build, type Plugin } from "esbuild";

const out = process.argv[2];
if (out === undefined || extname(out) !== ".mjs") {
  process.stderr.write("usage: node image/bundle.ts OUT_FILE.mjs\n");
  process.exit(2);
}

/**
 * client-node declares no `sideEffects`, and a few of its modules assign static fields at the top
 * level, so a bundler must keep every module its index re-exports — the generated API classes and
 * the model serializer with all Kubernetes types (≈ 3.5 MB of code, ≈ 50 MB RSS once loaded) —
 * although the sidecar uses KubeConfig, Watch and the fetch library only. Those top-level effects
 * touch only the module's own exports, so a module none of whose exports is used can go. The one
 * module that exists for its effect (polyfill.js) stays.
 */
const clientNodeUnusedModulesDrop: Plugin = {
  name: "client-node-side-effect-free",
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === "resolving") return undefined;
      if (
        !args.importer.includes("@kubernetes/client-node") &&
        !args.path.startsWith("@kubernetes/client-node")
      )
        return undefined;
      const resolved = await b.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: "resolving",
      });
      const inPackage = /[/\\]@kubernetes[/\\]client-node[/\\]dist[/\\]/.test(resolved.path);
      if (!inPackage || resolved.path.endsWith("polyfill.js")) return resolved;
      return { ...resolved, sideEffects: false };
    });
  },
};

/**
 * The sidecar talks to the API server over node:https (sidecar/src/kube/api-request.ts), but
 * client-node's KubeConfig module imports undici for a method the sidecar never calls
 * (applySecurityAuthentication's dispatcher). Loading undici costs ≈ 10 MB RSS (its code and its
 * WebAssembly HTTP parser), so inside client-node it resolves to a module that fails loudly if
 * anything ever does use it (docs/adr/0014).
 */
const UNDICI_UNUSED = "undici-unused";
const clientNodeUndiciLeftOut: Plugin = {
  name: "client-node-undici-left-out",
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, (args) =>
      /[/\\]@kubernetes[/\\]client-node[/\\]/.test(args.importer)
        ? { path: "undici", namespace: UNDICI_UNUSED }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: UNDICI_UNUSED }, () => ({
      contents: [
        "const unused = (what) => { throw new Error(`undici is not bundled (image/bundle.ts): ${what}`); };",
        "export class Agent { constructor() { unused('Agent'); } }",
        "export class ProxyAgent { constructor() { unused('ProxyAgent'); } }",
        "export function fetch() { unused('fetch'); }",
      ].join("\n"),
      loader: "js",
    }));
  },
};

/**
 * Node's ESM face of a built-in module reads every export once, and node:http's exports include
 * lazy getters (WebSocket, CloseEvent, MessageEvent) that load Node's internal copy of undici, its
 * fetch implementation: ≈ 760 KB of source compiled and ≈ 3 MB RSS in the sidecar, for classes it
 * never uses. `require` (and `process.getBuiltinModule`) hand out the exports object without
 * reading them, so every `import … from "node:http"` in the bundle (client-node's and ours)
 * resolves to a CommonJS module that returns it (docs/memory.md).
 */
const HTTP_WITHOUT_FACADE = "http-without-esm-facade";
const httpWithoutEsmFacade: Plugin = {
  name: "http-without-esm-facade",
  setup(b) {
    b.onResolve({ filter: /^(node:)?http$/ }, () => ({ path: "node:http", namespace: HTTP_WITHOUT_FACADE }));
    b.onLoad({ filter: /.*/, namespace: HTTP_WITHOUT_FACADE }, () => ({
      contents: 'module.exports = process.getBuiltinModule("node:http");',
      loader: "js",
    }));
  },
};

await build({
  entryPoints: { [basename(out, ".mjs")]: "sidecar/src/main.ts" },
  outdir: dirname(out),
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  // Without splitting, the lazily imported `run` command would be inlined as one wrapped module
  // graph, which esbuild cannot tree-shake: all of client-node would load.
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node24",
  legalComments: "eof",
  // Whitespace and comments out, identifiers kept: V8 keeps every module's source text in the heap
  // (for lazy compilation), 2.7 → 1.9 MB here, ≈ 4 MB less RSS; stack traces keep their names.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: "warning",
  plugins: [clientNodeUnusedModulesDrop, clientNodeUndiciLeftOut, httpWithoutEsmFacade],
  // The CommonJS packages inside call `require`.
  banner: {
    js: "import { createRequire as __faRequire } from 'node:module'; const require = __faRequire(import.meta.url);",
  },
});
