// A fake `ip` for unit tests: an in-memory interface that answers `ip -j address show dev X` and
// `ip -force -batch -` the way iproute2 6.1 does (errors as "Error: …" + "Command failed -:N").

import type { Runner, RunResult } from "../exec.js";

export interface FakeCall {
  readonly argv: readonly string[];
  readonly input: string | undefined;
}

const LINE = /^address (add|del) (\S+)\/(32|128) dev (\S+)( nodad)?$/;

export class FakeIp {
  readonly calls: FakeCall[] = [];
  /** "address/len" strings on the interface, as the kernel would hold them. */
  readonly addresses = new Set<string>();
  /** Extra addr_info entries (link-local, /8, …) to include in listings. */
  readonly extraInfo: object[] = [];
  /** Make the next batch fail these addresses (as if the kernel refused them). */
  readonly refuse = new Set<string>();

  constructor(readonly iface = "lo") {}

  readonly run: Runner = (argv, options = {}) => {
    const input = options.input;
    this.calls.push({ argv, input });
    if (argv.join(" ") === `ip -j address show dev ${this.iface}`) return Promise.resolve(this.#list());
    if (argv.join(" ") === "ip -force -batch -") return Promise.resolve(this.#batch(input ?? ""));
    return Promise.resolve({ stdout: "", stderr: `fake ip: unexpected ${argv.join(" ")}`, exitCode: 255 });
  };

  batchCalls(): FakeCall[] {
    return this.calls.filter((c) => c.argv.includes("-batch"));
  }

  #list(): RunResult {
    const info = [...this.addresses].map((text) => {
      const [local = "", len = ""] = text.split("/");
      return {
        family: local.includes(":") ? "inet6" : "inet",
        local,
        prefixlen: Number(len),
        scope: "global",
      };
    });
    const link = { ifindex: 1, ifname: this.iface, addr_info: [...this.extraInfo, ...info] };
    return { stdout: JSON.stringify([link]), stderr: "", exitCode: 0 };
  }

  #batch(input: string): RunResult {
    const errors: string[] = [];
    input
      .split("\n")
      .slice(0, -1)
      .forEach((line, i) => {
        const error = this.#apply(line);
        if (error !== undefined) errors.push(`Error: ${error}`, `Command failed -:${i + 1}`);
      });
    return { stdout: "", stderr: errors.map((e) => `${e}\n`).join(""), exitCode: errors.length > 0 ? 1 : 0 };
  }

  #apply(line: string): string | undefined {
    const m = LINE.exec(line);
    if (m === null) return `fake ip: cannot parse "${line}"`;
    const [, op, address = "", len, dev] = m;
    if (dev !== this.iface) return `Device "${dev}" does not exist.`;
    if (this.refuse.has(address)) return "RTNETLINK answers: Operation not permitted";
    const key = `${address}/${len}`;
    if (op === "add") {
      if (this.addresses.has(key)) return "ipv4: Address already assigned.";
      this.addresses.add(key);
      return undefined;
    }
    if (!this.addresses.delete(key)) return "ipv4: Address not found.";
    return undefined;
  }
}
