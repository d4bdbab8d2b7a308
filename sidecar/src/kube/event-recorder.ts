// Posts Kubernetes Events on Services (core/v1), deduplicated and rate-limited so that a
// flapping endpoint cannot flood the API server: the same Event repeats at most once per
// dedupe window, each Service has a small token bucket, and the whole node has another.

import type { CoreV1Event, KubeConfig } from "@kubernetes/client-node";
import { apiClient, statusMessage } from "./api-request.js";

export interface EventToRecord {
  /** "namespace/name" of the Service, or the Node's name when `kind` is "Node". */
  readonly service: string;
  /** The involved object; default Service. Node Events are about this node's own BGP state. */
  readonly kind?: "Service" | "Node";
  /** The Service's metadata.uid: `kubectl describe svc` selects Events by involvedObject.uid. */
  readonly uid?: string | undefined;
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly message: string;
}

export interface EventRecorderOptions {
  readonly nodeName: string;
  readonly dedupeWindowMs?: number;
  /** Per Service: burst size and one token per `perServiceRefillMs`. */
  readonly perServiceBurst?: number;
  readonly perServiceRefillMs?: number;
  /** Whole node: burst size and one token per `globalRefillMs`. */
  readonly globalBurst?: number;
  readonly globalRefillMs?: number;
  readonly now?: () => number;
  readonly onDropped?: (why: "duplicate" | "rate-limited" | "error") => void;
}

export type PostEvent = (namespace: string, body: CoreV1Event) => Promise<unknown>;

export function apiEventPoster(kc: KubeConfig): PostEvent {
  const api = apiClient(kc);
  return async (namespace, body) => {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;
    const { status, body: answer } = await api({ method: "POST", path, body });
    if (status !== 201 && status !== 200)
      throw new Error(`POST ${path}: HTTP ${status}: ${statusMessage(answer)}`);
  };
}

interface Bucket {
  tokens: number;
  at: number;
}

export class EventRecorder {
  private readonly recent = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly global: Bucket;
  private readonly o: Required<Omit<EventRecorderOptions, "onDropped">> &
    Pick<EventRecorderOptions, "onDropped">;

  constructor(
    private readonly post: PostEvent,
    options: EventRecorderOptions,
  ) {
    this.o = {
      dedupeWindowMs: 10 * 60_000,
      perServiceBurst: 5,
      perServiceRefillMs: 60_000,
      globalBurst: 50,
      globalRefillMs: 1_000,
      now: Date.now,
      ...options,
    };
    this.global = { tokens: this.o.globalBurst, at: this.o.now() };
  }

  /** Fire-and-forget: an Event that cannot be posted is counted, never retried or thrown. True if sent. */
  record(e: EventToRecord): boolean {
    const now = this.o.now();
    const dedupeKey = `${e.service}\u0000${e.reason}\u0000${e.message}`;
    const last = this.recent.get(dedupeKey);
    if (last !== undefined && now - last < this.o.dedupeWindowMs) {
      this.o.onDropped?.("duplicate");
      return false;
    }
    const bucket = this.bucketFor(e.service, now);
    if (
      !take(bucket, this.o.perServiceBurst, this.o.perServiceRefillMs, now) ||
      !take(this.global, this.o.globalBurst, this.o.globalRefillMs, now)
    ) {
      this.o.onDropped?.("rate-limited");
      return false;
    }
    this.recent.set(dedupeKey, now);
    this.prune(now);
    // Node Events go to "default", as the kubelet's own do (a Node has no namespace).
    const [namespace = "default", name = ""] =
      e.kind === "Node" ? ["default", e.service] : e.service.split("/");
    this.post(namespace, this.toEvent(namespace, name, e, now)).catch(() => this.o.onDropped?.("error"));
    return true;
  }

  private toEvent(namespace: string, name: string, e: EventToRecord, now: number): CoreV1Event {
    const time = new Date(now);
    return {
      metadata: { generateName: `${name}.`, namespace },
      involvedObject: {
        apiVersion: "v1",
        kind: e.kind ?? "Service",
        ...(e.kind === "Node" ? {} : { namespace }),
        name,
        ...(e.uid === undefined ? {} : { uid: e.uid }),
      },
      reason: e.reason,
      message: e.message.slice(0, 1024),
      type: e.type,
      source: { component: "frr-advertiser", host: this.o.nodeName },
      reportingComponent: "frr-advertiser.io/advertiser",
      reportingInstance: this.o.nodeName,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
  }

  private bucketFor(service: string, now: number): Bucket {
    let b = this.buckets.get(service);
    if (b === undefined) {
      b = { tokens: this.o.perServiceBurst, at: now };
      this.buckets.set(service, b);
    }
    return b;
  }

  /** Keeps memory bounded: forget dedupe keys past their window and full buckets. */
  private prune(now: number): void {
    if (this.recent.size < 10_000) return;
    for (const [k, at] of this.recent) if (now - at >= this.o.dedupeWindowMs) this.recent.delete(k);
    for (const [k, b] of this.buckets) if (b.tokens >= this.o.perServiceBurst) this.buckets.delete(k);
  }
}

function take(b: Bucket, burst: number, refillMs: number, now: number): boolean {
  const refill = Math.floor((now - b.at) / refillMs);
  if (refill > 0) {
    b.tokens = Math.min(burst, b.tokens + refill);
    b.at += refill * refillMs;
  }
  if (b.tokens <= 0) return false;
  b.tokens--;
  return true;
}
