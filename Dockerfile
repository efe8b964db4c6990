# Tessera's container image: docs/install.md says how to build and run it.
# Two stages: the build stage has the compilers better-sqlite3 needs and the dev dependencies
# (TypeScript, Vite); the image keeps only what `tessera serve` runs.

FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# The package's own prepare script needs the sources, which come next: install without scripts,
# then compile the one native dependency.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    TESSERA_DATA=/data \
    TESSERA_ADDRESS=0.0.0.0:9000 \
    MALLOC_TRIM_THRESHOLD_=67108864
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/console ./dist/console
# The image's own unprivileged user (uid 1000) owns the data volume; the server never runs as root.
RUN mkdir /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 9000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9000/-/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "--initial-old-space-size=64", "dist/src/cli/main.js"]
CMD ["serve"]
