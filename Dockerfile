# frr-advertiser image: FRR (daemons, vtysh, frr-reload.py) from Debian 13's packages plus the
# sidecar on Node 24. One image runs both containers of the pod. Why: docs/adr/0007-container-image.md.
#
#   npm run image                       # builds with docker or podman; makes the base from Debian's
#                                       # packages when it cannot be pulled (image/build.sh)
#   docker build -t frr-advertiser .    # plain build where Docker Hub is reachable
#
# DEBIAN_DIGEST pins the base ("@sha256:…"); empty builds from the tag (and from a base imported
# locally by image/build.sh, which has no registry digest).

ARG DEBIAN_IMAGE=docker.io/library/debian
ARG DEBIAN_TAG=trixie-slim
ARG DEBIAN_DIGEST=""
# The npm registry's prebuilt Node (package node-linux-<arch>, the official nodejs.org build).
ARG NODE_VERSION=24.21.0
ARG NPM_VERSION=11.19.1
# The FRR release Debian 13 ships; the build fails if vtysh reports another one.
ARG FRR_VERSION=10.3

# ---- build: compile the TypeScript, keep production dependencies only ----------------------------
FROM ${DEBIAN_IMAGE}:${DEBIAN_TAG}${DEBIAN_DIGEST} AS build
ARG NODE_VERSION
ARG NPM_VERSION
ARG TARGETARCH
SHELL ["/bin/bash", "-eo", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
# curl fetches Node and npm straight from the npm registry's tarballs (the registry is reachable
# where Docker Hub and nodejs.org may not be): node-linux-<arch> is the official build, npm's
# tarball bundles its dependencies. curl is unpinned on purpose: a stable Debian release changes
# only by its point and security updates. The optional build secret ca-bundle (image/build.sh
# passes the host's) lets a build behind a TLS-inspecting egress proxy trust it; without it the
# image's own CA certificates are used.
# hadolint ignore=DL3008
RUN --mount=type=secret,id=ca-bundle \
    apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && ca=/run/secrets/ca-bundle && { [ -s "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt; } \
 && arch="$(case "${TARGETARCH:-amd64}" in arm64) echo arm64 ;; amd64) echo x64 ;; *) echo "unsupported $TARGETARCH" >&2; exit 1 ;; esac)" \
 && mkdir -p /opt/node /opt/npm \
 && curl -fsSL --cacert "$ca" "https://registry.npmjs.org/node-linux-${arch}/-/node-linux-${arch}-${NODE_VERSION}.tgz" \
    | tar -xz -C /opt/node --strip-components=1 \
 && curl -fsSL --cacert "$ca" "https://registry.npmjs.org/npm/-/npm-${NPM_VERSION}.tgz" \
    | tar -xz -C /opt/npm --strip-components=1 \
 && ln -s /opt/npm/bin/npm-cli.js /opt/node/bin/npm \
 && /opt/node/bin/node --version | grep -Fx "v${NODE_VERSION}"
ENV PATH="/opt/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (tsc) would run before the sources are here, and the `node`
# devDependency's installer would fetch a second Node. No production dependency has an install
# script (tests/image/dockerfile.test.ts checks the lockfile), so nothing the image needs is skipped.
RUN --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-bundle; fi; \
    npm ci --ignore-scripts
