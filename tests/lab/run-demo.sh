#!/usr/bin/env bash
# `npm run lab`: installs FRR if missing (Debian 12, root), then runs the network-namespace demo.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ $EUID -ne 0 ]]; then
  echo "npm run lab needs root (network namespaces, FRR daemons)" >&2
  exit 1
fi
if ! dpkg -s frr frr-pythontools >/dev/null 2>&1; then
  echo "installing FRR (apt-get install frr frr-pythontools)…"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq frr frr-pythontools iproute2 >/dev/null
fi
exec node --import tsx tests/lab/demo-lab.ts
