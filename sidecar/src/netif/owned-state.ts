// The owned-address set on disk: which interface addresses the advertiser added, so that after a
// restart it still removes its own addresses (nothing orphaned) and never someone else's.

import { readFile, rename } from "node:fs/promises";
import { writeFileAtomic } from "../frr/atomic-write.js";
import { sortAddresses, isCanonicalAddress } from "./plan-addresses.js";

export interface OwnedAddressStoreOptions {
  /** The state file, on storage that survives a container restart (e.g. an emptyDir or hostPath). */
  readonly path: string;
  /** The interface the addresses are on; a file recorded for another interface is ignored. */
  readonly iface: string;
  /** Told why a file was ignored. Default: console.warn. */
  readonly warn?: (message: string) => void;
}

export type OwnedLoadStatus = "loaded" | "missing" | "corrupt" | "other-interface";

export interface OwnedLoadResult {
  readonly addresses: Set<string>;
  readonly status: OwnedLoadStatus;
}

interface StateFile {
  readonly version: 1;
  readonly iface: string;
  readonly addresses: readonly string[];
}

/**
 * A corrupt file (torn by a dying disk, or edited by hand) loads as an EMPTY set, with a warning,
 * and is moved aside to `<path>.corrupt` for a human. Why not throw: refusing to start would
 * withdraw every service on the node over a bookkeeping file. Why empty is safe: with nothing
 * owned, the planner removes nothing; it only adds missing desired addresses (owned again from
 * then on). The cost is that addresses we added before, and that are present now, count as
 * foreign: they are never removed, and may be left behind on uninstall. Leaving an address behind
 * is recoverable; deleting someone else's is not.
 */
export class OwnedAddressStore {
  readonly path: string;
  readonly iface: string;
  readonly #warn: (message: string) => void;

  constructor(options: OwnedAddressStoreOptions) {
    this.path = options.path;
    this.iface = options.iface;
    this.#warn =
      options.warn ??
      ((message) => {
        console.warn(message);
      });
  }

  async load(): Promise<Set<string>> {
    return (await this.loadDetailed()).addresses;
  }

  async loadDetailed(): Promise<OwnedLoadResult> {
    const text = await readIfExists(this.path);
    if (text === undefined) return { addresses: new Set(), status: "missing" };
    const parsed = parseStateFile(text);
    if (typeof parsed === "string") {
      this.#warn(`owned-address state ${this.path} is unreadable (${parsed}); treating nothing as ours`);
      await this.#moveAside();
      return { addresses: new Set(), status: "corrupt" };
    }
    if (parsed.iface !== this.iface) {
      this.#warn(
        `owned-address state ${this.path} is for interface ${parsed.iface}, not ${this.iface}; ignored`,
      );
      return { addresses: new Set(), status: "other-interface" };
    }
    return { addresses: new Set(parsed.addresses), status: "loaded" };
  }

  /** Atomic replace (same-dir temp file, fsync, rename, fsync dir): a crash leaves the old or the new set. */
  async save(addresses: Iterable<string>): Promise<void> {
    const state: StateFile = { version: 1, iface: this.iface, addresses: sortAddresses(addresses) };
    await writeFileAtomic(this.path, `${JSON.stringify(state, null, 1)}\n`, { mode: 0o600 });
  }

  async #moveAside(): Promise<void> {
    try {
      await rename(this.path, `${this.path}.corrupt`);
    } catch (err) {
      this.#warn(`could not move ${this.path} aside: ${String(err)}`);
    }
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err; // EACCES, EIO…: not "no state", so do not pretend it is
  }
}

/** The state, or a string saying what is wrong with it. */
function parseStateFile(text: string): StateFile | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${String(err)}`;
  }
  if (typeof data !== "object" || data === null) return "not an object";
  const { version, iface, addresses } = data as Record<string, unknown>;
  if (version !== 1) return `unknown version ${JSON.stringify(version)}`;
  if (typeof iface !== "string") return "no interface name";
  if (!Array.isArray(addresses)) return "no address list";
  const list = addresses as unknown[];
  const bad = list.findIndex((a) => typeof a !== "string" || !isCanonicalAddress(a));
  // One bad entry discredits the whole file: we cannot tell which of the others are real.
  if (bad >= 0) return `invalid address ${JSON.stringify(list[bad])}`;
  return { version, iface, addresses: list as string[] };
}
