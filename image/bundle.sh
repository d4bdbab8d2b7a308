#!/usr/bin/env bash
# The sidecar as one ESM file with every production dependency inlined. The Dockerfile's build
# stage and the benchmark both run this, so what is measured is what ships.
# Usage (from the repository root, after npm ci): bash image/bundle.sh OUT_FILE
set -euo pipefail
out=${1:?usage: bundle.sh OUT_FILE}
# esbuild ships in the lockfile through tsx. `require` is provided for the CommonJS packages inside.
node_modules/.bin/esbuild sidecar/src/main.ts --bundle --platform=node --format=esm --target=node24 \
  --legal-comments=eof --log-level=warning --outfile="$out" \
  "--banner:js=import { createRequire as __faRequire } from 'node:module'; const require = __faRequire(import.meta.url);"
