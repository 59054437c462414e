# syntax=docker/dockerfile:1
# cosmolet container image.
#
#   docker build -t ghcr.io/cosmolet/cosmolet:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse --short=12 HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#
# Three stages: `build` compiles TypeScript with the dev dependencies, `deps` installs the production
# dependencies only, and the final image is Node.js 24 LTS (Debian bookworm, slim) with those, the
# compiled dist/, iproute2 (`ip`, all the kernel origination needs) and FRR's vtysh.
#
# vtysh: Debian ships it in the `frr` package (bookworm: FRR 8.4); only the vtysh binary is used,
# no FRR daemon runs in the container. The static origination configures routes through it, so it
# must match the FRR version on the hosts: build on the Debian release whose FRR the nodes run, or
# replace the `frr` package with the matching one from deb.frrouting.org. The kernel origination
# uses vtysh only for read-only `show ... json` checks.
#
# No HEALTHCHECK: Kubernetes probes /healthz and /readyz.

FROM node:24.11.1-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/stamp-build-info.mjs ./scripts/
COPY src ./src
ARG REVISION=unknown
ARG CREATED=
RUN COSMOLET_COMMIT="${REVISION}" COSMOLET_BUILD_DATE="${CREATED}" npm run build \
 && chmod 0755 dist/cli.js

FROM node:24.11.1-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM node:24.11.1-bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=
LABEL org.opencontainers.image.title="cosmolet" \
      org.opencontainers.image.description="Advertises healthy Kubernetes Service IPs to a BGP fabric through the node's FRR" \
      org.opencontainers.image.source="https://github.com/cosmolet/cosmolet" \
      org.opencontainers.image.url="https://github.com/cosmolet/cosmolet" \
      org.opencontainers.image.documentation="https://github.com/cosmolet/cosmolet/blob/main/docs/install.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/node:24.11.1-bookworm-slim"

# policy-rc.d keeps the frr package from trying to start its daemons during the build. vtysh.conf is
# made world-readable so vtysh, run as the non-root user, reads it without a warning.
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d \
 && chmod 0755 /usr/sbin/policy-rc.d \
 && apt-get update \
 && apt-get install -y --no-install-recommends iproute2 frr \
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \
 && printf 'service integrated-vtysh-config\n' > /etc/frr/vtysh.conf \
 && chmod 0755 /etc/frr && chmod 0644 /etc/frr/vtysh.conf \
 && groupadd --system --gid 10001 cosmolet \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin cosmolet

ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
RUN ln -s /app/dist/cli.js /usr/local/bin/cosmolet

# The static origination runs as this user; the Helm chart runs the kernel origination as UID 0
# with only CAP_NET_ADMIN (Kubernetes gives a non-root process no added capability).
USER 10001:10001
ENTRYPOINT ["cosmolet"]
CMD ["run"]
