// End to end, templates.allowSessionReset: false with real FRR: a template edit that would reset
// the BGP session is refused (the tor's session never restarts, FRR keeps the last good config),
// and the operator is told (a Warning Event on the Node, a metric, /readyz).

import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hasAll } from "../lab/netns-lab.js";
import { REPO, service, slice, type SidecarLab } from "./harness.js";
import {
  metricValue,
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  startedSidecarLab,
  TEST_TIMEOUT,
  torSessionsEstablished,
  waitUntil,
  withDiagnostics,
} from "./e2e-helpers.js";

const WEB = "10.96.0.10/32";

void describe("templates.allowSessionReset: false", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;
  let templates = "";

  before(
    async () => {
      templates = await mkdtemp(join(tmpdir(), "fa-e2e-noreset-"));
      await cp(join(REPO, "frr-templates"), templates, { recursive: true });
      env = await startedSidecarLab({
        templateDir: templates,
        objects: [service("web", { clusterIPs: ["10.96.0.10"] }), slice("web", [{ ready: true }])],
        config: { templates: { allowSessionReset: false } },
      });
      await env.lab.waitForTorRoutes(hasAll(WEB), ROUTE_WAIT, { family: 4 });
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await env?.stop();
    await rm(templates, { recursive: true, force: true });
  });

  void test(
    "a session-resetting template edit is refused and told; FRR and the session stay",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = env!;
        const s = e.sidecar!;
        const sessions = () => torSessionsEstablished(e.lab);
        const before = await sessions();
        const partial = join(templates, "partials", "neighbors.hbs");
        const text = await readFile(partial, "utf8");
        const edited = text.replace(
          /( neighbor \{\{id\}\} remote-as \{\{remoteAs\}\}\n)/,
          "$1 neighbor {{id}} ebgp-multihop 2\n",
        );
        assert.notEqual(edited, text);
        await writeFile(partial, edited);
        await waitUntil(
          async () => ((await metricValue(s, "frr_advertiser_session_reset_refusals_total")) ?? 0) > 0,
          ROUTE_WAIT,
          "the refusal counted",
        );
        const ready = await s.get("/readyz");
        assert.equal(ready.status, 503);
        assert.match(ready.body, /would reset BGP sessions .*allowSessionReset is false/);
        const events = e.api
          .events()
          .filter((ev) => (ev as { reason?: string }).reason === "SessionResetRefused");
        assert.ok(events.length > 0, "a SessionResetRefused Event");
        assert.doesNotMatch(await e.lab.vtysh("node", "show running-config"), /ebgp-multihop/);
        assert.equal(await sessions(), before, "the session never restarted");
        assert.ok((await e.lab.torRoutes(4)).has(WEB), "the routes stay");
        // Back to the last good templates: healthy again.
        await writeFile(partial, text);
        await waitUntil(async () => (await s.get("/readyz")).status === 200, ROUTE_WAIT, "/readyz 200 again");
      }),
  );
});
