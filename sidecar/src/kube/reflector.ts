// Keeps one resource of the API server mirrored into a sink as the model's snapshots: a paged
// list, then a watch from the list's resourceVersion (bookmarks on), re-watched where it ended,
// relisted after 410 Expired, restarted with backoff after errors. Whole API objects are never kept.

import type { KubeConfig } from "@kubernetes/client-node";
import { OneShot, type Clock } from "../clock.js";
import { apiClient, statusMessage, type ApiClient } from "./api-request.js";
import { WatchStatusError, type WatchOpener } from "./watch-stream.js";

export interface ReflectorSink<T> {
  /** One object added or changed. */
  upsert(item: T): void;
  /** One object deleted ("namespace/name"; cluster-scoped: "/name"). */
  remove(key: string): void;
  /** After a list: every object that exists now was upserted; forget the others. */
  retain(keys: ReadonlySet<string>): void;
  /** A batch of upserts/removes/retain ended (one list, one watch event): schedule work. */
  changed(): void;
}

export interface ReflectorLog {
  debug(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
}

export interface ReflectorOptions<T> {
  /** Name in logs and metrics ("services"). */
  readonly resource: string;
  /** Collection path, e.g. /api/v1/services. */
  readonly path: string;
  readonly fieldSelector?: string;
  /** Raw API JSON → snapshot; throws on an object that cannot be read (it is skipped and logged). */
  readonly convert: (raw: unknown) => T;
  readonly log: ReflectorLog;
  /** Objects per list page (the apiserver's `limit`). */
  readonly pageSize?: number | undefined;
  /** A list page that has not answered by then counts as failed. */
  readonly listTimeoutMs?: number | undefined;
  readonly minBackoffMs?: number | undefined;
  readonly maxBackoffMs?: number | undefined;
  /** Times the backoff before a relist. */
  readonly clock: Clock;
  /** A restart after an error (for the watch-restart metric). */
  readonly onRestart?: () => void;
}

interface Meta {
  readonly namespace?: string;
  readonly name?: string;
  readonly resourceVersion?: string;
}

interface ListPage {
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
  readonly items?: readonly unknown[];
}

/** The apiserver's watch ERROR object is a metav1.Status. */
interface Status {
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
}

class ExpiredError extends Error {}

/** A listed object on its way to the sink (the sink gets a list's objects all at once). */
interface Listed<T> {
  readonly key: string;
  readonly version: string;
  readonly item: T;
}

export class Reflector<T> {
  private synced = false;
  private stopping = false;
  /** The resourceVersion to watch from; undefined: list first. */
  private resourceVersion: string | undefined;
  /** key → resourceVersion of what the sink holds: a relist touches only what changed. */
  private readonly versions = new Map<string, string>();
  private attempt = 0;
  private readonly relist: OneShot;
  private abort: AbortController | undefined;
  /** Bumped per list/watch cycle: callbacks of an older cycle are dropped. */
  private generation = 0;
  private readonly api: ApiClient;

  constructor(
    kc: KubeConfig,
    private readonly watcher: WatchOpener,
    private readonly sink: ReflectorSink<T>,
    private readonly opts: ReflectorOptions<T>,
  ) {
    this.api = apiClient(kc);
    this.relist = new OneShot(opts.clock);
  }

  /** True once a list succeeded and no error has happened since (a re-watch is no error). */
  get isSynced(): boolean {
    return this.synced;
  }

  /** Lists and starts watching; resolves after the first list attempt (successful or not). */
  async start(): Promise<void> {
    await this.cycle(++this.generation);
  }

  /** Ends the list or watch in flight; nothing of this resource reaches the sink afterwards. */
  stop(): Promise<void> {
    this.stopping = true;
    this.generation++;
    this.relist.stop();
    this.abort?.abort();
    return Promise.resolve();
  }

  private async cycle(gen: number): Promise<void> {
    if (this.resourceVersion === undefined) {
      try {
        await this.list(gen);
      } catch (err) {
        this.failed(gen, err);
        return;
      }
      if (gen !== this.generation) return;
    }
    await this.watch(gen);
  }

