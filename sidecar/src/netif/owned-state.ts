// The owned-address set on disk: which interface addresses the advertiser added, so that after a
// restart it still removes its own addresses (nothing orphaned) and never someone else's. A
// snapshot plus an append-only journal, so that a change costs O(changed addresses), not O(owned).

import { appendFile, readFile, rename } from "node:fs/promises";
import { writeFileAtomic } from "../frr/atomic-write.js";
import { sortAddresses, isCanonicalAddress } from "./plan-addresses.js";

export interface OwnedAddressStoreOptions {
  /** The state file, on storage that survives a container restart (e.g. an emptyDir or hostPath). */
  readonly path: string;
  /** The interface the addresses are on; a file recorded for another interface is ignored. */
  readonly iface: string;
  /** Told why a file was ignored. Default: console.warn. */
  readonly warn?: (message: string) => void;
  /** Default: /proc/sys/kernel/random/boot_id. */
  readonly bootId?: BootIdSource;
}

export type OwnedLoadStatus = "loaded" | "missing" | "corrupt" | "other-interface" | "other-boot";

export interface OwnedLoadResult {
  /** The store's own set (see load). */
  readonly addresses: ReadonlySet<string>;
  readonly status: OwnedLoadStatus;
}

interface StateFile {
  readonly version: 1;
  readonly iface: string;
  readonly addresses: readonly string[];
  /** Which journal belongs to this snapshot (absent in files written before the journal: 0). */
  readonly generation?: number;
  /** The kernel's boot id when written: addresses never survive a reboot, so neither does the record. */
  readonly bootId?: string;
}

/** The kernel's boot id; tests inject one. undefined: not Linux, or not readable (no check). */
export type BootIdSource = () => Promise<string | undefined>;

const BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id";

async function kernelBootId(): Promise<string | undefined> {
  return (await readIfExists(BOOT_ID_FILE).catch(() => undefined))?.trim() || undefined;
}

/** Journal entries beyond which the next record compacts into a new snapshot (at least this many). */
const MIN_JOURNAL_ENTRIES = 1024;

