// PURE: which of the configured BGP neighbours this node peers with. Racks with different ToRs fit
// one release: a neighbour may name its nodes, select them by label, or (neither) apply everywhere.

import { matchesSelector } from "./label-selector.js";
import type { LabelRequirement } from "./policy.js";
import type { NodeSnapshot } from "./snapshot.js";

/** A neighbour's id: its address (numbered) or interface (unnumbered), as configured. One rule. */
export function neighborId(n: {
  readonly address?: string | undefined;
  readonly interface?: string | undefined;
}): string {
  return n.address ?? n.interface ?? "";
}

export interface NeighborScope {
  /** The neighbour's address or interface, as configured. */
  readonly id: string;
  /** Only these nodes (by name); undefined = every node. */
  readonly nodes: readonly string[] | undefined;
  /** Only nodes whose labels match; undefined = every node. */
  readonly nodeSelector: readonly LabelRequirement[] | undefined;
}

/**
 * The ids of the neighbours that apply to this node, in configured order. A neighbour with a
 * nodeSelector needs the Node's labels: while the Node object is unknown it is left out (the node
 * advertises nothing then anyway), and an unconditional neighbour is always in.
 */
export function neighborsForNode(
  policy: { readonly nodeName: string; readonly neighborScopes: readonly NeighborScope[] },
  node: NodeSnapshot | undefined,
): string[] {
  const { nodeName, neighborScopes: scopes } = policy;
  return scopes
    .filter((s) => s.nodes === undefined || s.nodes.includes(nodeName))
    .filter(
      (s) =>
        s.nodeSelector === undefined || (node !== undefined && matchesSelector(node.labels, s.nodeSelector)),
    )
    .map((s) => s.id);
}
