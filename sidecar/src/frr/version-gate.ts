// Holds applies back until the running daemons are known to be the release of this image's vtysh
// and frr-reload.py: checked every time FRR comes up (its container may have been replaced by
// another release), retried while the version cannot be read.

import { OneShot, type Clock } from "../clock.js";

export const NOT_CHECKED = "FRR's version not checked yet";
export const RETRY_MS = 1000;

export interface VersionGateDeps {
  readonly clock: Clock;
  /** This image's FRR tools' release and the running bgpd's. */
  readonly versions: () => Promise<{ readonly tools: string; readonly daemon: string }>;
  /** False once a retry is pointless (FRR went away again, the drain began). */
  readonly keepTrying: () => boolean;
  /** The versions match: FRR may get the full config now. */
  readonly onVerified: () => void;
  readonly log: {
    info(fields: object, msg: string): void;
    warn(fields: object, msg: string): void;
    error(fields: object, msg: string): void;
  };
}

export class VersionGate {
  private why: string | undefined = NOT_CHECKED;
  private readonly retry: OneShot;
  /** Counts FRR starts: a read begun before the latest one says nothing about the new daemons. */
  private round = 0;

  constructor(private readonly deps: VersionGateDeps) {
    this.retry = new OneShot(deps.clock);
  }

  /** Why nothing may be applied (for /readyz); undefined when the versions match. */
  get problem(): string | undefined {
    return this.why;
  }

  /** FRR came up: nothing is applied to the new daemons before their version is known. */
  check(): void {
    this.stop();
    this.why = NOT_CHECKED;
    this.verify(this.round);
  }

  /** Drops a pending retry and the result of a read in flight. */
  stop(): void {
    this.round++;
    this.retry.stop();
  }

  private verify(round: number): void {
    void this.read().then(({ problem, retry }) => {
      if (round !== this.round) return;
      this.why = problem;
      if (problem === undefined) {
        this.deps.log.info({}, "FRR answers; applying the full config");
        this.deps.onVerified();
      } else if (retry && this.deps.keepTrying()) {
        this.deps.log.warn({}, problem);
        this.retry.arm(RETRY_MS, () => {
          this.verify(round);
        });
      } else this.deps.log.error({}, problem);
    });
  }

  private async read(): Promise<{ problem: string | undefined; retry: boolean }> {
    try {
      const { tools, daemon } = await this.deps.versions();
      if (tools === daemon) return { problem: undefined, retry: false };
      const problem =
        `FRR version mismatch: this container's vtysh and frr-reload.py are FRR ${tools}, ` +
        `the running bgpd is FRR ${daemon}; refusing to apply (run the advertiser from the image of ` +
        `the FRR release the daemons run)`;
      return { problem, retry: false };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return { problem: `FRR's version could not be read (retrying): ${why}`, retry: true };
    }
  }
}
