// Lint: type-aware typescript-eslint, plus the purity boundary for model/ and render/.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const ioModules = [
  "node:*",
  "fs",
  "fs-extra",
  "path",
  "child_process",
  "execa",
  "pino",
  "prom-client",
  "chokidar",
  "@kubernetes/client-node",
];

/** Folders and modules of the sidecar that do I/O, as model/ and render/ would import them. */
const impureRelative = [
  ...["cli", "config", "frr", "kube", "netif", "reconcile", "templates"].map((d) => `../${d}/*`),
  ...["compose", "exec", "log", "main", "metrics", "server", "stop-signals", "timeout"].map(
    (m) => `../${m}.js`,
  ),
];

export default tseslint.config(
  { ignores: ["node_modules/**", "dist/**", "**/*.js"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      // `const { dropped, ...rest } = x` is how a field is left out of a copy.
      "@typescript-eslint/no-unused-vars": ["error", { ignoreRestSiblings: true }],
      complexity: ["warn", 12],
      "max-depth": ["warn", 3],
      "max-params": ["warn", 4],
    },
  },
  {
    files: ["sidecar/src/model/**/*.ts", "sidecar/src/render/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ioModules, message: "model/ and render/ are pure: no I/O imports" },
            {
              // The impure folders, reached by relative path; their types are fine.
              group: impureRelative,
              allowTypeImports: true,
              message: "model/ and render/ are pure: no imports of the sidecar's I/O code (types only)",
            },
          ],
        },
      ],
    },
  },
  {
    // client-node's generated models are classes holding plain data; the API takes literals.
    files: ["sidecar/src/kube/**/*.ts", "tests/**/*.ts"],
    rules: { "@typescript-eslint/no-unsafe-class-instance-assignment": "off" },
  },
  {
    files: ["**/*.test.ts", "tests/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] },
          ],
        },
      ],
      "@typescript-eslint/no-non-null-assertion": "off",
      complexity: "off",
      "max-depth": "off",
      "max-params": "off",
    },
  },
);
