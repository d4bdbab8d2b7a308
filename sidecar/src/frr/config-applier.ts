// Brings FRR to a rendered frr.conf and keeps the file on disk equal to what FRR runs.
// Prefix changes (and the attribute route-maps only they use) go as one batch; everything else
// through frr-reload.py
// (--test, then --reload), with a real rollback to the last good file when FRR fails.

import { readFile } from "node:fs/promises";
import { writeFileAtomic, renameAtomic } from "./atomic-write.js";
import {
  computeWithdrawal,
  fastBatches,
  networkDelta,
  NO_ROUTE_MAP_CHANGES,
  parseConf,
  placedKey,
  reannounceCommands,
  isRouteMapRemoval,
  routeMapOf,
  routeMapUse,
  sameConf,
  withdrawnPrefixes,
  type ParsedConf,
  type Placed,
  type RouteMapChanges,
  type RouteMapEntry,
} from "./config-delta.js";
import { ConfLayout } from "./conf-layout.js";
import type { VerifiedRecord } from "./verified-record.js";
import { configImpact, resetsSessions, type ConfigImpact } from "./session-impact.js";
import {
  FrrCommandError,
  isEmptyDiff,
  redactSecrets,
  runsBgpRouter,
  type FrrClient,
  type ReloadDiff,
} from "./frr-client.js";

/** frr.conf keeps its owner and mode: FRR's daemons (user frr) re-read it when they restart. */
const KEEP_OWNER = { preserveOwner: true } as const;

export type ApplyOutcome =
  | { readonly kind: "unchanged" }
  | { readonly kind: "delta"; readonly commands: number; readonly withdrawn: readonly string[] }
  | { readonly kind: "reloaded" };

export class ConfigRejectedError extends Error {
  override name = "ConfigRejectedError";
  constructor(
    message: string,
    /** True when FRR may have applied part of the file and the last good one was re-applied. */
    readonly rolledBack: boolean,
  ) {
    super(message);
  }
}

export interface ApplierLog {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

/** Called after every change sent to FRR (for the reload duration histogram). */
export type ApplyObserver = (method: "delta" | "reload" | "rollback", seconds: number, ok: boolean) => void;

export interface ApplierOptions {
  readonly observe?: ApplyObserver;
  /**
   * templates.allowSessionReset: false refuses a reload that would restart an existing BGP
   * session (the last good config stays); `onRefused` is told each time.
   */
  readonly allowSessionReset?: boolean;
  readonly onSessionResetRefused?: (impact: ConfigImpact) => void;
  /**
   * Where what FRR ran is remembered across restarts of the sidecar: the first full apply of
   * this process takes frr.conf as running, without frr-reload.py, when the record says bgpd runs
   * it (ADR 0020). Absent: every full apply asks frr-reload.py.
   */
  readonly verified?: VerifiedRecord;
  /** FRR was taken as running the render on the record's word (e.g. to compare every daemon soon). */
  readonly onTakenAsRunning?: () => void;
}

/** A reload refused because it would reset BGP sessions (templates.allowSessionReset: false). */
export class SessionResetRefusedError extends ConfigRejectedError {
  override name = "SessionResetRefusedError";
  constructor(readonly impact: ConfigImpact) {
    super(
      `the change would reset BGP sessions (${describeResets(impact)}); templates.allowSessionReset is false: ` +
        "refused, the last good config stays (frr-advertiser diff shows the change)",
      false,
    );
  }
}

export class ConfigApplier {
  /** The text the file holds, once something was applied; see `pending`. */
  private applied: string | undefined;
  /**
   * What FRR runs, parsed: the file's text plus the network changes sent since (`pending`).
   * Undefined when unknown (nothing applied, a failed delta): the next apply is a full reload.
   */
  private running:
    | {
        readonly other: string;
        readonly networks: Map<string, Placed>;
        readonly routeMaps: Map<string, RouteMapEntry>;
        /** Network statements per route-map name (an attribute set no statement uses can go). */
        readonly routeMapUse: Map<string, number>;
      }
    | undefined;
  /** Network changes went to FRR after the file was last written; settle() writes it. */
  private pending = false;
  /**
   * `applied` without its statements and attribute route-maps (see writeRunning): made from the
   * first file that needs it, kept for the files written from it (they share it).
   */
  private layout: { readonly of: string; readonly layout: ConfLayout | undefined } | undefined;
  /** Counts changes to FRR or the file, begun and ended; see inStep. */
  private changes = 0;
  /** Changes in flight (the read-back's repair may overlap a reconcile pass). */
  private inFlight = 0;
  /**
   * Until the first full apply of this process: FRR may then be taken as running the render on
   * the verified record's word. Not once FRR restarted under this process (invalidate): a daemon
   * other than bgpd may be back without its config, which only frr-reload.py compares.
   */
  private firstFullApply = true;
  /**
   * bgpd's listing as the start read it for its prefixes (runningPrefixes), kept for the first
   * full apply's comparison with the verified record: one read of bgpd's config at start, not two.
   * Dropped once any change to FRR ends.
   */
  private startListing: string | undefined;

