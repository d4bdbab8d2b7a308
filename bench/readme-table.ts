// Prints the README's performance table from benchmark JSON files, or (--write) puts it into
// README.md between its markers. Default files: bench/results/host.json and image.json.
//
//   node --import tsx bench/readme-table.ts [--write] [FILE.json …]

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readmeTable, replaceReadmeTable, RESULT_FILES } from "./lib/readme-table.js";
import type { BenchReport } from "./lib/results.js";

const REPO = join(import.meta.dirname, "..");

const { values, positionals } = parseArgs({
  options: { write: { type: "boolean", default: false } },
  allowPositionals: true,
});
const files = positionals.length > 0 ? positionals : RESULT_FILES.map((f) => join(REPO, f));
const runs = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, "utf8")) as BenchReport));
const table = readmeTable(runs);
if (values.write) {
  const path = join(REPO, "README.md");
  await writeFile(path, replaceReadmeTable(await readFile(path, "utf8"), table));
  console.log(`README.md: table from ${files.join(", ")}`);
} else {
  console.log(table);
}
