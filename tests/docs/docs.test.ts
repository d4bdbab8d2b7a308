// The documented keys are the real ones: every key of the config file's schema is in the README's
// configuration table (and nothing else is), and every chart value is in the chart README's table.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { parse as parseYaml } from "yaml";
import { configSchema } from "../../sidecar/src/config/schema.js";

const REPO = resolve(import.meta.dirname, "..", "..");

/** Dotted paths of nested objects' keys (arrays and records of values are leaves). */
function paths(value: unknown, prefix = "", leafObjects: ReadonlySet<string> = new Set()): string[] {
  if (value === null || typeof value !== "object" || Array.isArray(value) || leafObjects.has(prefix))
    return prefix === "" ? [] : [prefix];
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return prefix === "" ? [] : [prefix];
  return entries.flatMap(([k, v]) => paths(v, prefix === "" ? k : `${prefix}.${k}`, leafObjects));
}

/** First-column `code` spans of the markdown table rows between two headings. */
function tableKeys(file: string, from: RegExp, to: RegExp): Set<string> {
  const text = readFileSync(join(REPO, file), "utf8");
  const start = text.search(from);
  const end = text.slice(start + 1).search(to) + start + 1;
  assert.ok(start >= 0 && end > start, `${file}: section not found`);
  const keys = new Set<string>();
  for (const line of text.slice(start, end).split("\n")) {
    const first = /^\|([^|]+)\|/.exec(line)?.[1] ?? "";
    for (const m of first.matchAll(/`([^`]+)`/g)) keys.add((m[1] ?? "").replace(/\[\]$/, ""));
  }
  return keys;
}

void test("README's configuration table lists exactly the config file's keys", () => {
  // Every default filled in; neighbors and namespaces are documented as one entry each.
  const full = configSchema.parse({
    nodeName: "n",
    bgp: { asn: 1, routerId: "192.0.2.1", hostname: "n", neighbors: [] },
    advertise: { allowedCidrs: ["10.0.0.0/8"] },
    frr: {},
  });
  const documented = tableKeys("README.md", /^## Configuration/m, /^### Advertisement modes/m);
  const leaf = new Set(["advertise.addressKinds", "advertise.namespaces"]);
  const keys = paths(full, "", leaf);
  const missing = keys.filter((k) => !documented.has(k));
  assert.deepEqual(missing, [], "config keys the README does not document");
  const stale = [...documented].filter((k) => !keys.includes(k));
  assert.deepEqual(stale, [], "README documents keys the config does not have");
});

/**
 * The chart README's rows name keys compactly: `metrics.service.enabled` / `annotations` means
 * metrics.service.enabled and metrics.service.annotations; `frr.probes.{startup,liveness}` a group.
 */
function chartValueRows(): Set<string> {
  const text = readFileSync(join(REPO, "chart/README.md"), "utf8");
  const keys = new Set<string>();
  for (const line of text.split("\n")) {
    const first = /^\|([^|]+)\|/.exec(line)?.[1];
    if (first === undefined) continue;
    const spans = [...first.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? "");
    const head = (spans[0] ?? "").replace(/\.\{.*\}$/, "");
    if (head === "") continue;
    keys.add(head);
    const parent = head.includes(".") ? head.slice(0, head.lastIndexOf(".")) : "";
    for (const s of spans.slice(1)) keys.add(parent === "" ? s : `${parent}.${s}`);
  }
  return keys;
}

void test("the chart README's values table lists every value", () => {
  const values = parseYaml(readFileSync(join(REPO, "chart/values.yaml"), "utf8")) as Record<string, unknown>;
  // config.* is the advertiser's config (documented in the project README); objects the chart
  // passes through whole are one entry.
  const whole = new Set([
    "config",
    "frr.image",
    "image",
    "frr.securityContext",
    "frr.resources",
    "advertiser.resources",
    "frr.daemonOptions",
    "frr.probes",
    "advertiser.probes",
    "templates.overrides",
    "nodeSelector",
    "affinity",
    "updateStrategy",
    "podAnnotations",
    "podLabels",
  ]);
  const keys = paths(values, "", whole);
  const documented = chartValueRows();
  const missing = keys.filter(
    (k) => ![...documented].some((d) => d === k || k.startsWith(`${d}.`) || d.startsWith(`${k}.`)),
  );
  assert.deepEqual(missing, [], "chart values chart/README.md does not mention");
});