  private readonly observe: ApplyObserver;

  constructor(
    private readonly frr: FrrClient,
    private readonly configFile: string,
    private readonly log: ApplierLog,
    private readonly options: ApplierOptions = {},
  ) {
    this.observe = options.observe ?? (() => undefined);
  }

  private async timed<T>(method: "delta" | "reload" | "rollback", fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await fn();
      this.observe(method, (performance.now() - started) / 1000, true);
      return result;
    } catch (err) {
      this.observe(method, (performance.now() - started) / 1000, false);
      throw err;
    }
  }

  /** The last text written as frr.conf; FRR may run network changes made since (see settle). */
  get appliedConfig(): string | undefined {
    return this.applied;
  }

  /**
   * Stays the same while FRR and frr.conf do not change and the file holds all that FRR was told;
   * undefined before the first apply, while fast changes wait for settle(), and while a change is
   * in flight. What the drift check compares within.
   */
  get inStep(): number | undefined {
    if (this.applied === undefined || this.pending || this.inFlight > 0) return undefined;
    return this.changes;
  }

  /** Brackets a change to FRR or the file (see inStep). */
  private async changing<T>(fn: () => Promise<T>): Promise<T> {
    this.changes++;
    this.inFlight++;
    try {
      return await fn();
    } finally {
      this.inFlight--;
      this.changes++;
      this.startListing = undefined;
    }
  }

  /**
   * The prefixes of the network statements bgpd runs now (what the start keeps of them). Before
   * the first full apply the listing is kept for it (see startListing).
   */
  async runningPrefixes(): Promise<ReadonlySet<string>> {
    const listing = await this.frr.bgpdRunningConfig();
    if (this.firstFullApply && this.options.verified !== undefined) this.startListing = listing;
    const running = parseConf(listing);
    return new Set([...(running?.networks.values() ?? [])].map((p) => p.line.split(" ")[1] ?? ""));
  }

  /**
   * Forget what FRR runs (FRR answers for the first time, or again after a restart): the next
   * apply goes through frr-reload.py. `restarted` (the default): FRR restarted while this process
   * watched it, so the verified record is not taken either (see firstFullApply).
   */
  invalidate(restarted = true): void {
    this.changes++;
    if (restarted) this.firstFullApply = false;
    this.startListing = undefined;
    this.applied = undefined;
    this.running = undefined;
    this.pending = false;
  }

  /** The attribute route-map entries FRR runs (see ParsedConf.routeMaps), by header. */
  get runningRouteMaps(): ReadonlyMap<string, RouteMapEntry> | undefined {
    return this.running?.routeMaps;
  }

  /** How many network statements FRR runs name each route-map (see runningRouteMaps). */
  get runningRouteMapUse(): ReadonlyMap<string, number> | undefined {
    return this.running?.routeMapUse;
  }

  /**
   * Sends network statement changes computed without a render (the fast path), with the
   * attribute route-maps they start or stop using. The file is written later by settle(); until
   * then `running` is the truth for deltas, the drain included. A failed batch leaves FRR's state
   * unknown: the next apply reloads fully.
   */
  applyNetworkChanges(
    removed: readonly Placed[],
    added: readonly Placed[],
    routeMaps?: RouteMapChanges,
  ): Promise<void> {
    return this.changing(() => this.sendNetworkChanges(removed, added, routeMaps));
  }

  private async sendNetworkChanges(
    removed: readonly Placed[],
    added: readonly Placed[],
    routeMaps: RouteMapChanges = NO_ROUTE_MAP_CHANGES,
  ): Promise<void> {
    const running = this.running;
    if (running === undefined) throw new Error("no config applied yet: a full apply comes first");
    const [statements, cleanUp] = fastBatches(removed, added, routeMaps);
    try {
      await this.send(statements);
      this.pending = true;
      for (const e of routeMaps.added) running.routeMaps.set(e.header, e);
      for (const p of removed) this.forgetNetwork(running, p);
      for (const p of added) this.runNetwork(running, p);
      if (cleanUp.length > 0) await this.send(cleanUp);
    } catch (err) {
      this.running = undefined;
      throw err;
    }
    for (const e of routeMaps.removed) running.routeMaps.delete(e.header);
  }

