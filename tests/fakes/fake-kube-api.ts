// Fake Kubernetes API server for tests: an in-memory store of Services, EndpointSlices, Nodes and Events
// served over node:http with the list/watch protocol @kubernetes/client-node informers speak, plus hooks
// that inject the faults a real API server produces (410 Expired, 5xx, resets, hangs, restarts).
import { randomUUID } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import {
  ApiError,
  applyPatch,
  canonical,
  fieldSelectorTest,
  isRecord,
  labelSelectorTest,
  statusBody,
} from "./kube-api-semantics.js";

// ---------------------------------------------------------------------------------------------- types

/** The metadata fields the fake reads or sets; client-node's V1ObjectMeta is assignable to it. */
export interface ObjectMeta {
  name?: string | undefined;
  generateName?: string | undefined;
  namespace?: string | undefined;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  resourceVersion?: string | undefined;
  uid?: string | undefined;
  creationTimestamp?: string | Date | undefined;
}

/** Anything object-shaped: plain literals or client-node model instances (V1Service, …). */
export interface KubeObject {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  metadata?: ObjectMeta | undefined;
}

/** An object as stored: plain JSON (timestamps are strings) with the server-set fields filled in. */
export interface StoredObject {
  kind: string;
  apiVersion: string;
  metadata: ObjectMeta & { name: string; resourceVersion: string; uid: string };
  [field: string]: unknown;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  /** `watch=true` (or another true spelling the apiserver accepts) was in the query. */
  watch: boolean;
}

/** A path prefix, or a predicate over the request. */
export type RequestMatcher = string | ((request: RequestRecord) => boolean);

export interface FakeKubeApiOptions {
  /** Watch events kept for replay; older ones are compacted away (→ 410 for watches from before). */
  historyLimit?: number;
  /** Fixed port; default is a random free one. */
  port?: number;
  /** Serve HTTPS with this key and certificate (what loadFromCluster() expects), not HTTP. */
  tls?: { readonly key: string; readonly cert: string };
  /**
   * Also listen on this Unix socket: a proxy inside a network namespace (a pod's) reaches the
   * server through the filesystem, which crosses namespaces.
   */
  socketPath?: string;
}

export interface RestartOptions {
  /** Time the port refuses connections between stop and listen. */
  downtimeMs?: number;
  /** Reset watch sockets instead of ending the streams cleanly (a crash rather than a shutdown). */
  abrupt?: boolean;
}

type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

interface WatchEvent {
  type: WatchEventType;
  object: StoredObject;
}

interface BookmarkEvent {
  type: "BOOKMARK";
  object: { kind: string; apiVersion: string; metadata: { resourceVersion: string } };
}

// ------------------------------------------------------------------------------------------ resources

