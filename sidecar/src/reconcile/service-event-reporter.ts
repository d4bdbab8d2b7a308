// Feeds reconcile results to the Event recorder: compares each successful result's verdicts with
// the previous successful one. The first result after start sets the baseline silently (only
// refusals are reported), so a restart does not announce every Service again.

import type { Decision } from "../model/desired-state-types.js";
import type { ReconcileReport } from "./reconciler.js";
import { planServiceEvents } from "./service-events.js";

export interface EventSink {
  record(e: {
    service: string;
    uid?: string | undefined;
    type: "Normal" | "Warning";
    reason: string;
    message: string;
  }): boolean;
}

export class ServiceEventReporter {
  private previous: readonly Decision[] | undefined;

  constructor(
    private readonly sink: EventSink,
    private readonly nodeName: string,
    private readonly onPosted: () => void = () => undefined,
    /** metadata.uid of a Service ("ns/name"), so the Event is tied to that object. */
    private readonly uidOf: (service: string) => string | undefined = () => undefined,
  ) {}

  observe(r: ReconcileReport): void {
    // Only what FRR now runs is news; a failed apply changed nothing in the fabric.
    if ((r.outcome !== "applied" && r.outcome !== "unchanged") || r.state === undefined) return;
    const next = r.state.decisions;
    if (next === this.previous) return;
    const planned = planServiceEvents(this.previous ?? [], next, this.nodeName);
    const events = this.previous === undefined ? planned.filter((e) => e.reason === "Refused") : planned;
    this.previous = next;
    for (const e of events) if (this.sink.record({ ...e, uid: this.uidOf(e.service) })) this.onPosted();
  }
}
