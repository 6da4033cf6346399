# One image for the workloads (fetcher, mapper, saver, broadcaster) and the controller:
#   docker build -t ghcr.io/dwk-dev/dwk:0.1.0 .
# Node 24 runs the TypeScript sources directly (type stripping): there is no build step.
FROM node:24-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; no install scripts (the "node" package would fetch a second Node).
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:24-alpine
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY api ./api
COPY lib ./lib
COPY controller ./controller
COPY workloads ./workloads
# The uid the manifests' securityContext runs as; the root filesystem can stay read-only.
USER 10001:10001
EXPOSE 8080 8081
# The workloads by default (DWK_ROLE picks one); the controller Deployment runs
# `node /app/controller/main.ts`.
CMD ["node", "/app/workloads/main.ts"]
