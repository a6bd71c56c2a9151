# The management-token service: `docker build -t management-tokens .`, or `docker compose up`.

# Build stage: compile TypeScript with the dev dependencies, then drop them.
FROM node:24-slim AS build
WORKDIR /app
# Toolchain to build better-sqlite3 from source (below).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# better-sqlite3 12 is built from source against Node 24.18.1's headers. Built against 24.19 or
# later, whose node::ObjectWrap registers a cleanup hook, the process aborts ("Assertion failed:
# (env) != nullptr") when a statement is garbage-collected outside JavaScript; a prebuilt binary
# may be built either way. Every Node 24 has the same ABI, so the addon loads on all of them.
# .ci/run builds it the same way for the Node 24 test run.
RUN npm_config_build_from_source=true npm_config_target=24.18.1 npm ci
# The whole context: .dockerignore, not a list here, decides what the build sees, so a new source
# folder cannot be left out of the image.
COPY . .
RUN npm run build && npm prune --omit=dev

# Runtime stage: compiled code and production dependencies only, run as the unprivileged `node` user.
FROM node:24-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/console/dist ./console/dist
COPY --from=build /app/bin ./bin
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
# node:24-slim has no curl; Node's fetch does the liveness probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/management-tokens.js", "serve"]
