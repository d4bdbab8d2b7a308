// PURE: turns two consecutive sets of verdicts into the Kubernetes Events worth telling the
// Service's owner: this node started advertising, stopped advertising (and why), or refused it.

import type { Decision, ReasonCode } from "../model/desired-state-types.js";

export interface ServiceEvent {
  /** "ns/name" of the Service the Event is attached to. */
  readonly service: string;
  readonly type: "Normal" | "Warning";
  readonly reason: "Advertised" | "Withdrawn" | "Refused";
  readonly message: string;
}

/** Codes that mean the Service's owner must fix something (not just "not healthy here"). */
const REFUSALS: ReadonlySet<ReasonCode> = new Set([
  "invalid-annotation",
  "outside-allowed-cidrs",
  "invalid-address",
]);

export function planServiceEvents(
  previousAll: readonly Decision[],
  nextAll: readonly Decision[],
  nodeName: string,
): ServiceEvent[] {
  // Decisions of Services that were not re-evaluated are the very same objects in both lists,
  // and an unchanged decision is never news: compare only the rest (a pass at 10k Services
  // touches a handful, so this stays cheap; same result as comparing everything).
  const inNext = new Set(nextAll);
  const inPrevious = new Set(previousAll);
  const previous = previousAll.filter((d) => !inNext.has(d));
  const next = nextAll.filter((d) => !inPrevious.has(d));
  const before = new Map(previous.map((d) => [key(d), d]));
  const groups = new Map<string, { service: string; reason: ServiceEvent["reason"]; items: string[] }>();
  const add = (service: string, reason: ServiceEvent["reason"], item: string): void => {
    const k = `${service}\u0000${reason}`;
    const g = groups.get(k) ?? { service, reason, items: [] };
    g.items.push(item);
    groups.set(k, g);
  };
  for (const d of next) {
    const old = before.get(key(d));
    const was = old?.advertise ?? false;
    if (d.advertise && !was) add(d.service, "Advertised", d.address);
    else if (!d.advertise && was) add(d.service, "Withdrawn", `${d.address} (${d.reason})`);
    else if (!d.advertise && REFUSALS.has(d.code) && (old === undefined || old.reason !== d.reason)) {
      add(d.service, "Refused", `${d.address || "-"}: ${d.reason}`);
    }
  }
  // A Service that disappeared entirely is withdrawn too.
  const nextKeys = new Set(next.map(key));
  for (const d of previous)
    if (d.advertise && !nextKeys.has(key(d))) add(d.service, "Withdrawn", `${d.address} (Service deleted)`);
  return [...groups.values()].map((g) => ({
    service: g.service,
    type: g.reason === "Refused" ? "Warning" : "Normal",
    reason: g.reason,
    message: messageFor(g.reason, nodeName, g.items),
  }));
}

function messageFor(reason: ServiceEvent["reason"], node: string, items: string[]): string {
  const list = items.join(", ");
  if (reason === "Advertised") return `node ${node} advertises ${list}`;
  if (reason === "Withdrawn") return `node ${node} stopped advertising ${list}`;
  return `node ${node} refuses to advertise ${list}`;
}

function key(d: Decision): string {
  return `${d.service}\u0000${d.kind}\u0000${d.address}`;
}
