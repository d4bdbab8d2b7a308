// A network-namespace FRR lab for end-to-end tests and benchmarks: one tor and one node (default)
// or several (`nodes: N`), each node on its own veth to the tor.
//
//   [node ns]  nodeIf  ==veth== torIf  [tor ns]
//   [node1 ns] nodeIf1 ==veth== torIf1 [tor ns]      (nodes ≥ 2)
//   zebra+bgpd+staticd each              zebra+bgpd+staticd
//
// Each namespace runs its own FRR with its own pathspace (`-N <ns>`), config dir and pid files under
// one mkdtemp directory. The tor's config is ours (eBGP to every node, accept everything, ECMP over
// the nodes); a node's config is the caller's (the advertiser under test manages it). See createLab().
//
// Safety rules: every process we signal is one whose PID we started (pid file) AND that lives in one
// of our namespaces (checked through /proc/PID/ns/net); leftovers are found with `ip netns pids`, never
// by process name. Addresses exist only inside the namespaces we create.
//
// Needs root, `frr`, `frr-pythontools` (frr-reload.py) and `iproute2` (Debian 12: FRR 8.4).

import { imageFrrIds, inImage, LAB_FRR_IMAGE, PODMAN_ENV } from "./image-frr.js";
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { VtyClient } from "../../sidecar/src/frr/vty-client.js";
import { missingOf, type Requirement } from "../support/require-tool.js";

export const LAB_PREFIX = "fa";
export const FRR_BIN_DIR = "/usr/lib/frr";
export const FRR_RELOAD = "/usr/lib/frr/frr-reload.py";
export const FRR_RUN_DIR = "/var/run/frr";
export const FRR_ETC_DIR = "/etc/frr";

export type Side = "node" | "tor";
export type Family = 4 | 6;
/** mgmtd exists from FRR 9 on (staticd and zebra take their config through it): image mode only. */
export type Daemon = "zebra" | "bgpd" | "staticd" | "mgmtd";
export type RouteSource = "bgp" | "fib";

const DAEMONS: readonly Daemon[] = ["zebra", "bgpd", "staticd"];

export interface LabInfo {
  /** `fa` + 6 hex chars; every name of this lab starts with it. */
  readonly id: string;
  /** Which node of the lab this is (0 for the first, and the only one of a one-node lab). */
  readonly index: number;
  readonly unnumbered: boolean;
  readonly nodeAsn: number;
  readonly torAsn: number;
  /** Namespace names; also the FRR pathspaces (`-N`). */
  readonly nodeNs: string;
  readonly torNs: string;
  /** veth ends (≤ 15 chars). */
  readonly nodeIf: string;
  readonly torIf: string;
  readonly nodeRouterId: string;
  readonly torRouterId: string;
  /**
   * Numbered mode only (null when unnumbered): a /31 and a /127 per node, node i on 192.0.2.2i/31
   * (the tor .2i+1) and fd00:0:2::(a+2i)/127 (the tor the next address).
   */
  readonly nodeAddr4: string | null;
  readonly torAddr4: string | null;
  readonly nodeAddr6: string | null;
  readonly torAddr6: string | null;
  readonly prefixLen4: number;
  readonly prefixLen6: number;
}

