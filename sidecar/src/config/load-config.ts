// Turns the YAML config file (plus env overrides) into one frozen, validated Config.
// Every problem is collected and reported together, each with its path; nothing is half-loaded.

import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { parseCidr } from "../model/ip.js";
import { configSchema, NODE_NAME_RULE, type ConfigFile, type NeighborConfig } from "./schema.js";
import { parseLabelSelector } from "../model/label-selector.js";
import { neighborId, type NeighborScope } from "../model/neighbors.js";
import type { AdvertisePolicy } from "../model/policy.js";
import type { IpFamily } from "../model/snapshot.js";

export type AdvertiseMode = "network" | "connected";

export interface Neighbor extends Omit<
  NeighborConfig,
  "passwordFile" | "families" | "nodes" | "nodeSelector"
> {
  readonly families: readonly IpFamily[];
  /** Read from passwordFile; never logged. */
  readonly password: string | undefined;
}

export interface Config {
  readonly nodeName: string;
  readonly bgp: {
    readonly asn: number;
    readonly routerId: string | undefined;
    readonly hostname: string;
    readonly families: readonly IpFamily[];
    readonly gracefulRestart: boolean;
    readonly neighbors: readonly Neighbor[];
  };
  readonly mode: AdvertiseMode;
  /** Why this mode (the auto rule is documented in the README). */
  readonly modeReason: string;
  readonly interface: string;
  /** Service IPs as kernel local routes, not interface addresses (network mode; ADR 0021). */
  readonly localRoutes: boolean;
  readonly netns: string;
  readonly stateFile: string;
  readonly policy: AdvertisePolicy;
  readonly frr: ConfigFile["frr"];
  readonly timings: ConfigFile["timings"];
  readonly safety: ConfigFile["safety"];
  readonly templates: ConfigFile["templates"];
  readonly server: ConfigFile["server"];
  readonly log: ConfigFile["log"];
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source}: invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Environment variables a DaemonSet sets; they win over the file. */
export interface ConfigEnv {
  readonly NODE_NAME?: string | undefined;
  readonly DRAIN?: string | undefined;
}

export async function loadConfigFile(path: string, env: ConfigEnv): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  return parseConfig(text, path, env, readPasswordFile);
}

async function readPasswordFile(file: string): Promise<string> {
  return (await readFile(file, "utf8")).replace(/\r?\n$/, "");
}

/** Parse and validate config text; `readSecret` reads password files (injected for tests). */
export async function parseConfig(
  text: string,
  source: string,
  env: ConfigEnv,
  readSecret: (file: string) => Promise<string>,
): Promise<Config> {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => `YAML: ${e.message.split("\n")[0] ?? e.message}`),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const parsed = configSchema.safeParse(raw);
  // Every problem at once: the node name (which may come from the environment) is checked even
  // when the file has type errors.
  const problems: string[] = parsed.success ? [] : parsed.error.issues.map(formatIssue);
  const fileNodeName = (raw as { nodeName?: unknown } | null)?.nodeName;
  const nodeName =
    env.NODE_NAME !== undefined && env.NODE_NAME !== ""
      ? env.NODE_NAME
      : typeof fileNodeName === "string"
        ? fileNodeName
        : undefined;
  if (nodeName === undefined)
    problems.push("nodeName: required (set it in the file or the NODE_NAME environment variable)");
  else if (!NODE_NAME_RULE.test(nodeName) && (env.NODE_NAME ?? "") !== "")
    problems.push(`NODE_NAME: "${nodeName}" is not a Kubernetes node name`);
  if (!parsed.success) throw new ConfigError(source, problems);
  const file = parsed.data;
  // Checked by the schema already: parsed again for its requirements.
  const selector = parseLabelSelector(file.advertise.serviceSelector);
  problems.push(...checkNeighbors(file));
  const neighbors = await resolveNeighbors(file.bgp.neighbors, readSecret, problems);
  const neighborScopes = toNeighborScopes(file.bgp.neighbors);
  if (problems.length > 0 || nodeName === undefined || !selector.ok) throw new ConfigError(source, problems);
  const { mode, modeReason } = resolveMode(file.advertise.mode, file.advertise.interface);
  if (file.advertise.localRoutes && mode !== "network")
    throw new ConfigError(source, [
      `advertise.localRoutes needs network mode (${modeReason}): connected mode announces the interface's addresses`,
    ]);
  const config: Config = {
    nodeName,
    bgp: {
      asn: file.bgp.asn,
      routerId: file.bgp.routerId,
      hostname: file.bgp.hostname ?? nodeName.split(".")[0] ?? nodeName,
      families: unique(file.bgp.families),
      gracefulRestart: file.bgp.gracefulRestart,
      neighbors,
    },
    mode,
    modeReason,
    interface: file.advertise.interface,
    localRoutes: file.advertise.localRoutes,
    netns: file.advertise.netns,
    stateFile: file.advertise.stateFile,
    policy: {
      families: file.bgp.families,
      addressKinds: file.advertise.addressKinds,
      allowedCidrs: file.advertise.allowedCidrs.map(normaliseCidr),
      excludedIps: file.advertise.excludedIps,
      includeNamespaces: file.advertise.namespaces.include,
      excludeNamespaces: file.advertise.namespaces.exclude,
      serviceSelector: selector.requirements,
      nodeName,
      neighborScopes,
      withdrawWhenUnschedulable: file.node.withdrawWhenUnschedulable,
      drain: file.node.drain || isTrue(env.DRAIN),
      weightedEcmp: file.advertise.weightedEcmp,
    },
    frr: file.frr,
    timings: file.timings,
    safety: file.safety,
    templates: file.templates,
    server: file.server,
    log: file.log,
  };
  return deepFreeze(config);
}

