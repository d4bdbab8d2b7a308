// PURE: turns two consecutive sets of verdicts into the Kubernetes Events worth telling the
// Service's owner: this node started advertising, stopped advertising (and why), refused it, or
// holds back its re-announcement because it flaps.

import type { Decision, ReasonCode } from "../model/desired-state-types.js";

export interface ServiceEvent {
  /** "ns/name" of the Service the Event is attached to. */
  readonly service: string;
  readonly type: "Normal" | "Warning";
  readonly reason: "Advertised" | "Withdrawn" | "Refused" | "Damped";
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
    const event = eventFor(d, before.get(key(d)));
    if (event !== undefined) add(d.service, event[0], event[1]);
  }
  // A Service that disappeared entirely is withdrawn too.
  const nextKeys = new Set(next.map(key));
  for (const d of previous)
    if (d.advertise && !nextKeys.has(key(d))) add(d.service, "Withdrawn", `${d.address} (Service deleted)`);
  return [...groups.values()].map((g) => ({
    service: g.service,
    type: g.reason === "Refused" || g.reason === "Damped" ? "Warning" : "Normal",
    reason: g.reason,
    message: messageFor(g.reason, nodeName, g.items),
  }));
}

/** What changed for one address: the Event's reason and its item, or nothing worth telling. */
function eventFor(d: Decision, old: Decision | undefined): [ServiceEvent["reason"], string] | undefined {
  const was = old !== undefined && old.advertise;
  if (d.advertise) return was ? undefined : ["Advertised", d.address];
  if (was) return ["Withdrawn", `${d.address} (${d.reason})`];
  return notAdvertisedNews(d, old);
}

/** Still not advertised: news only when it became damped, or a new refusal. */
function notAdvertisedNews(
  d: Decision,
  old: Decision | undefined,
): [ServiceEvent["reason"], string] | undefined {
  const oldCode = old === undefined ? undefined : old.code;
  if (d.code === "flap-damped")
    return oldCode === "flap-damped" ? undefined : ["Damped", `${d.address}: ${d.reason}`];
  const refusedAnew = REFUSALS.has(d.code) && (old === undefined || old.reason !== d.reason);
  return refusedAnew ? ["Refused", `${d.address || "-"}: ${d.reason}`] : undefined;
}

function messageFor(reason: ServiceEvent["reason"], node: string, items: string[]): string {
  const list = items.join(", ");
  if (reason === "Advertised") return `node ${node} advertises ${list}`;
  if (reason === "Withdrawn") return `node ${node} stopped advertising ${list}`;
  if (reason === "Damped") return `node ${node} holds back re-announcing ${list}`;
  return `node ${node} refuses to advertise ${list}`;
}

function key(d: Decision): string {
  return `${d.service}\u0000${d.kind}\u0000${d.address}`;
}