  private runNetwork(running: NonNullable<ConfigApplier["running"]>, p: Placed): void {
    running.networks.set(placedKey(p), p);
    const name = routeMapOf(p);
    if (name !== undefined) running.routeMapUse.set(name, (running.routeMapUse.get(name) ?? 0) + 1);
  }

  private forgetNetwork(running: NonNullable<ConfigApplier["running"]>, p: Placed): void {
    if (!running.networks.delete(placedKey(p))) return;
    const name = routeMapOf(p);
    if (name === undefined) return;
    const left = (running.routeMapUse.get(name) ?? 0) - 1;
    if (left > 0) running.routeMapUse.set(name, left);
    else running.routeMapUse.delete(name);
  }

  /**
   * One batch to FRR: the route-map removals (which every daemon must take: vtysh) after the rest
   * (bgpd's alone: its vty). In that order the batch is what it was, the removals coming last
   * anyway; split, a drain after attribute changes (10k `no network` lines and the sets' removals)
   * withdraws over the vty instead of one 10k-line `vtysh -f` (≈ 0.4 s against ≈ 1.3 s at 10k).
   */
  private async send(commands: readonly string[]): Promise<void> {
    const batch = this.frr.batchFilePath();
    const removals = commands.filter(isRouteMapRemoval);
    const rest = removals.length === 0 ? commands : commands.filter((c) => !isRouteMapRemoval(c));
    await this.timed("delta", async () => {
      if (rest.length > 0) await this.frr.applyCommands(rest, batch, "bgpd");
      if (removals.length > 0) await this.frr.applyCommands(removals, batch, "all-daemons");
    });
  }

  /**
   * After fast changes (or verdicts that changed no statement): `text` is the render of the
   * current state. Written as frr.conf when it holds exactly what FRR runs; false (nothing
   * written) when it does not, and the caller reloads fully.
   */
  async settle(text: string): Promise<boolean> {
    if (!this.pending && text === this.applied) return true;
    const parsed = parseConf(text);
    if (parsed === undefined || this.running === undefined || !sameConf(parsed, this.running)) return false;
    await this.changing(() => writeFileAtomic(this.configFile, text, KEEP_OWNER));
    this.applied = text;
    this.pending = false;
    return true;
  }

  /**
   * After fast changes, without a render: writes frr.conf from what FRR runs (the last written
   * file's other lines, the statements and attribute route-maps kept since). O(statements).
   * False when the kept state cannot be written that way (a statement in a block the file does
   * not have, nothing applied): the caller renders and settles instead.
   */
  async writeRunning(): Promise<boolean> {
    if (!this.pending) return this.applied !== undefined;
    const running = this.running;
    const applied = this.applied;
    if (running === undefined || applied === undefined) return false;
    if (this.layout?.of !== applied) this.layout = { of: applied, layout: ConfLayout.of(applied) };
    const text = this.layout.layout?.write(running.networks.values(), running.routeMaps.values());
    if (text === undefined) return false;
    await this.changing(() => writeFileAtomic(this.configFile, text, KEEP_OWNER));
    this.applied = text;
    this.layout = { of: text, layout: this.layout.layout };
    this.pending = false;
    return true;
  }

  /**
   * Applies `text`. `full` forces frr-reload.py (start, FRR restart, template/config change,
   * periodic resync); otherwise a pure prefix change is sent as one batched delta.
   */
  apply(text: string, full: boolean): Promise<ApplyOutcome> {
    return this.changing(() => this.applyText(text, full));
  }

  private async applyText(text: string, full: boolean): Promise<ApplyOutcome> {
    if (!full && this.running !== undefined) {
      if (!this.pending && text === this.applied) return { kind: "unchanged" };
      const next = parseConf(text);
      // From what FRR runs (fast changes included), not from the file.
      const delta = next === undefined ? undefined : networkDelta(this.running, next);
      if (next !== undefined && delta !== undefined && delta.length === 0) {
        await writeFileAtomic(this.configFile, text, KEEP_OWNER);
        this.accept(text, next);
        return { kind: "unchanged" };
      }
      if (next !== undefined && delta !== undefined && (await this.tryDelta(delta))) {
        await writeFileAtomic(this.configFile, text, KEEP_OWNER);
        this.accept(text, next);
        return { kind: "delta", commands: delta.length, withdrawn: withdrawnPrefixes(delta) };
      }
    }
    await this.reloadFull(text);
    return { kind: "reloaded" };
  }