interface Resource {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

// Core Event comes before events.k8s.io's so that a bare "Event" means the core one.
const RESOURCES: readonly Resource[] = [
  { group: "", version: "v1", plural: "services", kind: "Service", namespaced: true },
  {
    group: "discovery.k8s.io",
    version: "v1",
    plural: "endpointslices",
    kind: "EndpointSlice",
    namespaced: true,
  },
  { group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false },
  { group: "", version: "v1", plural: "events", kind: "Event", namespaced: true },
  { group: "events.k8s.io", version: "v1", plural: "events", kind: "Event", namespaced: true },
];

function apiVersionOf(resource: Resource): string {
  return resource.group === "" ? resource.version : `${resource.group}/${resource.version}`;
}

/** "Service", "Node", "Event" (core) or kubectl's "Kind.group" form, e.g. "Event.events.k8s.io". */
function resourceForKind(kindRef: string): Resource {
  const [kind, ...groupParts] = kindRef.split(".");
  const group = groupParts.join(".");
  const resource = RESOURCES.find((r) => r.kind === kind && (groupParts.length === 0 || r.group === group));
  if (resource === undefined) throw new Error(`fake-kube-api: unsupported kind ${kindRef}`);
  return resource;
}

function resourceForObject(obj: KubeObject): Resource {
  if (obj.kind === undefined) throw new Error("fake-kube-api: object has no kind");
  if (obj.apiVersion === undefined) return resourceForKind(obj.kind);
  const resource = RESOURCES.find((r) => r.kind === obj.kind && apiVersionOf(r) === obj.apiVersion);
  if (resource === undefined) throw new Error(`fake-kube-api: unsupported ${obj.apiVersion} ${obj.kind}`);
  return resource;
}

function storeKey(resource: Resource, namespace: string | undefined, name: string): string {
  return `${apiVersionOf(resource)}/${resource.plural}/${resource.namespaced ? (namespace ?? "") : ""}/${name}`;
}

interface Route {
  resource: Resource;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

/** /api/v1[/namespaces/NS]/PLURAL[/NAME[/status]] and the /apis/GROUP/VERSION/… equivalents. */
function parseRoute(path: string): Route | undefined {
  const parts = path
    .split("/")
    .filter((p) => p !== "")
    .map(decodeURIComponent);
  let group: string | undefined;
  let version: string | undefined;
  let rest: string[];
  if (parts[0] === "api") {
    [group, version, rest] = ["", parts[1], parts.slice(2)];
  } else if (parts[0] === "apis") {
    [group, version, rest] = [parts[1], parts[2], parts.slice(3)];
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  const resource = RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
  if (resource === undefined || extra.length > 0) return undefined;
  if (namespace !== undefined && !resource.namespaced) return undefined;
  if (name !== undefined && resource.namespaced && namespace === undefined) return undefined;
  if (subresource !== undefined && subresource !== "status") return undefined;
  return { resource, namespace, name, subresource };
}

// ------------------------------------------------------------------------------------------- objects

type Predicate = (obj: StoredObject) => boolean;

/** What a list or watch request selects: its namespace/name from the path plus both selectors. */
function requestFilter(route: Route, query: Record<string, string>): Predicate {
  const labels = labelSelectorTest(query.labelSelector ?? "");
  const fields = fieldSelectorTest(query.fieldSelector ?? "");
  return (obj) =>
    (route.namespace === undefined || obj.metadata.namespace === route.namespace) &&
    (route.name === undefined || obj.metadata.name === route.name) &&
    labels(obj.metadata.labels ?? {}) &&
    fields(obj.metadata);
}

function notFound(resource: Resource, name: string): ApiError {
  return new ApiError(404, `${resource.plural} "${name}" not found`);
}

function timestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

function withResourceVersion(obj: StoredObject, rv: number): StoredObject {
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } };
}

/** List items carry no kind/apiVersion, as in the real API's JSON lists (watch events and GETs do). */
function stripTypeMeta(obj: StoredObject): Record<string, unknown> {
  return omit(obj, "kind", "apiVersion");
}

function omit(obj: object, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([key]) => !keys.includes(key)));
}

/**
 * Validates and normalises an incoming object (a JSON round trip turns Dates into strings). `pathNamespace`
 * is the namespace from the URL; without one (the test API) a namespaced object defaults to "default".
 */
function toStored(resource: Resource, input: unknown, pathNamespace: string | undefined): StoredObject {
  const obj: unknown = JSON.parse(JSON.stringify(input));
  if (!isRecord(obj) || !isRecord(obj.metadata)) throw new ApiError(400, "object with metadata expected");
  if (obj.kind !== undefined && obj.kind !== resource.kind) {
    throw new ApiError(400, `kind ${JSON.stringify(obj.kind)} does not match ${resource.plural}`);
  }
  if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersionOf(resource)) {
    throw new ApiError(
      400,
      `apiVersion ${JSON.stringify(obj.apiVersion)} does not match ${apiVersionOf(resource)}`,
    );
  }
  const metadata = obj.metadata as ObjectMeta;
  let name = metadata.name;
  if ((name === undefined || name === "") && metadata.generateName !== undefined) {
    name = metadata.generateName + randomUUID().slice(0, 5);
  }
  if (name === undefined || name === "") throw new ApiError(422, "metadata.name: Required value");
  const bodyNamespace = metadata.namespace;
  if (pathNamespace !== undefined && bodyNamespace !== undefined && bodyNamespace !== pathNamespace) {
    throw new ApiError(
      400,
      "the namespace of the provided object does not match the namespace sent on the request",
    );
  }
  const namespace = resource.namespaced ? (pathNamespace ?? bodyNamespace ?? "default") : undefined;
  return {
    ...obj,
    kind: resource.kind,
    apiVersion: apiVersionOf(resource),
    metadata: {
      ...omit(metadata, "namespace"),
      name,
      ...(namespace === undefined ? {} : { namespace }),
      resourceVersion: "",
      uid: "",
    },
  };
}

// ------------------------------------------------------------------------------------------------ http

