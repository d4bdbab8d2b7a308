// The gauges derive from every successful pass's desired state, also when FRR did not change.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Metrics } from "./metrics.js";
import { combineEvaluations } from "./model/desired-state.js";
import type { DesiredState } from "./model/desired-state-types.js";

const withProblem: DesiredState = {
  ...combineEvaluations([]),
  decisions: [
    {
      service: "default/bad",
      address: "10.96.0.9",
      kind: "clusterIP",
      advertise: false,
      code: "invalid-annotation",
      reason: "not advertised: invalid annotation frr-advertiser.io/med",
    },
  ],
  problems: ['Service default/bad: annotation frr-advertiser.io/med="1e3" is not a decimal'],
};

test("a verdict change without an FRR change still updates the verdict and problem gauges", async () => {
  const m = new Metrics();
  m.observe({ outcome: "unchanged", durationMs: 1, state: withProblem });
  const text = await m.registry.metrics();
  assert.match(text, /^frr_advertiser_service_addresses\{reason="invalid-annotation"\} 1$/m);
  assert.match(text, /^frr_advertiser_input_problems 1$/m);
});
