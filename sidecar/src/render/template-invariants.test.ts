// The invariants and the static route-map / prefix-list evaluation behind them, table-driven:
// each row is a small frr.conf and what the checks must say about it.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseIpOrCidr } from "../model/ip.js";
import { evaluateRouteMap, parseFrrConf, prefixListPermits } from "./frr-policy.js";
import { checkInvariants, outsideProbes, type InvariantInput } from "./template-invariants.js";

const cidr = (t: string) => {
  const r = parseIpOrCidr(t, "reject");
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

void describe("prefix-lists: first match by sequence, ge/le, implicit deny", () => {
  const conf = parseFrrConf(
    [
      "ip prefix-list L seq 20 permit 10.96.0.0/12 ge 32",
      "ip prefix-list L seq 10 deny 10.96.0.1/32",
      "ip prefix-list L seq 30 permit 203.0.113.0/24",
      "ip prefix-list R seq 5 permit 10.0.0.0/8 le 24",
      "ip prefix-list R seq 6 permit 172.16.0.0/12 ge 20 le 24",
      "ip prefix-list ANY seq 5 permit any",
      "ip prefix-list AUTO permit 192.0.2.0/24 ge 32",
      "ipv6 prefix-list L6 seq 10 permit fd00:10:96::/108 ge 128",
    ].join("\n"),
  );
  const rows: [string, string, string, boolean][] = [
    ["L", "ipv4", "10.96.0.10/32", true],
    ["L", "ipv4", "10.96.0.1/32", false], // the lower sequence (deny) wins although written later
    ["L", "ipv4", "10.96.0.0/12", false], // ge 32: the aggregate itself does not match
    ["L", "ipv4", "10.112.0.0/32", false], // outside: implicit deny
    ["L", "ipv4", "203.0.113.0/24", true], // exact entry
    ["L", "ipv4", "203.0.113.5/32", false], // exact entry: longer prefixes do not match
    ["R", "ipv4", "10.1.0.0/16", true],
    ["R", "ipv4", "10.1.1.1/32", false], // le 24
    ["R", "ipv4", "172.16.16.0/20", true],
    ["R", "ipv4", "172.16.0.0/16", false], // ge 20
    ["ANY", "ipv4", "8.8.8.8/32", true],
    ["ANY", "ipv4", "0.0.0.0/0", true],
    ["AUTO", "ipv4", "192.0.2.7/32", true], // no seq: numbered by FRR
    ["L6", "ipv6", "fd00:10:96::a/128", true],
    ["L6", "ipv6", "fd00:10:97::a/128", false],
    ["MISSING", "ipv4", "10.96.0.10/32", false], // a list that does not exist matches nothing
    ["L", "ipv6", "fd00:10:96::a/128", false], // the wrong family never matches
  ];
  for (const [list, family, prefix, want] of rows) {
    void it(`${list} ${prefix} → ${want ? "permit" : "deny"}`, () => {
      const p = parseIpOrCidr(prefix, "reject");
      assert.ok(p.ok, prefix);
      assert.equal(prefixListPermits(conf, family as "ipv4" | "ipv6", list, p.value), want);
    });
  }
});

void describe("route-maps: FRR's evaluation order", () => {
  const lists = [
    "ip prefix-list A seq 10 permit 10.96.0.0/12 ge 32",
    "ip prefix-list B seq 10 permit 10.96.0.5/32",
  ];
  const rows: { name: string; conf: string[]; prefix: string; want: string[] }[] = [
    {
      name: "no entries match: implicit deny",
      conf: ["route-map M permit 10", " match ip address prefix-list A"],
      prefix: "8.8.8.8/32",
      want: ["deny"],
    },
    {
      name: "a matching permit permits",
      conf: ["route-map M permit 10", " match ip address prefix-list A"],
      prefix: "10.96.0.9/32",
      want: ["permit"],
    },
    {
      name: "an entry without match permits everything",
      conf: ["route-map M permit 5", "exit", "route-map M permit 10", " match ip address prefix-list A"],
      prefix: "8.8.8.8/32",
      want: ["permit"],
    },
    {
      name: "first matching entry wins (deny before permit)",
      conf: [
        "route-map M permit 20",
        " match ip address prefix-list A",
        "route-map M deny 10",
        " match ip address prefix-list B",
      ],
      prefix: "10.96.0.5/32",
      want: ["deny"],
    },
    {
      name: "all match clauses must match",
      conf: ["route-map M permit 10", " match ip address prefix-list A", " match ip address prefix-list B"],
      prefix: "10.96.0.9/32",
      want: ["deny"],
    },
    {
      name: "on-match next continues; the earlier permit stands at the end",
      conf: [
        "route-map M permit 10",
        " on-match next",
        "route-map M permit 20",
        " match ip address prefix-list B",
      ],
      prefix: "8.8.8.8/32",
      want: ["permit"],
    },
    {
      name: "on-match next into a deny",
      conf: ["route-map M permit 10", " on-match next", "route-map M deny 20"],
      prefix: "8.8.8.8/32",
      want: ["deny"],
    },
    {
      name: "on-match goto skips entries",
      conf: [
        "route-map M permit 10",
        " on-match goto 30",
        "route-map M deny 20",
        "route-map M permit 30",
        " match ip address prefix-list A",
      ],
      prefix: "8.8.8.8/32",
      want: ["permit"],
    },
    {
      name: "call: the called map's deny denies",
      conf: ["route-map M permit 10", " call C", "route-map C permit 10", " match ip address prefix-list A"],
      prefix: "8.8.8.8/32",
      want: ["deny"],
    },
    {
      name: "call: the called map's permit permits",
      conf: ["route-map M permit 10", " call C", "route-map C permit 10", " match ip address prefix-list A"],
      prefix: "10.96.0.9/32",
      want: ["permit"],
    },
    { name: "a route-map that does not exist denies", conf: [], prefix: "10.96.0.9/32", want: ["deny"] },
    {
      name: "a clause not evaluated goes both ways",
      conf: ["route-map M permit 10", " match community C1"],
      prefix: "8.8.8.8/32",
      want: ["permit", "deny"],
    },
    {
      name: "match interface unknown on export: both ways",
      conf: ["route-map M permit 10", " match interface kube-lb"],
      prefix: "8.8.8.8/32",
      want: ["permit", "deny"],
    },
  ];
  for (const row of rows) {
    void it(row.name, () => {
      const conf = parseFrrConf([...lists, ...row.conf].join("\n"));
      const got = evaluateRouteMap(conf, "M", { prefix: cidr(row.prefix), interface: undefined });
      assert.deepEqual([...new Set(got.map((o) => o.result))].sort(), [...row.want].sort());
    });
  }
  void it("names the assumption it made", () => {
    const conf = parseFrrConf("route-map M permit 10\n match community C1\n");
    const permit = evaluateRouteMap(conf, "M", { prefix: cidr("8.8.8.8/32"), interface: undefined }).find(
      (o) => o.result === "permit",
    );
    assert.match(permit?.assumed.join(" ") ?? "", /"match community C1" \(route-map M permit 10\) matches/);
  });
});

void describe("probes", () => {
  void it("just below and above each allowed CIDR, far ones, none inside an allowed CIDR", () => {
    const probes = outsideProbes("ipv4", [cidr("10.96.0.0/12"), cidr("10.112.0.0/12")]).map(
      (p) => p.prefix.text,
    );
    assert.ok(probes.includes("10.95.255.255/32"));
    assert.ok(probes.includes("10.128.0.0/32"));
    assert.ok(!probes.includes("10.112.0.0/32"), "inside the second CIDR: not outside");
    assert.ok(probes.includes("0.0.0.0/0") && probes.includes("8.8.8.8/32"));
    assert.deepEqual(outsideProbes("ipv4", [cidr("0.0.0.0/0")]), [], "everything allowed: nothing outside");
  });
});

const EXPORT = [
  "ip prefix-list ALLOWED seq 10 deny 10.96.0.1/32",
  "ip prefix-list ALLOWED seq 20 permit 10.96.0.0/12 ge 32",
  "route-map EXPORT permit 10",
  " match ip address prefix-list ALLOWED",
  "exit",
];
const ROUTER = [
  "router bgp 65001",
  " neighbor 192.0.2.1 remote-as 65000",
  " neighbor swp1 interface remote-as external",
  " address-family ipv4 unicast",
  "  network 10.96.0.10/32",
  "  neighbor 192.0.2.1 activate",
  "  neighbor 192.0.2.1 route-map EXPORT out",
  "  neighbor swp1 activate",
  "  neighbor swp1 route-map EXPORT out",
  " exit-address-family",
  "exit",
];
const INPUT: InvariantInput = {
  asn: "65001",
  mode: "network",
  interface: "lo",
  families: ["ipv4"],
  allowedCidrs: ["10.96.0.0/12"],
  excludedIps: ["10.96.0.1"],
  prefixes: [{ prefix: "10.96.0.10/32", family: "ipv4" }],
  neighbors: [
    { id: "192.0.2.1", isUnnumbered: false, remoteAs: "65000", ipv4: true, ipv6: false },
    { id: "swp1", isUnnumbered: true, remoteAs: "external", ipv4: true, ipv6: false },
  ],
};

void describe("checkInvariants", () => {
  const rows: { name: string; lines: string[]; input?: Partial<InvariantInput>; want: RegExp[] }[] = [
    { name: "the default shape holds every invariant", lines: [...EXPORT, ...ROUTER], want: [] },
    {
      name: "a permit-everything entry before the filter leaks",
      lines: ["route-map EXPORT permit 5", "exit", ...EXPORT, ...ROUTER],
      want: [
        /export policy route-map EXPORT out \(ipv4, neighbours 192\.0\.2\.1, swp1\) permits prefixes outside advertise\.allowedCidrs: 10\.95\.255\.255\/32 \(just below 10\.96\.0\.0\/12\).*by route-map EXPORT permit 5/,
        /permits 10\.96\.0\.1\/32, excluded by advertise\.excludedIps 10\.96\.0\.1/,
      ],
    },
    {
      name: "a prefix-list entry permitting everything leaks",
      lines: [...EXPORT, "ip prefix-list ALLOWED seq 99 permit 0.0.0.0/0 le 32", ...ROUTER],
      want: [/permits prefixes outside advertise\.allowedCidrs: 10\.95\.255\.255\/32/],
    },
    {
      name: "the excluded IP's deny removed",
      lines: [...EXPORT.filter((l) => !l.includes("deny 10.96.0.1")), ...ROUTER],
      want: [/permits 10\.96\.0\.1\/32, excluded by advertise\.excludedIps/],
    },
    {
      name: "a session without an outbound route-map",
      lines: [...EXPORT, ...ROUTER.filter((l) => l !== "  neighbor swp1 route-map EXPORT out")],
      want: [/export policy \(none\) \(ipv4, neighbour swp1\): nothing limits/],
    },
    {
      name: "a missing network line",
      lines: [...EXPORT, ...ROUTER.filter((l) => !l.includes("network"))],
      want: [/advertised 10\.96\.0\.10\/32 has no "network 10\.96\.0\.10\/32" line in address-family ipv4/],
    },
    {
      name: "an advertised prefix the export policy denies",
      lines: [...EXPORT, ...ROUTER],
      input: { prefixes: [{ prefix: "10.96.0.1/32", family: "ipv4" }] },
      want: [
        /has no "network 10\.96\.0\.1\/32"/,
        /denies the advertised 10\.96\.0\.1\/32; by prefix-list|denies the advertised 10\.96\.0\.1\/32; by implicit deny/,
      ],
    },
    {
      name: "a neighbour missing from the file",
      lines: [...EXPORT, ...ROUTER.filter((l) => !l.includes("192.0.2.1"))],
      want: [
        /incomplete: neighbour 192\.0\.2\.1 has no remote-as line/,
        /incomplete: neighbour 192\.0\.2\.1 is not activated in address-family ipv4/,
      ],
    },
    {
      name: "a wrong remote-as",
      lines: [...EXPORT, ...ROUTER.map((l) => l.replace("remote-as 65000", "remote-as 65009"))],
      want: [/neighbour 192\.0\.2\.1 has remote-as 65009, the config says 65000/],
    },
    {
      name: "no router bgp for the ASN",
      lines: [...EXPORT, ...ROUTER.map((l) => l.replace("router bgp 65001", "router bgp 65002"))],
      want: [/incomplete: no "router bgp 65001" \(found: router bgp 65002\)/],
    },
    {
      name: "peer-groups: remote-as, activate and the route-map come from the group",
      lines: [
        ...EXPORT,
        "router bgp 65001",
        " neighbor TOR peer-group",
        " neighbor TOR remote-as 65000",
        " neighbor 192.0.2.1 peer-group TOR",
        " neighbor swp1 interface peer-group TOR",
        " address-family ipv4 unicast",
        "  network 10.96.0.10/32",
        "  neighbor TOR activate",
        "  neighbor TOR route-map EXPORT out",
        " exit-address-family",
        "exit",
      ],
      input: {
        neighbors: [{ id: "192.0.2.1", isUnnumbered: false, remoteAs: "65000", ipv4: true, ipv6: false }],
      },
      want: [],
    },
  ];
  for (const row of rows) {
    void it(row.name, () => {
      const got = checkInvariants(`${row.lines.join("\n")}\n`, { ...INPUT, ...row.input });
      if (row.want.length === 0) assert.deepEqual(got, []);
      for (const re of row.want)
        assert.ok(
          got.some((p) => re.test(p)),
          `${String(re)} not in ${JSON.stringify(got, null, 1)}`,
        );
    });
  }

  void it("connected mode: the redistribution route-map must permit each advertised prefix", () => {
    const lines = [
      ...EXPORT,
      "route-map CONN permit 100",
      " match interface kube-lb",
      " match ip address prefix-list ALLOWED",
      "exit",
      ...ROUTER.map((l) => (l.includes("network") ? "  redistribute connected route-map CONN" : l)),
    ];
    const input = { ...INPUT, mode: "connected" as const, interface: "kube-lb" };
    assert.deepEqual(checkInvariants(lines.join("\n"), input), []);
    const wrongIf = checkInvariants(lines.join("\n"), { ...input, interface: "eth9" });
    assert.ok(
      wrongIf.some((p) => /redistribution route-map CONN denies it by implicit deny/.test(p)),
      JSON.stringify(wrongIf),
    );
    const none = checkInvariants(lines.filter((l) => !l.includes("redistribute")).join("\n"), input);
    assert.ok(none.some((p) => /no "redistribute connected" in address-family ipv4/.test(p)));
  });
});
