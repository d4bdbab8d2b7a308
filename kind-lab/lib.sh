# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts sourcing this file
# Shared by up.sh, verify.sh and down.sh: names, addresses and small helpers of the kind lab.
# Every setting can be overridden from the environment.

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$LAB_DIR/.." && pwd)"

CLUSTER_NAME="${CLUSTER_NAME:-frr-lab}"
KUBE_CONTEXT="kind-${CLUSTER_NAME}"
# The top-of-rack router: an FRR container on kind's docker network.
TOR_NAME="${TOR_NAME:-${CLUSTER_NAME}-tor}"
TOR_ASN="${TOR_ASN:-64500}"
KIND_NETWORK="${KIND_NETWORK:-kind}"
# The sidecar image built from this checkout, and where the chart goes.
IMAGE_REPOSITORY="frr-advertiser"
IMAGE_TAG="${IMAGE_TAG:-lab}"
RELEASE_NAME="${RELEASE_NAME:-frr-advertiser}"
RELEASE_NAMESPACE="${RELEASE_NAMESPACE:-frr-system}"
DEMO_NAMESPACE="frr-lab-demo"
# Must match kind-config.yaml (serviceSubnet) and values-lab.yaml (allowedCidrs); the LoadBalancer
# pool is a documentation range (RFC 5737) that exists only inside the lab.
SERVICE_CIDR="10.96.0.0/16"
LB_POOL="198.51.100.0/24"

# One image for everything FRR: the DaemonSet's two containers and the tor all run the image
# built from this checkout (Debian 13's FRR; its release is the Dockerfile's FRR_VERSION).
FRR_VERSION="$(sed -n 's/^ARG FRR_VERSION=//p' "$REPO_DIR/Dockerfile")"
FRR_IMAGE="${IMAGE_REPOSITORY}:${IMAGE_TAG}"

log() { printf '\033[1m[kind-lab]\033[0m %s\n' "$*" >&2; }
die() {
  printf '\033[31m[kind-lab] error:\033[0m %s\n' "$*" >&2
  exit 1
}

# require_tools TOOL…: stops with install hints when a tool is missing.
require_tools() {
  local missing=() tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) && return 0
  for tool in "${missing[@]}"; do
    case "$tool" in
      docker) log "docker: https://docs.docker.com/engine/install/ (the daemon must be running)" ;;
      kind) log "kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation (v0.20 or later)" ;;
      kubectl) log "kubectl: https://kubernetes.io/docs/tasks/tools/ (1.24 or later: --subresource)" ;;
      helm) log "helm: https://helm.sh/docs/intro/install/ (3.10 or later: --set-json)" ;;
    esac
  done
  die "missing: ${missing[*]}"
}

require_docker_daemon() {
  docker info >/dev/null 2>&1 || die "docker is installed but its daemon does not answer (is it running? may this user use it?)"
}

cluster_exists() {
  kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"
}

kube() {
  kubectl --context "$KUBE_CONTEXT" "$@"
}

container_state() {
  docker inspect -f '{{.State.Status}}' "$1" 2>/dev/null || echo absent
}

tor_ip() {
  docker inspect -f "{{with index .NetworkSettings.Networks \"$KIND_NETWORK\"}}{{.IPAddress}}{{end}}" "$TOR_NAME"
}