/**
 * The snapshot `path` is rewritten atomically (fsync'd) by `save` and when the journal has grown to
 * the size of the set; `record` appends one line per changed address to `path.journal`, without
 * fsync: the record has to outlive the process, not the machine — a reboot takes every address
 * off the interface, and the boot id in the snapshot then discards the whole record. A journal
 * whose first line names another generation than the snapshot's was left by a crash between a
 * compaction's two writes: its entries are already in the snapshot, and it is ignored. A journal
 * cut short in its last line (a write the crash interrupted) loses that line only: the batch it
 * announced never ran (intent is recorded before ip runs) or was a removal (then the address is
 * gone from the interface, and a vanished address is forgotten at the next listing).
 *
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
  readonly #bootId: BootIdSource;
  /** The set as the files say (once #loaded); one object for the store's life, see load(). */
  readonly #current = new Set<string>();
  #loaded = false;
  #generation = 0;
  #journalEntries = 0;

  constructor(options: OwnedAddressStoreOptions) {
    this.path = options.path;
    this.iface = options.iface;
    // Read once: it cannot change while this process runs.
    let bootId: Promise<string | undefined> | undefined;
    const source = options.bootId ?? kernelBootId;
    this.#bootId = () => (bootId ??= source());
    this.#warn =
      options.warn ??
      ((message) => {
        console.warn(message);
      });
  }

  get journalPath(): string {
    return `${this.path}.journal`;
  }

  /**
   * Reads the record. The set returned is the store's own, live: record() and save() keep it equal
   * to the files, so a caller reads ownership from it instead of keeping a copy.
   */
  async load(): Promise<ReadonlySet<string>> {
    return (await this.loadDetailed()).addresses;
  }

  async loadDetailed(): Promise<OwnedLoadResult> {
    const result = await this.#read();
    this.#replaceCurrent(result.addresses);
    this.#loaded = true;
    return { addresses: this.#current, status: result.status };
  }

  #replaceCurrent(addresses: Iterable<string>): void {
    const next = [...addresses]; // before clearing: `addresses` may be the set itself
    this.#current.clear();
    for (const a of next) this.#current.add(a);
  }

  /** Replaces the whole record: a new snapshot (atomic: the old or the new set), an empty journal. */
  async save(addresses: Iterable<string>): Promise<void> {
    const sorted = sortAddresses(addresses);
    const generation = this.#generation + 1;
    const bootId = await this.#bootId();
    const state: StateFile = {
      version: 1,
      iface: this.iface,
      addresses: sorted,
      generation,
      ...(bootId === undefined ? {} : { bootId }),
    };
    await writeFileAtomic(this.path, `${JSON.stringify(state, null, 1)}\n`, { mode: 0o600 });
    // A crash here leaves the previous generation's journal: ignored, its entries are in the snapshot.
    await writeFileAtomic(this.journalPath, journalHeader(generation), { mode: 0o600 });
    this.#generation = generation;
    this.#journalEntries = 0;
    this.#replaceCurrent(sorted);
    this.#loaded = true;
  }

  /**
   * Records a change: `add` became ours, `remove` no longer is. O(change) — one append — until the
   * journal outgrows the set, then one snapshot. Addresses must be canonical (a caller bug otherwise).
   */
  async record(change: {
    readonly add: readonly string[];
    readonly remove: readonly string[];
  }): Promise<void> {
    if (change.add.length + change.remove.length === 0) return;
    for (const a of [...change.add, ...change.remove]) {
      if (!isCanonicalAddress(a))
        throw new Error(`owned-address record: ${JSON.stringify(a)} is not canonical`);
    }
    if (!this.#loaded) await this.load();
    const current = this.#current;
    const entries = change.add.length + change.remove.length;
    // Memory follows the file: a failed write leaves both as they were. Nothing left owned (a
    // drain, an uninstall) is always a snapshot: the file an operator reads then says so itself.
    const emptied = change.add.length === 0 && change.remove.length >= current.size;
    if (emptied || this.#journalEntries + entries > Math.max(MIN_JOURNAL_ENTRIES, current.size)) {
      const next = new Set(current);
      for (const a of change.add) next.add(a);
      for (const a of change.remove) next.delete(a);
      await this.save(next);
      return;
    }
    const lines = [...change.add.map((a) => `+${a}\n`), ...change.remove.map((a) => `-${a}\n`)].join("");
    if (this.#journalEntries === 0) {
      // Written whole (header and lines) the first time: the journal may not exist yet.
      await writeFileAtomic(this.journalPath, journalHeader(this.#generation) + lines, { mode: 0o600 });
    } else {
      await appendFile(this.journalPath, lines, { mode: 0o600 });
    }
    this.#journalEntries += entries;
    for (const a of change.add) current.add(a);
    for (const a of change.remove) current.delete(a);
  }

  async #read(): Promise<OwnedLoadResult> {
    const snapshot = await this.#readSnapshot();
    if (snapshot !== undefined && "status" in snapshot) return snapshot;
    this.#generation = snapshot?.generation ?? 0;
    const bootId = await this.#bootId();
    if (snapshot?.bootId !== undefined && bootId !== undefined && snapshot.bootId !== bootId) {
      this.#warn(
        `owned-address state ${this.path} was written before the machine rebooted: the addresses it ` +
          `lists went with the reboot, so none present now is ours`,
      );
      this.#journalEntries = Infinity; // the next record starts a new snapshot
      return { addresses: new Set(), status: "other-boot" };
    }
    return this.#replayJournal(new Set(snapshot?.addresses ?? []), snapshot !== undefined);
  }

  /** The snapshot, undefined when there is none, or the result when it cannot be used. */
  async #readSnapshot(): Promise<StateFile | OwnedLoadResult | undefined> {
    const text = await readIfExists(this.path);
    if (text === undefined) return undefined;
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
    return parsed;
  }

  async #replayJournal(addresses: Set<string>, hadSnapshot: boolean): Promise<OwnedLoadResult> {
    const journal = parseJournal(await readIfExists(this.journalPath), this.#generation);
    if (typeof journal === "string") {
      this.#warn(
        `owned-address journal ${this.journalPath} is unreadable (${journal}); treating nothing as ours`,
      );
      await this.#moveAside();
      return { addresses: new Set(), status: "corrupt" };
    }
    for (const [op, a] of journal) {
      if (op === "+") addresses.add(a);
      else addresses.delete(a);
    }
    // A stale journal, or one that ends in a cut line, must not be appended to; without a
    // snapshot the record starts with one (what an operator looks at): the next record then
    // writes a new snapshot instead.
    this.#journalEntries = journal.appendable === true && hadSnapshot ? journal.length : Infinity;
    const status = !hadSnapshot && journal.length === 0 ? "missing" : "loaded";
    return { addresses, status };
  }

  async #moveAside(): Promise<void> {
    for (const path of [this.path, this.journalPath]) {
      try {
        await rename(path, `${path}.corrupt`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT")
          this.#warn(`could not move ${path} aside: ${String(err)}`);
      }
    }
    this.#generation = 0;
    this.#journalEntries = 0;
  }
}