  private accept(text: string, parsed: ParsedConf | undefined): void {
    this.applied = text;
    this.running =
      parsed === undefined
        ? undefined
        : {
            other: parsed.other,
            networks: new Map(parsed.networks),
            routeMaps: new Map(parsed.routeMaps),
            routeMapUse: routeMapUse(parsed.networks.values()),
          };
    this.pending = false;
  }

  /**
   * A drain before this process applied anything: FRR may still run service prefixes an earlier
   * run left (crash, SIGKILL, a signal during start-up). Sends `no network` for every network
   * line the drained render lacks in one batch (never frr-reload.py line by line), then leaves
   * the drained render on disk. Returns the prefixes withdrawn.
   */
  withdrawFromRunning(drained: string): Promise<string[]> {
    return this.changing(() => this.withdrawRunning(drained));
  }

  private async withdrawRunning(drained: string): Promise<string[]> {
    const commands = computeWithdrawal(await this.frr.bgpdRunningConfig(), drained);
    if (commands === undefined) {
      await this.reloadFull(drained);
      return [];
    }
    if (commands.length > 0)
      await this.timed("delta", () => this.frr.applyCommands(commands, this.frr.batchFilePath()));
    await this.leaveForNextStart(drained);
    return withdrawnPrefixes(commands);
  }

  /** Withdraws and re-adds these prefixes' network statements (read-back repair). */
  reannounce(prefixes: ReadonlySet<string>): Promise<number> {
    const running = this.running;
    if (running === undefined) return Promise.resolve(0);
    return this.changing(async () => {
      const { withdraw, add } = reannounceCommands(running, prefixes);
      const batch = this.frr.batchFilePath();
      // A statement someone already removed makes its `no network` fail: expected, not an error.
      for (const w of withdraw) await this.frr.applyCommands(w, batch).catch(() => undefined);
      if (add.length > 0) await this.timed("delta", () => this.frr.applyCommands(add, batch));
      return withdraw.length;
    });
  }

  /** FRR does not answer: the file is what its daemons read when they start. */
  async leaveForNextStart(text: string): Promise<void> {
    await this.changing(() => writeFileAtomic(this.configFile, text, KEEP_OWNER));
  }

  private async tryDelta(delta: readonly string[]): Promise<boolean> {
    try {
      await this.send(delta);
      return true;
    } catch (err) {
      // The reload below re-applies the whole file, which also repairs a half-applied batch.
      this.log.warn({ err: describe(err) }, "delta apply failed; falling back to frr-reload");
      this.running = undefined;
      return false;
    }
  }

  private async reloadFull(text: string): Promise<void> {
    // The first full apply of a process: frr.conf is taken as running when the verified record
    // says bgpd runs it (ADR 0020), which saves frr-reload.py --test (≈ 0.2 s) of a restart.
    const listing = await this.listingForRecord();
    if (listing !== undefined && (await this.options.verified?.runs(text, listing)) === true) {
      await writeFileAtomic(this.configFile, text, KEEP_OWNER);
      this.accept(text, parseConf(text));
      this.log.info({}, "FRR runs this config already (as last verified): frr-reload.py not needed");
      this.options.onTakenAsRunning?.();
      return;
    }
    const candidate = `${this.configFile}.candidate`;
    await writeFileAtomic(candidate, text, { preserveOwner: true, like: this.configFile });
    let diff: ReloadDiff;
    try {
      diff = await this.frr.diff(candidate);
    } catch (err) {
      throw new ConfigRejectedError(`FRR rejected the rendered config: ${describe(err)}`, false);
    }
    if (isEmptyDiff(diff)) {
      // FRR runs this config already (the sidecar restarted, or FRR restarted from this file):
      // frr-reload.py would change nothing and costs ≈ 0.3 s (0.6 s at 10k) of a restart.
      await renameAtomic(candidate, this.configFile);
      this.accept(text, parseConf(text));
      // --test changed nothing: the listing read before it is what bgpd shows now.
      await this.rememberRunning(text, listing);
      return;
    }
    this.checkSessionImpact(configImpact(diff, await this.routerRuns(listing)));
    const policyChanged = touchesPolicy(diff);
    try {
      await this.timed("reload", () => this.frr.reload(candidate));
    } catch (err) {
      if (await this.isRunning(candidate)) {
        // frr-reload.py can exit 1 although everything was applied (FRR issue 15880).
        this.log.warn(
          { err: describe(err) },
          "frr-reload.py failed but the running config matches; accepting",
        );
      } else {
        await this.rollBack();
        throw new ConfigRejectedError(`FRR failed to apply the rendered config: ${describe(err)}`, true);
      }
    }
    await renameAtomic(candidate, this.configFile);
    this.accept(text, parseConf(text));
    await this.rememberRunning(text);
    // Route-map changes are not re-processed by FRR on their own (delay-timer 0 in the
    // templates): re-send what peers got under the new export policy.
    if (policyChanged)
      await this.frr.softClearOut().catch((err: unknown) => {
        this.log.warn({ err: describe(err) }, "clear bgp soft out failed");
      });
  }

