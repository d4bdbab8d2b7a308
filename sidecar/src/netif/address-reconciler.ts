// Keeps the service interface's host addresses equal to the desired set: list, plan, record
// ownership, apply in one batch, verify. The caller orders the phases around FRR. A step told which
// addresses changed costs O(those), not O(all addresses).

import { SerialQueue } from "../serial-queue.js";
import type { AddressEvent } from "./address-monitor.js";
import type { AddressChange, AddressFailure, ApplyResult } from "./ip-addresses.js";
import {
  AddressParser,
  excludedPredicate,
  planAddresses,
  type AddressPhase,
  type ExcludedAddresses,
} from "./plan-addresses.js";

/** What the reconciler needs from IpAddressAdapter (tests use an in-memory interface). */
export interface AddressAdapterLike {
  list(): Promise<Set<string>>;
  /**
   * `before`: the last verified listing, handed over (updated in place and returned as `present`
   * when ip accepted every line: no re-list, no copy).
   */
  apply(change: AddressChange, before?: Set<string>): Promise<ApplyResult>;
}

/** What the reconciler needs from OwnedAddressStore. */
export interface OwnedStoreLike {
  /** The owned set, live: record() keeps it equal to what is on disk (the reconciler keeps no copy). */
  load(): Promise<ReadonlySet<string>>;
  /** `add` became ours, `remove` no longer is (O(change) on disk); the set from load() follows. */
  record(change: { readonly add: readonly string[]; readonly remove: readonly string[] }): Promise<void>;
}

export interface AddressSyncOutcome {
  readonly phase: AddressPhase;
  /** Addresses the plan added / removed (attempted; see failed). */
  readonly add: readonly string[];
  readonly remove: readonly string[];
  /** How many addresses are ours after this step (verified against the interface). */
  readonly ownedCount: number;
  /** Changes not in effect afterwards; retried by the next sync. */
  readonly failed: readonly AddressFailure[];
  /** Lines ip(8) rejected (an add of an address that appeared meanwhile stays foreign). */
  readonly rejected: readonly AddressFailure[];
}

export interface SyncOptions {
  /**
   * Plan against the last listing (or post-batch verification) instead of listing the interface
   * again, and verify a batch ip accepted in full by its lines instead of re-listing. Changes made
   * behind our back are then noticed only by the next call without it (the reconciler's periodic
   * repair); an address someone else added meanwhile still makes ip reject our add, which is then
   * recorded as foreign after a fresh listing. Default false.
   */
  readonly trustLastListing?: boolean;
}

export interface AddressReconcilerOptions {
  readonly adapter: AddressAdapterLike;
  readonly store: OwnedStoreLike;
  /** Clock for telling our own late kernel events apart (default Date.now). */
  readonly now?: () => number;
}

/**
 * How long a change of our own batches is still expected as a kernel event. ip(8)'s monitor may
 * report it well after the batch (seen: several seconds behind under 10 changes/s at 10k), by
 * when a later batch may have undone it.
 */
const OWN_EVENT_WINDOW_MS = 30_000;

/**
 * Not re-entrant by design: calls are queued, because two overlapping list→plan→apply cycles would
 * each plan against a stale interface and could record the other's additions as foreign.
 */
export class AddressReconciler {
  readonly #adapter: AddressAdapterLike;
  readonly #store: OwnedStoreLike;
  /** The store's live set (see OwnedStoreLike.load). */
  #owned: ReadonlySet<string> | undefined;
  /** The interface's host addresses as last listed (or verified after a batch); see trustLastListing. */
  #present: Set<string> | undefined;
  readonly #queue = new SerialQueue();
  readonly #parser = new AddressParser();
  /** The batch ip(8) is running now: its own events are expected. */
  #inflight: { readonly add: ReadonlySet<string>; readonly remove: ReadonlySet<string> } | undefined;
  /** Changes our batches made ("add 10.0.0.1") whose kernel event has not been seen yet → when. */
  readonly #ownChanges = new Map<string, number>();
  readonly #now: () => number;

  constructor(options: AddressReconcilerOptions) {
    this.#adapter = options.adapter;
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
  }

  /**
   * One reconcile step. phase "add": only add (before FRR announces); "remove": only remove
   * (after FRR withdrew); "all": both (periodic resync, or connected mode where the address is
   * the announcement). A drain is syncAddresses(new Set(), excluded): it removes exactly what we own.
   */
  syncAddresses(
    desired: Iterable<string>,
    excluded: ExcludedAddresses = [],
    phase: AddressPhase = "all",
    options: SyncOptions = {},
  ): Promise<AddressSyncOutcome> {
    const wanted = [...desired]; // copied now: the caller may mutate its set while we wait our turn
    return this.#serial(() => this.#sync(wanted, excluded, phase, options.trustLastListing === true));
  }

