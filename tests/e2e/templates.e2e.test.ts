// End to end, one lab with a COPY of frr-templates/ that the test edits live (the sidecar watches
// the directory): a template FRR rejects (syntax), one FRR half-applies (semantic: an undefined
// peer-group) and one that does not even render. Each time the tor keeps the last good routes,
// the failure is visible (log, /readyz, metric), and restoring the template applies what changed.

import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hasAll } from "../lab/netns-lab.js";
import { REPO, service, slice, type SidecarLab } from "./harness.js";
import {
  assertDiskEqualsRunning,
  metricValue,
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  TEST_TIMEOUT,
  waitForLogFrom,
  waitUntil,
  withDiagnostics,
  startedSidecarLab,
  assertNeverMissingDuring,
} from "./e2e-helpers.js";

const A = "10.96.0.10/32";
const ANCHOR = " no bgp default ipv4-unicast\n";
const HALF_MARKER = "FRRADV-E2E-HALF";

function svc(name: string, ip: string) {
  return [service(name, { clusterIPs: [ip] }), slice(name, [{ ready: true }])];
}

void describe("templates", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;
  let tplDir: string | undefined;
  let original = "";
  const mainTemplate = (): string => join(tplDir!, "frr.conf.hbs");

  /** Rewrites frr.conf.hbs and waits until the sidecar's watcher has seen it. */
  async function writeTemplate(text: string, outcome: "accepted" | "refused"): Promise<number> {
    const s = env!.sidecar!;
    const from = s.logs.length;
    await writeFile(mainTemplate(), text);
    const msg =
      outcome === "accepted"
        ? "templates changed; re-applying"
        : "new templates refused; the last good ones stay in force";
    return waitForLogFrom(s, (l) => l.msg === msg, from, ROUTE_WAIT, `the template change to be ${outcome}`);
  }

  async function assertStale(): Promise<void> {
    const s = env!.sidecar!;
    const r = await s.get("/readyz");
    assert.equal(r.status, 503, `readyz while FRR runs an older config: ${r.body}`);
    assert.match(r.body, /last apply did not succeed/);
    assert.equal(await metricValue(s, "frr_advertiser_config_stale"), 1);
  }

  async function waitHealthy(): Promise<void> {
    const s = env!.sidecar!;
    await waitUntil(async () => (await s.get("/readyz")).status === 200, ROUTE_WAIT, "/readyz 200 again");
    assert.equal(await metricValue(s, "frr_advertiser_config_stale"), 0);
  }

  before(
    async () => {
      tplDir = await mkdtemp(join(tmpdir(), "fa-e2e-tpl-"));
      await cp(join(REPO, "frr-templates"), tplDir, { recursive: true });
      original = await readFile(mainTemplate(), "utf8");
      assert.ok(original.includes(ANCHOR), "the template has the line the tests anchor their edits on");
      env = await startedSidecarLab({ templateDir: tplDir, objects: svc("a", "10.96.0.10") });
      await env.lab.waitForTorRoutes(hasAll(A), ROUTE_WAIT, { family: 4 });
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await env?.stop();
    if (tplDir !== undefined) await rm(tplDir, { recursive: true, force: true });
  });

  void test(
    "(a) a template FRR rejects (syntax): last good routes stay, failure visible; restored → new service appears",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const { lab, api } = env!;
        const s = env!.sidecar!;
        await assertNeverMissingDuring(lab, [4], [A], "the broken template", async () => {
          const changed = await writeTemplate(
            original.replace(ANCHOR, `${ANCHOR} bogus-command\n`),
            "accepted",
          );
          await waitForLogFrom(
            s,
            (l) => l.msg === "reconcile failed; last good config stays in force" && l["stage"] === "frr",
            changed,
            ROUTE_WAIT,
            "the rejected render",
          );
          // A cluster change forces a new render with the broken template: refused again.
          const before = s.logs.length;
          for (const o of svc("b", "10.96.0.11")) api.upsert(o);
          const failed = await waitForLogFrom(
            s,
            (l) => l.msg === "reconcile failed; last good config stays in force",
            before,
            ROUTE_WAIT,
            "the render with b refused",
          );
          assert.match(String(s.logs[failed]?.["err"]), /rejected|bogus|Unknown command/i);
          assert.ok(!(await lab.torRoutes(4)).has("10.96.0.11/32"), "the rejected render reached FRR");
          await assertStale();

          await writeTemplate(original, "accepted");
          await lab.waitForTorRoutes(hasAll(A, "10.96.0.11/32"), ROUTE_WAIT, { family: 4 });
          await waitHealthy();
        });
        await assertDiskEqualsRunning(env!, "after the template was restored");
      }),
  );

  void test(
    "(b) a template FRR half-applies (undefined peer-group): rolled back, last good routes stay; restored → new service appears",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const { lab, api } = env!;
        const s = env!.sidecar!;
        const peer = lab.torAddr4;
        assert.ok(peer !== null);
        await assertNeverMissingDuring(
          lab,
          [4],
          [A, "10.96.0.11/32"],
          "the half-applied template and its rollbacks",
          async () => {
            // The prefix-list is valid and FRR applies it; the peer-group line fails: a half-applied file.
            const broken = original
              .replace(ANCHOR, `${ANCHOR} neighbor ${peer} peer-group NOPE\n`)
              .replace(
                "router bgp {{asn}}\n",
                `ip prefix-list ${HALF_MARKER} seq 5 permit 10.0.0.0/8\n!\nrouter bgp {{asn}}\n`,
              );
            const changed = await writeTemplate(broken, "accepted");
            await waitForLogFrom(
              s,
              (l) => l.msg === "rolled back FRR to the last good config",
              changed,
              ROUTE_WAIT,
              "the rollback",
            );
            // Read right after the rollback (the next retry is ≥ 0.5 s away): the half-applied part is gone.
            const running = await lab.vtysh("node", "show running-config");
            assert.ok(!running.includes(HALF_MARKER), "the half-applied prefix-list survived the rollback");
            assert.ok(!running.includes("peer-group NOPE"));
            await waitForLogFrom(
              s,
              (l) => l.msg === "reconcile failed; last good config stays in force" && l["stage"] === "frr",
              changed,
              ROUTE_WAIT,
              "the failure report",
            );
            await assertStale();

            for (const o of svc("c", "10.96.0.12")) api.upsert(o);
            await writeTemplate(original, "accepted");
            await lab.waitForTorRoutes(hasAll(A, "10.96.0.11/32", "10.96.0.12/32"), ROUTE_WAIT, {
              family: 4,
            });
            await waitHealthy();
          },
        );
        const running = await lab.vtysh("node", "show running-config");
        assert.ok(!running.includes(HALF_MARKER));
        await assertDiskEqualsRunning(env!, "after the rollback and the restored template");
      }),
  );

  void test(
    "(c) a template that does not render is refused; the last good templates stay in force",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const { lab, api } = env!;
        const s = env!.sidecar!;
        // strict Handlebars: an unknown field fails the trial render of the empty state.
        await writeTemplate(original.replace(ANCHOR, `${ANCHOR} {{noSuchField}}\n`), "refused");
        for (const o of svc("d", "10.96.0.13")) api.upsert(o);
        await lab.waitForTorRoutes(hasAll(A, "10.96.0.13/32"), ROUTE_WAIT, { family: 4 });
        assert.equal((await s.get("/readyz")).status, 200);
        await writeTemplate(original, "accepted");
        await lab.waitForTorRoutes(hasAll(A, "10.96.0.11/32", "10.96.0.12/32", "10.96.0.13/32"), ROUTE_WAIT, {
          family: 4,
        });
        await waitHealthy();
      }),
  );
});
