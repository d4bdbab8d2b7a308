// End to end, `frr-advertiser diff` against the running FRR: nothing to change right after an
// apply; a candidate with a new Service is a prefix-only change; candidate templates that change
// a neighbour's transport are a session reset — and applying each proves it at the tor.

import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { hasAll } from "../lab/netns-lab.js";
import { REPO, node, service, slice, type SidecarLab } from "./harness.js";
import {
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  startedSidecarLab,
  TEST_TIMEOUT,
  waitForLogFrom,
  torSessionsEstablished,
  withDiagnostics,
} from "./e2e-helpers.js";

const WEB = "10.96.0.10/32";
const NEW = "10.96.0.30/32";

interface Report {
  changed: boolean;
  resetsSessions: boolean;
  impact: { announced: string[]; withdrawn: string[]; peers: { peer: string; impact: string }[] };
}

void describe("frr-advertiser diff against the running FRR", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;
  let work = "";
  const liveTemplates = () => join(work, "live");

  before(
    async () => {
      work = await mkdtemp(join(tmpdir(), "fa-e2e-diff-"));
      await cp(join(REPO, "frr-templates"), liveTemplates(), { recursive: true });
      env = await startedSidecarLab({
        templateDir: liveTemplates(),
        objects: [service("web", { clusterIPs: ["10.96.0.10"] }), slice("web", [{ ready: true }])],
      });
      await env.lab.waitForTorRoutes(hasAll(WEB), ROUTE_WAIT, { family: 4 });
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await env?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** Where the node's sidecar runs (the image's FRR tools in image mode). */
  async function diff(...args: string[]): Promise<{ status: number | null; report: Report; out: string }> {
    const r = await env!.cli(["diff", "--config", env!.configPath, "--output", "json", ...args]);
    const out = `${r.stdout}\n${r.stderr}`;
    return { status: r.exitCode ?? null, out, report: JSON.parse(r.stdout || "null") as Report };
  }

  const established = () => torSessionsEstablished(env!.lab);

  void test("the cluster as FRR runs it: no change (exit 0)", { timeout: TEST_TIMEOUT }, () =>
    withDiagnostics(env, async () => {
      const r = await diff();
      assert.equal(r.status, 0, r.out);
      assert.equal(r.report.changed, false);
    }),
  );

  void test(
    "a new Service (from a file): prefix-only, no session touched; applied, the session stays",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = env!;
        const objects = [
          node(),
          service("web", { clusterIPs: ["10.96.0.10"] }),
          slice("web", [{ ready: true }]),
          service("new", { clusterIPs: ["10.96.0.30"] }),
          slice("new", [{ ready: true }]),
        ];
        const file = join(work, "objects.yaml");
        await writeFile(file, stringify({ apiVersion: "v1", kind: "List", items: objects }));
        const r = await diff("--objects", file);
        assert.equal(r.status, 1, r.out);
        assert.deepEqual(r.report.impact.announced, [NEW]);
        assert.deepEqual(r.report.impact.peers, []);
        assert.equal(r.report.resetsSessions, false);
        const before = await established();
        for (const o of objects.slice(3)) e.api.upsert(o);
        await e.lab.waitForTorRoutes(hasAll(WEB, NEW), ROUTE_WAIT, { family: 4 });
        assert.equal(await established(), before, "the session was not reset");
      }),
  );

  void test(
    "candidate templates that change a neighbour's transport: a session reset; applied, it resets",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = env!;
        const candidate = join(work, "candidate");
        await rm(candidate, { recursive: true, force: true });
        await cp(liveTemplates(), candidate, { recursive: true });
        const partial = join(candidate, "partials", "neighbors.hbs");
        const text = await readFile(partial, "utf8");
        const edited = text.replace(
          /( neighbor \{\{id\}\} remote-as \{\{remoteAs\}\}\n)/,
          "$1 neighbor {{id}} ebgp-multihop 2\n",
        );
        assert.notEqual(edited, text, "the template has the line the test anchors its edit on");
        await writeFile(partial, edited);
        const r = await diff("--templates", candidate);
        assert.equal(r.status, 1, r.out);
        assert.equal(r.report.resetsSessions, true);
        assert.deepEqual(
          r.report.impact.peers.map((p) => p.impact),
          ["reset"],
        );
        // What diff said, FRR does: the live templates take the edit, the session restarts.
        const before = await established();
        const s = e.sidecar!;
        const from = s.logs.length;
        await writeFile(join(liveTemplates(), "partials", "neighbors.hbs"), edited);
        await waitForLogFrom(
          s,
          (l) => l.msg === "templates changed; re-applying",
          from,
          ROUTE_WAIT,
          "the template change",
        );
        await e.lab.waitForSession(ROUTE_WAIT);
        const deadline = Date.now() + ROUTE_WAIT;
        while ((await established()) === before && Date.now() < deadline)
          await new Promise((res) => setTimeout(res, 100));
        assert.ok((await established()) > before, "the tor saw the session restart");
      }),
  );
});
