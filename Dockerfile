FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY packages/temporal-lite/package.json packages/temporal-lite/package.json
RUN npm install --omit=dev --ignore-scripts=false
COPY . .
USER node
EXPOSE 3000
# node directly (npx/npm do not pass SIGTERM on to it); run with `docker run --init` to reap children.
CMD ["node", "--import", "tsx", "src/main.ts"]
