// Service IPs kept on one interface through iproute2, as host addresses (/32, /128) or as kernel
// `local` routes through it (ADR 0021): `ip -j` to list, `ip -force -batch -` lines to change (in
// `run`, all sent to one long-lived ip: IpBatchSession).
// The only code that writes ip(8) input: every address is re-validated here, so nothing that came
// from the cluster can smuggle in a command.

import { isIP } from "node:net";
import { createRunner, type RunResult, type Runner } from "../exec.js";
import { parseIp, type IpAddress } from "../model/ip.js";
import { isCanonicalAddress } from "./plan-addresses.js";

export type { RunResult };

/**
 * How the kernel keeps a service IP local: an address on the interface, or a `local` route
 * through it in the local table (what an address adds, without the address; ADR 0021).
 */
export type KeptAs = "address" | "local-route";

/**
 * The routing protocol number on our local routes (unnamed in iproute2's rt_protos; zebra's are
 * 11 and 186–196): `ip route show table local proto 250` shows exactly ours.
 */
export const LOCAL_ROUTE_PROTO = 250;

export interface IpAddressAdapterOptions {
  readonly iface: string;
  /** Default "address". */
  readonly keptAs?: KeptAs;
  /** Default: exec.ts (execa) with DEFAULT_IP_TIMEOUT_MS. Tests inject fakes; the netns test prefixes `ip netns exec NS`. */
  readonly run?: Runner;
  /** Lines per `ip -batch` run (default DEFAULT_MAX_LINES_PER_BATCH). */
  readonly maxLinesPerBatch?: number;
  /**
   * Runs a batch's lines as `ip -force -batch -` would (IpBatchSession: one long-lived ip for
   * every batch). Default: a `run` of its own per batch.
   */
  readonly batch?: (input: string) => Promise<RunResult>;
}

export interface AddressChange {
  readonly add: readonly string[];
  readonly remove: readonly string[];
}

export interface AddressFailure {
  readonly address: string;
  readonly op: "add" | "remove";
  readonly reason: string;
}

export interface ApplyResult {
  /** Host addresses on the interface after the batch, re-listed: the truth to verify against. */
  readonly present: Set<string>;
  /** Changes that did not take effect (verified by re-listing). */
  readonly failed: readonly AddressFailure[];
  /**
   * Lines ip(8) rejected, whatever the end state. An add rejected as "Address already assigned"
   * means someone else put the address there after we listed: it is not ours.
   */
  readonly rejected: readonly AddressFailure[];
  /** Number of `ip -batch` processes run. */
  readonly batches: number;
}

/**
 * Bounds one process's run time and stdin; 10k additions are 2 processes. ip's time is
 * kernel-bound and superlinear for IPv6 removal (measured on lo: 10k /128s ≈ 40 s, 5k ≈ 5–13 s, 2k ≈ 0.6 s),
 * so smaller chunks would not make a mass removal faster, only start more processes.
 */
export const DEFAULT_MAX_LINES_PER_BATCH = 5_000;
export const DEFAULT_IP_TIMEOUT_MS = 120_000;

/** Linux interface names (IFNAMSIZ − 1), no leading "-" so it can never read as an option. */
const IFACE_NAME = /^[A-Za-z0-9_.:][A-Za-z0-9_.:-]{0,14}$/;
/** Characters an address may contain at all; isIP and the canonical check do the real work. */
const ADDRESS_CHARS = /^[0-9a-f.:]{2,39}$/;
const COMMAND_FAILED = /^Command failed -:(\d+)$/;

export class IpCommandError extends Error {
  override readonly name = "IpCommandError";
}

export class InvalidAddressError extends Error {
  override readonly name = "InvalidAddressError";
}

export interface BatchLine {
  readonly op: "add" | "remove";
  readonly address: string;
  readonly text: string;
}

export class IpAddressAdapter {
  readonly iface: string;
  readonly keptAs: KeptAs;
  readonly #run: Runner;
  readonly #batch: (input: string) => Promise<RunResult>;
  readonly #maxLines: number;

  constructor(options: IpAddressAdapterOptions) {
    if (!IFACE_NAME.test(options.iface)) throw new Error(`"${options.iface}" is not a valid interface name`);
    const maxLines = options.maxLinesPerBatch ?? DEFAULT_MAX_LINES_PER_BATCH;
    if (!Number.isInteger(maxLines) || maxLines < 1)
      throw new Error(`maxLinesPerBatch must be ≥ 1, got ${maxLines}`);
    this.iface = options.iface;
    this.keptAs = options.keptAs ?? "address";
    const run = options.run ?? createRunner(DEFAULT_IP_TIMEOUT_MS);
    this.#run = run;
    this.#batch = options.batch ?? ((input) => run(["ip", "-force", "-batch", "-"], { input }));
    this.#maxLines = maxLines;
  }

