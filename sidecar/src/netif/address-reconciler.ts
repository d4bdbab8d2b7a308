// Keeps the service interface's host addresses equal to the desired set: list, plan, record
// ownership, apply in one batch, verify. The caller orders the phases around FRR.

import type { AddressEvent } from "./address-monitor.js";
import type { AddressChange, AddressFailure, ApplyResult } from "./ip-addresses.js";
import {
  AddressParser,
  planAddresses,
  sortAddresses,
  type AddressPhase,
  type ExcludedAddresses,
} from "./plan-addresses.js";

/** What the reconciler needs from IpAddressAdapter (tests use an in-memory interface). */
export interface AddressAdapterLike {
  list(): Promise<Set<string>>;
  /** `before`: the last verified listing, to skip the re-list when ip accepted every line. */
  apply(change: AddressChange, before?: ReadonlySet<string>): Promise<ApplyResult>;
}

/** What the reconciler needs from OwnedAddressStore. */
export interface OwnedStoreLike {
  load(): Promise<Set<string>>;
  save(addresses: Iterable<string>): Promise<void>;
}

export interface AddressSyncOutcome {
  readonly phase: AddressPhase;
  /** Addresses the plan added / removed (attempted; see failed). */
  readonly add: readonly string[];
  readonly remove: readonly string[];
  /** The owned set after this step, verified against the interface, sorted. */
  readonly owned: readonly string[];
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
}

/**
 * Not re-entrant by design: calls are queued, because two overlapping list→plan→apply cycles would
 * each plan against a stale interface and could record the other's additions as foreign.
 */
export class AddressReconciler {
  readonly #adapter: AddressAdapterLike;
  readonly #store: OwnedStoreLike;
  #owned: Set<string> | undefined;
  /** The interface's host addresses as last listed (or verified after a batch); see trustLastListing. */
  #present: Set<string> | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  readonly #parser = new AddressParser();
  /** The batch ip(8) is running now: its own events are expected. */
  #inflight: { readonly add: ReadonlySet<string>; readonly remove: ReadonlySet<string> } | undefined;

  constructor(options: AddressReconcilerOptions) {
    this.#adapter = options.adapter;
    this.#store = options.store;
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
   * A kernel address event (AddressMonitor). True when it contradicts what this reconciler
   * believes is on the interface — someone else added or removed an address — so the caller
   * should have the interface re-listed and repaired. Our own batches' events are expected,
   * also when they arrive after the batch's result.
   */
  observe(event: AddressEvent): boolean {
    const inflight = this.#inflight;
    if (inflight !== undefined && (event.op === "add" ? inflight.add : inflight.remove).has(event.address))
      return false;
    const present = this.#present;
    // Not listed yet (start): the first listing sees the truth anyway.
    if (present === undefined) return inflight !== undefined;
    return event.op === "add" ? !present.has(event.address) : present.has(event.address);
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
    const owned = this.#owned ?? (await this.#store.load());
    this.#owned = owned;
    const cached = trustLastListing ? this.#present : undefined;
    if (cached !== undefined && nothingToDo(desired, cached, owned, phase)) {
      // Nothing to do by the last verified listing: skip listing the interface (10k addresses
      // cost ~0.1-0.3 s of ip(8) plus parsing) and planning.
      return {
        phase,
        add: [],
        remove: [],
        owned: [...owned],
        failed: [],
        rejected: [],
      } satisfies AddressSyncOutcome;
    }
    this.#present = undefined; // unknown until listed (and again while a batch runs)
    const present = cached ?? (await this.#adapter.list());
    this.#present = present;
    const plan = planAddresses({ desired, present, owned, excluded, phase, parser: this.#parser });
    const base = { phase, add: plan.add, remove: plan.remove };
    if (plan.add.length === 0 && plan.remove.length === 0) {
      await this.#remember(plan.owned); // forgets owned addresses that vanished
      return { ...base, owned: plan.owned, failed: [], rejected: [] } satisfies AddressSyncOutcome;
    }
    // Record intent before touching the interface: a crash after ip added addresses but before
    // the final save must not orphan them. Addresses being removed stay ours until they are gone.
    const intent = [...plan.owned, ...plan.remove];
    await this.#remember(intent);
    this.#present = undefined;
    this.#inflight = { add: new Set(plan.add), remove: new Set(plan.remove) };
    let result: ApplyResult;
    try {
      result = await this.#adapter.apply({ add: plan.add, remove: plan.remove }, cached);
    } finally {
      this.#inflight = undefined;
    }
    this.#present = result.present;
    const ownedAfter = sortAddresses(verifiedOwned(intent, result), this.#parser);
    await this.#remember(ownedAfter);
    return {
      ...base,
      owned: ownedAfter,
      failed: result.failed,
      rejected: result.rejected,
    } satisfies AddressSyncOutcome;
  }

  /** Saves the owned set if it changed; the file and memory never disagree after a successful save. */
  async #remember(addresses: readonly string[]): Promise<void> {
    const next = new Set(addresses);
    if (this.#owned !== undefined && sameSet(this.#owned, next)) return;
    await this.#store.save(next);
    this.#owned = next;
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    this.#tail = result.catch(() => undefined);
    return result;
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

/**
 * Ours after the batch: what we meant to own and is on the interface. An add that ip rejected but
 * whose address is there anyway was put there by someone else in the meantime: not ours (at worst
 * we leave one of ours behind, never delete a foreign one).
 */
function verifiedOwned(intent: readonly string[], result: ApplyResult): string[] {
  const foreign = new Set(result.rejected.filter((r) => r.op === "add").map((r) => r.address));
  return intent.filter((address) => result.present.has(address) && !foreign.has(address));
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
