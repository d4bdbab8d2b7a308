// Digests of frr.conf and of bgpd's running config from the last time FRR was found running the
// file in full (after frr-reload.py), kept in a file across restarts of the sidecar. A start whose
// render bgpd still runs — bgpd shows what it showed then, with the render's network statements —
// needs no `frr-reload.py --test` (ADR 0020). Digests only: both texts may hold BGP passwords.

import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { writeFileAtomic } from "./atomic-write.js";
import { parseConf, type ParsedConf } from "./config-delta.js";

interface Digests {
  /** frr.conf without its network statements. */
  readonly conf: string;
  /** bgpd's running config without its network statements. */
  readonly shown: string;
}

const FORMAT = "frr-advertiser verified-record 1";

/** Lines a running-config listing starts with, depending on how it was asked for. */
const LISTING_HEADER = /^(Building configuration\.\.\.|Current configuration:)$/;

export class VerifiedRecord {
  /** What the file holds, once read or written (null: no usable record). */
  private cached: Digests | null | undefined;

  constructor(private readonly file: string) {}

  /**
   * FRR was just found running `conf` in full (frr-reload.py applied it, or its --test saw
   * nothing to change) and bgpd now shows `shown`. Recorded only when both list the same network
   * statements, line for line; otherwise the record goes (the forms differ: no start can skip).
   */
  async remember(conf: string, shown: string): Promise<void> {
    const d = digestsIfSameNetworks(conf, shown);
    if (d === undefined) {
      this.cached = null;
      await rm(this.file, { force: true });
      return;
    }
    const known = await this.read();
    if (known?.conf === d.conf && known.shown === d.shown) return;
    this.cached = null; // unknown until the write is done
    await writeFileAtomic(this.file, `${JSON.stringify({ format: FORMAT, ...d })}\n`, { mode: 0o600 });
    this.cached = d;
  }

  /**
   * True when FRR may be taken as running `conf`: bgpd shows (`shown`) what it showed when it was
   * last found running a file with `conf`'s lines other than network statements, and runs exactly
   * `conf`'s network statements.
   */
  async runs(conf: string, shown: string): Promise<boolean> {
    const d = digestsIfSameNetworks(conf, shown);
    if (d === undefined) return false;
    const known = await this.read();
    return known !== null && known.conf === d.conf && known.shown === d.shown;
  }

  private async read(): Promise<Digests | null> {
    if (this.cached !== undefined) return this.cached;
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(this.file, "utf8"));
    } catch {
      parsed = undefined; // absent or torn: no record
    }
    const r = parsed as Partial<Digests & { format: string }> | undefined;
    this.cached =
      r?.format === FORMAT && typeof r.conf === "string" && typeof r.shown === "string"
        ? { conf: r.conf, shown: r.shown }
        : null;
    return this.cached;
  }
}

function digestsIfSameNetworks(conf: string, shown: string): Digests | undefined {
  const c = parseConf(conf);
  const s = parseConf(
    shown
      .split("\n")
      .filter((l) => !LISTING_HEADER.test(l.trim()))
      .join("\n"),
  );
  if (c === undefined || s === undefined || !sameKeys(c.networks, s.networks)) return undefined;
  return { conf: digest(c), shown: digest(s) };
}

function sameKeys(a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const k of a.keys()) if (!b.has(k)) return false;
  return true;
}

/** The other lines in order, then the attribute route-map entries by header. */
function digest(p: ParsedConf): string {
  const h = createHash("sha256").update(p.other);
  for (const header of [...p.routeMaps.keys()].sort()) {
    const e = p.routeMaps.get(header);
    h.update(`\0${header}\n${e?.body.join("\n") ?? ""}`);
  }
  return h.digest("hex");
}
