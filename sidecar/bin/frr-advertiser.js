#!/usr/bin/env node
// Entry point installed as `frr-advertiser`: runs the compiled sidecar (built by `npm ci` via prepare).
import "../../dist/main.js";