  /** Host addresses (/32, /128) on the interface, canonical; link-local and host-scope (::1) ones left out. */
  async list(): Promise<Set<string>> {
    if (this.keptAs === "local-route") return this.#listLocalRoutes();
    const result = await this.#run(["ip", "-j", "address", "show", "dev", this.iface]);
    if (result.exitCode !== 0) {
      throw new IpCommandError(
        `ip address show dev ${this.iface} exited ${result.exitCode}: ${result.stderr.trim()}`,
      );
    }
    return parseHostAddresses(result.stdout);
  }

  /**
   * Host `local` routes through the interface, whoever added them (an address's own route too:
   * that IP is local already, and not ours), loopback ones left out. Two runs: one per family.
   */
  async #listLocalRoutes(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const family of ["-4", "-6"] as const) {
      const argv = ["ip", "-j", family, "route", "show", "table", "local", "dev", this.iface];
      const result = await this.#run(argv);
      if (result.exitCode !== 0) {
        // A kernel booted without IPv6 has no IPv6 table to list: nothing of ours can be there.
        if (family === "-6" && /not supported/i.test(result.stderr)) continue;
        throw new IpCommandError(
          `${argv.slice(1).join(" ")} exited ${result.exitCode}: ${result.stderr.trim()}`,
        );
      }
      for (const address of parseLocalRoutes(result.stdout)) out.add(address);
    }
    return out;
  }

  /**
   * Adds, then removes, in as few `ip -force -batch -` runs as the chunk size allows (one for
   * up to maxLinesPerBatch changes). -force keeps going past a failing line; the re-list afterwards
   * says what really happened. Every address is validated before anything runs: all or nothing.
   *
   * `before`: the interface as the caller last verified it, handed over: when ip accepted every
   * line, it is updated in place (plus the additions, minus the removals) and returned as
   * `present`, and the re-list (≈ 70 ms of ip(8) and parsing at 10k addresses) is skipped; any
   * rejected line still means a re-list. In place, not a copy: at 10k addresses a copy per change
   * was a large-object allocation that only a full GC frees, and under churn V8 grew the heap
   * for it.
   */
  async apply(change: AddressChange, before?: Set<string>): Promise<ApplyResult> {
    const lines = batchLines(change, this.iface, this.keptAs);
    const rejected: AddressFailure[] = [];
    let batches = 0;
    for (let start = 0; start < lines.length; start += this.#maxLines) {
      rejected.push(...(await this.#runBatch(lines.slice(start, start + this.#maxLines))));
      batches += 1;
    }
    const present =
      before !== undefined && rejected.length === 0 ? afterBatch(before, lines) : await this.list();
    return { present, failed: verify(lines, present, rejected), rejected, batches };
  }

  async #runBatch(chunk: readonly BatchLine[]): Promise<AddressFailure[]> {
    const input = chunk.map((line) => `${line.text}\n`).join("");
    const result = await this.#batch(input);
    if (result.exitCode === 0) return [];
    return rejectedLines(chunk, result.stderr);
  }
}

/** Throws unless the text is a canonical IPv4/IPv6 address: the last gate before ip(8) input. */
export function assertSafeAddress(address: string): 4 | 6 {
  const family = ADDRESS_CHARS.test(address) ? isIP(address) : 0;
  if (family === 0 || !isCanonicalAddress(address)) {
    throw new InvalidAddressError(
      `refusing to pass ${JSON.stringify(address)} to ip: not a canonical IP address`,
    );
  }
  return family === 4 ? 4 : 6;
}

/**
 * The batch lines. IPv6 needs no "-6" (ip infers the family from the address; "-6 address …" is
 * not even valid inside a batch) but gets "nodad" so the address is usable at once on interfaces
 * that do DAD. Not "noprefixroute", although it makes IPv6 removal ≈ 3× faster (no main-table
 * route to clean up): FRR 8.4.4 still makes a connected route for such an address, but zebra since
 * FRRouting/frr PR 14957 (Dec 2023) honours the flag and makes none, so FRR would stop advertising it.
 * A local route is named in full on removal (type, table, proto): only ours matches.
 */
export function batchLines(change: AddressChange, iface: string, keptAs: KeptAs = "address"): BatchLine[] {
  const route = (verb: "add" | "del", address: string, length: number): string =>
    `route ${verb} local ${address}/${length} dev ${iface} table local proto ${LOCAL_ROUTE_PROTO}`;
  const adds = change.add.map((address): BatchLine => {
    const v6 = assertSafeAddress(address) === 6;
    const length = v6 ? 128 : 32;
    const text =
      keptAs === "local-route"
        ? route("add", address, length)
        : `address add ${address}/${length} dev ${iface}${v6 ? " nodad" : ""}`;
    return { op: "add", address, text };
  });
  const removes = change.remove.map((address): BatchLine => {
    const length = assertSafeAddress(address) === 6 ? 128 : 32;
    const text =
      keptAs === "local-route"
        ? route("del", address, length)
        : `address del ${address}/${length} dev ${iface}`;
    return { op: "remove", address, text };
  });
  return [...adds, ...removes];
}