// strconv.ParseBool spellings: the apiserver accepts all of them for ?watch=.
const TRUE_WORDS = new Set(["1", "t", "T", "true", "TRUE", "True"]);
const HEALTH_PATHS = new Set(["/healthz", "/livez", "/readyz"]);

function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch {
    throw new ApiError(400, "request body is not valid JSON");
  }
}

/** One entry of the watch history: enough to replay it through any watcher's filter. */
interface Change {
  resource: Resource;
  rv: number;
  type: WatchEventType;
  /** The new state; for DELETED the last state stamped with the deletion's resourceVersion. */
  object: StoredObject;
  prev: StoredObject | undefined;
}

/**
 * What a filtered watch sees of a change: like the apiserver, an object that starts matching the selector
 * arrives as ADDED and one that stops matching as DELETED (its previous state, at the new resourceVersion).
 */
function toWatchEvent(change: Change, matches: Predicate): WatchEvent | undefined {
  const was = change.prev !== undefined && matches(change.prev);
  const is = change.type !== "DELETED" && matches(change.object);
  if (is) return { type: was ? "MODIFIED" : "ADDED", object: change.object };
  if (!was || change.prev === undefined) return undefined;
  const object = change.type === "DELETED" ? change.object : withResourceVersion(change.prev, change.rv);
  return { type: "DELETED", object };
}

interface Watcher {
  path: string;
  resource: Resource;
  matches: Predicate;
  res: http.ServerResponse;
  /** Lines held back while paused. */
  held: string[];
  /** The client sent allowWatchBookmarks=true. */
  bookmarks: boolean;
}

interface Fault {
  matches: (request: RequestRecord) => boolean;
  status: number;
  remaining: number;
}

interface PagedList {
  readonly rv: number;
  readonly items: readonly Record<string, unknown>[];
}

interface HeldRequest {
  req: http.IncomingMessage;
  run: () => void;
}

// ------------------------------------------------------------------------------------------ the server

export class FakeKubeApi {
  private readonly store = new Map<string, StoredObject>();
  private history: Change[] = [];
  private rv = 0;
  /** Watches from a resourceVersion older than this get 410: their events may be gone. */
  private compactedRv = 0;
  private readonly historyLimit: number;
  private readonly watchers = new Set<Watcher>();
  private faults: Fault[] = [];
  private log: RequestRecord[] = [];
  private paused = false;
  private stopped = false;
  private held: HeldRequest[] = [];
  /** continue token → the rest of a paged list's snapshot. */
  private readonly pagedLists = new Map<string, PagedList>();
  private pageTokens = 0;
  private listPages = 0;
  private server: http.Server | undefined;
  private socketServer: http.Server | undefined;
  private port: number;
  private readonly tls: FakeKubeApiOptions["tls"];
  private readonly socketPath: string | undefined;

  constructor(options: FakeKubeApiOptions = {}) {
    this.historyLimit = options.historyLimit ?? 1000;
    this.port = options.port ?? 0;
    this.tls = options.tls;
    this.socketPath = options.socketPath;
  }

  // ---- lifecycle