  /**
   * bgpd's listing for the first full apply of this process (the start's, when it read one), to
   * compare with the verified record; undefined for every later full apply, without a record, or
   * when it cannot be read (frr-reload.py then decides, as without a record).
   */
  private async listingForRecord(): Promise<string | undefined> {
    const kept = this.startListing;
    this.startListing = undefined;
    if (!this.firstFullApply || this.options.verified === undefined) return undefined;
    this.firstFullApply = false;
    try {
      return kept ?? (await this.frr.bgpdRunningConfig());
    } catch (err) {
      this.log.warn(
        { err: describe(err) },
        "could not compare with the verified record; asking frr-reload.py",
      );
      return undefined;
    }
  }

  /**
   * FRR was just found running `text` in full: bgpd's listing (`listing` when it is still
   * current, else read now) goes into the record.
   */
  private async rememberRunning(text: string, listing?: string): Promise<void> {
    const record = this.options.verified;
    if (record === undefined) return;
    try {
      await record.remember(text, listing ?? (await this.frr.bgpdRunningConfig()));
    } catch (err) {
      // The next start then asks frr-reload.py, as without a record.
      this.log.warn({ err: describe(err) }, "could not update the verified record");
    }
  }

  /**
   * Whether bgpd runs a router now (a fresh FRR has no session a reload could reset); `listing`:
   * bgpd's config read before this reload's --test, which changed nothing.
   */
  private async routerRuns(listing: string | undefined): Promise<boolean> {
    try {
      return runsBgpRouter(listing ?? (await this.frr.bgpdRunningConfig()));
    } catch {
      return true; // unknown: assume sessions exist (the safe side of allowSessionReset: false)
    }
  }

  /** Says what a reload does to the sessions; refuses a reset when the config says so. */
  private checkSessionImpact(impact: ConfigImpact): void {
    if (impact.peers.length === 0 && impact.resetsAll.length === 0) return;
    const peers = impact.peers.map((p) => `${p.peer}: ${p.impact}`);
    this.log.info({ peers, resetsAll: impact.resetsAll }, "config change: BGP session impact");
    if (!resetsSessions(impact) || this.options.allowSessionReset !== false) return;
    this.options.onSessionResetRefused?.(impact);
    throw new SessionResetRefusedError(impact);
  }

  /** True when frr-reload.py sees nothing left to change between `file` and FRR's running config. */
  private async isRunning(file: string): Promise<boolean> {
    try {
      return isEmptyDiff(await this.frr.diff(file));
    } catch {
      return false;
    }
  }

  /** Re-applies the last good file: undoes whatever part of a bad file FRR accepted. */
  private async rollBack(): Promise<void> {
    let lastGood: string;
    try {
      lastGood = this.applied ?? (await readFile(this.configFile, "utf8"));
    } catch {
      this.log.error({}, "no last good frr.conf to roll back to");
      this.invalidate();
      return;
    }
    try {
      await writeFileAtomic(this.configFile, lastGood, KEEP_OWNER);
      await this.timed("rollback", () => this.frr.reload(this.configFile));
      this.log.warn({}, "rolled back FRR to the last good config");
    } catch (err) {
      this.log.error({ err: describe(err) }, "rollback to the last good config failed");
      this.invalidate();
    }
  }
}

function describeResets(impact: ConfigImpact): string {
  const peers = impact.peers.filter((p) => p.impact === "reset").map((p) => `neighbour ${p.peer}`);
  return [...peers, ...impact.resetsAll.map((l) => `every session: ${l}`)].join(", ");
}

function describe(err: unknown): string {
  if (err instanceof FrrCommandError) return err.message;
  return redactSecrets(err instanceof Error ? err.message : String(err));
}

/** True when a reload changes route-maps or prefix-lists (their lines or what they match/set). */
export function touchesPolicy(d: ReloadDiff): boolean {
  return [...d.toAdd, ...d.toDelete].some((l) =>
    /^(route-map |ip prefix-list |ipv6 prefix-list |bgp community-list |bgp large-community-list )/.test(
      l.replace(/^no /, ""),
    ),
  );
}
