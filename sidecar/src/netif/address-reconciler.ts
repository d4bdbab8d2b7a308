// Keeps the service interface's host addresses equal to the desired set: list, plan, record
// ownership, apply in one batch, verify. The caller orders the phases around FRR.

import type { AddressChange, AddressFailure, ApplyResult } from "./ip-addresses.js";
import { planAddresses, sortAddresses, type AddressPhase, type ExcludedAddresses } from "./plan-addresses.js";

/** What the reconciler needs from IpAddressAdapter (tests use an in-memory interface). */
export interface AddressAdapterLike {
  list(): Promise<Set<string>>;
  apply(change: AddressChange): Promise<ApplyResult>;
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
  #tail: Promise<unknown> = Promise.resolve();

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
  ): Promise<AddressSyncOutcome> {
    const wanted = [...desired]; // copied now: the caller may mutate its set while we wait our turn
    return this.#serial(() => this.#sync(wanted, excluded, phase));
  }

  addOnly(desired: Iterable<string>, excluded: ExcludedAddresses = []): Promise<AddressSyncOutcome> {
    return this.syncAddresses(desired, excluded, "add");
  }

  removeOnly(desired: Iterable<string>, excluded: ExcludedAddresses = []): Promise<AddressSyncOutcome> {
    return this.syncAddresses(desired, excluded, "remove");
  }

  /** The owned set as last recorded (undefined before the first sync). */
  owned(): ReadonlySet<string> | undefined {
    return this.#owned;
  }

  async #sync(
    desired: readonly string[],
    excluded: ExcludedAddresses,
    phase: AddressPhase,
  ): Promise<AddressSyncOutcome> {
    const owned = this.#owned ?? (await this.#store.load());
    this.#owned = owned;
    const present = await this.#adapter.list();
    const plan = planAddresses({ desired, present, owned, excluded, phase });
    const base = { phase, add: plan.add, remove: plan.remove };
    if (plan.add.length === 0 && plan.remove.length === 0) {
      await this.#remember(plan.owned); // forgets owned addresses that vanished
      return { ...base, owned: plan.owned, failed: [], rejected: [] } satisfies AddressSyncOutcome;
    }
    // Record intent before touching the interface: a crash after ip added addresses but before
    // the final save must not orphan them. Addresses being removed stay ours until they are gone.
    const intent = [...plan.owned, ...plan.remove];
    await this.#remember(intent);
    const result = await this.#adapter.apply({ add: plan.add, remove: plan.remove });
    const ownedAfter = sortAddresses(verifiedOwned(intent, result));
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
