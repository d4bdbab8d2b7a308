// What a config change does to the BGP sessions, from frr-reload.py's diff lines (as it prints
// them: each line after its context).
import assert from "node:assert/strict";
import { test } from "node:test";
import { configImpact, resetsSessions } from "./session-impact.js";

const R = "router bgp 64512";
const AF = `${R} address-family ipv4 unicast`;

const cases: {
  name: string;
  del?: string[];
  add?: string[];
  peers?: [string, string][];
  resets: boolean;
  announced?: string[];
  withdrawn?: string[];
}[] = [
  { name: "a new prefix", add: [`${AF} network 10.96.0.30/32`], resets: false, announced: ["10.96.0.30/32"] },
  {
    name: "a prefix goes",
    del: [`${AF} network 10.96.0.30/32`],
    resets: false,
    withdrawn: ["10.96.0.30/32"],
  },
  {
    name: "a prefix moves to another attribute set: neither",
    del: [`${AF} network 10.96.0.30/32 route-map A`],
    add: [`${AF} network 10.96.0.30/32 route-map B`],
    resets: false,
  },
  {
    name: "ebgp-multihop",
    add: [`${R} neighbor 192.0.2.1 ebgp-multihop 2`],
    peers: [["192.0.2.1", "reset"]],
    resets: true,
  },
  {
    name: "update-source",
    add: [`${R} neighbor 192.0.2.1 update-source lo`],
    peers: [["192.0.2.1", "reset"]],
    resets: true,
  },
  {
    name: "password",
    add: [`${R} neighbor 192.0.2.1 password s3cret`],
    peers: [["192.0.2.1", "reset"]],
    resets: true,
  },
  {
    name: "remote-as changed",
    del: [`${R} neighbor 192.0.2.1 remote-as 65000`],
    add: [`${R} neighbor 192.0.2.1 remote-as 65009`],
    peers: [["192.0.2.1", "reset"]],
    resets: true,
  },
  {
    name: "an AF activated",
    add: [`${AF} neighbor 192.0.2.1 activate`],
    peers: [["192.0.2.1", "reset"]],
    resets: true,
  },
  {
    name: "an export route-map changed: a route refresh",
    del: [`${AF} neighbor 192.0.2.1 route-map OLD out`],
    add: [`${AF} neighbor 192.0.2.1 route-map NEW out`],
    peers: [["192.0.2.1", "soft"]],
    resets: false,
  },
  {
    name: "description",
    add: [`${R} neighbor 192.0.2.1 description tor-1`],
    peers: [["192.0.2.1", "soft"]],
    resets: false,
  },
  {
    name: "a new neighbour",
    add: [`${R} neighbor 192.0.2.9 remote-as external`, `${AF} neighbor 192.0.2.9 activate`],
    peers: [["192.0.2.9", "added"]],
    resets: false,
  },
  {
    name: "a neighbour removed",
    del: [`${R} neighbor 192.0.2.9 remote-as external`],
    peers: [["192.0.2.9", "removed"]],
    resets: false,
  },
  { name: "router-id: every session", add: [`${R} bgp router-id 192.0.2.7`], resets: true },
  { name: "graceful-restart: every session", add: [`${R} bgp graceful-restart`], resets: true },
  { name: "the router goes (ASN change)", del: [R], add: ["router bgp 64513"], resets: true },
  { name: "a route-map entry", add: ["route-map FRRADV-A-1 permit 10 set metric 5"], resets: false },
  {
    name: "a new router (the first apply): its settings and neighbours reset nothing",
    add: [R, `${R} bgp router-id 192.0.2.0`, `${R} neighbor 192.0.2.1 remote-as external`],
    peers: [["192.0.2.1", "added"]],
    resets: false,
  },
];

for (const c of cases) {
  void test(`session impact: ${c.name}`, () => {
    const impact = configImpact({ toDelete: c.del ?? [], toAdd: c.add ?? [] });
    assert.deepEqual(
      impact.peers.map((p) => [p.peer, p.impact]),
      c.peers ?? [],
    );
    assert.equal(resetsSessions(impact), c.resets);
    assert.deepEqual(impact.announced, c.announced ?? []);
    assert.deepEqual(impact.withdrawn, c.withdrawn ?? []);
  });
}