function journalHeader(generation: number): string {
  return `# frr-advertiser owned-address journal, generation ${generation}\n`;
}

type JournalEntries = [op: "+" | "-", address: string][] & { appendable?: boolean };

/** The journal's entries for `generation` (none when it belongs to another), or what is wrong. */
function parseJournal(text: string | undefined, generation: number): JournalEntries | string {
  const entries: JournalEntries = [];
  entries.appendable = text?.endsWith("\n") ?? true;
  if (text === undefined || text === "") return entries;
  const lines = text.split("\n");
  const header = /^# frr-advertiser owned-address journal, generation (\d+)$/.exec(lines[0] ?? "");
  if (header === null) return "no header";
  if (Number(header[1]) !== generation) {
    entries.appendable = false;
    return entries;
  }
  // The text after the last newline is a line the writer did not finish: dropped (see the class).
  for (const line of lines.slice(1, -1)) {
    const op = line[0];
    const address = line.slice(1);
    if ((op !== "+" && op !== "-") || !isCanonicalAddress(address))
      return `bad line ${JSON.stringify(line.slice(0, 60))}`;
    entries.push([op, address]);
  }
  return entries;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err; // EACCES, EIO…: not "no state", so do not pretend it is
  }
}

/** The optional fields, checked; or what is wrong with them. */
function journalFields(
  generation: unknown,
  bootId: unknown,
): { generation?: number; bootId?: string } | string {
  if (generation !== undefined && (typeof generation !== "number" || !Number.isSafeInteger(generation)))
    return "bad generation";
  if (bootId !== undefined && typeof bootId !== "string") return "bad boot id";
  return {
    ...(generation === undefined ? {} : { generation }),
    ...(bootId === undefined ? {} : { bootId }),
  };
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
  const { version, iface, addresses, generation, bootId } = data as Record<string, unknown>;
  if (version !== 1) return `unknown version ${JSON.stringify(version)}`;
  if (typeof iface !== "string") return "no interface name";
  if (!Array.isArray(addresses)) return "no address list";
  const list = addresses as unknown[];
  const bad = list.findIndex((a) => typeof a !== "string" || !isCanonicalAddress(a));
  // One bad entry discredits the whole file: we cannot tell which of the others are real.
  if (bad >= 0) return `invalid address ${JSON.stringify(list[bad])}`;
  const extra = journalFields(generation, bootId);
  if (typeof extra === "string") return extra;
  return { version, iface, addresses: list as string[], ...extra };
}
