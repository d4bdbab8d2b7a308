import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  cidrContains,
  compareIps,
  familyOfText,
  hostPrefix,
  hostPrefixesOf,
  parseCidr,
  parseIp,
  parseIpOrCidr,
  type IpAddress,
} from "./ip.js";

function ip(text: string): IpAddress {
  const parsed = parseIp(text);
  if (!parsed.ok) throw new Error(`test setup: ${text}: ${parsed.error}`);
  return parsed.value;
}

void describe("parseIp accepts plain addresses and canonicalises them", () => {
  const cases: [input: string, family: "ipv4" | "ipv6", canonical: string][] = [
    ["10.0.0.7", "ipv4", "10.0.0.7"],
    ["0.0.0.0", "ipv4", "0.0.0.0"],
    ["255.255.255.255", "ipv4", "255.255.255.255"],
    ["FD00:0::7", "ipv6", "fd00::7"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "ipv6", "2001:db8::1"],
    ["2001:DB8:0:0:1:0:0:1", "ipv6", "2001:db8::1:0:0:1"], // tie: the first run is compressed
    ["1:0:0:2:0:0:0:3", "ipv6", "1:0:0:2::3"], // the longest run is compressed
    ["1:2:3:4:5:6:7::", "ipv6", "1:2:3:4:5:6:7:0"], // a single zero group is not compressed
    ["::", "ipv6", "::"],
    ["0:0:0:0:0:0:0:1", "ipv6", "::1"],
    ["1::", "ipv6", "1::"],
    ["64:ff9b::192.0.2.1", "ipv6", "64:ff9b::c000:201"],
  ];
  for (const [input, family, canonical] of cases) {
    void test(input, () => {
      const parsed = parseIp(input);
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
      assert.equal(parsed.value.family, family);
      assert.equal(parsed.value.text, canonical);
    });
  }
});

void describe("parseIp refuses anything ambiguous or decorated", () => {
  const cases: [input: string, why: RegExp][] = [
    ["", /plain/],
    [" 10.0.0.1", /plain/],
    ["10.0.0.1 ", /plain/],
    ["10.0.0.1\n", /plain/],
    ["10.0.0.01", /leading zero/],
    ["010.0.0.1", /leading zero/],
    ["10.0.0", /four decimal octets/],
    ["10.1", /four decimal octets/],
    ["167772161", /four decimal octets/],
    ["10.0.0.256", /0\.\.255/],
    ["0x0a.0.0.1", /plain/],
    ["١٠.0.0.1", /plain/],
    ["10.0.0.1/32", /plain/],
    ["fe80::1%eth0", /zone/],
    ["[::1]", /plain/],
    ["1::2::3", /only once/],
    ["1:2:3:4:5:6:7:8:9", /eight/],
    ["1:2:3:4:5:6:7", /eight/],
    ["1:2:3:4::5:6:7:8", /eight/],
    ["12345::", /hex digits/],
    [":1::", /hex digits/],
    ["1:::2", /hex digits/],
    ["1.2.3.4::", /hex digits/],
    ["::1.2.3.4:5", /hex digits/],
    ["::ffff:10.0.0.1", /IPv4-mapped/],
    ["::FFFF:a00:1", /IPv4-mapped/],
  ];
  for (const [input, why] of cases) {
    void test(JSON.stringify(input), () => {
      const parsed = parseIp(input);
      assert.equal(parsed.ok, false);
      assert.match(parsed.error, why);
    });
  }
});