/**
 * With -force, ip prints "Error: …" for a failing line, then "Command failed -:N" (N counts the
 * chunk's lines from 1). Output it cannot tie to a line (ip crashed, namespace gone) marks every
 * line of the chunk, so the verification has a reason to quote.
 */
export function rejectedLines(chunk: readonly BatchLine[], stderr: string): AddressFailure[] {
  const out: AddressFailure[] = [];
  let pending: string[] = [];
  for (const raw of stderr.split("\n")) {
    const match = COMMAND_FAILED.exec(raw.trim());
    if (match === null) {
      if (raw.trim() !== "") pending.push(raw.trim());
      continue;
    }
    const line = chunk[Number(match[1]) - 1];
    if (line !== undefined)
      out.push({ address: line.address, op: line.op, reason: pending.join("; ") || "failed" });
    pending = [];
  }
  if (out.length > 0 || pending.length === 0) return out;
  const reason = `ip -batch failed: ${pending.join("; ")}`;
  return chunk.map((line) => ({ address: line.address, op: line.op, reason }));
}

/** The interface after a batch ip accepted in full. */
function afterBatch(present: Set<string>, lines: readonly BatchLine[]): Set<string> {
  for (const line of lines) {
    if (line.op === "add") present.add(line.address);
    else present.delete(line.address);
  }
  return present;
}

function verify(
  lines: readonly BatchLine[],
  present: ReadonlySet<string>,
  rejected: readonly AddressFailure[],
) {
  const reasons = new Map(rejected.map((r) => [`${r.op} ${r.address}`, r.reason]));
  const failed: AddressFailure[] = [];
  for (const line of lines) {
    const done = line.op === "add" ? present.has(line.address) : !present.has(line.address);
    if (done) continue;
    const reason =
      reasons.get(`${line.op} ${line.address}`) ?? "no error from ip, but not in effect after the batch";
    failed.push({ address: line.address, op: line.op, reason });
  }
  return failed;
}

/** Parses `ip -j address show` output into canonical host addresses. */
export function parseHostAddresses(stdout: string): Set<string> {
  const links: unknown = JSON.parse(stdout);
  if (!Array.isArray(links)) throw new IpCommandError("ip -j address show: expected a JSON array");
  const out = new Set<string>();
  for (const link of links as unknown[]) {
    for (const info of addrInfo(link)) {
      const address = hostAddress(info);
      if (address !== undefined) out.add(address);
    }
  }
  return out;
}

/**
 * Parses `ip -j route show table local dev X` output into canonical host IPs: `local` routes of
 * one address (`dst` without a length, or /32, /128), loopback and link-local ones left out.
 */
export function parseLocalRoutes(stdout: string): Set<string> {
  const routes: unknown = JSON.parse(stdout);
  if (!Array.isArray(routes)) throw new IpCommandError("ip -j route show: expected a JSON array");
  const out = new Set<string>();
  for (const route of routes as unknown[]) {
    const ip = hostLocalRoute(route);
    if (ip !== undefined) out.add(ip);
  }
  return out;
}

/** The canonical IP of a `local` route of one service-usable address; undefined for anything else. */
function hostLocalRoute(route: unknown): string | undefined {
  const { type, dst } = (route ?? {}) as Record<string, unknown>;
  if (type !== "local" || typeof dst !== "string") return undefined;
  const [ip = "", length] = dst.split("/");
  const parsed = parseIp(ip);
  if (!parsed.ok || isLinkLocal(parsed.value) || isLoopback(parsed.value)) return undefined;
  const host = parsed.value.family === "ipv4" ? "32" : "128";
  return length === undefined || length === host ? parsed.value.text : undefined;
}

/** 127.0.0.0/8 and ::1: the kernel's own, never a service IP. */
function isLoopback(address: IpAddress): boolean {
  return address.family === "ipv4" ? address.value >> 24n === 127n : address.value === 1n;
}

function addrInfo(link: unknown): unknown[] {
  if (typeof link !== "object" || link === null) return [];
  const info = (link as { addr_info?: unknown }).addr_info;
  return Array.isArray(info) ? (info as unknown[]) : [];
}

/** A /32 or /128 of global (or site/…) scope, canonical; undefined for everything we never manage. */
function hostAddress(info: unknown): string | undefined {
  if (typeof info !== "object" || info === null) return undefined;
  const { family, local, prefixlen, scope } = info as Record<string, unknown>;
  if (typeof local !== "string" || scope === "host" || scope === "link") return undefined;
  const hostLength = family === "inet" ? 32 : family === "inet6" ? 128 : undefined;
  if (hostLength === undefined || prefixlen !== hostLength) return undefined;
  // ip prints RFC 5952 text already; anything the strict parser refuses (::ffff:a.b.c.d) is skipped.
  const parsed = parseIp(local);
  if (!parsed.ok || isLinkLocal(parsed.value)) return undefined;
  return parsed.value.text;
}

/** fe80::/10, whatever scope the kernel reports. */
function isLinkLocal(address: IpAddress): boolean {
  return address.family === "ipv6" && address.value >> 118n === 0x3fan;
}
