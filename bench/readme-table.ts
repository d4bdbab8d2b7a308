// Prints the README's performance table and bench/README.md's details from benchmark JSON files,
// or (--write) puts each into its file between its markers. Default: bench/results/*.json.
//
//   node --import tsx bench/readme-table.ts [--write] [FILE.json …]

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { replaceSection, RESULT_FILES, SECTIONS } from "./lib/readme-table.js";
import type { BenchReport } from "./lib/results.js";

const REPO = join(import.meta.dirname, "..");

const { values, positionals } = parseArgs({
  options: { write: { type: "boolean", default: false } },
  allowPositionals: true,
});
const files = positionals.length > 0 ? positionals : RESULT_FILES.map((f) => join(REPO, f));
const runs = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, "utf8")) as BenchReport));
for (const section of SECTIONS) {
  if (values.write) {
    const path = join(REPO, section.file);
    await writeFile(path, replaceSection(await readFile(path, "utf8"), section, runs));
    console.log(`${section.file}: from ${files.join(", ")}`);
  } else {
    console.log(`${section.file}:\n\n${section.render(runs)}\n`);
  }
}
