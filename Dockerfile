# Sprout in a container: one image for every role (master, agent, gateway), non-root.
#   docker build -t sprout .
#   docker run -p 7000:7000 -v sprout-master:/data sprout master --listen 0.0.0.0:7000 --data /data --admin-email you@example.com
# Everything comes from Debian's packages and the npm registry.

FROM debian:bookworm-slim AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm ca-certificates >/dev/null \
 && npm i -g bun >/dev/null
WORKDIR /src
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile
COPY . .
RUN bun run build

FROM debian:bookworm-slim
# nginx-light (and its brotli_static module) for agents and gateways; the master does not use it.
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light libnginx-mod-http-brotli-static ca-certificates curl >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin sprout \
 && install -d -o sprout -g sprout -m 0711 /data
COPY --from=build /src/dist/sprout /usr/local/bin/sprout
# Not root: an unprivileged nginx cannot switch users, so its workers run as `sprout` too; the
# request-time confinement of rules is the boundary (see README, Security model). High ports only.
# Upgrades come with a new image: agents refuse `sprout agents upgrade`'s order to replace their binary.
ENV SPROUT_IN_CONTAINER=1
USER sprout
WORKDIR /data
EXPOSE 7000 7070 8080
ENTRYPOINT ["/usr/local/bin/sprout"]
CMD ["--help"]