void describe("parseCidr", () => {
  const cases: [input: string, hostBits: "reject" | "mask", expected: string | RegExp][] = [
    ["10.96.0.0/12", "reject", "10.96.0.0/12"],
    ["FD00::/8", "reject", "fd00::/8"],
    ["0.0.0.0/0", "reject", "0.0.0.0/0"],
    ["::/0", "reject", "::/0"],
    ["10.0.0.5/32", "reject", "10.0.0.5/32"],
    ["10.0.0.1/8", "reject", /host bits are set \(want 10\.0\.0\.0\/8\)/],
    ["10.0.0.1/8", "mask", "10.0.0.0/8"],
    ["fd00::1/64", "mask", "fd00::/64"],
    ["10.0.0.0/33", "reject", /0\.\.32/],
    ["::/129", "reject", /0\.\.128/],
    ["10.0.0.0/08", "reject", /prefix length/],
    ["10.0.0.0/", "reject", /prefix length/],
    ["10.0.0.0/+8", "reject", /prefix length/],
    ["10.0.0.0", "reject", /address\/length/],
    ["10.0.0.0/8/8", "reject", /address\/length/],
    ["10.0.0.00/8", "reject", /leading zero/],
  ];
  for (const [input, hostBits, expected] of cases) {
    void test(`${input} (${hostBits})`, () => {
      const parsed = parseCidr(input, hostBits);
      if (typeof expected === "string") {
        assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
        assert.equal(parsed.value.text, expected);
      } else {
        assert.equal(parsed.ok, false);
        assert.match(parsed.error, expected);
      }
    });
  }

  void test("parseIpOrCidr turns a bare address into its host prefix", () => {
    const v4 = parseIpOrCidr("10.0.0.5");
    const v6 = parseIpOrCidr("FD00:0::7");
    assert.ok(v4.ok && v6.ok);
    assert.equal(v4.value.text, "10.0.0.5/32");
    assert.equal(v6.value.text, "fd00::7/128");
  });
});

void describe("cidrContains", () => {
  const cases: [cidr: string, address: string, inside: boolean][] = [
    ["10.96.0.0/12", "10.96.0.1", true],
    ["10.96.0.0/12", "10.111.255.255", true],
    ["10.96.0.0/12", "10.112.0.0", false],
    ["10.96.0.0/12", "10.95.255.255", false],
    ["0.0.0.0/0", "203.0.113.9", true],
    ["10.0.0.5/32", "10.0.0.5", true],
    ["10.0.0.5/32", "10.0.0.6", false],
    ["fd00::/8", "fd12::1", true],
    ["fd00::/8", "fe00::1", false],
    ["::/0", "10.0.0.1", false], // never across families
    ["0.0.0.0/0", "::1", false],
  ];
  for (const [cidr, address, inside] of cases) {
    void test(`${cidr} ∋ ${address} = ${inside}`, () => {
      const parsed = parseCidr(cidr);
      assert.ok(parsed.ok);
      assert.equal(cidrContains(parsed.value, ip(address)), inside);
    });
  }
});

void test("hostPrefix gives /32 and /128 in canonical form", () => {
  assert.equal(hostPrefix(ip("10.0.0.7")), "10.0.0.7/32");
  assert.equal(hostPrefix(ip("FD00:0::7")), "fd00::7/128");
});

void test("hostPrefixesOf gives the same prefix and family as hostPrefix for canonical texts", () => {
  const addresses = ["10.0.0.7", "FD00:0::7", "::", "0.0.0.0"].map((t) => ip(t));
  assert.deepEqual(
    [...hostPrefixesOf(addresses.map((a) => a.text))],
    addresses.map((a) => ({ prefix: hostPrefix(a), family: a.family })),
  );
});

void test("compareIps sorts IPv4 before IPv6, then numerically (not as text)", () => {
  const sorted = ["fd00::1", "10.0.0.10", "::1", "10.0.0.9", "9.255.255.255", "fd00::"]
    .map(ip)
    .sort(compareIps);
  assert.deepEqual(
    sorted.map((a) => a.text),
    ["9.255.255.255", "10.0.0.9", "10.0.0.10", "::1", "fd00::", "fd00::1"],
  );
});

void test("familyOfText names the family of a valid address or prefix text", () => {
  for (const [text, family] of [
    ["10.0.0.1", "ipv4"],
    ["10.0.0.1/32", "ipv4"],
    ["2001:db8::1", "ipv6"],
    ["2001:db8::1/128", "ipv6"],
    ["::", "ipv6"],
  ] as const)
    assert.equal(familyOfText(text), family, text);
});