  get url(): string {
    if (this.port === 0) throw new Error("fake-kube-api: not started");
    return `${this.tls === undefined ? "http" : "https"}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<{ url: string }> {
    if (this.server !== undefined) throw new Error("fake-kube-api: already started");
    this.stopped = false;
    await this.listen();
    return { url: this.url };
  }

  /** Resets every connection (informers see an error, not a clean end) so nothing keeps the process alive. */
  async stop(): Promise<void> {
    this.paused = false;
    this.stopped = true;
    await this.shutdown(true);
  }

  /** Stops listening and listens again on the same port; store, history and resourceVersions survive. */
  async restart(options: RestartOptions = {}): Promise<void> {
    await this.shutdown(options.abrupt ?? false);
    if (options.downtimeMs !== undefined && options.downtimeMs > 0) await sleep(options.downtimeMs);
    // stop() during the downtime wins: listening again would keep the test process alive forever.
    if (this.stopped) return;
    await this.listen();
  }

  private async listen(): Promise<void> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.onRequest(req, res);
    };
    const make = (): http.Server =>
      this.tls === undefined ? http.createServer(handler) : https.createServer(this.tls, handler);
    const listening = (server: http.Server, ...where: [number, string] | [string]): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        const done = (): void => {
          server.off("error", reject);
          resolve();
        };
        if (where.length === 2) server.listen(where[0], where[1], done);
        else server.listen(where[0], done);
      });
    const server = make();
    await listening(server, this.port, "127.0.0.1");
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    if (this.socketPath !== undefined) {
      await rm(this.socketPath, { force: true });
      const onSocket = make();
      await listening(onSocket, this.socketPath);
      this.socketServer = onSocket;
    }
  }

  private async shutdown(abrupt: boolean): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const onSocket = this.socketServer;
    this.socketServer = undefined;
    if (onSocket !== undefined) {
      onSocket.close();
      onSocket.closeAllConnections();
    }
    // Stop accepting first, so a client that reconnects at once is refused, as by a real restart.
    const closed = new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    if (abrupt) this.resetWatches();
    else await Promise.all([...this.watchers].map((w) => this.endWatch(w)));
    for (const { req } of this.held.splice(0)) req.socket.destroy();
    server.closeAllConnections();
    await closed;
  }

  // ---- the store, as tests drive it

  /** Creates or updates by kind/namespace/name (namespace defaults to "default"); an identical write is a no-op. */
  upsert(obj: KubeObject): StoredObject {
    const resource = resourceForObject(obj);
    return structuredClone(this.commit(resource, toStored(resource, obj, undefined)));
  }

  /** Deletes and emits DELETED; throws if absent. `kind` is "Service", "Node", "Event.events.k8s.io", … */
  remove(kind: string, namespace: string | undefined, name: string): StoredObject {
    const resource = resourceForKind(kind);
    const key = storeKey(resource, namespace, name);
    if (!this.store.has(key)) {
      throw new Error(`fake-kube-api: ${kind} ${namespace ?? ""}/${name} does not exist`);
    }
    return structuredClone(this.deleteKey(resource, key));
  }

  get(kind: string, namespace: string | undefined, name: string): StoredObject | undefined {
    const obj = this.store.get(storeKey(resourceForKind(kind), namespace, name));
    return obj === undefined ? undefined : structuredClone(obj);
  }

  list(kind: string): StoredObject[] {
    const resource = resourceForKind(kind);
    return this.select(resource, () => true).map((obj) => structuredClone(obj));
  }

  /** Every Event (core/v1 and events.k8s.io/v1) in creation order, as last written (patches applied). */
  events(): StoredObject[] {
    return [...this.store.values()].filter((obj) => obj.kind === "Event").map((obj) => structuredClone(obj));
  }

  get resourceVersion(): number {
    return this.rv;
  }

  // ---- faults

  /** Drops the watch history: the next watch from an older resourceVersion gets the 410 ERROR event. */
  compact(): void {
    this.history = [];
    this.compactedRv = this.rv;
    this.pagedLists.clear();
  }

  /** Pages served so far (a list without `limit` is one page). */
  get pagesServed(): number {
    return this.listPages;
  }

  /**
   * Sends a BOOKMARK event (the current resourceVersion, no object change) on every open watch
   * that asked for bookmarks, as the apiserver does periodically.
   */
  bookmark(): void {
    for (const watcher of this.watchers) {
      if (!watcher.bookmarks) continue;
      const object = {
        kind: watcher.resource.kind,
        apiVersion: apiVersionOf(watcher.resource),
        metadata: { resourceVersion: String(this.rv) },
      };
      this.send(watcher, { type: "BOOKMARK", object });
    }
  }

  /** The next `count` requests matching get `status` (a metav1.Status body) instead of being served. */
  failNext(match: RequestMatcher, status = 500, count = 1): void {
    const matches = typeof match === "string" ? (r: RequestRecord) => r.path.startsWith(match) : match;
    this.faults.push({ matches, status, remaining: count });
  }

  /** Destroys the watch sockets with a TCP reset: client-node sees an error. */
  resetWatches(): void {
    for (const watcher of this.watchers) {
      const socket = watcher.res.socket;
      if (socket === null) continue;
      // Node 24: resetAndDestroy() on a socket whose end() is under way (the client closed its side
      // and the http server answered with a shutdown) fails inside libuv, yet marks the handle as
      // closing: it is never closed, and the process spins at 100% CPU in its exit cleanup forever.
      // Such a client is gone anyway; a plain destroy() is all that is left to do.
      if (socket.writableEnded || socket.destroyed) socket.destroy();
      else socket.resetAndDestroy();
    }
    this.watchers.clear();
  }

  /** Ends the watch streams cleanly (as the apiserver's watch timeout does): client-node re-watches. */
  closeWatches(): void {
    for (const watcher of [...this.watchers]) void this.endWatch(watcher);
  }

  /** Sends the 410 ERROR event on every open watch and ends it, as when the watch cache falls behind. */
  expireWatches(): void {
    for (const watcher of [...this.watchers]) {
      this.watchers.delete(watcher);
      watcher.res.end(
        JSON.stringify(expiredEvent("the resourceVersion for the provided watch is too old")) + "\n",
      );
    }
  }

  /** Holds new requests and events on open watches until resume(): the API looks unreachable. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const watcher of this.watchers) {
      for (const line of watcher.held.splice(0)) watcher.res.write(line);
    }
    // A held request whose client gave up meanwhile is dropped, not answered into a dead socket.
    for (const { req, run } of this.held.splice(0)) if (!req.socket.destroyed) run();
  }

  // ---- observation

  requests(): RequestRecord[] {
    return this.log.map((r) => ({ ...r, query: { ...r.query } }));
  }

  clearRequests(): void {
    this.log = [];
  }

  /** Open watches on exactly this URL path (e.g. "/api/v1/services"), or on any path. */
  watcherCount(resourcePath?: string): number {
    return [...this.watchers].filter((w) => resourcePath === undefined || w.path === resourcePath).length;
  }

  async waitForWatchers(resourcePath: string, n = 1, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.watcherCount(resourcePath) < n) {
      if (Date.now() > deadline) {
        const have = this.watcherCount(resourcePath);
        throw new Error(`fake-kube-api: ${have}/${n} watchers on ${resourcePath} after ${timeoutMs} ms`);
      }
      await sleep(5);
    }
  }

  // ---- store internals

  private select(resource: Resource, matches: Predicate): StoredObject[] {
    // Sorted by key, like an etcd range read.
    return [...this.store.entries()]
      .filter(([, obj]) => resourceForObject(obj) === resource && matches(obj))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, obj]) => obj);
  }

  private commit(resource: Resource, next: StoredObject): StoredObject {
    const key = storeKey(resource, next.metadata.namespace, next.metadata.name);
    const prev = this.store.get(key);
    if (prev === undefined) {
      next.metadata.uid = randomUUID();
      next.metadata.creationTimestamp = timestamp();
    } else {
      next.metadata.uid = prev.metadata.uid;
      next.metadata.creationTimestamp = prev.metadata.creationTimestamp;
      next.metadata.resourceVersion = prev.metadata.resourceVersion;
      if (canonical(next) === canonical(prev)) return prev;
    }
    this.rv++;
    const stored = withResourceVersion(next, this.rv);
    this.store.set(key, stored);
    this.record({
      resource,
      rv: this.rv,
      type: prev === undefined ? "ADDED" : "MODIFIED",
      object: stored,
      prev,
    });
    return stored;
  }

  private deleteKey(resource: Resource, key: string): StoredObject {
    const prev = this.store.get(key);
    if (prev === undefined) throw new Error(`fake-kube-api: no ${key}`);
    this.store.delete(key);
    this.rv++;
    const gone = withResourceVersion(prev, this.rv);
    this.record({ resource, rv: this.rv, type: "DELETED", object: gone, prev });
    return gone;
  }

  private record(change: Change): void {
    this.history.push(change);
    while (this.history.length > this.historyLimit) {
      this.compactedRv = this.history.shift()?.rv ?? this.compactedRv;
    }
    for (const watcher of this.watchers) {
      if (watcher.resource !== change.resource) continue;
      const event = toWatchEvent(change, watcher.matches);
      if (event !== undefined) this.send(watcher, event);
    }
  }

  // ---- request handling

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://fake");
    const query = Object.fromEntries(url.searchParams);
    const record: RequestRecord = {
      method: req.method ?? "GET",
      path: url.pathname,
      query,
      watch: TRUE_WORDS.has(query.watch ?? ""),
    };
    this.log.push(record);
    const run = (): void => {
      this.dispatch(req, res, record).catch((err: unknown) => {
        if (err instanceof ApiError) sendJson(res, err.code, statusBody(err.code, err.message, err.reason));
        else sendJson(res, 500, statusBody(500, String(err)));
      });
    };
    if (this.paused) this.held.push({ req, run });
    else run();
  }

  private async dispatch(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    record: RequestRecord,
  ): Promise<void> {
    const fault = this.takeFault(record);
    if (fault !== undefined) throw new ApiError(fault, `injected fault (HTTP ${fault})`);
    if (HEALTH_PATHS.has(record.path)) {
      res.end("ok");
      return;
    }
    const route = parseRoute(record.path);
    if (route === undefined) throw new ApiError(404, "the server could not find the requested resource");
    const collection = route.name === undefined;
    switch (record.method) {
      case "GET":
        if (record.watch) this.startWatch(res, route, record);
        else sendJson(res, 200, collection ? this.listBody(route, record.query) : this.mustGet(route));
        return;
      case "POST":
        if (collection && route.subresource === undefined) {
          sendJson(res, 201, this.create(route, await readJson(req)));
          return;
        }
        break;
      case "PUT":
      case "PATCH":
        if (!collection) {
          const body = await readJson(req);
          const update =
            record.method === "PUT"
              ? body
              : applyPatch(this.mustGet(route), req.headers["content-type"], body);
          sendJson(res, 200, this.update(route, update, record.method === "PUT"));
          return;
        }
        break;
      case "DELETE":
        if (!collection) {
          this.mustGet(route);
          sendJson(
            res,
            200,
            this.deleteKey(route.resource, storeKey(route.resource, route.namespace, route.name ?? "")),
          );
          return;
        }
        break;
    }
    throw new ApiError(405, `${record.method} is not supported on ${record.path}`);
  }

  private takeFault(record: RequestRecord): number | undefined {
    const fault = this.faults.find((f) => f.matches(record));
    if (fault === undefined) return undefined;
    fault.remaining--;
    if (fault.remaining <= 0) this.faults = this.faults.filter((f) => f !== fault);
    return fault.status;
  }

  private mustGet(route: Route): StoredObject {
    const name = route.name ?? "";
    const obj = this.store.get(storeKey(route.resource, route.namespace, name));
    if (obj === undefined) throw notFound(route.resource, name);
    return obj;
  }

  /**
   * A list, paged as the apiserver pages it: with `limit`, a page and a `continue` token; the
   * following pages come from the same snapshot (same resourceVersion) however the store changed
   * meanwhile. A token outlives no compaction: then 410 Expired, and the client must list afresh.
   */
  private listBody(route: Route, query: Record<string, string>): unknown {
    const token = query.continue ?? "";
    let pending: PagedList;
    if (token !== "") {
      const found = this.pagedLists.get(token);
      if (found === undefined) {
        throw new ApiError(
          410,
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
          "Expired",
        );
      }
      this.pagedLists.delete(token);
      pending = found;
    } else {
      const items = this.select(route.resource, requestFilter(route, query)).map(stripTypeMeta);
      pending = { rv: this.rv, items };
    }
    const limit = Number(query.limit ?? "0");
    const page = limit > 0 ? pending.items.slice(0, limit) : pending.items;
    const rest = pending.items.slice(page.length);
    const metadata: Record<string, unknown> = { resourceVersion: String(pending.rv) };
    if (rest.length > 0) {
      const next = `page-${++this.pageTokens}`;
      this.pagedLists.set(next, { rv: pending.rv, items: rest });
      metadata.continue = next;
      metadata.remainingItemCount = rest.length;
    }
    this.listPages++;
    return {
      kind: `${route.resource.kind}List`,
      apiVersion: apiVersionOf(route.resource),
      metadata,
      items: page,
    };
  }

  private create(route: Route, body: unknown): StoredObject {
    if (route.resource.namespaced && route.namespace === undefined) {
      throw new ApiError(405, `create ${route.resource.plural} needs a namespace in the path`);
    }
    const obj = toStored(route.resource, body, route.namespace);
    if (this.store.has(storeKey(route.resource, obj.metadata.namespace, obj.metadata.name))) {
      throw new ApiError(
        409,
        `${route.resource.plural} "${obj.metadata.name}" already exists`,
        "AlreadyExists",
      );
    }
    return this.commit(route.resource, obj);
  }

  /** PUT (with optimistic concurrency) or the result of a PATCH; on /status only the status changes. */
  private update(route: Route, body: unknown, checkVersion: boolean): StoredObject {
    const current = this.mustGet(route);
    const obj = toStored(route.resource, body, route.namespace);
    if (obj.metadata.name !== route.name) {
      throw new ApiError(400, "the name of the object does not match the URL");
    }
    const sentVersion = isRecord(body) && isRecord(body.metadata) ? body.metadata.resourceVersion : undefined;
    if (checkVersion && sentVersion !== undefined && sentVersion !== current.metadata.resourceVersion) {
      throw new ApiError(
        409,
        `Operation cannot be fulfilled on ${route.resource.plural} "${current.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const next = route.subresource === "status" ? { ...structuredClone(current), status: obj.status } : obj;
    return this.commit(route.resource, next);
  }

