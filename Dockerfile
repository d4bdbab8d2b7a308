# frr-advertiser sidecar image. Why it is built this way: docs/adr/0007-container-image.md.
#
#   docker build -t frr-advertiser .                                  # FRR version: the default below
#   docker build --build-arg FRR_VERSION=<tag of the FRR container> -t frr-advertiser .
#
# The runtime stage IS the FRR image the daemons run from (quay.io/frrouting/frr, Alpine/musl), so
# vtysh, frr-reload.py, python3, iproute2, tini and the frr/frrvty users and group ids are exactly
# the daemons' own. Node 24 is transplanted into it with its own musl loader and C++ runtime.
# FRR_VERSION is the one place the FRR version is set; it must equal the chart's frr.image.tag.

ARG NODE_VERSION=24
ARG FRR_VERSION=8.4.4
ARG FRR_IMAGE=quay.io/frrouting/frr

# ---- build: compile the TypeScript, keep production dependencies only ----------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (tsc) would run before the sources are here, and the `node`
# devDependency's installer would download a second Node. No production dependency has an install
# script (tests/image/dockerfile.test.ts checks the lockfile), so nothing the image needs is skipped.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY sidecar/src ./sidecar/src
# Type declarations and source maps are never loaded at run time (about half of node_modules).
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

# ---- node-bundle: Node 24 with the exact musl loader and libstdc++ it was built against ---------
# The FRR image's Alpine is older than the one Node 24 is built on (older musl, older libstdc++), so
# its system libraries cannot run this node binary. The binary's ELF interpreter and rpath are
# pointed at /opt/node/lib, so it loads only the libraries copied here and nothing of the FRR
# image's; vtysh, python3 and ip keep using the system loader (PT_INTERP is per binary, nothing is
# set in the environment).
FROM node:${NODE_VERSION}-alpine AS node-bundle
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
# patchelf only edits two ELF header fields in this throwaway stage; the result is verified below.
# hadolint ignore=DL3018
RUN apk add --no-cache patchelf \
 && ldso="$(find /lib/ -maxdepth 1 -name 'ld-musl-*.so.1')" \
 && mkdir -p /opt/node/bin /opt/node/lib \
 && cp -L "$ldso" /opt/node/lib/ \
 && "$ldso" --list /usr/local/bin/node \
    | awk '$2 == "=>" && $3 !~ /ld-musl-/ { print $3 }' \
    | xargs -r -I{} cp -L {} /opt/node/lib/ \
 && cp /usr/local/bin/node /opt/node/bin/node \
 && patchelf --set-interpreter "/opt/node/lib/${ldso##*/}" --set-rpath /opt/node/lib /opt/node/bin/node \
 && find /opt/node/lib -name '*.so.*' ! -name 'ld-musl-*' -exec patchelf --set-rpath /opt/node/lib {} \; \
 && "/opt/node/lib/${ldso##*/}" --list /opt/node/bin/node \
    | awk '$2 == "=>" && $3 !~ "^/opt/node/lib/" { print "not from the bundle: " $0; bad = 1 } END { exit bad }' \
 && /opt/node/bin/node --version

# ---- runtime: the FRR image of the daemons + Node + the sidecar ----------------------------------
FROM ${FRR_IMAGE}:${FRR_VERSION} AS runtime
ARG FRR_IMAGE
ARG FRR_VERSION
ARG NODE_VERSION
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]

LABEL org.opencontainers.image.title="frr-advertiser" \
      org.opencontainers.image.description="Announces Kubernetes Service IPs into a BGP fabric through FRR (sidecar of the FRR pod)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${FRR_IMAGE}:${FRR_VERSION}" \
      io.frr-advertiser.frr-version="${FRR_VERSION}" \
      io.frr-advertiser.node-version="${NODE_VERSION}"

COPY --from=node-bundle /opt/node /opt/node
# PATH written out in full (not ${PATH}: the base image need not set it). TINI_SUBREAPER: reaping
# still works when tini is not PID 1 (shareProcessNamespace: true).
ENV PATH="/opt/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    NODE_ENV=production \
    TINI_SUBREAPER=1

# Fail the build, not the pod, when the base image is not what the sidecar expects: Node runs on
# the bundled loader, vtysh is the FRR_VERSION asked for, frr-reload.py, python3, iproute2's ip
# (BusyBox's has no -json/-batch) and tini are where config defaults and ENTRYPOINT look for them.
# root joins frrvty (the vty sockets are frr:frrvty 0770; without CAP_DAC_OVERRIDE even root needs
# the group) and frr (FRR's config directory, shared with the FRR container).
RUN node --version | grep -E "^v${NODE_VERSION}(\.|$)" >/dev/null \
 && test -x /usr/bin/vtysh \
 && vtysh --help | grep -E "\(version ${FRR_VERSION}[)_-]" >/dev/null \
 && test -f /usr/lib/frr/frr-reload.py \
 && python3 /usr/lib/frr/frr-reload.py --help >/dev/null \
 && ip -V | grep iproute2 >/dev/null \
 && test -x /sbin/tini \
 && addgroup root frrvty \
 && addgroup root frr

WORKDIR /app
COPY package.json LICENSE ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY frr-templates ./frr-templates
COPY sidecar/bin/frr-advertiser.js ./sidecar/bin/frr-advertiser.js
# `kubectl exec … frr-advertiser render …` finds the CLI on PATH (its shebang finds node on PATH).
# `run` with a missing config file exits 2 only after its whole module graph (client-node, execa,
# pino, …) has loaded: the production dependencies are complete and run on this Node.
RUN ln -s /app/sidecar/bin/frr-advertiser.js /usr/local/bin/frr-advertiser \
 && frr-advertiser --help >/dev/null \
 && if frr-advertiser run --config /nonexistent/config.yaml >/dev/null 2>&1; then false; else test $? -eq 2; fi

# root, but meant to run with every capability dropped except NET_ADMIN: iproute2's ip discards
# file capabilities when a non-root user runs it (ADR 0007). frr as the primary group keeps the
# frr.conf it writes (mode 0640) readable by FRR's own user.
# hadolint ignore=DL3002
USER root:frr
EXPOSE 9479
# tini forwards SIGTERM to node only (no -g): the drain still needs the vtysh and frr-reload.py
# processes it starts while shutting down.
ENTRYPOINT ["/sbin/tini", "--", "/opt/node/bin/node", "/app/sidecar/bin/frr-advertiser.js"]
CMD ["run", "--config", "/etc/frr-advertiser/config.yaml"]