COPY sidecar/src ./sidecar/src
COPY image/bundle.ts ./image/bundle.ts
# The sidecar as ESM with every production dependency inlined (image/bundle.ts; the benchmark runs
# the same): an entry file plus the chunks `run` loads, ≈ 4 MB instead of ≈ 65 MB of node_modules;
# `run` loads its module graph in ≈ 0.2 s instead of 0.56 s from node_modules. The licenses of the
# inlined packages are collected next to it.
RUN node image/bundle.ts /out/frr-advertiser.mjs \
 && npm ls --omit=dev --all --parseable | tail -n +2 | sort -u | while read -r dir; do \
      for f in "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/license*; do \
        if [ -f "$f" ]; then printf '== %s ==\n' "${dir#/src/node_modules/}"; cat "$f"; printf '\n'; fi; \
      done; \
    done > /out/THIRD-PARTY-LICENSES \
 && test -s /out/THIRD-PARTY-LICENSES

# ---- runtime: Debian 13 + FRR + Node + the sidecar ------------------------------------------------
FROM ${DEBIAN_IMAGE}:${DEBIAN_TAG}${DEBIAN_DIGEST} AS runtime
ARG DEBIAN_IMAGE
ARG DEBIAN_TAG
ARG NODE_VERSION
ARG FRR_VERSION
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
SHELL ["/bin/bash", "-eo", "pipefail", "-c"]

LABEL org.opencontainers.image.title="frr-advertiser" \
      org.opencontainers.image.description="FRR and the frr-advertiser sidecar: announces Kubernetes Service IPs into a BGP fabric" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${DEBIAN_IMAGE}:${DEBIAN_TAG}" \
      io.frr-advertiser.frr-version="${FRR_VERSION}" \
      io.frr-advertiser.node-version="${NODE_VERSION}"

# FRR and its tools from Debian's archive (security fixes arrive with Debian's updates); tini is
# PID 1 of both containers; iproute2's ip (json, batch) manages the service addresses. Unpinned:
# FRR_VERSION (checked below) is the pin that matters, the rest follows Debian's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends frr frr-pythontools python3 iproute2 tini \
 && rm -rf /var/lib/apt/lists/*

COPY --from=build /opt/node/bin/node /usr/local/bin/node
# PATH written out in full. TINI_SUBREAPER: reaping still works when tini is not PID 1
# (shareProcessNamespace: true).
ENV PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    NODE_ENV=production \
    TINI_SUBREAPER=1

# Fail the build, not the pod: Node is the version asked for, vtysh is the FRR_VERSION asked for,
# frr-reload.py, python3, iproute2 and tini are where the config defaults and ENTRYPOINT look.
# root joins frrvty (the vty sockets are frr:frrvty 0770; without CAP_DAC_OVERRIDE even root needs
# the group) and frr (FRR's config directory, shared between the containers).
RUN node --version | grep -Fx "v${NODE_VERSION}" \
 && vtysh --help | grep -F "(version ${FRR_VERSION})" \
 && /usr/lib/frr/bgpd --version | grep -Fx "bgpd version ${FRR_VERSION}" \
 && python3 /usr/lib/frr/frr-reload.py --help >/dev/null \
 && ip -V | grep -q iproute2 \
 && test -x /usr/bin/tini \
 && usermod -a -G frrvty,frr root \
 && getent group frr frrvty

WORKDIR /app
COPY LICENSE ./
COPY --from=build /out/ ./
COPY frr-templates ./frr-templates
# `kubectl exec … frr-advertiser render …` finds the CLI on PATH. `run` with a missing config file
# exits 2 only after its whole module graph (client-node, execa, pino, …) has loaded: the bundle is
# complete and runs on this Node.
# Then Node's compile cache (ADR 0017): the ENTRYPOINT's exact command, up to the same config
# check, leaves V8's code for every module `run` loads before it logs "starting" in
# /app/compile-cache. Node accepts a cache only for its own version, the same V8 flags and the same
# user id, so the line repeats the ENTRYPOINT word for word (tests/image/dockerfile.test.ts holds
# them equal) and runs as the pod's user (root). At run time the directory is only read (the
# chart's root filesystem is read-only); a cache Node cannot use costs only the compile it does anyway.
RUN printf '#!/bin/sh\nexec /usr/local/bin/node /app/frr-advertiser.mjs "$@"\n' >/usr/local/bin/frr-advertiser \
 && chmod 0755 /usr/local/bin/frr-advertiser \
 && frr-advertiser --help >/dev/null \
 && if frr-advertiser run --config /nonexistent/config.yaml >/dev/null 2>&1; then false; else test $? -eq 2; fi \
 && if /usr/bin/env MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072 NODE_COMPILE_CACHE=/app/compile-cache /usr/local/bin/node --max-semi-space-size=4 --expose-gc --max-opt=1 /app/frr-advertiser.mjs run --config /nonexistent/config.yaml >/dev/null 2>&1; then false; else test $? -eq 2; fi \
 && test -n "$(find /app/compile-cache -type f -print -quit)"

# root, but meant to run with every capability dropped except NET_ADMIN: iproute2's ip discards
# file capabilities when a non-root user runs it (ADR 0007). frr as the primary group keeps the
# frr.conf it writes (mode 0640) readable by FRR's own user.
# hadolint ignore=DL3002
USER root:frr
EXPOSE 9479
# tini forwards SIGTERM to node only (no -g): the drain still needs the ip and vtysh processes it
# starts while shutting down. The FRR container overrides the command (chart: run-frr.sh).
# --max-semi-space-size=4 (MB; Node 24's default lets the young generation grow to tens of MB):
# the sidecar's garbage is short-lived, and a small young generation collects it before V8 grows
# the heap for it. Measured with the benchmark (which reads these flags from here): RSS after a
# 1k-Service churn 154 MB instead of 244, at 10k 296 instead of 486, change latency unchanged.
# glibc's allocator, for node only (env(1) execs it: same PID, tini's signals reach it; FRR's
# container has its own command): two arenas instead of one per thread, and a fixed mmap/trim
# threshold, so the large buffers of a 10k-object list or a 10k-route read-back are returned to
# the kernel when freed instead of raising the threshold and staying in the heap. At 10k Services
# after sync: anonymous RSS 137 → 119 MB (docs/adr/0007-container-image.md).
# --expose-gc: the memory trim (timings.memoryTrimSeconds) runs V8's memory-reducing collection
# once applies pause, the only thing that gives the heap's emptied pages back (ADR 0015).
# --max-opt=1: V8 stops at its baseline compiler (Sparkplug), neither optimising tier runs: no
# TurboFan code paged in from the node binary (ADR 0016) and no Maglev jobs on V8's worker
# threads, which left ≈ 11 MB outside V8's heap (ADR 0022): RSS once trimmed 1k 88 → 73 MB, 10k
# 112 → 100, change latency and CPU unchanged within the benchmark's noise.
# NODE_COMPILE_CACHE: V8's compiled code of the modules `run` loads, made at build time (above).
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/bin/env", "MALLOC_ARENA_MAX=2", "MALLOC_MMAP_THRESHOLD_=131072", "MALLOC_TRIM_THRESHOLD_=131072", "NODE_COMPILE_CACHE=/app/compile-cache", "/usr/local/bin/node", "--max-semi-space-size=4", "--expose-gc", "--max-opt=1", "/app/frr-advertiser.mjs"]
CMD ["run", "--config", "/etc/frr-advertiser/config.yaml"]