  // ---- watch

  private startWatch(res: http.ServerResponse, route: Route, record: RequestRecord): void {
    const matches = requestFilter(route, record.query); // a bad selector fails before the 200
    const rvParam = record.query.resourceVersion ?? "";
    // "" and "0" mean "start from the current state": synthetic ADDED events for what exists now.
    const from = rvParam === "" || rvParam === "0" ? undefined : Number(rvParam);
    if (from !== undefined && !Number.isSafeInteger(from)) {
      throw new ApiError(400, `invalid resourceVersion ${rvParam}`);
    }
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });
    res.flushHeaders(); // client-node's watch() waits for headers before it returns
    if (from !== undefined && from < this.compactedRv) {
      // The apiserver answers an expired watch with 200 + one ERROR event, not with HTTP 410.
      res.end(JSON.stringify(expiredEvent(`too old resource version: ${from} (${this.compactedRv})`)) + "\n");
      return;
    }
    const watcher: Watcher = {
      path: record.path,
      resource: route.resource,
      matches,
      res,
      held: [],
      bookmarks: TRUE_WORDS.has(record.query.allowWatchBookmarks ?? ""),
    };
    if (from === undefined) {
      for (const object of this.select(route.resource, matches)) {
        this.send(watcher, { type: "ADDED", object });
      }
    } else {
      for (const change of this.history) {
        if (change.rv <= from || change.resource !== route.resource) continue;
        const event = toWatchEvent(change, matches);
        if (event !== undefined) this.send(watcher, event);
      }
    }
    this.watchers.add(watcher);
    res.on("close", () => this.watchers.delete(watcher));
    const timeoutSeconds = Number(record.query.timeoutSeconds ?? "0");
    if (timeoutSeconds > 0) {
      const timer = setTimeout(() => void this.endWatch(watcher), timeoutSeconds * 1000);
      res.on("close", () => {
        clearTimeout(timer);
      });
    }
  }

  private send(watcher: Watcher, event: WatchEvent | BookmarkEvent): void {
    const line = JSON.stringify(event) + "\n";
    if (this.paused) watcher.held.push(line);
    else watcher.res.write(line);
  }

  /** Ends the stream (chunked terminator: a clean end for the client); resolves once flushed or closed. */
  private endWatch(watcher: Watcher): Promise<void> {
    this.watchers.delete(watcher);
    const { res } = watcher;
    if (res.destroyed || res.writableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      res.once("close", resolve);
      res.end(() => {
        resolve();
      });
    });
  }
}

