#!/usr/bin/env bash
# Removes the kind lab: the kind cluster and the tor container (safe to re-run). The image
# frr-advertiser:lab stays for the next up.sh; `down.sh --purge-image` removes it too.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge_image=false
case "${1:-}" in
  "") ;;
  --purge-image) purge_image=true ;;
  *) die "usage: $0 [--purge-image]" ;;
esac

require_tools docker kind
require_docker_daemon

if cluster_exists; then
  log "deleting kind cluster $CLUSTER_NAME"
  kind delete cluster --name "$CLUSTER_NAME"
else
  log "no kind cluster $CLUSTER_NAME"
fi

if [[ "$(container_state "$TOR_NAME")" != absent ]]; then
  log "removing the tor $TOR_NAME"
  docker rm -f "$TOR_NAME" >/dev/null
else
  log "no tor container $TOR_NAME"
fi

if [[ "$purge_image" == true ]] && docker image inspect "$IMAGE_REPOSITORY:$IMAGE_TAG" >/dev/null 2>&1; then
  log "removing image $IMAGE_REPOSITORY:$IMAGE_TAG"
  docker image rm "$IMAGE_REPOSITORY:$IMAGE_TAG" >/dev/null
fi
log "done"
