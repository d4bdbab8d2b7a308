// The YAML config file's schema: every key, its type, default and limits, in one place.
// Unknown keys are errors (strict objects) so that typos never pass silently.

// A namespace import, not `import { z }`: esbuild then keeps only the zod functions used here
// (the bundle drops zod's locales and JSON-schema code, ≈ 4 MB RSS; tests/image checks it).
import * as z from "zod";
import { parseCidr, parseIp, parseIpOrCidr } from "../model/ip.js";
import { parseLabelSelector } from "../model/label-selector.js";
import { DEFAULT_MAX_WEIGHT } from "../model/policy.js";
import { MAX_LINK_BANDWIDTH } from "../model/weighted-ecmp.js";
import { SHAPE } from "../render/guard.js";

const asn = z.number().int().min(1).max(4294967295);
/** Linux interface names: what reaches frr.conf must be a single safe token (the renderer's rule). */
const interfaceName = z
  .string()
  .regex(SHAPE.interfaceName, "must be a Linux interface name (1-15 of A-Z a-z 0-9 _ . : -)");
const ipAddress = z.string().refine((s) => parseIp(s).ok, "must be an IP address");
const ipv4Address = z.string().refine((s) => {
  const r = parseIp(s);
  return r.ok && r.value.family === "ipv4";
}, "must be an IPv4 address");
// The model's own strict parsers: what passes here is exactly what the rules can read
// (general-purpose parsers accept 10.0.0.01 or 0x0a.0.0.1).
const cidrOrIp = z
  .string()
  .refine((s) => parseIpOrCidr(s, "mask").ok, "must be an IP address or CIDR (dotted decimal / RFC 5952)");
const cidr = z
  .string()
  .refine((s) => s.includes("/") && parseCidr(s, "mask").ok, "must be a CIDR like 10.96.0.0/12 or fd00::/64");
const family = z.enum(["ipv4", "ipv6"]);
/**
 * A Kubernetes label selector string, checked where it is written: its problem is then reported
 * together with every other problem of the file, not after them.
 */
const labelSelector = z.string().superRefine((s, ctx) => {
  const r = parseLabelSelector(s);
  if (!r.ok) ctx.addIssue({ code: "custom", message: r.error });
});
/** One rule for a Kubernetes node name (nodeName, NODE_NAME, neighbours' nodes). */
export const NODE_NAME_RULE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const nodeName = z.string().regex(NODE_NAME_RULE, "must be a Kubernetes node name");
const remoteAs = z.union([asn, z.enum(["internal", "external"])]);
const path = z
  .string()
  .min(1)
  .regex(/^[^\n\r\0]+$/, "must be a path");

const neighbor = z
  .strictObject({
    /** Numbered session: the peer's address. */
    address: ipAddress.optional(),
    /** BGP unnumbered: the interface to peer over (IPv6 link-local, extended-nexthop). */
    interface: interfaceName.optional(),
    remoteAs,
    description: z
      .string()
      .regex(/^[A-Za-z0-9_.:@ -]{1,80}$/, "must be 1-80 of letters, digits, space, _ . : @ -")
      .optional(),
    families: z.array(family).min(1).optional(),
    bfd: z.boolean().default(false),
    gracefulRestart: z.boolean().default(false),
    /** File holding the TCP-MD5 password (a mounted Secret); read at start, never logged. */
    passwordFile: path.optional(),
    ebgpMultihop: z.number().int().min(1).max(255).optional(),
    timers: z
      .strictObject({
        keepalive: z.number().int().min(0).max(65535),
        hold: z.number().int().min(0).max(65535),
      })
      .optional(),
    /** Only these nodes peer with this neighbour (racks with different ToRs in one release). */
    nodes: z.array(nodeName).min(1).optional(),
    /** Only nodes whose labels match this selector (`topology.kubernetes.io/zone=rack-1`). */
    nodeSelector: labelSelector.optional(),
  })
  .refine((n) => (n.address === undefined) !== (n.interface === undefined), {
    message: "set exactly one of address (numbered) or interface (unnumbered)",
  });