  /**
   * A step over only the addresses whose membership of the desired set may have changed since the
   * last step (`wanted`: address → desired now), planned against the last verified listing: no
   * copy, parse or sort of every address. undefined when there is no trusted listing yet or an
   * address is not canonical — the caller then takes a full syncAddresses.
   */
  syncChanged(
    wanted: ReadonlyMap<string, boolean>,
    excluded: ExcludedAddresses = [],
    phase: AddressPhase = "all",
  ): Promise<AddressSyncOutcome | undefined> {
    const copy = new Map(wanted);
    return this.#serial(() => this.#syncChanged(copy, excluded, phase));
  }

  /**
   * A kernel address event (AddressMonitor). True when it contradicts what this reconciler
   * believes is on the interface — someone else added or removed an address — so the caller
   * should have the interface re-listed and repaired. Our own batches' events are expected,
   * also when they arrive after the batch's result.
   */
  observe(event: AddressEvent): boolean {
    const inflight = this.#inflight;
    if (inflight !== undefined && (event.op === "add" ? inflight.add : inflight.remove).has(event.address))
      return false;
    // A late event of a batch that has finished — possibly undone by a later batch already.
    this.#forgetOldOwnChanges();
    if (this.#ownChanges.delete(`${event.op} ${event.address}`)) return false;
    const present = this.#present;
    // Not listed yet (start): the first listing sees the truth anyway.
    if (present === undefined) return inflight !== undefined;
    return event.op === "add" ? !present.has(event.address) : present.has(event.address);
  }

  /** Whether the record holds anything (loads it: no listing of the interface). */
  ownsAny(): Promise<boolean> {
    return this.#serial(async () => (await this.#loadOwned()).size > 0);
  }

  /** The owned set as last recorded (undefined before the first sync). */
  owned(): ReadonlySet<string> | undefined {
    return this.#owned;
  }

  async #sync(
    desired: readonly string[],
    excluded: ExcludedAddresses,
    phase: AddressPhase,
    trustLastListing: boolean,
  ): Promise<AddressSyncOutcome> {
    const owned = await this.#loadOwned();
    const cached = trustLastListing ? this.#present : undefined;
    if (cached !== undefined && nothingToDo(desired, cached, owned, phase)) {
      // Nothing to do by the last verified listing: skip listing the interface (10k addresses
      // cost ~0.1-0.3 s of ip(8) plus parsing) and planning.
      return nothingDone(phase, owned.size);
    }
    this.#present = undefined; // unknown until listed (and again while a batch runs)
    const present = cached ?? (await this.#adapter.list());
    this.#present = present;
    const plan = planAddresses({ desired, present, owned, excluded, phase, parser: this.#parser });
    const base = { phase, add: plan.add, remove: plan.remove };
    if (plan.add.length === 0 && plan.remove.length === 0) {
      await this.#remember(plan.owned); // forgets owned addresses that vanished
      return {
        ...base,
        ownedCount: plan.owned.length,
        failed: [],
        rejected: [],
      } satisfies AddressSyncOutcome;
    }
    // Record intent before touching the interface: a crash after ip added addresses but before
    // the final record must not orphan them. Addresses being removed stay ours until they are gone.
    const intent = [...plan.owned, ...plan.remove];
    await this.#remember(intent);
    // Listed or trusted just now, in this same queued step: a batch ip accepted in full updates it
    // in place, and no second listing (≈ 0.1 s of ip(8) and parsing at 10k) is needed to verify it.
    const result = await this.#applyBatch(plan.add, plan.remove, present);
    const ownedAfter = verifiedOwned(intent, result);
    await this.#remember(ownedAfter);
    return {
      ...base,
      ownedCount: ownedAfter.length,
      failed: result.failed,
      rejected: result.rejected,
    } satisfies AddressSyncOutcome;
  }

  async #syncChanged(
    wanted: ReadonlyMap<string, boolean>,
    excluded: ExcludedAddresses,
    phase: AddressPhase,
  ): Promise<AddressSyncOutcome | undefined> {
    const present = this.#present;
    if (present === undefined) return undefined;
    const owned = await this.#loadOwned();
    const plan = this.#planChanged(wanted, { present, owned }, excluded, phase);
    if (plan === undefined) return undefined;
    const { add, remove } = plan;
    if (add.length === 0 && remove.length === 0) return nothingDone(phase, owned.size);
    await this.#record(add, []); // intent first, as in #sync
    const result = await this.#applyBatch(add, remove, present);
    const foreign = foreignAdds(result);
    const lost = add.filter((a) => !result.present.has(a) || foreign.has(a));
    const gone = remove.filter((a) => !result.present.has(a));
    await this.#record([], [...lost, ...gone]);
    return {
      phase,
      add,
      remove,
      ownedCount: owned.size,
      failed: result.failed,
      rejected: result.rejected,
    } satisfies AddressSyncOutcome;
  }

  /** planAddresses' rules over `wanted` only; undefined for a text not in canonical form. */
  #planChanged(
    wanted: ReadonlyMap<string, boolean>,
    { present, owned }: { readonly present: ReadonlySet<string>; readonly owned: ReadonlySet<string> },
    excluded: ExcludedAddresses,
    phase: AddressPhase,
  ): { add: string[]; remove: string[] } | undefined {
    const isExcluded = excludedPredicate(excluded);
    const add: string[] = [];
    const remove: string[] = [];
    for (const [address, isDesired] of wanted) {
      const parsed = this.#parser.parse(address);
      if (!parsed.ok || parsed.value.text !== address) return undefined;
      if (isExcluded(parsed.value)) continue;
      if (isDesired && phase !== "remove" && !present.has(address)) add.push(address);
      if (!isDesired && phase !== "add" && owned.has(address) && present.has(address)) remove.push(address);
    }
    return { add, remove };
  }

  async #applyBatch(
    add: readonly string[],
    remove: readonly string[],
    before: Set<string> | undefined,
  ): Promise<ApplyResult> {
    this.#present = undefined;
    this.#inflight = { add: new Set(add), remove: new Set(remove) };
    let result: ApplyResult;
    try {
      result = await this.#adapter.apply({ add, remove }, before);
    } finally {
      this.#inflight = undefined;
    }
    this.#present = result.present;
    this.#rememberOwnChanges(add, remove, result);
    return result;
  }

