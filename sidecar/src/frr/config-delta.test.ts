// Which config changes may bypass frr-reload.py: only `network` lines inside router bgp / AF.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  committedOnce,
  computeWithdrawal,
  NetworkShapes,
  networkDelta,
  parseConf,
  reannounceCommands,
  isRouteMapRemoval,
} from "./config-delta.js";

/** The delta between two texts, as the applier computes it from their parses. */
function computeNetworkDelta(oldConf: string, newConf: string): string[] | undefined {
  const before = parseConf(oldConf);
  const after = parseConf(newConf);
  return before === undefined || after === undefined ? undefined : networkDelta(before, after);
}

const conf = (v4: string[], v6: string[] = [], extra = "") => `frr defaults datacenter
hostname n1
${extra}router bgp 64512
 neighbor 192.0.2.1 remote-as external
 address-family ipv4 unicast
${v4.map((n) => `  network ${n}`).join("\n")}
  neighbor 192.0.2.1 activate
 exit-address-family
 address-family ipv6 unicast
${v6.map((n) => `  network ${n}`).join("\n")}
 exit-address-family
exit
!
route-map FRRADV-A-1 permit 10
 set local-preference 200
exit
`;

test("identical configs need no commands", () => {
  assert.deepEqual(computeNetworkDelta(conf(["10.0.0.1/32"]), conf(["10.0.0.1/32"])), []);
});

test("added and removed prefixes become one batch, removals first, grouped by address family", () => {
  const delta = computeNetworkDelta(
    conf(["10.0.0.1/32", "10.0.0.2/32"], ["fd00::1/128"]),
    conf(["10.0.0.2/32", "10.0.0.3/32 route-map FRRADV-A-1"], []),
  );
  assert.deepEqual(delta, [
    "router bgp 64512",
    " address-family ipv4 unicast",
    "  no network 10.0.0.1/32",
    "  network 10.0.0.3/32 route-map FRRADV-A-1",
    " exit-address-family",
    "exit",
    "router bgp 64512",
    " address-family ipv6 unicast",
    "  no network fd00::1/128",
    " exit-address-family",
    "exit",
  ]);
});

test("a prefix that changes route-map is removed and re-added", () => {
  const delta = computeNetworkDelta(conf(["10.0.0.1/32"]), conf(["10.0.0.1/32 route-map FRRADV-A-1"]));
  assert.deepEqual(
    delta?.filter((l) => l.includes("network")),
    ["  no network 10.0.0.1/32", "  network 10.0.0.1/32 route-map FRRADV-A-1"],
  );
});

const needsReload: [string, string, string][] = [
  [
    "a route-map changed",
    conf(["10.0.0.1/32"]),
    conf(["10.0.0.1/32"]).replace("local-preference 200", "local-preference 300"),
  ],
  [
    "a neighbour was added",
    conf([]),
    conf([]).replace(
      " neighbor 192.0.2.1 remote-as external",
      " neighbor 192.0.2.1 remote-as external\n neighbor 192.0.2.9 remote-as external",
    ),
  ],
  ["a line moved elsewhere", conf([]), conf([], [], "ip prefix-list X seq 5 permit 10.0.0.0/8 le 32\n")],
  [
    "a network line outside an address-family",
    "router bgp 1\n network 10.0.0.1/32\nexit\n",
    "router bgp 1\n network 10.0.0.2/32\nexit\n",
  ],
  [
    "a network line in another router",
    "router ospf\n network 10.0.0.0/8 area 0\nexit\n",
    "router ospf\n network 10.1.0.0/16 area 0\nexit\n",
  ],
];

for (const [name, before, after] of needsReload) {
  test(`full reload when ${name}`, () => {
    assert.equal(computeNetworkDelta(before, after), undefined);
  });
}

const withMaps = (nets: string[], maps: Record<string, string[]>, peerMap = "") => `frr defaults datacenter
router bgp 64512
 neighbor 192.0.2.1 remote-as external
 address-family ipv4 unicast
${nets.map((n) => `  network ${n}`).join("\n")}
  neighbor 192.0.2.1 activate
${peerMap === "" ? "" : `  neighbor 192.0.2.1 route-map ${peerMap} out\n`} exit-address-family
exit
!
${Object.entries(maps)
  .map(([name, sets]) => `route-map ${name} permit 10\n${sets.map((l) => ` ${l}`).join("\n")}\nexit\n!`)
  .join("\n")}
`;

