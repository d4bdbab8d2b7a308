// Prints the README's performance table and bench/README.md's details from benchmark JSON files,
// or (--write) puts each into its file between its markers. Default: bench/results/*.json.
//
//   node --import tsx bench/readme-table.ts [--write] [FILE.json …]

import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readRuns, replaceSection, RESULT_FILES, SECTIONS } from "./lib/readme-table.js";

const REPO = join(import.meta.dirname, "..");

const { values, positionals } = parseArgs({
  options: { write: { type: "boolean", default: false } },
  allowPositionals: true,
});
const files = positionals.length > 0 ? positionals.map((f) => resolve(f)) : RESULT_FILES;
const runs = readRuns(REPO, files);
for (const section of SECTIONS) {
  if (values.write) {
    const path = join(REPO, section.file);
    await writeFile(path, replaceSection(await readFile(path, "utf8"), section, runs));
    console.log(`${section.file}: from ${files.join(", ")}`);
  } else {
    console.log(`${section.file}:\n\n${section.render(runs)}\n`);
  }
}
