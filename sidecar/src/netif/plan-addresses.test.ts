import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { planAddresses, sortAddresses, type AddressPhase, type ExcludedAddresses } from "./plan-addresses.js";

interface Case {
  readonly name: string;
  readonly desired: string[];
  readonly present: string[];
  readonly owned: string[];
  readonly excluded?: ExcludedAddresses;
  readonly phase?: AddressPhase;
  readonly add: string[];
  readonly remove: string[];
  readonly ownedAfter: string[];
}

const FOREIGN = "192.0.2.99"; // an address some other tool put on the interface

const cases: Case[] = [
  {
    name: "fresh start: everything desired is added and becomes owned",
    desired: ["fd00::7", "10.0.0.7", "10.0.0.8"],
    present: [],
    owned: [],
    add: ["10.0.0.7", "10.0.0.8", "fd00::7"],
    remove: [],
    ownedAfter: ["10.0.0.7", "10.0.0.8", "fd00::7"],
  },
  {
    name: "restart after SIGKILL: owned from the state file, already present → nothing to do",
    desired: ["10.0.0.7", "fd00::7"],
    present: ["10.0.0.7", "fd00::7", FOREIGN],
    owned: ["10.0.0.7", "fd00::7"],
    add: [],
    remove: [],
    ownedAfter: ["10.0.0.7", "fd00::7"],
  },
  {
    name: "restart after SIGKILL between add and final save: the intent-owned extra is removed",
    desired: ["10.0.0.7"],
    present: ["10.0.0.7", "10.0.0.8"],
    owned: ["10.0.0.7", "10.0.0.8"],
    add: [],
    remove: ["10.0.0.8"],
    ownedAfter: ["10.0.0.7"],
  },
  {
    name: "foreign address equal to a desired one: not added, stays un-owned",
    desired: ["10.0.0.7", FOREIGN],
    present: [FOREIGN],
    owned: [],
    add: ["10.0.0.7"],
    remove: [],
    ownedAfter: ["10.0.0.7"],
  },
  {
    name: "…and when that service goes away the foreign address is still not removed",
    desired: [],
    present: ["10.0.0.7", FOREIGN],
    owned: ["10.0.0.7"],
    add: [],
    remove: ["10.0.0.7"],
    ownedAfter: [],
  },
  {
    name: "foreign address not desired: untouched",
    desired: ["10.0.0.7"],
    present: ["10.0.0.7", FOREIGN, "2001:db8::99"],
    owned: ["10.0.0.7"],
    add: [],
    remove: [],
    ownedAfter: ["10.0.0.7"],
  },
  {
    name: "excluded IP owned earlier: not removed, still owned (cleaned up once no longer excluded)",
    desired: [],
    present: ["10.0.0.7", "10.0.0.8"],
    owned: ["10.0.0.7", "10.0.0.8"],
    excluded: ["10.0.0.8"],
    add: [],
    remove: ["10.0.0.7"],
    ownedAfter: ["10.0.0.8"],
  },
  {
    name: "excluded IP desired: never added (a CIDR entry, host bits masked)",
    desired: ["10.0.0.7", "10.9.9.9"],
    present: [],
    owned: [],
    excluded: ["10.9.9.1/24"],
    add: ["10.0.0.7"],
    remove: [],
    ownedAfter: ["10.0.0.7"],
  },
  {
    name: "excluded as a predicate",
    desired: ["fd00::7", "fd00::8"],
    present: ["fd00::9"],
    owned: ["fd00::9"],
    excluded: (a) => a === "fd00::8" || a === "fd00::9",
    add: ["fd00::7"],
    remove: [],
    ownedAfter: ["fd00::7", "fd00::9"],
  },
  {
    name: "drain: desired empty → remove all owned, nothing else",
    desired: [],
    present: ["10.0.0.7", "fd00::7", FOREIGN, "2001:db8::99"],
    owned: ["10.0.0.7", "fd00::7"],
    add: [],
    remove: ["10.0.0.7", "fd00::7"],
    ownedAfter: [],
  },
  {
    name: "owned address deleted by someone else: re-added while desired",
    desired: ["10.0.0.7"],
    present: [],
    owned: ["10.0.0.7"],
    add: ["10.0.0.7"],
    remove: [],
    ownedAfter: ["10.0.0.7"],
  },
  {
    name: "owned address vanished and no longer desired: forgotten",
    desired: [],
    present: [],
    owned: ["10.0.0.7"],
    add: [],
    remove: [],
    ownedAfter: [],
  },
  {
    name: "owned, vanished, desired but excluded: forgotten (a later foreign copy must not look like ours)",
    desired: ["10.0.0.7"],
    present: [],
    owned: ["10.0.0.7"],
    excluded: ["10.0.0.7"],
    add: [],
    remove: [],
    ownedAfter: [],
  },
  {
    name: "phase add: adds only, the undesired owned address is kept (and still owned)",
    desired: ["10.0.0.8"],
    present: ["10.0.0.7"],
    owned: ["10.0.0.7"],
    phase: "add",
    add: ["10.0.0.8"],
    remove: [],
    ownedAfter: ["10.0.0.7", "10.0.0.8"],
  },
  {
    name: "phase remove: removes only, the missing desired address is not added",
    desired: ["10.0.0.8"],
    present: ["10.0.0.7"],
    owned: ["10.0.0.7"],
    phase: "remove",
    add: [],
    remove: ["10.0.0.7"],
    ownedAfter: [],
  },
  {
    name: "non-canonical inputs are canonicalised (and so compare equal)",
    desired: ["FD00:0:0::7", "fd00::8"],
    present: ["fd00::7"],
    owned: ["fd00:0::7"],
    add: ["fd00::8"],
    remove: [],
    ownedAfter: ["fd00::7", "fd00::8"],
  },
  {
    name: "sorted output: IPv4 first, numerically, not lexically",
    desired: ["fd00::10", "10.0.0.10", "fd00::9", "10.0.0.9", "9.0.0.1"],
    present: [],
    owned: [],
    add: ["9.0.0.1", "10.0.0.9", "10.0.0.10", "fd00::9", "fd00::10"],
    remove: [],
    ownedAfter: ["9.0.0.1", "10.0.0.9", "10.0.0.10", "fd00::9", "fd00::10"],
  },
];

