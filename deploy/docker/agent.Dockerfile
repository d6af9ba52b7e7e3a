# buildd-agent in a container. Build from the repository root:
#   docker build -f deploy/docker/agent.Dockerfile -t buildd-agent .
#   docker run --env-file agent.env --stop-timeout 150 buildd-agent --max-tasks=3
# (written and reviewed without a Docker daemon at hand: see README "Deploy and operate")

# 1. Build the agent package (its tarball, as `npm pack` makes it) from the sources.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY packages ./packages
RUN npm ci --no-audit --no-fund && mkdir /out && npm pack --workspace packages/agent --pack-destination /out

# 2. The runtime: Node 20, git for worktrees, bubblewrap + socat for the SDK's sandbox, tini as PID 1.
FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends git bubblewrap socat ca-certificates openssh-client tini \
  && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /tmp/pkg/
RUN npm install --global --no-audit --no-fund /tmp/pkg/*.tgz && rm -rf /tmp/pkg && npm cache clean --force
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin buildd
USER buildd
WORKDIR /home/buildd
ENV BUILDD_AGENT_DATA_DIR=/home/buildd/.buildd/agent
# Repo cache, worktrees and the spool (undelivered progress): keep them across restarts.
VOLUME ["/home/buildd/.buildd"]
# The agent drains on SIGTERM for --grace-period (30 s by default): give `docker stop` longer than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "--", "buildd-agent"]
CMD ["--max-tasks=3"]
