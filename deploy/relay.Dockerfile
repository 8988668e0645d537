# The Parley relay as a container image (deploy/compose.yaml). Builds the TypeScript and the native
# SQLite module in a build stage; the runtime stage has only what `node dist/server/main.js` needs.
FROM node:22-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -b tsconfig.build.json && npm prune --omit=dev

FROM node:22-bookworm-slim
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/package.json ./
# Named volumes take these owners on first mount: the relay runs as `node`.
RUN mkdir -p /srv/identity /srv/attachments /var/lib/parley-relay && chown node:node /srv/identity /srv/attachments /var/lib/parley-relay
USER node
EXPOSE 8787
CMD ["node", "dist/server/main.js"]
