// Feeds reconcile results to the Event recorder: compares each successful result's verdicts with
// the previous successful one. The first result after start sets the baseline silently (only
// refusals are reported), so a restart does not announce every Service again.

import type { Decision } from "../model/desired-state-types.js";
import type { ReconcileReport } from "./reconciler.js";
import { planServiceEvents, type ServiceEvent } from "./service-events.js";

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
  /** The verdicts of the last report with a whole state. */
  private previous: readonly Decision[] | undefined;
  /** Verdicts of Services reported by fast passes since `previous` (they supersede it). */
  private readonly since = new Map<string, readonly Decision[]>();
  /** `previous` by Service, built when a fast pass first needs it. */
  private previousByService: Map<string, Decision[]> | undefined;

  constructor(
    private readonly sink: EventSink,
    private readonly nodeName: string,
    private readonly onPosted: () => void = () => undefined,
    /** metadata.uid of a Service ("ns/name"), so the Event is tied to that object. */
    private readonly uidOf: (service: string) => string | undefined = () => undefined,
  ) {}

  observe(r: ReconcileReport): void {
    // Only what FRR now runs is news; a failed apply changed nothing in the fabric.
    if (r.outcome !== "applied" && r.outcome !== "unchanged") return;
    if (r.state === undefined) {
      // A fast pass: only the Services it re-evaluated, so a flap shorter than the settle period
      // is still told (and deduplicated by the recorder like any other).
      if (r.services !== undefined && this.previous !== undefined) this.observeServices(r.services);
      return;
    }
    const next = r.state.decisions;
    if (next === this.previous && this.since.size === 0) return;
    const planned = planServiceEvents(this.previousWithSince(), next, this.nodeName);
    const events = this.previous === undefined ? planned.filter((e) => e.reason === "Refused") : planned;
    this.previous = next;
    this.since.clear();
    this.previousByService = undefined;
    this.post(events);
  }

  private observeServices(services: NonNullable<ReconcileReport["services"]>): void {
    this.previousByService ??= groupByService(this.previous ?? []);
    const events = services.flatMap(({ service, decisions }) => {
      const before = this.since.get(service) ?? this.previousByService?.get(service) ?? [];
      this.since.set(service, decisions);
      return planServiceEvents(before, decisions, this.nodeName);
    });
    this.post(events);
  }

  /** `previous` with the verdicts fast passes reported since in place of their Services' own. */
  private previousWithSince(): readonly Decision[] {
    const previous = this.previous ?? [];
    if (this.since.size === 0) return previous;
    return [...previous.filter((d) => !this.since.has(d.service)), ...[...this.since.values()].flat()];
  }

  private post(events: readonly ServiceEvent[]): void {
    for (const e of events) if (this.sink.record({ ...e, uid: this.uidOf(e.service) })) this.onPosted();
  }
}

function groupByService(decisions: readonly Decision[]): Map<string, Decision[]> {
  const out = new Map<string, Decision[]>();
  for (const d of decisions) {
    const list = out.get(d.service);
    if (list === undefined) out.set(d.service, [d]);
    else list.push(d);
  }
  return out;
}