  /** Pages through the collection, then hands the sink the whole result in one synchronous step. */
  private async list(gen: number): Promise<void> {
    const listed = await this.pages(gen);
    if (listed === undefined) return;
    for (const { key, version, item } of listed.items) {
      this.versions.set(key, version);
      this.sink.upsert(item);
    }
    for (const key of this.versions.keys()) if (!listed.keys.has(key)) this.versions.delete(key);
    // An object that cannot be read stays in `keys`: kept as it was rather than deleted.
    this.sink.retain(listed.keys);
    this.resourceVersion = listed.rv;
    this.synced = true;
    this.attempt = 0;
    this.sink.changed();
  }

  /** Every page of one consistent list; undefined when a newer cycle took over meanwhile. */
  private async pages(
    gen: number,
  ): Promise<{ items: Listed<T>[]; keys: Set<string>; rv: string } | undefined> {
    const items: Listed<T>[] = [];
    const keys = new Set<string>();
    let token: string | undefined;
    let rv: string | undefined;
    for (;;) {
      let page: ListPage;
      try {
        page = await this.get(token);
      } catch (err) {
        // A continue token expires with compaction: the list starts over, as client-go does.
        if (!(err instanceof ExpiredError) || token === undefined) throw err;
        this.opts.log.debug({ resource: this.opts.resource }, "list continue token expired; listing afresh");
        items.length = 0;
        keys.clear();
        token = rv = undefined;
        continue;
      }
      if (gen !== this.generation) return undefined;
      rv ??= page.metadata?.resourceVersion;
      for (const raw of page.items ?? []) this.take(raw, keys, items);
      token = continueToken(page);
      if (token === undefined) break;
    }
    if (rv === undefined) throw new Error("list without metadata.resourceVersion");
    return { items, keys, rv };
  }

  /** One listed object: its key is kept; it goes to the sink only if new or changed. */
  private take(raw: unknown, keys: Set<string>, items: Listed<T>[]): void {
    const key = keyOf(raw);
    keys.add(key);
    const version = metaOf(raw).resourceVersion ?? "";
    // Unchanged since the sink got it (a relist after an error): nothing to re-evaluate.
    if (version !== "" && this.versions.get(key) === version) return;
    const item = this.convert(raw);
    if (item === undefined) return;
    items.push({ key, version, item });
  }