void test("attribute route-maps: a new one comes before the statement using it, an unused one goes after", () => {
  const delta = computeNetworkDelta(
    withMaps(["10.0.0.1/32 route-map FRRADV-A-1"], { "FRRADV-A-1": ["set local-preference 200"] }),
    withMaps(["10.0.0.1/32 route-map FRRADV-A-2"], { "FRRADV-A-2": ["set community 65000:7 additive"] }),
  );
  assert.deepEqual(delta, [
    "route-map FRRADV-A-2 permit 10",
    " set community 65000:7 additive",
    "exit",
    "router bgp 64512",
    " address-family ipv4 unicast",
    "  no network 10.0.0.1/32",
    "  network 10.0.0.1/32 route-map FRRADV-A-2",
    " exit-address-family",
    "exit",
    "no route-map FRRADV-A-1 permit 10",
  ]);
  assert.ok(delta.some(isRouteMapRemoval));
  assert.equal((computeNetworkDelta(conf([]), conf(["10.0.0.9/32"])) ?? []).some(isRouteMapRemoval), false);
  assert.equal(
    delta.filter((l) => !l.startsWith("no route-map")).some(isRouteMapRemoval),
    false,
    "adding one",
  );
});

void test("a route-map a neighbour (or another route-map) names is policy: any change to it needs a reload", () => {
  const peer = (sets: string[]) =>
    withMaps(["10.0.0.1/32"], { EXPORT: sets, "FRRADV-A-1": ["call EXPORT"] }, "EXPORT");
  assert.equal(computeNetworkDelta(peer(["set med 5"]), peer(["set med 6"])), undefined);
  const parsed = parseConf(peer(["set med 5"]));
  assert.deepEqual([...(parsed?.routeMaps.keys() ?? [])], ["route-map FRRADV-A-1 permit 10"]);
  assert.match(parsed?.other ?? "", /route-map EXPORT permit 10\nset med 5\nexit/);
  // FRR's own rendering (no `!` between entries, `exit` at column 0) reads the same way.
  const frrStyle = "route-map FRRADV-A-9 permit 10\n set metric 7\nexit\n!\nend\n";
  assert.deepEqual(
    [...(parseConf(frrStyle)?.routeMaps.values() ?? [])],
    [{ name: "FRRADV-A-9", header: "route-map FRRADV-A-9 permit 10", body: ["set metric 7"] }],
  );
});

void test("back to an empty render: every prefix of the last one is withdrawn", () => {
  const last = conf(["10.0.0.2/32"]);
  assert.deepEqual(computeNetworkDelta(last, conf([])), [
    "router bgp 64512",
    " address-family ipv4 unicast",
    "  no network 10.0.0.2/32",
    " exit-address-family",
    "exit",
  ]);
  assert.deepEqual(computeNetworkDelta(last, last), []);
});

// FRR's own rendering of its running config (indentation, `exit` lines) as the drain reads it.
const running = `frr version 8.4.4
frr defaults datacenter
hostname n1
!
router bgp 64512
 neighbor 192.0.2.1 remote-as external
 !
 address-family ipv4 unicast
  network 10.0.0.1/32
  network 10.0.0.2/32 route-map FRRADV-A-1
  network 192.0.2.99/32
 exit-address-family
 !
 address-family ipv6 unicast
  network fd00::1/128
 exit-address-family
exit
!
`;

test("withdrawal from a running config: every network the drained render lacks, route-maps dropped", () => {
  // The drained render keeps a network the templates hold themselves (not a service).
  const drained = conf(["192.0.2.99/32"]);
  assert.deepEqual(computeWithdrawal(running, drained), [
    "router bgp 64512",
    " address-family ipv4 unicast",
    "  no network 10.0.0.1/32",
    "  no network 10.0.0.2/32",
    " exit-address-family",
    "exit",
    "router bgp 64512",
    " address-family ipv6 unicast",
    "  no network fd00::1/128",
    " exit-address-family",
    "exit",
  ]);
});

test("withdrawal: nothing to do when FRR runs no service network", () => {
  assert.deepEqual(computeWithdrawal(conf([]), conf([])), []);
});

test("withdrawal: a network line outside router bgp makes the running config unreadable this way", () => {
  assert.equal(computeWithdrawal(`router rip\n network 10.0.0.0/8\nexit\n`, conf([])), undefined);
});