void describe("planAddresses", () => {
  for (const c of cases) {
    void test(c.name, () => {
      const plan = planAddresses({
        desired: new Set(c.desired),
        present: new Set(c.present),
        owned: new Set(c.owned),
        ...(c.excluded === undefined ? {} : { excluded: c.excluded }),
        ...(c.phase === undefined ? {} : { phase: c.phase }),
      });
      assert.deepEqual(plan, { add: c.add, remove: c.remove, owned: c.ownedAfter });
    });
  }

  void test("never removes an address it does not own, whatever the inputs", () => {
    const present = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::1", "fd00::2"];
    for (let mask = 0; mask < 1 << present.length; mask++) {
      const owned = present.filter((_, i) => (mask >> i) & 1);
      const plan = planAddresses({ desired: [], present, owned });
      for (const address of plan.remove) assert.ok(owned.includes(address), address);
      assert.deepEqual(plan.remove, owned);
    }
  });

  void test("a restart is idempotent: re-planning with the outcome changes nothing", () => {
    const first = planAddresses({ desired: ["10.0.0.7", "fd00::7"], present: [FOREIGN], owned: [] });
    const present = [FOREIGN, ...first.add];
    const second = planAddresses({ desired: ["10.0.0.7", "fd00::7"], present, owned: first.owned });
    assert.deepEqual(second, { add: [], remove: [], owned: first.owned });
  });

  void test("rejects inputs that are not addresses (a caller bug, never a guess)", () => {
    assert.throws(
      () => planAddresses({ desired: ["10.0.0.7/32"], present: [], owned: [] }),
      /desired address/,
    );
    assert.throws(() => planAddresses({ desired: [], present: ["lo"], owned: [] }), /present address/);
    assert.throws(() => planAddresses({ desired: [], present: [], owned: ["10.0.0.07"] }), /owned address/);
    assert.throws(
      () => planAddresses({ desired: [], present: [], owned: [], excluded: ["10.0.0.0/33"] }),
      /excluded entry/,
    );
  });

  void test("sortAddresses dedups canonical forms", () => {
    assert.deepEqual(sortAddresses(["fd00::1", "FD00:0::1", "1.2.3.4"]), ["1.2.3.4", "fd00::1"]);
  });
});