  /** The lines that took effect, each expected once as a kernel event within OWN_EVENT_WINDOW_MS. */
  #rememberOwnChanges(add: readonly string[], remove: readonly string[], result: ApplyResult): void {
    const refused = new Set(result.rejected.map((r) => `${r.op} ${r.address}`));
    const now = this.#now();
    for (const [op, list] of [
      ["add", add],
      ["remove", remove],
    ] as const) {
      for (const a of list) {
        const key = `${op} ${a}`;
        if (refused.has(key)) continue;
        this.#ownChanges.delete(key); // re-inserted: the map stays in time order
        this.#ownChanges.set(key, now);
      }
    }
    this.#forgetOldOwnChanges();
  }

  #forgetOldOwnChanges(): void {
    const oldest = this.#now() - OWN_EVENT_WINDOW_MS;
    for (const [key, at] of this.#ownChanges) {
      if (at >= oldest) break;
      this.#ownChanges.delete(key);
    }
  }

  async #loadOwned(): Promise<ReadonlySet<string>> {
    this.#owned ??= await this.#store.load();
    return this.#owned;
  }

  /** Records the owned set `addresses` (O(owned) to compare; the store writes only the difference). */
  async #remember(addresses: readonly string[]): Promise<void> {
    const owned = await this.#loadOwned();
    const next = new Set(addresses);
    const add = addresses.filter((a) => !owned.has(a));
    const remove = [...owned].filter((a) => !next.has(a));
    await this.#record(add, remove);
  }

  async #record(add: readonly string[], remove: readonly string[]): Promise<void> {
    if (add.length + remove.length === 0) return;
    await this.#store.record({ add, remove });
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    return this.#queue.run(task);
  }
}

/**
 * True when, by `present`, a plan could neither add nor remove anything. Compares canonical texts
 * without parsing (cheap at 10k): a non-canonical or excluded address only makes it answer false,
 * and the caller then plans on a fresh listing.
 */
function nothingToDo(
  desired: readonly string[],
  present: ReadonlySet<string>,
  owned: ReadonlySet<string>,
  phase: AddressPhase,
): boolean {
  if (phase !== "remove" && desired.some((a) => !present.has(a))) return false;
  if (phase === "add") return true;
  const wanted = new Set(desired);
  for (const a of owned) if (present.has(a) && !wanted.has(a)) return false;
  return true;
}

function nothingDone(phase: AddressPhase, ownedCount: number): AddressSyncOutcome {
  return { phase, add: [], remove: [], ownedCount, failed: [], rejected: [] };
}

/** Adds ip rejected although the address is there: someone else put it there meanwhile. */
function foreignAdds(result: ApplyResult): Set<string> {
  return new Set(result.rejected.filter((r) => r.op === "add").map((r) => r.address));
}

/**
 * Ours after the batch: what we meant to own and is on the interface. An add that ip rejected but
 * whose address is there anyway was put there by someone else in the meantime: not ours (at worst
 * we leave one of ours behind, never delete a foreign one).
 */
function verifiedOwned(intent: readonly string[], result: ApplyResult): string[] {
  const foreign = foreignAdds(result);
  return intent.filter((address) => result.present.has(address) && !foreign.has(address));
}
