// The README's performance table is the output of the runs it names: it equals what
// bench/readme-table.ts renders from bench/results/*.json, and those files are whole runs
// (both sizes, the baselines, every restart) of the FRR they say.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { readmeTable, readRuns, SECTIONS, sectionOf } from "../../bench/lib/readme-table.js";
import type { BenchReport } from "../../bench/lib/results.js";
import { TARGET_FIGURES } from "../../bench/lib/targets.js";

const REPO = resolve(import.meta.dirname, "..", "..");
const runs = readRuns(REPO);

test("the README's performance table and bench/README.md's details are rendered from bench/results/*.json", () => {
  for (const section of SECTIONS) {
    const text = readFileSync(join(REPO, section.file), "utf8");
    assert.equal(
      sectionOf(text, section),
      section.render(runs),
      `${section.file}: run \`npm run bench:readme\``,
    );
  }
});

test("bench/results holds one whole run on the host's FRR and one on the image's", () => {
  assert.deepEqual(
    runs.map((r) => r.meta.options.frr),
    ["host", "image"],
  );
  for (const r of runs) {
    const what = `${r.meta.options.frr} run`;
    assert.deepEqual(
      r.sizes.map((s) => s.n),
      [1000, 10_000],
      `${what}: sizes`,
    );
    assert.deepEqual(
      r.debounced.map((d) => d.n),
      [1000, 10_000],
      `${what}: the debounce + frr-reload.py baseline`,
    );
    assert.deepEqual(
      r.seed.map((d) => d.forSize),
      [1000, 10_000],
      `${what}: the per-prefix baseline`,
    );
    for (const s of r.sizes) {
      assert.ok(s.restarts.samples.length >= 5, `${what}, ${s.n}: at least 5 restarts`);
      assert.ok(s.attributes !== undefined && s.floor?.newSet !== undefined, `${what}, ${s.n}: attributes`);
      for (const f of TARGET_FIGURES.filter((x) => x.applies === undefined || x.applies(s)))
        assert.ok(Number.isFinite(f.value(s)), `${what}, ${s.n}: ${f.name} measured`);
    }
    // A run that broke (a drain left routes, a figure not measured) is not one to publish.
    assert.deepEqual(
      r.checks.filter((c) => c.correctness === true && !c.pass).map((c) => c.what),
      [],
      `${what}: correctness checks`,
    );
  }
});

test("a figure that misses its target is bold in the table", () => {
  const [host] = runs;
  assert.ok(host !== undefined);
  const [small] = host.sizes;
  assert.ok(small !== undefined);
  const slow: BenchReport = {
    ...host,
    sizes: [{ ...small, restarts: { ...small.restarts, startingMs: { median: 412, min: 400, max: 430 } } }],
  };
  const row = readmeTable([slow])
    .split("\n")
    .find((l) => l.includes('"starting"'));
  assert.match(row ?? "", /\| \*\*412 \(400–430\)\*\* \| +≤ 300 \|$/);
});
