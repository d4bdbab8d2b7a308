"""The kind lab's oracle: which /32 routes must the tor have, from which nodes, and does it?

Runs inside the tor container (python3 of the FRR image, standard library only; verify.sh feeds it).
stdin: one JSON object {"nodes": <kubectl get nodes -o json>, "objects": <kubectl get services,
endpointslices -o json of the demo namespace>, "routes": <vtysh show bgp ipv4 unicast json>,
"summary": <vtysh show bgp ipv4 unicast summary json>}.

The rules are the README's ("Which prefixes, from which node"), restated independently and only as
far as the demo needs them: IPv4 ClusterIPs and LoadBalancer IPs inside the allowed CIDRs; no
ExternalName, headless or opted-out Services; a ready endpoint anywhere (or only on the node, for
externalTrafficPolicy/internalTrafficPolicy Local); nodes labelled
node.kubernetes.io/exclude-from-external-load-balancers advertise nothing.
Exit 0 when the tor's table equals that, 1 otherwise.
"""

import argparse
import ipaddress
import json
import sys

EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
DRAIN_ANNOTATION = "frr-advertiser.io/drain"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--allowed", action="append", required=True, help="an allowed CIDR (repeat)")
    args = parser.parse_args()
    data = json.load(sys.stdin)
    allowed = [ipaddress.ip_network(c) for c in args.allowed]

    nodes = read_nodes(data["nodes"])
    expected = expected_routes(data["objects"], nodes, allowed, args.namespace)
    actual = tor_routes(data["routes"])
    peers = established_peers(data["summary"])

    by_ip = {n["ip"]: name for name, n in nodes.items()}
    problems = []
    for name, node in sorted(nodes.items()):
        if node["ip"] not in peers:
            problems.append("node %s (%s) has no established BGP session with the tor" % (name, node["ip"]))
    for prefix in sorted(set(expected) | set(actual), key=sort_key):
        want, have = expected.get(prefix, set()), actual.get(prefix, set())
        if want == have:
            continue
        if not have:
            problems.append("%s missing at the tor (expected from %s)" % (prefix, names(want, by_ip)))
        elif not want:
            problems.append("%s at the tor from %s but must not be advertised" % (prefix, names(have, by_ip)))
        else:
            problems.append("%s from %s, expected from %s" % (prefix, names(have, by_ip), names(want, by_ip)))

    print("BGP sessions at the tor: %s" % (names(peers, by_ip) or "none"))
    print("%-20s %-40s %s" % ("prefix", "expected from", "at the tor from"))
    for prefix in sorted(set(expected) | set(actual), key=sort_key):
        print("%-20s %-40s %s" % (prefix, names(expected.get(prefix, set()), by_ip) or "-", names(actual.get(prefix, set()), by_ip) or "-"))
    if problems:
        print("MISMATCH:")
        for p in problems:
            print("  - " + p)
        return 1
    print("OK: the tor's routes match the healthy Services (%d prefixes)" % len(expected))
    return 0


def read_nodes(node_list):
    nodes = {}
    for item in node_list.get("items", []):
        meta = item.get("metadata", {})
        ip = next((a["address"] for a in item.get("status", {}).get("addresses", []) if a.get("type") == "InternalIP"), None)
        excluded = EXCLUDE_LABEL in (meta.get("labels") or {})
        draining = (meta.get("annotations") or {}).get(DRAIN_ANNOTATION) == "true"
        draining = draining or any(t.get("key") == "ToBeDeletedByClusterAutoscaler" for t in item.get("spec", {}).get("taints") or [])
        nodes[meta["name"]] = {"ip": ip, "advertises": ip is not None and not excluded and not draining}
    return nodes


def expected_routes(object_list, nodes, allowed, namespace):
    items = object_list.get("items", [])
    slices = {}
    for item in items:
        if item.get("kind") == "EndpointSlice" and item["metadata"].get("namespace") == namespace:
            svc = (item["metadata"].get("labels") or {}).get("kubernetes.io/service-name")
            if svc is not None and item.get("addressType") in ("IPv4", "IPv6"):
                slices.setdefault(svc, []).extend(item.get("endpoints") or [])
    advertisers = {name: n["ip"] for name, n in nodes.items() if n["advertises"]}
    expected = {}
    for item in items:
        if item.get("kind") != "Service" or item["metadata"].get("namespace") != namespace:
            continue
        spec, meta = item.get("spec", {}), item["metadata"]
        if spec.get("type") == "ExternalName" or spec.get("clusterIP") in (None, "", "None"):
            continue
        if (meta.get("annotations") or {}).get("frr-advertiser.io/advertise") == "false":
            continue
        endpoints = slices.get(meta["name"], [])
        addresses = [(ip, spec.get("internalTrafficPolicy") == "Local") for ip in spec.get("clusterIPs") or [spec["clusterIP"]]]
        if spec.get("type") == "LoadBalancer":
            local = spec.get("externalTrafficPolicy") == "Local"
            ingress = (item.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
            addresses += [(i["ip"], local) for i in ingress if i.get("ip")]
        for ip, local in addresses:
            addr = ipaddress.ip_address(ip)
            if addr.version != 4 or not any(addr in net for net in allowed):
                continue
            from_nodes = {
                node_ip for name, node_ip in advertisers.items() if healthy(endpoints, name if local else None)
            }
            if from_nodes:
                expected.setdefault("%s/32" % ip, set()).update(from_nodes)
    return expected


def healthy(endpoints, node_name):
    """A ready endpoint (unset counts as ready) in scope; else one terminating but serving."""
    scoped = [e for e in endpoints if e.get("addresses") and (node_name is None or e.get("nodeName") == node_name)]
    conditions = [e.get("conditions") or {} for e in scoped]
    if any(c.get("ready") is not False for c in conditions):
        return True
    return any(c.get("terminating") is True and c.get("serving") is not False for c in conditions)


def tor_routes(show_bgp):
    routes = {}
    for prefix, paths in (show_bgp.get("routes") or {}).items():
        for path in paths:
            if not path.get("valid"):
                continue
            hop = path.get("peerId") or next((h.get("ip") for h in path.get("nexthops") or []), None)
            if hop:
                routes.setdefault(prefix, set()).add(hop)
    return routes


def established_peers(summary):
    # `show bgp ipv4 unicast summary json`; some versions wrap it per address family.
    if "peers" not in summary:
        summary = next((v for v in summary.values() if isinstance(v, dict) and "peers" in v), {})
    return {ip.lstrip("*") for ip, p in (summary.get("peers") or {}).items() if p.get("state") == "Established"}


def names(ips, by_ip):
    return ", ".join(sorted(by_ip.get(ip, ip) for ip in ips))


def sort_key(prefix):
    return ipaddress.ip_network(prefix, strict=False)


if __name__ == "__main__":
    sys.exit(main())
