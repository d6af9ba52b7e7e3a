# buildd-server in a container. Build from the repository root:
#   docker build -f deploy/docker/server.Dockerfile -t buildd-server .
#   docker run -p 3000:3000 -e DATABASE_URL=postgres://… buildd-server
# Without DATABASE_URL the embedded database lives in the /var/lib/buildd volume.
# (written and reviewed without a Docker daemon at hand: see README "Deploy and operate")

# 1. Build the server package (its tarball, as `npm pack` makes it) from the sources.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY packages ./packages
RUN npm ci --no-audit --no-fund && mkdir /out && npm pack --workspace packages/server --pack-destination /out

# 2. The runtime: Node 20 and the package, run by an unprivileged user under tini.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /tmp/pkg/
RUN npm install --global --no-audit --no-fund /tmp/pkg/*.tgz && rm -rf /tmp/pkg && npm cache clean --force
RUN useradd --system --create-home --home-dir /var/lib/buildd --uid 10001 --shell /usr/sbin/nologin buildd
USER buildd
WORKDIR /var/lib/buildd
ENV HOME=/var/lib/buildd BUILDD_DATA_DIR=/var/lib/buildd/data BUILDD_LOG_FORMAT=json
VOLUME ["/var/lib/buildd"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["tini", "--", "buildd-server"]
CMD ["--host", "0.0.0.0", "--port", "3000", "--no-local-agent"]
