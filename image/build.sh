#!/usr/bin/env bash
# `npm run image`: builds the image from the repository's Dockerfile with docker (when its daemon
# answers) or podman. Where the Debian base cannot be pulled (no registry reachable), it is made
# from Debian's packages with debootstrap and imported under the same name, so the Dockerfile stays
# a standard one. Env: IMAGE (tag), DEBIAN_MIRROR, CA_BUNDLE (trusted by the build's downloads).
set -euo pipefail
cd "$(dirname "$0")/.."

image="${IMAGE:-localhost/frr-advertiser:dev}"
suite=trixie
base="docker.io/library/debian:${suite}-slim"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ca_bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  tool=docker
  export DOCKER_BUILDKIT=1
elif command -v podman >/dev/null 2>&1; then
  tool=podman
  # runc, cgroupfs and explicit ulimits: what works on the CI machines (image/containers.conf).
  export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/image/containers.conf}"
else
  echo "image: neither a running docker nor podman found (apt-get install podman runc)" >&2
  exit 2
fi

have_base() { "$tool" image inspect "$base" >/dev/null 2>&1; }

# A minbase Debian trimmed like the official -slim images (no docs, man pages, apt lists).
make_base() {
  command -v debootstrap >/dev/null || {
    echo "image: $base cannot be pulled and debootstrap is missing (apt-get install debootstrap)" >&2
    exit 2
  }
  local root
  root="$(mktemp -d /var/tmp/fa-debootstrap.XXXXXX)"
  trap 'rm -rf "$root"' RETURN
  echo "image: making $base with debootstrap from $mirror"
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >/dev/null
  rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/*.log
  tar -C "$root" -c . | "$tool" import - "$base" >/dev/null
}

if ! have_base; then
  timeout 120 "$tool" pull -q "$base" >/dev/null 2>&1 || make_base
fi

args=(build --network host -t "$image"
  --build-arg "REVISION=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)")
# SHELL and labels need the docker manifest format under podman (OCI drops SHELL).
[[ "$tool" == podman ]] && args+=(--format docker)
[[ -s "$ca_bundle" ]] && args+=(--secret "id=ca-bundle,src=$ca_bundle")
"$tool" "${args[@]}" .
echo "image: built $image with $tool"
"$tool" run --rm --entrypoint vtysh "$image" --help | grep -o "version [0-9.]*" | head -1