function expiredEvent(message: string) {
  return {
    type: "ERROR",
    object: {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason: "Expired",
      code: 410,
    },
  };
}

// -------------------------------------------------------------------------------------- kubeconfigs

/** A KubeConfig for the fake. skipTLSVerify is required even for http://: client-node refuses http otherwise. */
export function kubeConfigFor(url: string, namespace = "default"): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "fake", server: url, skipTLSVerify: true }],
    users: [{ name: "fake", token: "fake-token" }],
    contexts: [{ name: "fake", cluster: "fake", user: "fake", namespace }],
    currentContext: "fake",
  });
  return kc;
}

/** Writes the same kubeconfig as YAML for a subprocess (KUBECONFIG=path, or --kubeconfig). */
export async function writeKubeconfig(url: string, path: string, namespace = "default"): Promise<void> {
  const q = (s: string): string => JSON.stringify(s); // a JSON string is a valid YAML scalar
  const yaml = `apiVersion: v1
kind: Config
clusters:
  - name: fake
    cluster:
      server: ${q(url)}
      insecure-skip-tls-verify: true
users:
  - name: fake
    user:
      token: fake-token
contexts:
  - name: fake
    context:
      cluster: fake
      user: fake
      namespace: ${q(namespace)}
current-context: fake
`;
  await writeFile(path, yaml, { mode: 0o600 });
}