test("re-announce: each statement withdrawn on its own, then all added again with their route-maps", () => {
  const applied = conf(["10.0.0.1/32", "10.0.0.2/32 route-map FRRADV-A-1"]);
  const wrap = (lines: string[]) => [
    "router bgp 64512",
    " address-family ipv4 unicast",
    ...lines,
    " exit-address-family",
    "exit",
  ];
  assert.deepEqual(
    reannounceCommands(parseConf(applied), new Set(["10.0.0.1/32", "10.0.0.2/32", "10.9.9.9/32"])),
    {
      withdraw: [wrap(["  no network 10.0.0.1/32"]), wrap(["  no network 10.0.0.2/32"])],
      add: wrap(["  network 10.0.0.1/32", "  network 10.0.0.2/32 route-map FRRADV-A-1"]),
    },
  );
  assert.deepEqual(reannounceCommands(parseConf(applied), new Set(["10.9.9.9/32"])), {
    withdraw: [],
    add: [],
  });
});

test("NetworkShapes: learned per (family, attribute set) from a render; only where every prefix agrees", () => {
  const text = conf(
    ["10.0.0.1/32", "10.0.0.2/32 route-map FRRADV-A-1", "10.0.0.3/32 route-map FRRADV-A-1", "10.9.9.9/32"],
    ["fd00::1/128"],
  );
  const parsed = parseConf(text);
  assert.ok(parsed);
  const prefixes = [
    { prefix: "10.0.0.1/32", family: "ipv4", attributeSet: undefined },
    { prefix: "10.0.0.2/32", family: "ipv4", attributeSet: "FRRADV-A-1" },
    { prefix: "10.0.0.3/32", family: "ipv4", attributeSet: "FRRADV-A-1" },
    { prefix: "fd00::1/128", family: "ipv6", attributeSet: undefined },
    // Advertised, yet the templates wrote no statement for it: its kind has no known shape.
    { prefix: "fd00::2/128", family: "ipv6", attributeSet: "FRRADV-A-2" },
  ] as const;
  const shapes = NetworkShapes.learn(parsed, prefixes);
  const lines = (
    p: (typeof prefixes)[number] | { prefix: string; family: "ipv4" | "ipv6"; attributeSet?: string },
  ) => shapes.place({ attributeSet: undefined, ...p })?.map((s) => `${s.router}|${s.af}|${s.line}`);
  assert.deepEqual(lines({ prefix: "10.1.0.7/32", family: "ipv4", attributeSet: "FRRADV-A-1" }), [
    "router bgp 64512|address-family ipv4 unicast|network 10.1.0.7/32 route-map FRRADV-A-1",
  ]);
  assert.deepEqual(lines({ prefix: "fd00::7/128", family: "ipv6" }), [
    "router bgp 64512|address-family ipv6 unicast|network fd00::7/128",
  ]);
  assert.equal(lines({ prefix: "fd00::8/128", family: "ipv6", attributeSet: "FRRADV-A-2" }), undefined);
  assert.equal(lines({ prefix: "10.1.0.8/32", family: "ipv4", attributeSet: "FRRADV-A-9" }), undefined);
  // A template that writes a statement for one prefix only (10.0.0.1 twice, 10.0.0.4 once): unknown.
  const uneven = parseConf(
    conf(
      ["10.0.0.1/32", "10.0.0.4/32"],
      [],
      "router bgp 64512 vrf blue\n address-family ipv4 unicast\n  network 10.0.0.1/32\n exit-address-family\nexit\n",
    ),
  );
  assert.ok(uneven);
  const unevenShapes = NetworkShapes.learn(uneven, [
    { prefix: "10.0.0.1/32", family: "ipv4", attributeSet: undefined },
    { prefix: "10.0.0.4/32", family: "ipv4", attributeSet: undefined },
  ]);
  assert.equal(
    unevenShapes.place({ prefix: "10.0.0.5/32", family: "ipv4", attributeSet: undefined }),
    undefined,
  );
});

void test("route-map lines over a vty commit once (vtysh's file markers); a batch without them is sent as it is", () => {
  const withMap = ["route-map FRRADV-A-1 permit 10", " set metric 7", "exit", "router bgp 64512", "exit"];
  assert.deepEqual(committedOnce(withMap), [
    "XFRR_start_configuration",
    ...withMap,
    "XFRR_end_configuration",
  ]);
  const plain = [
    "router bgp 64512",
    " address-family ipv4 unicast",
    "  network 10.0.0.1/32",
    " exit-address-family",
    "exit",
  ];
  assert.equal(committedOnce(plain), plain);
});
