# syntax=docker/dockerfile:1
# cosmolet container image.
#
#   bash scripts/build-image.sh     # Debian + the npm registry only: localhost/cosmolet:<version>
#
#   docker build -t ghcr.io/cosmolet/cosmolet:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse --short=12 HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#
# The bases are build arguments: by default the official Node.js 24 LTS slim image (Debian
# bookworm); scripts/build-image.sh passes its own Node.js 24 bases made from Debian's minbase and
# the npm-packaged Node.js binary. BUILD_IMAGE needs node and npm, RUNTIME_IMAGE only node and apt.
#
# Stages: `build` compiles TypeScript with the dev dependencies; `deps` installs the production
# dependencies only (type declarations and source maps dropped: never loaded at run time, a third of
# the dependencies' size) and writes their SBOM; `vtysh` takes vtysh and libfrr out of Debian's frr
# package; the final image is the runtime base with those, the compiled dist/ (the product only:
# the lab and the API double are workspace packages the build context leaves out), iproute2 (`ip`,
# all the kernel origination needs) and the libraries vtysh links.
#
# vtysh: Debian ships it in the `frr` package (bookworm: FRR 8.4) together with the daemons, which
# never run in the container, so only /usr/bin/vtysh, libfrr.so.0 and /etc/pam.d/frr are taken from
# it (Debian's vtysh authenticates through PAM service `frr`: without that file PAM's `other`
# service denies it and every command fails with "vtysh_pam: Authentication failure"). The static
# origination configures routes through vtysh, so it must match the FRR version on the hosts: build
# on the Debian release whose FRR the nodes run. The kernel origination uses vtysh only for
# read-only `show ... json` checks.
#
# npm_ca: an optional build secret, the CA bundle npm needs where TLS to the registry is
# intercepted (scripts/build-image.sh passes the host's `npm config get cafile` when set).
#
# No HEALTHCHECK: Kubernetes probes /healthz and /readyz.
ARG BUILD_IMAGE=docker.io/library/node:24.22.3-bookworm-slim
ARG RUNTIME_IMAGE=docker.io/library/node:24.22.3-bookworm-slim

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NPM_CONFIG_CAFILE=/run/secrets/npm_ca; fi \
 && npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/stamp-build-info.mjs ./scripts/
COPY src ./src
ARG REVISION=unknown
ARG CREATED=
RUN COSMOLET_COMMIT="${REVISION}" COSMOLET_BUILD_DATE="${CREATED}" npm run build:product \
 && chmod 0755 dist/cli.js

FROM ${BUILD_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/product-manifest.mjs /tmp/
# The product's manifests alone (no workspaces): what is installed and what the SBOM declares agree.
RUN --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NPM_CONFIG_CAFILE=/run/secrets/npm_ca; fi \
 && node /tmp/product-manifest.mjs . \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && mkdir -p /sbom \
 && npm sbom --omit=dev --sbom-format cyclonedx --sbom-type application --package-lock-only \
      > /sbom/npm.cdx.json \
 && npm cache clean --force \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete

FROM ${RUNTIME_IMAGE} AS vtysh
WORKDIR /frr
RUN apt-get update -o Acquire::Languages=none \
 && apt-get download frr \
 && dpkg-deb -x frr_*.deb root \
 && cd root \
 && mkdir /out \
 && cp -a --parents usr/bin/vtysh $(find usr/lib -name 'libfrr.so*') etc/pam.d/frr /out/ \
 && dpkg-deb -f ../frr_*.deb Package Version Architecture > /out/frr.txt \
 && rm -rf /var/lib/apt/lists/*

FROM ${RUNTIME_IMAGE}

# iproute2, and the shared libraries vtysh and libfrr link (what the frr package depends on,
# without the daemons' c-ares, logrotate, lsof and adduser).
RUN apt-get update -o Acquire::Languages=none \
 && apt-get install -y --no-install-recommends \
      iproute2 libc6 libcap2 libcrypt1 libjson-c5 libpam0g libreadline8 libyang2 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 cosmolet \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin cosmolet

COPY --from=vtysh /out/usr/ /usr/
COPY --from=vtysh /out/etc/pam.d/frr /etc/pam.d/frr
COPY --from=vtysh /out/frr.txt /usr/share/cosmolet/sbom/vtysh-from-debian-package.txt
COPY --from=deps /sbom/npm.cdx.json /usr/share/cosmolet/sbom/npm.cdx.json
# vtysh.conf is world-readable so vtysh, run as the non-root user, reads it without a warning. The
# build fails here if vtysh misses a library. The Debian package list is the SBOM's other half, and
# is printed into the build output.
RUN mkdir -p /etc/frr \
 && printf 'service integrated-vtysh-config\n' > /etc/frr/vtysh.conf \
 && chmod 0755 /etc/frr && chmod 0644 /etc/frr/vtysh.conf \
 && ! ldd /usr/bin/vtysh | grep 'not found' \
 && vtysh --help > /dev/null \
 && dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\n' > /usr/share/cosmolet/sbom/debian-packages.tsv \
 && printf 'node\t%s\n' "$(node --version)" > /usr/share/cosmolet/sbom/node.txt \
 && echo "image Debian packages:" && cat /usr/share/cosmolet/sbom/debian-packages.tsv \
 && cat /usr/share/cosmolet/sbom/node.txt /usr/share/cosmolet/sbom/vtysh-from-debian-package.txt

ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
RUN ln -s /app/dist/cli.js /usr/local/bin/cosmolet
# The chart's entrypoint when frrVtyGroupId is null: joins the group of FRR's vty sockets found on
# the node, then runs cosmolet without the capabilities that took (setpriv, from util-linux).
COPY --chmod=0755 scripts/join-vty-group.sh /usr/local/bin/cosmolet-join-vty-group

# The build's arguments and labels come last: VERSION, REVISION and CREATED change on every build,
# and a RUN after them would miss the layer cache (a rebuild would run apt-get again, online).
ARG VERSION=0.2.0
ARG REVISION=unknown
ARG CREATED=
ARG RUNTIME_IMAGE
LABEL org.opencontainers.image.title="cosmolet" \
      org.opencontainers.image.description="Advertises healthy Kubernetes Service IPs to a BGP fabric through the node's FRR" \
      org.opencontainers.image.source="https://github.com/cosmolet/cosmolet" \
      org.opencontainers.image.url="https://github.com/cosmolet/cosmolet" \
      org.opencontainers.image.documentation="https://github.com/cosmolet/cosmolet/blob/main/docs/image.md" \
      org.opencontainers.image.licenses="AGPL-3.0-only" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"

# The static origination runs as this user; the Helm chart runs the kernel origination as UID 0
# with only CAP_NET_ADMIN (Kubernetes gives a non-root process no added capability).
USER 10001:10001
ENTRYPOINT ["cosmolet"]
CMD ["run"]