  private async get(token: string | undefined): Promise<ListPage> {
    const query = new URLSearchParams({ limit: String(this.opts.pageSize ?? 500) });
    if (token !== undefined) query.set("continue", token);
    if (this.opts.fieldSelector !== undefined) query.set("fieldSelector", this.opts.fieldSelector);
    const timeoutMs = this.opts.listTimeoutMs ?? 60_000;
    // An API server that accepts the connection and never answers would otherwise leave the
    // sidecar waiting for ever, never synced and never retried.
    const controller = new AbortController();
    this.abort = controller;
    const timer = setTimeout(() => {
      controller.abort(new Error(`list did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    try {
      const { status, body } = await this.api({
        method: "GET",
        path: `${this.opts.path}?${query.toString()}`,
        signal: controller.signal,
      });
      if (status === 410) throw new ExpiredError(statusMessage(body));
      if (status !== 200) throw new Error(`list ${this.opts.path}: HTTP ${status}: ${statusMessage(body)}`);
      return JSON.parse(body) as ListPage;
    } catch (err) {
      throw controller.signal.aborted && !this.stopping ? controller.signal.reason : err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async watch(gen: number): Promise<void> {
    const params: Record<string, string | boolean> = {
      resourceVersion: this.resourceVersion ?? "",
      allowWatchBookmarks: true,
      // Spread the re-watches of many sidecars, as client-go does (5–10 min).
      timeoutSeconds: String(300 + Math.floor(Math.random() * 300)),
    };
    if (this.opts.fieldSelector !== undefined) params["fieldSelector"] = this.opts.fieldSelector;
    // Set from the done callback, so an object (a plain `let` would be narrowed to false).
    const state = { ended: false };
    let controller: AbortController;
    try {
      controller = await this.watcher.watch(
        this.opts.path,
        params,
        (type: string, object: unknown) => {
          if (gen === this.generation) this.onEvent(gen, type, object);
        },
        (err: unknown) => {
          state.ended = true;
          if (gen === this.generation) this.onWatchEnd(gen, err);
        },
      );
    } catch (err) {
      // Before any request (credentials that cannot be read, no cluster): a failure like any
      // other, never an unhandled rejection.
      this.failed(gen, err);
      return;
    }
    if (gen !== this.generation) controller.abort();
    else if (!state.ended) this.abort = controller;
  }

  private onEvent(gen: number, type: string, object: unknown): void {
    if (type === "ERROR") {
      this.onWatchError(object as Status);
      return;
    }
    const meta = metaOf(object);
    if (meta.resourceVersion !== undefined) this.resourceVersion = meta.resourceVersion;
    const key = keyOf(object);
    if (type === "DELETED") {
      this.versions.delete(key);
      this.sink.remove(key);
      this.sink.changed();
      return;
    }
    // BOOKMARK only moved the resourceVersion; an unchanged version is a replay.
    if (type !== "ADDED" && type !== "MODIFIED") return;
    if (meta.resourceVersion !== undefined && this.versions.get(key) === meta.resourceVersion) return;
    const item = this.convert(object);
    if (item === undefined || gen !== this.generation) return;
    this.versions.set(key, meta.resourceVersion ?? "");
    this.sink.upsert(item);
    this.sink.changed();
  }

  private onWatchError(status: Status): void {
    this.generation++;
    this.abort?.abort();
    if (status.code === 410) {
      // The watch cache no longer holds our resourceVersion: list again, at once.
      this.opts.log.debug({ resource: this.opts.resource }, "watch expired (410); relisting");
      this.resourceVersion = undefined;
      void this.cycle(this.generation);
      return;
    }
    this.failed(this.generation, new Error(`watch error: ${status.message ?? JSON.stringify(status)}`));
  }

  private onWatchEnd(gen: number, err: unknown): void {
    if (this.stopping) return;
    if (err instanceof WatchStatusError && err.statusCode === 410) {
      // Refused with 410 instead of a stream with an ERROR event: expired all the same.
      this.onWatchError({ code: 410, message: err.message });
      return;
    }
    const timedOut = err instanceof Error && err.name === "TimeoutError";
    if (err === null || err === undefined || timedOut) {
      // A clean end (the server's timeoutSeconds) or a quiet stream: watch on from where we were.
      this.opts.log.debug(
        { resource: this.opts.resource, resourceVersion: this.resourceVersion },
        "re-watching",
      );
      void this.watch(++this.generation);
      return;
    }
    this.failed(gen, err);
  }

  /** Backoff, then list again; what the sink holds stays meanwhile (healthy routes stay up). */
  private failed(gen: number, err: unknown): void {
    if (this.stopping || gen !== this.generation || this.relist.armed) return;
    this.synced = false;
    const min = this.opts.minBackoffMs ?? 500;
    const delay = Math.min(this.opts.maxBackoffMs ?? 30_000, min * 2 ** this.attempt);
    this.attempt++;
    this.opts.log.warn(
      {
        resource: this.opts.resource,
        err: err instanceof Error ? err.message : String(err),
        retryInMs: delay,
      },
      "watch failed; listing again",
    );
    this.relist.arm(delay, () => {
      this.opts.onRestart?.();
      // A fresh list: objects deleted while the watch was down get no delete event.
      this.resourceVersion = undefined;
      void this.cycle(++this.generation);
    });
  }

  private convert(raw: unknown): T | undefined {
    try {
      return this.opts.convert(raw);
    } catch (err) {
      this.opts.log.warn(
        {
          resource: this.opts.resource,
          object: keyOf(raw),
          err: err instanceof Error ? err.message : String(err),
        },
        "ignoring unreadable object",
      );
      return undefined;
    }
  }
}

function metaOf(raw: unknown): Meta {
  const meta = (raw as { metadata?: unknown } | null)?.metadata;
  return typeof meta === "object" && meta !== null ? meta : {};
}

/** "namespace/name"; cluster-scoped objects have an empty namespace. */
export function keyOf(raw: unknown): string {
  const meta = metaOf(raw);
  return `${typeof meta.namespace === "string" ? meta.namespace : ""}/${typeof meta.name === "string" ? meta.name : ""}`;
}

/** The next page's token; the last page has none (or an empty one). */
function continueToken(page: ListPage): string | undefined {
  const token = page.metadata?.continue;
  return token === undefined || token === "" ? undefined : token;
}
