// Which configured neighbours a node peers with: by name, by labels, or everywhere.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseLabelSelector } from "./label-selector.js";
import { neighborsForNode, type NeighborScope } from "./neighbors.js";
import type { NodeSnapshot } from "./snapshot.js";

const selector = (s: string) => {
  const r = parseLabelSelector(s);
  assert.ok(r.ok);
  return r.requirements;
};
const node = (name: string, labels: Record<string, string>): NodeSnapshot => ({
  name,
  labels,
  annotations: {},
  unschedulable: false,
  taints: [],
});
const SCOPES: NeighborScope[] = [
  { id: "192.0.2.1", nodes: undefined, nodeSelector: undefined },
  { id: "192.0.2.11", nodes: ["rack1-a", "rack1-b"], nodeSelector: undefined },
  { id: "192.0.2.21", nodes: undefined, nodeSelector: selector("rack=r2") },
  { id: "eth1", nodes: ["rack2-a"], nodeSelector: selector("rack=r2") },
];

const cases: { name: string; nodeName: string; node: NodeSnapshot | undefined; want: string[] }[] = [
  {
    name: "named node",
    nodeName: "rack1-a",
    node: node("rack1-a", { rack: "r1" }),
    want: ["192.0.2.1", "192.0.2.11"],
  },
  {
    name: "labels select",
    nodeName: "rack2-b",
    node: node("rack2-b", { rack: "r2" }),
    want: ["192.0.2.1", "192.0.2.21"],
  },
  {
    name: "name and labels both required",
    nodeName: "rack2-a",
    node: node("rack2-a", { rack: "r2" }),
    want: ["192.0.2.1", "192.0.2.21", "eth1"],
  },
  {
    name: "no match: only the unconditional one",
    nodeName: "other",
    node: node("other", {}),
    want: ["192.0.2.1"],
  },
  {
    name: "Node not seen yet: names still apply, selectors cannot",
    nodeName: "rack1-b",
    node: undefined,
    want: ["192.0.2.1", "192.0.2.11"],
  },
];

for (const c of cases)
  test(`neighborsForNode: ${c.name}`, () => {
    assert.deepEqual(neighborsForNode({ nodeName: c.nodeName, neighborScopes: SCOPES }, c.node), c.want);
  });