export const configSchema = z.strictObject({
  /** This node's name; the NODE_NAME environment variable wins (downward API). */
  nodeName: nodeName.optional(),
  bgp: z.strictObject({
    asn,
    routerId: ipv4Address.optional(),
    /** Hostname written into frr.conf; defaults to the node name. */
    hostname: z
      .string()
      .regex(/^[A-Za-z0-9.-]{1,63}$/, "must be a hostname")
      .optional(),
    families: z.array(family).min(1).default(["ipv4", "ipv6"]),
    neighbors: z.array(neighbor).default([]),
    /** Global `bgp graceful-restart` (off: FRR issue 22953 — restarts on reload). */
    gracefulRestart: z.boolean().default(false),
  }),
  advertise: z.strictObject({
    /** network | connected | auto (auto: connected if `interface` is not lo, else network; see README). */
    mode: z.enum(["network", "connected", "auto"]).default("auto"),
    /** Where service addresses are kept (the seed used lo). */
    interface: interfaceName.default("lo"),
    /**
     * Network mode: keep each service IP as a kernel `local` route through the interface (table
     * local, proto 250) instead of an address on it. Same local delivery; 10× cheaper to add and
     * remove at 10k (ADR 0021). Off: addresses, shown by `ip address`.
     */
    localRoutes: z.boolean().default(false),
    /** Network namespace of that interface (`ip -n`); "" = our own. For labs where FRR runs in a netns. */
    netns: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{0,64}$/, "must be a network namespace name")
      .default(""),
    /** Where the set of addresses we added is recorded, so a restart never touches others' addresses. */
    stateFile: path.default("/var/lib/frr-advertiser/addresses.json"),
    addressKinds: z
      .strictObject({
        clusterIP: z.boolean().default(true),
        loadBalancer: z.boolean().default(true),
        /** Off by default: CVE-2020-8554, anyone who can edit a Service could hijack traffic. */
        externalIP: z.boolean().default(false),
      })
      .default({ clusterIP: true, loadBalancer: true, externalIP: false }),
    allowedCidrs: z.array(cidr).min(1, "list at least one CIDR that service IPs may be advertised from"),
    excludedIps: z.array(cidrOrIp).default([]),
    namespaces: z
      .strictObject({ include: z.array(z.string()).default([]), exclude: z.array(z.string()).default([]) })
      .default({ include: [], exclude: [] }),
    /** Kubernetes label selector string, e.g. "expose!=false,tier in (web,api)". */
    serviceSelector: labelSelector.default(""),
    /**
     * Weighted ECMP for Local traffic policies: announce with a link-bandwidth weight equal to the
     * local endpoints (bounded by maxWeight). The Service annotation weighted-ecmp overrides enabled.
     */
    weightedEcmp: z
      .strictObject({
        enabled: z.boolean().default(false),
        maxWeight: z.number().int().min(1).max(MAX_LINK_BANDWIDTH).default(DEFAULT_MAX_WEIGHT),
      })
      .default({ enabled: false, maxWeight: DEFAULT_MAX_WEIGHT }),
  }),
  node: z
    .strictObject({
      /** Withdraw everything while the Node is cordoned (spec.unschedulable). */
      withdrawWhenUnschedulable: z.boolean().default(false),
      /** Operator's drain switch (env DRAIN=true also sets it). */
      drain: z.boolean().default(false),
    })
    .default({ withdrawWhenUnschedulable: false, drain: false }),
  frr: z
    .strictObject({
      templateDir: path.default("frr-templates"),
      configFile: path.default("/etc/frr/frr.conf"),
      vtysh: path.default("/usr/bin/vtysh"),
      reloadScript: path.default("/usr/lib/frr/frr-reload.py"),
      /** FRR's state directory (pid files, vty sockets); the pathspace is appended. */
      runDir: path.default("/var/run/frr"),
      /** FRR pathspace (-N), for several FRR instances on one host (tests, labs). */
      pathspace: z
        .string()
        .regex(/^[A-Za-z0-9_-]{0,32}$/)
        .default(""),
      /**
       * How prefix-only deltas reach bgpd: "vty" keeps one connection to bgpd's vty socket (no
       * process per change); "vtysh" runs one `vtysh -f` per delta. Both apply the same lines.
       */
      deltaTransport: z.enum(["vty", "vtysh"]).default("vty"),
      /** frr.conf `log` level. */
      logLevel: z
        .enum([
          "emergencies",
          "alerts",
          "critical",
          "errors",
          "warnings",
          "notifications",
          "informational",
          "debugging",
        ])
        .default("informational"),
    })
    .default({
      templateDir: "frr-templates",
      configFile: "/etc/frr/frr.conf",
      vtysh: "/usr/bin/vtysh",
      reloadScript: "/usr/lib/frr/frr-reload.py",
      runDir: "/var/run/frr",
      pathspace: "",
      deltaTransport: "vty",
      logLevel: "informational",
    }),
  timings: z
    .strictObject({
      batchWindowMs: z.number().int().min(0).max(10000).default(50),
      resyncIntervalSeconds: z.number().min(1).max(86400).default(60),
      reloadTimeoutSeconds: z.number().min(1).max(3600).default(120),
      shutdownTimeoutSeconds: z.number().min(1).max(600).default(20),
      /** How often FRR's running config is compared with frr.conf (frr-reload.py --test); 0 = never. */
      driftCheckIntervalSeconds: z.number().min(0).max(86400).default(300),
      /** Network mode: how long an address stays after FRR was told to withdraw its route. */
      withdrawGraceMs: z.number().int().min(0).max(60000).default(1000),
      /** How often FRR's daemons are checked for a restart. */
      frrPollIntervalMs: z.number().int().min(50).max(60000).default(500),
      /** How often BGP session state and prefixes sent are read from FRR for /metrics. */
      sessionPollSeconds: z.number().min(1).max(3600).default(10),
      /**
       * Read-back: how often what bgpd sends each established peer is compared with what should
       * be announced (also once applies pause); 0 = never.
       */
      announcementCheckSeconds: z.number().min(0).max(3600).default(10),
      /** A prefix missing at a peer for this long is repaired (announcements take ≈ 0.1 s). */
      announcementStuckMs: z.number().int().min(500).max(600000).default(3000),
      /**
       * After applies, once quiet this long (at the latest a minute after the first), a
       * memory-reducing collection gives the JS heap's emptied pages back; 0 = never.
       */
      memoryTrimSeconds: z.number().min(0).max(3600).default(5),
    })
    .default({
      batchWindowMs: 50,
      resyncIntervalSeconds: 60,
      reloadTimeoutSeconds: 120,
      shutdownTimeoutSeconds: 20,
      driftCheckIntervalSeconds: 300,
      withdrawGraceMs: 1000,
      frrPollIntervalMs: 500,
      sessionPollSeconds: 10,
      announcementCheckSeconds: 10,
      announcementStuckMs: 3000,
      memoryTrimSeconds: 5,
    }),
  templates: z
    .strictObject({
      /**
       * false: a template or config change that would restart an existing BGP session (see
       * `frr-advertiser diff`) is refused, and the last good config stays.
       */
      allowSessionReset: z.boolean().default(true),
    })
    .default({ allowSessionReset: true }),
  safety: z
    .strictObject({
      /**
       * A pass that would withdraw more than `maxWithdrawShare` of the node's advertised prefixes
       * (and at least `minWithdrawals`) for a reason other than endpoint health or a drain of this
       * node holds them for `holdSeconds`, and applies only if the state is still the same then.
       */
      withdrawalBreaker: z
        .strictObject({
          enabled: z.boolean().default(true),
          maxWithdrawShare: z.number().min(0).max(1).default(0.5),
          minWithdrawals: z.number().int().min(1).max(1_000_000).default(10),
          holdSeconds: z.number().min(1).max(86400).default(120),
        })
        .default({ enabled: true, maxWithdrawShare: 0.5, minWithdrawals: 10, holdSeconds: 120 }),
      /**
       * On SIGTERM and node drain: re-announce every prefix with the GRACEFUL_SHUTDOWN community
       * (RFC 8326; local-preference 0 towards iBGP peers), wait `waitSeconds`, then withdraw.
       */
      gracefulShutdown: z
        .strictObject({
          enabled: z.boolean().default(true),
          waitSeconds: z.number().min(0).max(300).default(5),
        })
        .default({ enabled: true, waitSeconds: 5 }),
      /**
       * Withdrawals always go at once; a Service whose announcement went away more than
       * `maxFlaps` times in `windowSeconds` is re-announced only after it wanted announcing
       * without a break for a backoff (`baseBackoffSeconds`, doubling per further flap, capped).
       */
      flapDamping: z
        .strictObject({
          enabled: z.boolean().default(true),
          maxFlaps: z.number().int().min(1).max(1000).default(5),
          windowSeconds: z.number().min(1).max(86400).default(60),
          baseBackoffSeconds: z.number().min(0).max(3600).default(10),
          maxBackoffSeconds: z.number().min(0).max(86400).default(300),
        })
        .default({
          enabled: true,
          maxFlaps: 5,
          windowSeconds: 60,
          baseBackoffSeconds: 10,
          maxBackoffSeconds: 300,
        }),
    })
    .default({
      withdrawalBreaker: { enabled: true, maxWithdrawShare: 0.5, minWithdrawals: 10, holdSeconds: 120 },
      gracefulShutdown: { enabled: true, waitSeconds: 5 },
      flapDamping: {
        enabled: true,
        maxFlaps: 5,
        windowSeconds: 60,
        baseBackoffSeconds: 10,
        maxBackoffSeconds: 300,
      },
    }),
  server: z
    .strictObject({
      address: ipAddress.default("0.0.0.0"),
      port: z.number().int().min(0).max(65535).default(9479),
      /**
       * /readyz also waits until at least one BGP session is Established (when neighbours are
       * configured): a rolling update then never takes the next node down before this one peers.
       */
      readyRequiresEstablishedSession: z.boolean().default(false),
    })
    .default({ address: "0.0.0.0", port: 9479, readyRequiresEstablishedSession: false }),
  log: z
    .strictObject({ level: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).default("info") })
    .default({ level: "info" }),
});

export type ConfigFile = z.infer<typeof configSchema>;
export type NeighborConfig = z.infer<typeof neighbor>;
