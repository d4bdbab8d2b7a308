// What a config change does to the BGP sessions, from frr-reload.py's diff lines (as it prints
// them: each line after its context).
import assert from "node:assert/strict";
import { test } from "node:test";
import { configImpact, resetsSessions } from "./session-impact.js";

// frr-reload.py --test prints the context, then the line (`no …` to delete), one per line.
const R = "router bgp 64512";
const AF = "address-family ipv4 unicast";
const inRouter = (line: string) => [R, line];
const inAf = (line: string) => [R, AF, line];

const cases: {
  name: string;
  del?: string[];
  add?: string[];
  peers?: [string, string][];
  resets: boolean;
  announced?: string[];
  withdrawn?: string[];
  routerRuns?: boolean;
}[] = [
  {
    name: "a new prefix",
    add: [...inAf(`network 10.96.0.30/32`)],
    resets: false,
    announced: ["10.96.0.30/32"],
  },
  {
    name: "a prefix goes",
    del: [...inAf(`network 10.96.0.30/32`)],
    resets: false,
    withdrawn: ["10.96.0.30/32"],
  },
  {
    name: "a prefix moves to another attribute set: neither",
    del: [...inAf(`network 10.96.0.30/32 route-map A`)],
    add: [...inAf(`network 10.96.0.30/32 route-map B`)],
    resets: false,
  },
  {
    name: "ebgp-multihop",
    add: [...inRouter(`neighbor 192.0.2.1 ebgp-multihop 2`)],
    peers: [["192.0.2.1", "reset"]],
    resets: true,
  },
  {
    name: "update-source",
    add: [...inRouter(`neighbor 192.0.2.1 update-source lo`)],
    peers: [["192.0.2.1", "reset"]],
    resets: true,
  },
  {
    name: "password",
    add: [...inRouter(`neighbor 192.0.2.1 password s3cret`)],
    peers: [["192.0.2.1", "reset"]],
    resets: true,
  },
  {
    name: "remote-as changed",
    del: [...inRouter(`neighbor 192.0.2.1 remote-as 65000`)],
    add: [...inRouter(`neighbor 192.0.2.1 remote-as 65009`)],
    peers: [["192.0.2.1", "reset"]],
    resets: true,
  },
  {
    name: "an AF activated",
    add: [...inAf(`neighbor 192.0.2.1 activate`)],
    peers: [["192.0.2.1", "reset"]],
    resets: true,
  },
  {
    name: "an export route-map changed: a route refresh",
    del: [...inAf(`neighbor 192.0.2.1 route-map OLD out`)],
    add: [...inAf(`neighbor 192.0.2.1 route-map NEW out`)],
    peers: [["192.0.2.1", "soft"]],
    resets: false,
  },
  {
    name: "description",
    add: [...inRouter(`neighbor 192.0.2.1 description tor-1`)],
    peers: [["192.0.2.1", "soft"]],
    resets: false,
  },
  {
    name: "a new neighbour",
    add: [...inRouter(`neighbor 192.0.2.9 remote-as external`), ...inAf(`neighbor 192.0.2.9 activate`)],
    peers: [["192.0.2.9", "added"]],
    resets: false,
  },
  {
    name: "a neighbour removed",
    del: [...inRouter(`neighbor 192.0.2.9 remote-as external`)],
    peers: [["192.0.2.9", "removed"]],
    resets: false,
  },
  { name: "router-id: every session", add: [...inRouter(`bgp router-id 192.0.2.7`)], resets: true },
  { name: "graceful-restart: every session", add: [...inRouter(`bgp graceful-restart`)], resets: true },
  {
    name: "the router goes (ASN change)",
    del: ["no router bgp 64512"],
    add: [...inRouter("neighbor 192.0.2.1 remote-as external")].map((l) => l.replace("64512", "64513")),
    peers: [["192.0.2.1", "added"]],
    resets: true,
  },
  { name: "a route-map entry", add: ["route-map FRRADV-A-1 permit 10 set metric 5"], resets: false },
  {
    name: "FRR runs no router yet (the first apply): its settings and neighbours reset nothing",
    add: [...inRouter("bgp router-id 192.0.2.0"), ...inRouter("neighbor 192.0.2.1 remote-as external")],
    peers: [["192.0.2.1", "added"]],
    resets: false,
    routerRuns: false,
  },
];

for (const c of cases) {
  void test(`session impact: ${c.name}`, () => {
    // Deletions come in the `no` form, after their (bare) context lines.
    const toDelete = (c.del ?? []).map((l) => (l === R || l === AF || l.startsWith("no ") ? l : `no ${l}`));
    const impact = configImpact({ toDelete, toAdd: c.add ?? [] }, c.routerRuns ?? true);
    assert.deepEqual(
      impact.peers.map((p) => [p.peer, p.impact]),
      c.peers ?? [],
    );
    assert.equal(resetsSessions(impact), c.resets);
    assert.deepEqual(impact.announced, c.announced ?? []);
    assert.deepEqual(impact.withdrawn, c.withdrawn ?? []);
  });
}