export interface LabOptions {
  /** Unnumbered eBGP over IPv6 link-local (`neighbor IF interface`), extended next hop. Default false. */
  unnumbered?: boolean;
  /**
   * Every node's ASN, default 65001. All nodes share it, as a rack's servers do in an eBGP fabric
   * (one AS per rack, RFC 7938 style): the tor then sees equal AS paths from its nodes and installs
   * ECMP, and a node drops the other nodes' routes the tor reflects to it (its own AS in the path)
   * instead of learning service prefixes through the tor.
   */
  nodeAsn?: number;
  /** Default 65000. */
  torAsn?: number;
  /**
   * Initial frr.conf of the node (string, or a function of the lab's names, e.g. `minimalNodeConfig`).
   * Default: `frr defaults datacenter` and nothing else. Must set a `bgp router-id` in unnumbered
   * mode (the node has no IPv4 address to derive one from).
   */
  nodeConfig?: string | ((info: LabInfo) => string);
  /**
   * Start FRR's daemons on the node side (default true). false: the node namespace only has its
   * interfaces — a pod test runs FRR there from the container image instead.
   */
  nodeDaemons?: boolean;
  /**
   * How many nodes (default 1, at most 8), each its own namespace, veth to the tor and FRR daemons.
   * The returned Lab is node 0; `lab.nodes[i]` is node i (the same interface: "node" is that node).
   */
  nodes?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface WaitRoutesOptions {
  /** Only this family; default both (the set then holds IPv4 and IPv6 prefixes). */
  family?: Family;
  /** The tor's BGP table (default) or its kernel FIB (proto bgp). */
  source?: RouteSource;
  /** Poll interval, default 20 ms. */
  intervalMs?: number;
}

export interface PeerSession {
  /** Summary section, e.g. "ipv4Unicast". */
  afi: string;
  /** Neighbor address, or interface name when unnumbered. */
  peer: string;
  /** "Established", "Active", "Connect", "Idle", … */
  state: string;
  /** connectionsEstablished / connectionsDropped counters of the tor. */
  established: number;
  dropped: number;
  uptimeMs: number;
}

/** One path of the tor's BGP table for a prefix (`show bgp … PREFIX json`). */
export interface TorPath {
  /** Index of the node it came from (null: not from a node of this lab). */
  readonly node: number | null;
  /** The neighbour as FRR names it (address, or interface when unnumbered). */
  readonly peer: string;
  readonly valid: boolean;
  readonly bestpath: boolean;
  /** Installed as one of the prefix's ECMP paths (the best path is one too when there are several). */
  readonly multipath: boolean;
  /** FRR's names for the communities, e.g. "gracefulShutdown" for 65535:0. */
  readonly communities: readonly string[];
  readonly largeCommunities: readonly string[];
  /** MULTI_EXIT_DISC as received (0 without one). */
  readonly med: number;
  /** The AS path, nearest AS first. */
  readonly asPath: readonly string[];
  readonly localPref: number | undefined;
}

/** One next hop of a route in the tor's kernel FIB. */
export interface TorNextHop {
  /** Index of the node behind it (by the tor's interface), null for none of ours. */
  readonly node: number | null;
  readonly gateway: string | null;
  readonly dev: string;
  /** The kernel's weight of this next hop in a multipath route (1 for a single-path route). */
  readonly weight: number;
}

export interface Lab extends LabInfo {
  /** Every node of the lab, node 0 first (this lab's own node is `nodes[index]`). */
  readonly nodes: readonly Lab[];
  /** The lab's mkdtemp directory (holds node/, node1/, … and tor/). */
  readonly dir: string;
  /** The node's config dir: frr.conf, pid files, logs. Owned by frr, writable by root. */
  readonly confDir: string;
  /** `${confDir}/frr.conf`, the file the node's daemons read at start. */
  readonly confFile: string;
  readonly torConfDir: string;
  /** Namespace name of a side. */
  ns(side: Side): string;
  /** argv prefix that runs vtysh for that namespace: ['ip','netns','exec',NS,'vtysh','-N',NS]. */
  vtyshArgs(side: Side): string[];
  /**
   * argv that runs frr-reload.py on the node: `--reload` (default) or `--test` of `newConf`, with
   * `--stdout -N NS --confdir confDir --rundir confDir`; `extra` goes before the file.
   */
  frrReloadArgs(newConf: string, opts?: { mode?: "reload" | "test"; extra?: readonly string[] }): string[];
  /** Run argv inside a namespace (`ip netns exec`). Throws on non-zero exit unless reject is false. */
  exec(side: Side, argv: readonly string[], opts?: { reject?: boolean }): Promise<ExecResult>;
  /** Run vtysh commands (`-c` each) in a namespace; returns stdout, throws on failure. */
  vtysh(side: Side, ...commands: string[]): Promise<string>;
  /** Prefixes in the tor's BGP table learned from the node (valid paths). */
  torRoutes(family: Family): Promise<Set<string>>;
  /** Prefixes in the tor's kernel FIB with proto bgp (host routes normalised to /32, /128). */
  torFibRoutes(family: Family): Promise<Set<string>>;
  /** Every path of the tor's BGP table for one prefix (none: the tor has no route). */
  torPaths(prefix: string): Promise<TorPath[]>;
  /** The tor's FIB (proto bgp): prefix → its next hops (several for an ECMP route). */
  torFibNextHops(family: Family): Promise<Map<string, TorNextHop[]>>;
  /** Poll the tor until predicate(routes) holds; returns that set. Throws with the table on timeout. */
  waitForTorRoutes(
    predicate: (routes: ReadonlySet<string>) => boolean,
    timeoutMs: number,
    opts?: WaitRoutesOptions,
  ): Promise<Set<string>>;
  /** The tor's neighbors per address family (`show bgp summary json`), e.g. to detect session resets. */
  torSessions(): Promise<PeerSession[]>;
  /** Wait until every neighbor of the tor is Established (from `show bgp summary json`). */
  waitForSession(timeoutMs: number): Promise<void>;
  /** Signal a daemon we started (default node side, SIGTERM). Waits for it to exit on TERM/INT/KILL. */
  killDaemon(which: Daemon, signal?: NodeJS.Signals, side?: Side): Promise<void>;
  /** (Re)start a daemon with the same arguments; resolves when its pid file and vty socket exist. */
  startDaemon(which: Daemon, side?: Side): Promise<void>;
  /** `addr/len` strings of an interface in the node namespace (`ip -j addr`). */
  nodeAddresses(ifname: string): Promise<string[]>;
  /** Kill our daemons, delete every namespace (all nodes') and all files. Idempotent, never throws. */
  destroy(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// Predicates for waitForTorRoutes

export function hasAll(...prefixes: string[]): (routes: ReadonlySet<string>) => boolean {
  return (routes) => prefixes.every((p) => routes.has(p));
}

export function hasNone(...prefixes: string[]): (routes: ReadonlySet<string>) => boolean {
  return (routes) => prefixes.every((p) => !routes.has(p));
}

// ---------------------------------------------------------------------------------------------------
// Configs

/** A minimal valid node config: eBGP to the tor, IPv4 and IPv6 unicast, no policy required. */
export function minimalNodeConfig(info: LabInfo, opts: { networks?: readonly string[] } = {}): string {
  const peer = info.unnumbered ? info.nodeIf : info.torAddr4;
  if (peer === null) throw new Error("numbered lab without tor address");
  const nets = opts.networks ?? [];
  const v4 = nets.filter((n) => !n.includes(":"));
  const v6 = nets.filter((n) => n.includes(":"));
  const neighbor = info.unnumbered
    ? [` neighbor ${peer} interface remote-as external`, ` neighbor ${peer} capability extended-nexthop`]
    : [` neighbor ${peer} remote-as ${info.torAsn}`];
  return [
    "frr defaults datacenter",
    "!",
    `router bgp ${info.nodeAsn}`,
    ` bgp router-id ${info.nodeRouterId}`,
    " no bgp ebgp-requires-policy",
    ...neighbor,
    ` neighbor ${peer} timers connect 1`,
    " !",
    " address-family ipv4 unicast",
    ...v4.map((n) => `  network ${n}`),
    `  neighbor ${peer} activate`,
    " exit-address-family",
    " !",
    " address-family ipv6 unicast",
    ...v6.map((n) => `  network ${n}`),
    `  neighbor ${peer} activate`,
    " exit-address-family",
    "exit",
    "!",
    "",
  ].join("\n");
}

/**
 * The tor's config: eBGP to every node (`nodes`, default the one of `info`), accepts everything,
 * IPv4 + IPv6 unicast, and ECMP over the nodes as a fabric's tor does: `maximum-paths` for eBGP,
 * and multipath-relax so paths from different neighbour ASes would count too.
 */
export function torConfig(info: LabInfo, nodes: readonly LabInfo[] = [info]): string {
  const peers = nodes.map((n) => {
    const peer = n.unnumbered ? n.torIf : n.nodeAddr4;
    if (peer === null) throw new Error("numbered lab without node address");
    return { peer, asn: n.nodeAsn, unnumbered: n.unnumbered };
  });
  const neighbors = peers.flatMap(({ peer, asn, unnumbered }) => [
    ...(unnumbered
      ? [` neighbor ${peer} interface remote-as ${asn}`, ` neighbor ${peer} capability extended-nexthop`]
      : [` neighbor ${peer} remote-as ${asn}`]),
    ` neighbor ${peer} timers connect 1`,
  ]);
  const af = (name: string): string[] => [
    " !",
    ` address-family ${name} unicast`,
    "  maximum-paths 16",
    ...peers.map(({ peer }) => `  neighbor ${peer} activate`),
    " exit-address-family",
  ];
  return [
    "frr defaults datacenter",
    "!",
    `router bgp ${info.torAsn}`,
    ` bgp router-id ${info.torRouterId}`,
    " no bgp ebgp-requires-policy",
    " bgp bestpath as-path multipath-relax",
    ...neighbors,
    ...af("ipv4"),
    ...af("ipv6"),
    "exit",
    "!",
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------------
// Prerequisites

/**
 * What a lab needs of this machine, for requireTool (tests/support/require-tool.ts): suites pass
 * `{ skip: requireTool(LAB_REQUIREMENTS, { for: "netns lab" }) }`. Image mode adds the image.
 */
export const LAB_REQUIREMENTS: readonly Requirement[] = [
  "linux",
  "root",
  ...DAEMONS.map((d) => join(FRR_BIN_DIR, d)),
  FRR_RELOAD,
  "vtysh",
  "ip",
  "python3",
  "user frr",
  // The image's sidecar serves /metrics inside the node's namespace: the harness reads it with curl.
  ...(LAB_FRR_IMAGE === undefined ? [] : ["curl", `podman image ${LAB_FRR_IMAGE}`]),
];

function lookupId(db: "passwd" | "group", name: string): number | null {
  try {
    for (const line of fs.readFileSync(`/etc/${db}`, "utf8").split("\n")) {
      const f = line.split(":");
      if (f[0] === name && f[2] !== undefined) return Number(f[2]);
    }
  } catch {
    /* fall through */
  }
  const r = spawnSync("getent", [db, name], { encoding: "utf8" });
  const id = r.status === 0 ? r.stdout.split(":")[2] : undefined;
  return id === undefined ? null : Number(id);
}

// ---------------------------------------------------------------------------------------------------
// Process helpers (PIDs we started, checked to live in our namespaces)

/** Alive and not a zombie (an init that reaps slowly leaves exited daemons as zombies for a while). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

function nsInode(ns: string): bigint | null {
  try {
    return fs.statSync(`/run/netns/${ns}`, { bigint: true }).ino;
  } catch {
    return null;
  }
}

function pidInNs(pid: number, ino: bigint | null): boolean {
  if (ino === null) return false;
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/net`) === `net:[${ino}]`;
  } catch {
    return false;
  }
}

function readPid(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

function trySignal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** PIDs inside a namespace (`ip netns pids`) — every one of them belongs to the lab. */
function nsPidsSync(ns: string): number[] {
  const r = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" });
  if (r.status !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((p) => Number.isInteger(p) && p > 1 && p !== process.pid);
}

function listNetnsSync(): string[] {
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  if (r.status !== 0) return [];
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter(Boolean);
}

// ---------------------------------------------------------------------------------------------------
// Cleanup: one synchronous routine used by destroy(), the exit/signal handlers and sweepStaleLabs().

interface Footprint {
  namespaces: string[];
  pidFiles: string[];
  dirs: string[];
}

function cleanupSync(fp: Footprint): void {
  const inodes = new Map(fp.namespaces.map((ns) => [ns, nsInode(ns)] as const));
  const ours = (pid: number): boolean => [...inodes.values()].some((ino) => pidInNs(pid, ino));
  for (const f of fp.pidFiles) {
    const pid = readPid(f);
    if (pid !== null && ours(pid)) trySignal(pid, "SIGKILL");
  }
  for (const ns of fp.namespaces) {
    if (inodes.get(ns) === null) continue;
    for (const pid of nsPidsSync(ns)) trySignal(pid, "SIGKILL");
    spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  }
  for (const d of fp.dirs) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
}

/** Per-side config dirs under a lab's directory: tor/, node/ and node1/, node2/, … */
const SIDE_DIR_RE = /^(tor|node\d*)$/;

function footprintOf(namespaces: string[], dir: string | null, sideDirs: readonly string[]): Footprint {
  const dirs = namespaces.flatMap((ns) => [join(FRR_RUN_DIR, ns), join(FRR_ETC_DIR, ns)]);
  const pidFiles: string[] = [];
  if (dir !== null) {
    dirs.push(dir);
    for (const side of sideDirs) for (const d of DAEMONS) pidFiles.push(join(dir, side, `${d}.pid`));
  }
  return { namespaces, pidFiles, dirs };
}

const live = new Map<string, Footprint>();
let handlersInstalled = false;

function onExit(): void {
  for (const fp of live.values()) cleanupSync(fp);
  live.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  onExit();
  process.removeListener(sig, onSignal);
  // Nobody else handles it: re-raise so the process dies as it would have without us.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", onExit);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, onSignal);
}

const NAME_RE = new RegExp(`^(${LAB_PREFIX}[0-9a-f]{6})-(\\d+)-(node\\d*|tor)$`);
const DIR_RE = new RegExp(`^(${LAB_PREFIX}[0-9a-f]{6})-(\\d+)-`);

/**
 * Remove what labs of dead processes left behind: namespaces named `fa<id>-<pid>-node[N]|tor` whose
 * creator PID no longer exists (killing the processes inside them), their /var/run/frr and /etc/frr
 * pathspace dirs, and their temp dirs. Labs of live processes are untouched. Returns what it removed.
 */
export function sweepStaleLabs(): Promise<string[]> {
  const removed: string[] = [];
  const dead = (pid: string): boolean => Number(pid) !== process.pid && !pidAlive(Number(pid));
  const stale = new Map<string, Footprint>();
  const entry = (key: string): Footprint => {
    let fp = stale.get(key);
    if (fp === undefined) {
      fp = { namespaces: [], pidFiles: [], dirs: [] };
      stale.set(key, fp);
    }
    return fp;
  };
  for (const ns of listNetnsSync()) {
    const m = NAME_RE.exec(ns);
    if (m?.[1] !== undefined && m[2] !== undefined && dead(m[2]))
      entry(`${m[1]}-${m[2]}`).namespaces.push(ns);
  }
  for (const base of [FRR_RUN_DIR, FRR_ETC_DIR]) {
    for (const name of safeReaddir(base)) {
      const m = NAME_RE.exec(name);
      if (m?.[1] !== undefined && m[2] !== undefined && dead(m[2]))
        entry(`${m[1]}-${m[2]}`).dirs.push(join(base, name));
    }
  }
  for (const name of safeReaddir(tmpdir())) {
    const m = DIR_RE.exec(name);
    if (m?.[1] === undefined || m[2] === undefined || !dead(m[2])) continue;
    const d = join(tmpdir(), name);
    const fp = entry(`${m[1]}-${m[2]}`);
    fp.dirs.push(d);
    const sides = safeReaddir(d).filter((n) => SIDE_DIR_RE.test(n));
    fp.pidFiles.push(...footprintOf([], d, sides).pidFiles);
  }
  for (const fp of stale.values()) {
    cleanupSync(fp);
    removed.push(...fp.namespaces, ...fp.dirs);
  }
  return Promise.resolve(removed);
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------------
// JSON shapes we read (only the fields we use)

interface BgpTableJson {
  routes?: Record<string, { valid?: boolean; peerId?: string }[] | undefined>;
}

interface BgpSummaryAf {
  peers?: Record<
    string,
    | {
        state?: string;
        connectionsEstablished?: number;
        connectionsDropped?: number;
        peerUptimeMsec?: number;
      }
    | undefined
  >;
}

interface BgpPrefixJson {
  paths?: {
    valid?: boolean;
    bestpath?: { overall?: boolean };
    multipath?: boolean;
    locPrf?: number;
    community?: { list?: string[] };
    largeCommunity?: { string?: string };
    med?: number;
    metric?: number;
    aspath?: { string?: string };
    peer?: { peerId?: string; interface?: string; hostname?: string };
    nexthops?: { ip?: string; interface?: string }[];
  }[];
}

interface IpNextHopJson {
  gateway?: string;
  /** An IPv4 route through an IPv6 next hop (unnumbered, extended next hop). */
  via?: { host?: string };
  dev?: string;
  /** Per next hop of a multipath route (`ip -j route`); absent on a single-path route. */
  weight?: number;
}

interface IpRouteJson extends IpNextHopJson {
  dst?: string;
  /** Several for an ECMP route (then gateway/dev are not set on the route itself). */
  nexthops?: IpNextHopJson[];
}

interface IpAddrJson {
  addr_info?: { local?: string; prefixlen?: number }[];
}

function normalisePrefix(dst: string, family: Family): string {
  if (dst === "default") return family === 4 ? "0.0.0.0/0" : "::/0";
  return dst.includes("/") ? dst : `${dst}/${family === 4 ? 32 : 128}`;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : typeof e === "string" ? e : JSON.stringify(e);
}

function describe(routes: ReadonlySet<string>): string {
  const list = [...routes].sort();
  const shown = list.slice(0, 50).join(", ");
  return `${list.length} prefixes${list.length > 0 ? `: ${shown}` : ""}${list.length > 50 ? ", …" : ""}`;
}

// ---------------------------------------------------------------------------------------------------
// The lab

/** What one node of the lab is called and addressed as. */
interface NodeSpec {
  readonly index: number;
  readonly ns: string;
  readonly nodeIf: string;
  readonly torIf: string;
  readonly routerId: string;
  readonly nodeAddr4: string | null;
  readonly torAddr4: string | null;
  readonly nodeAddr6: string | null;
  readonly torAddr6: string | null;
  /** Its config dir's name under the lab's directory. */
  readonly dirName: string;
}

/** What every node's view of one lab shares: the tor, the directory, the teardown. */
interface LabCore {
  readonly id: string;
  readonly dir: string;
  readonly unnumbered: boolean;
  readonly nodeAsn: number;
  readonly torAsn: number;
  readonly torNs: string;
  readonly nodeDaemons: boolean;
  readonly specs: readonly NodeSpec[];
  readonly views: NetnsLab[];
  readonly torBgpVty: VtyClient;
  destroyed: boolean;
}

const MAX_NODES = 8;

/** Node i: names with an `i` suffix from node 1 on (node 0 keeps the one-node lab's names). */
function nodeSpec(id: string, index: number, unnumbered: boolean): NodeSpec {
  const sfx = index === 0 ? "" : String(index);
  const v6 = (n: number): string => `fd00:0:2::${(0xa + 2 * index + n).toString(16)}`;
  return {
    index,
    ns: `${id}-${process.pid}-node${sfx}`,
    nodeIf: `${id}n${sfx}`,
    torIf: `${id}t${sfx}`,
    routerId: `192.0.2.${2 * index}`,
    nodeAddr4: unnumbered ? null : `192.0.2.${2 * index}`,
    torAddr4: unnumbered ? null : `192.0.2.${2 * index + 1}`,
    nodeAddr6: unnumbered ? null : v6(0),
    torAddr6: unnumbered ? null : v6(1),
    dirName: `node${sfx}`,
  };
}

/** One node's view of a lab: "node" is this node, "tor" the shared tor. */
class NetnsLab implements Lab {
  readonly id: string;
  readonly index: number;
  readonly unnumbered: boolean;
  readonly nodeAsn: number;
  readonly torAsn: number;
  readonly nodeNs: string;
  readonly torNs: string;
  readonly nodeIf: string;
  readonly torIf: string;
  readonly nodeRouterId: string;
  readonly torRouterId = "192.0.2.1";
  readonly nodeAddr4: string | null;
  readonly torAddr4: string | null;
  readonly nodeAddr6: string | null;
  readonly torAddr6: string | null;
  readonly prefixLen4 = 31;
  readonly prefixLen6 = 127;
  readonly dir: string;
  readonly confDir: string;
  readonly confFile: string;
  readonly torConfDir: string;

  private readonly torBgpVty: VtyClient;

  constructor(
    private readonly core: LabCore,
    spec: NodeSpec,
  ) {
    this.id = core.id;
    this.index = spec.index;
    this.unnumbered = core.unnumbered;
    this.nodeAsn = core.nodeAsn;
    this.torAsn = core.torAsn;
    this.nodeNs = spec.ns;
    this.torNs = core.torNs;
    this.nodeIf = spec.nodeIf;
    this.torIf = spec.torIf;
    this.nodeRouterId = spec.routerId;
    this.nodeAddr4 = spec.nodeAddr4;
    this.torAddr4 = spec.torAddr4;
    this.nodeAddr6 = spec.nodeAddr6;
    this.torAddr6 = spec.torAddr6;
    this.dir = core.dir;
    this.confDir = join(core.dir, spec.dirName);
    this.confFile = join(this.confDir, "frr.conf");
    this.torConfDir = join(core.dir, "tor");
    this.torBgpVty = core.torBgpVty;
  }

  /** Node 0's view of a new lab (not set up yet); the other nodes' views are in `nodes`. */
  static create(id: string, dir: string, opts: LabOptions): NetnsLab {
    const count = opts.nodes ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > MAX_NODES)
      throw new Error(`nodes must be 1..${MAX_NODES}, not ${count}`);
    const unnumbered = opts.unnumbered ?? false;
    const torNs = `${id}-${process.pid}-tor`;
    const core: LabCore = {
      id,
      dir,
      unnumbered,
      nodeAsn: opts.nodeAsn ?? 65001,
      torAsn: opts.torAsn ?? 65000,
      torNs,
      nodeDaemons: opts.nodeDaemons ?? true,
      specs: Array.from({ length: count }, (_, i) => nodeSpec(id, i, unnumbered)),
      views: [],
      torBgpVty: new VtyClient(join(FRR_RUN_DIR, torNs, "bgpd.vty")),
      destroyed: false,
    };
    core.views.push(...core.specs.map((spec) => new NetnsLab(core, spec)));
    const first = core.views[0];
    if (first === undefined) throw new Error("no nodes");
    return first;
  }

  get nodes(): readonly Lab[] {
    return this.core.views;
  }

  info(): LabInfo {
    const { id, index, unnumbered, nodeAsn, torAsn, nodeNs, torNs, nodeIf, torIf } = this;
    const { nodeRouterId, torRouterId, nodeAddr4, torAddr4, nodeAddr6, torAddr6, prefixLen4, prefixLen6 } =
      this;
    return {
      id,
      index,
      unnumbered,
      nodeAsn,
      torAsn,
      nodeNs,
      torNs,
      nodeIf,
      torIf,
      nodeRouterId,
      torRouterId,
      nodeAddr4,
      torAddr4,
      nodeAddr6,
      torAddr6,
      prefixLen4,
      prefixLen6,
    };
  }

  footprint(): Footprint {
    const { specs, torNs, dir } = this.core;
    const sides = ["tor", ...specs.map((n) => n.dirName)];
    return footprintOf([...specs.map((n) => n.ns), torNs], dir, sides);
  }

  ns(side: Side): string {
    return side === "node" ? this.nodeNs : this.torNs;
  }

  private sideDir(side: Side): string {
    return side === "node" ? this.confDir : this.torConfDir;
  }

  vtyshArgs(side: Side): string[] {
    const ns = this.ns(side);
    if (LAB_FRR_IMAGE !== undefined && side === "node")
      return inImage(LAB_FRR_IMAGE, ns, "vtysh", ["-N", ns]);
    return ["ip", "netns", "exec", ns, "vtysh", "-N", ns];
  }

  frrReloadArgs(
    newConf: string,
    opts: { mode?: "reload" | "test"; extra?: readonly string[] } = {},
  ): string[] {
    const ns = this.nodeNs;
    const mode = `--${opts.mode ?? "reload"}`;
    const dirs = ["--confdir", this.confDir, "--rundir", this.confDir];
    if (LAB_FRR_IMAGE !== undefined)
      return inImage(LAB_FRR_IMAGE, ns, "python3", [FRR_RELOAD, mode, "--stdout", "-N", ns, ...dirs])
        .concat(opts.extra ?? [])
        .concat(newConf);
    return ["ip", "netns", "exec", ns, "python3", FRR_RELOAD, mode, "--stdout", "-N", ns, ...dirs]
      .concat(opts.extra ?? [])
      .concat(newConf);
  }

  async exec(side: Side, argv: readonly string[], opts: { reject?: boolean } = {}): Promise<ExecResult> {
    const r = await execa("ip", ["netns", "exec", this.ns(side), ...argv], {
      reject: false,
      stdin: "ignore",
    });
    const res = { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 };
    if (res.exitCode !== 0 && opts.reject !== false) {
      throw new Error(
        `exec in ${this.ns(side)} failed (exit ${res.exitCode}): ${argv.join(" ")}\n${res.stderr}${res.stdout}`,
      );
    }
    return res;
  }

  async vtysh(side: Side, ...commands: string[]): Promise<string> {
    if (LAB_FRR_IMAGE !== undefined && side === "node") {
      const [file = "podman", ...args] = this.vtyshArgs(side);
      const r = await execa(file, [...args, ...commands.flatMap((c) => ["-c", c])], {
        env: PODMAN_ENV,
        stdin: "ignore",
      });
      return r.stdout;
    }
    const [, , , , ...argv] = this.vtyshArgs(side);
    const r = await this.exec(side, [...argv, ...commands.flatMap((c) => ["-c", c])]);
    return r.stdout;
  }

  async torRoutes(family: Family): Promise<Set<string>> {
    const out = await this.torBgpVty.command(`show bgp ${family === 4 ? "ipv4" : "ipv6"} unicast json`);
    const parsed = JSON.parse(out) as BgpTableJson;
    const set = new Set<string>();
    for (const [prefix, paths] of Object.entries(parsed.routes ?? {})) {
      // Paths the tor learned (a locally originated one has peerId "(unspec)").
      if (paths?.some((p) => p.valid === true && p.peerId !== undefined && p.peerId !== "(unspec)")) {
        set.add(prefix);
      }
    }
    return set;
  }

  async torFibRoutes(family: Family): Promise<Set<string>> {
    const r = await execa("ip", ["-n", this.torNs, `-${family}`, "-j", "route", "show", "proto", "bgp"]);
    const routes = (r.stdout.trim() === "" ? [] : JSON.parse(r.stdout)) as IpRouteJson[];
    return new Set(routes.flatMap((x) => (x.dst === undefined ? [] : [normalisePrefix(x.dst, family)])));
  }

  /** The node a path or next hop came through: by the node's address or the tor's interface to it. */
  private nodeOf(...keys: (string | undefined)[]): number | null {
    const spec = this.core.specs.find((n) =>
      keys.some((k) => k !== undefined && (k === n.nodeAddr4 || k === n.nodeAddr6 || k === n.torIf)),
    );
    return spec?.index ?? null;
  }

  async torPaths(prefix: string): Promise<TorPath[]> {
    const afi = prefix.includes(":") ? "ipv6" : "ipv4";
    const parsed = JSON.parse(
      await this.torBgpVty.command(`show bgp ${afi} unicast ${prefix} json`),
    ) as BgpPrefixJson;
    return (parsed.paths ?? []).map((p) => ({
      node: this.nodeOf(p.peer?.peerId, p.peer?.interface, ...(p.nexthops ?? []).map((h) => h.interface)),
      peer: p.peer?.interface ?? p.peer?.peerId ?? "?",
      valid: p.valid === true,
      bestpath: p.bestpath?.overall === true,
      multipath: p.multipath === true,
      communities: p.community?.list ?? [],
      largeCommunities: words(p.largeCommunity?.string),
      // FRR 8.4 names it "metric", later releases "med".
      med: p.med ?? p.metric ?? 0,
      asPath: words(p.aspath?.string),
      localPref: p.locPrf,
    }));
  }

  async torFibNextHops(family: Family): Promise<Map<string, TorNextHop[]>> {
    const r = await execa("ip", ["-n", this.torNs, `-${family}`, "-j", "route", "show", "proto", "bgp"]);
    const routes = (r.stdout.trim() === "" ? [] : JSON.parse(r.stdout)) as IpRouteJson[];
    const out = new Map<string, TorNextHop[]>();
    for (const route of routes) {
      if (route.dst === undefined) continue;
      const hops = route.nexthops ?? [route];
      out.set(
        normalisePrefix(route.dst, family),
        hops.map((h) => ({
          node: this.nodeOf(h.dev),
          gateway: h.gateway ?? h.via?.host ?? null,
          dev: h.dev ?? "?",
          weight: h.weight ?? 1,
        })),
      );
    }
    return out;
  }

  private async readTor(source: RouteSource, family: Family | undefined): Promise<Set<string>> {
    const read = (f: Family): Promise<Set<string>> =>
      source === "bgp" ? this.torRoutes(f) : this.torFibRoutes(f);
    if (family !== undefined) return read(family);
    const [a, b] = await Promise.all([read(4), read(6)]);
    return new Set([...a, ...b]);
  }

  async waitForTorRoutes(
    predicate: (routes: ReadonlySet<string>) => boolean,
    timeoutMs: number,
    opts: WaitRoutesOptions = {},
  ): Promise<Set<string>> {
    const source = opts.source ?? "bgp";
    const interval = opts.intervalMs ?? 20;
    const deadline = Date.now() + timeoutMs;
    let last = new Set<string>();
    let lastErr: unknown = null;
    for (;;) {
      try {
        last = await this.readTor(source, opts.family);
        lastErr = null;
        if (predicate(last)) return last;
      } catch (e) {
        lastErr = e;
      }
      if (Date.now() >= deadline) break;
      await sleep(interval);
    }
    const fam = opts.family === undefined ? "IPv4+IPv6" : `IPv${opts.family}`;
    const err = lastErr === null ? "" : ` (last read failed: ${errText(lastErr)})`;
    throw new Error(
      `waitForTorRoutes: predicate still false after ${timeoutMs} ms; tor ${source === "bgp" ? "BGP table" : "FIB (proto bgp)"} ${fam} has ${describe(last)}${err}`,
    );
  }

  async torSessions(): Promise<PeerSession[]> {
    const parsed = JSON.parse(await this.torBgpVty.command("show bgp summary json")) as Record<
      string,
      BgpSummaryAf | undefined
    >;
    return Object.entries(parsed).flatMap(([afi, sum]) =>
      Object.entries(sum?.peers ?? {}).map(([peer, p]) => ({
        afi,
        peer,
        state: p?.state ?? "?",
        established: p?.connectionsEstablished ?? 0,
        dropped: p?.connectionsDropped ?? 0,
        uptimeMs: p?.peerUptimeMsec ?? 0,
      })),
    );
  }

  private async torPeerStates(): Promise<Map<string, string>> {
    return new Map((await this.torSessions()).map((s) => [`${s.afi}/${s.peer}`, s.state]));
  }

  async waitForSession(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let states = new Map<string, string>();
    let lastErr: unknown = null;
    for (;;) {
      try {
        states = await this.torPeerStates();
        lastErr = null;
        if (states.size > 0 && [...states.values()].every((s) => s === "Established")) return;
      } catch (e) {
        lastErr = e;
      }
      if (Date.now() >= deadline) break;
      await sleep(20);
    }
    const shown = [...states].map(([k, v]) => `${k}=${v}`).join(", ") || "no peers";
    const err = lastErr === null ? "" : ` (last read failed: ${errText(lastErr)})`;
    throw new Error(`waitForSession: not Established after ${timeoutMs} ms on ${this.torNs}: ${shown}${err}`);
  }

  private pidFile(which: Daemon, side: Side): string {
    return join(this.sideDir(side), `${which}.pid`);
  }

  async killDaemon(which: Daemon, signal: NodeJS.Signals = "SIGTERM", side: Side = "node"): Promise<void> {
    const pid = readPid(this.pidFile(which, side));
    if (pid === null || !pidInNs(pid, nsInode(this.ns(side)))) {
      throw new Error(`killDaemon: no running ${which} of ours in ${this.ns(side)}`);
    }
    process.kill(pid, signal);
    if (!["SIGTERM", "SIGINT", "SIGKILL"].includes(signal)) return;
    const deadline = Date.now() + 10_000;
    while (pidAlive(pid)) {
      if (Date.now() > deadline)
        throw new Error(`killDaemon: ${which} (pid ${pid}) still alive after ${signal}`);
      await sleep(10);
    }
  }

  async startDaemon(which: Daemon, side: Side = "node"): Promise<void> {
    const ns = this.ns(side);
    const dir = this.sideDir(side);
    const pidFile = this.pidFile(which, side);
    const old = readPid(pidFile);
    if (old !== null && pidInNs(old, nsInode(ns)))
      throw new Error(`startDaemon: ${which} already runs in ${ns}`);
    await fsp.rm(pidFile, { force: true });
    const fromImage = LAB_FRR_IMAGE !== undefined && side === "node";
    const argv = [
      join(FRR_BIN_DIR, which),
      // From the image the daemon is the container's main process: it must not fork away.
      ...(fromImage ? [] : ["-d"]),
      "-N",
      ns,
      // FRR 10's staticd and mgmtd take no config file (their config comes through mgmtd).
      ...(which === "staticd" && fromImage ? [] : which === "mgmtd" ? [] : ["-f", join(dir, "frr.conf")]),
      "-u",
      "frr",
      "-g",
      "frr",
      "-i",
      pidFile,
      "-A",
      "127.0.0.1",
      "--log",
      `file:${join(dir, `${which}.log`)}`,
      ...(which === "zebra" ? ["-s", "90000000"] : []),
    ];
    const [program = "", ...args] = argv;
    const cmd =
      LAB_FRR_IMAGE !== undefined && fromImage
        ? inImage(LAB_FRR_IMAGE, ns, program, args, { detach: true })
        : ["ip", "netns", "exec", ns, ...argv];
    const r = await execa(cmd[0] ?? "ip", cmd.slice(1), {
      reject: false,
      stdin: "ignore",
      env: fromImage ? PODMAN_ENV : process.env,
    });
    if (r.exitCode !== 0) {
      throw new Error(`startDaemon: ${which} in ${ns} exited ${r.exitCode}: ${r.stderr}${r.stdout}`);
    }
    // -d returns once the daemon is up; wait for the pid file and the vty socket anyway.
    const sockPath = join(FRR_RUN_DIR, ns, `${which}.vty`);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const pid = readPid(pidFile);
      if (pid !== null && pidAlive(pid) && fs.existsSync(sockPath)) return;
      if (Date.now() > deadline)
        throw new Error(`startDaemon: ${which} in ${ns} did not come up (see ${dir})`);
      await sleep(10);
    }
  }

  async nodeAddresses(ifname: string): Promise<string[]> {
    const r = await execa("ip", ["-n", this.nodeNs, "-j", "addr", "show", "dev", ifname]);
    const links = JSON.parse(r.stdout) as IpAddrJson[];
    return links.flatMap((l) =>
      (l.addr_info ?? []).flatMap((a) =>
        a.local === undefined || a.prefixlen === undefined ? [] : [`${a.local}/${a.prefixlen}`],
      ),
    );
  }

  /** Build everything (every node, when called on node 0); the caller cleans up on failure. */
  async setUp(nodeConfig: (view: NetnsLab) => string): Promise<void> {
    const hostUid = lookupId("passwd", "frr");
    const hostGid = lookupId("group", "frr");
    if (hostUid === null || hostGid === null) throw new Error("user/group frr missing");
    await fsp.chmod(this.dir, 0o755);
    const views = this.core.views;
    const sides = [
      { view: this, side: "tor" as const },
      ...views.map((view) => ({ view, side: "node" as const })),
    ];
    for (const { view, side } of sides) {
      // The image's daemons run as the image's frr user: the node side's dirs are its own then.
      const owner =
        LAB_FRR_IMAGE !== undefined && side === "node"
          ? imageFrrIds(LAB_FRR_IMAGE)
          : { uid: hostUid, gid: hostGid };
      const [uid, gid] = [owner.uid, owner.gid];
      const ns = view.ns(side);
      const dir = view.sideDir(side);
      await fsp.mkdir(dir, { mode: 0o755 });
      await fsp.chown(dir, uid, gid);
      const conf =
        side === "node"
          ? nodeConfig(view)
          : torConfig(
              this.info(),
              views.map((v) => v.info()),
            );
      await fsp.writeFile(join(dir, "frr.conf"), conf, { mode: 0o644 });
      await fsp.chown(join(dir, "frr.conf"), uid, gid);
      // Pathspace dirs: vty sockets, and a vtysh.conf so vtysh -N does not complain about it.
      for (const d of [join(FRR_RUN_DIR, ns), join(FRR_ETC_DIR, ns)]) {
        await fsp.mkdir(d, { recursive: true, mode: 0o755 });
        await fsp.chown(d, uid, gid);
      }
      await fsp.writeFile(join(FRR_ETC_DIR, ns, "vtysh.conf"), "service integrated-vtysh-config\n");
      await execa("ip", ["netns", "add", ns]);
      // Before the veth exists: no DAD (link-local usable at once), no RA-learned routes.
      const sysctl = [
        "net.ipv6.conf.all.accept_dad",
        "net.ipv6.conf.default.accept_dad",
        "net.ipv6.conf.all.accept_ra",
        "net.ipv6.conf.default.accept_ra",
      ].map((k) => `echo 0 > /proc/sys/${k.replaceAll(".", "/")}`);
      await execa("ip", ["netns", "exec", ns, "sh", "-c", sysctl.join("; ")]);
      await execa("ip", ["-n", ns, "link", "set", "lo", "up"]);
    }
    for (const view of views) await view.addVeth();
    const daemonSides = [
      { view: this, side: "tor" as const },
      ...(this.core.nodeDaemons ? views.map((view) => ({ view, side: "node" as const })) : []),
    ];
    if (LAB_FRR_IMAGE !== undefined && this.core.nodeDaemons)
      await Promise.all(views.map((v) => v.startDaemon("mgmtd", "node")));
    await Promise.all(daemonSides.map(({ view, side }) => view.startDaemon("zebra", side)));
    await Promise.all(
      daemonSides.flatMap(({ view, side }) => [
        view.startDaemon("bgpd", side),
        view.startDaemon("staticd", side),
      ]),
    );
  }

  /** This node's veth to the tor, with its addresses (numbered mode), both ends up. */
  private async addVeth(): Promise<void> {
    // Created directly inside the namespaces: nothing of the lab ever exists in the root namespace.
    const veth = `link add name ${this.nodeIf} netns ${this.nodeNs} type veth peer name ${this.torIf} netns ${this.torNs}`;
    await execa("ip", veth.split(" "));
    if (!this.unnumbered) {
      const ends = [
        [this.nodeNs, this.nodeIf, this.nodeAddr4, this.nodeAddr6],
        [this.torNs, this.torIf, this.torAddr4, this.torAddr6],
      ] as const;
      for (const [ns, ifname, a4, a6] of ends) {
        await execa("ip", ["-n", ns, "addr", "add", `${a4}/${this.prefixLen4}`, "dev", ifname]);
        await execa("ip", ["-n", ns, "addr", "add", `${a6}/${this.prefixLen6}`, "dev", ifname, "nodad"]);
      }
    }
    await execa("ip", ["-n", this.nodeNs, "link", "set", this.nodeIf, "up"]);
    await execa("ip", ["-n", this.torNs, "link", "set", this.torIf, "up"]);
  }

  destroy(): Promise<void> {
    if (!this.core.destroyed) {
      this.core.destroyed = true;
      this.torBgpVty.close();
      // SIGKILL straight away: FRR 8.4 daemons need 1.5–2 s to exit on SIGTERM, and a graceful exit
      // buys nothing here (the namespaces, and with them the routes and the veth, go away).
      try {
        cleanupSync(this.footprint());
      } catch {
        /* never throws */
      }
      live.delete(this.id);
    }
    return Promise.resolve();
  }
}

/** Build a lab (see the file header). Cleans up and rethrows if any step fails. */
export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  const problems = LAB_REQUIREMENTS.flatMap((r) => missingOf(r) ?? []);
  if (problems.length > 0) throw new Error(`netns lab prerequisites missing: ${problems.join("; ")}`);
  try {
    await sweepStaleLabs();
  } catch {
    /* best effort */
  }
  const id = `${LAB_PREFIX}${randomBytes(3).toString("hex")}`;
  installHandlers();
  const dir = await fsp.mkdtemp(join(tmpdir(), `${id}-${process.pid}-`));
  const lab = NetnsLab.create(id, dir, opts);
  live.set(id, lab.footprint());
  try {
    const nc = opts.nodeConfig;
    await lab.setUp((view) =>
      nc === undefined ? "frr defaults datacenter\n!\n" : typeof nc === "string" ? nc : nc(view.info()),
    );
  } catch (e) {
    await lab.destroy();
    throw e;
  }
  return lab;
}

/** A space-separated JSON string field as its words ([] when absent or empty). */
function words(text: string | undefined): string[] {
  return text === undefined || text.trim() === "" ? [] : text.trim().split(/\s+/);
}