/**
 * auto → connected when the service interface is dedicated (not lo): then "match interface"
 * identifies exactly our addresses and an address change reaches the peer without a config
 * change. On lo, which also carries the node's own addresses, network statements are explicit.
 */
export function resolveMode(
  requested: "network" | "connected" | "auto",
  iface: string,
): { mode: AdvertiseMode; modeReason: string } {
  if (requested !== "auto") return { mode: requested, modeReason: `advertise.mode is ${requested}` };
  return iface === "lo"
    ? { mode: "network", modeReason: "auto: interface lo is shared with the node, so network statements" }
    : { mode: "connected", modeReason: `auto: interface ${iface} is dedicated, so redistribute connected` };
}

function checkNeighbors(file: ConfigFile): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  file.bgp.neighbors.forEach((n, i) => {
    const id = neighborId(n);
    if (seen.has(id)) problems.push(`bgp.neighbors.${i}: duplicate neighbor ${id}`);
    seen.add(id);
    if (n.timers && n.timers.hold !== 0 && n.timers.hold < 3)
      problems.push(`bgp.neighbors.${i}.timers.hold: must be 0 or at least 3`);
    if (n.timers && n.timers.hold !== 0 && n.timers.keepalive > n.timers.hold) {
      problems.push(
        `bgp.neighbors.${i}.timers: keepalive ${n.timers.keepalive} exceeds hold ${n.timers.hold}`,
      );
    }
    const missing = (n.families ?? []).filter((f) => !file.bgp.families.includes(f));
    if (missing.length > 0)
      problems.push(`bgp.neighbors.${i}.families: ${missing.join(",")} not in bgp.families`);
  });
  return problems;
}

async function resolveNeighbors(
  list: readonly NeighborConfig[],
  readSecret: (file: string) => Promise<string>,
  problems: string[],
): Promise<Neighbor[]> {
  return Promise.all(
    list.map(async (n, i) => {
      // nodes and nodeSelector are the model's input (policy.neighborScopes), not FRR's.
      const { passwordFile, families, nodes, nodeSelector, ...rest } = n;
      let password: string | undefined;
      if (passwordFile !== undefined) {
        try {
          password = await readSecret(passwordFile);
          // The password is written into frr.conf: one printable token, nothing else.
          if (!/^[\x21-\x7e]{1,80}$/.test(password)) {
            problems.push(
              `bgp.neighbors.${i}.passwordFile: ${passwordFile} must hold 1-80 printable characters without spaces`,
            );
          }
        } catch (err) {
          problems.push(
            `bgp.neighbors.${i}.passwordFile: cannot read ${passwordFile}: ${(err as Error).message}`,
          );
        }
      }
      return { ...rest, families: families ?? ["ipv4", "ipv6"], password };
    }),
  );
}

/** Which nodes each neighbour applies to (the schema has checked the selectors already). */
function toNeighborScopes(list: readonly NeighborConfig[]): NeighborScope[] {
  return list.map((n) => {
    const parsed = n.nodeSelector === undefined ? undefined : parseLabelSelector(n.nodeSelector);
    return {
      id: neighborId(n),
      nodes: n.nodes,
      nodeSelector: parsed?.ok === true ? parsed.requirements : undefined,
    };
  });
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
  if (issue.code === "unrecognized_keys") return `${where}: unknown key(s) ${issue.keys.join(", ")}`;
  return `${where}: ${issue.message}`;
}

function normaliseCidr(c: string): string {
  // Host bits are dropped so that "10.96.0.1/12" and "10.96.0.0/12" mean the same filter.
  const r = parseCidr(c, "mask");
  if (!r.ok) throw new Error(`unreachable: ${c} passed the schema`);
  return r.value.text;
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && /^(1|true|yes)$/i.test(v.trim());
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
