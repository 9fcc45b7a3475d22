# syntax=docker/dockerfile:1
#
# One image for every Bytebot program. Pick the program with the container's command:
#   docker run --rm -e DISCORD_TOKEN -e REDIS_URL bytebot gateway-discord
#   docker run --rm -e IRC_SERVER -e IRC_CHANNELS -e REDIS_URL bytebot gateway-irc
#   docker run --rm -e REDIS_URL bytebot example-subscriber
#   docker run --rm -it -e REDIS_URL bytebot router-tools doctor
#
# Build: docker build -t bytebot .

ARG RUST_VERSION=1.95

# cargo-chef turns the workspace's manifests into a "recipe" and builds only the
# dependencies from it, so the slow dependency layer is rebuilt when a dependency
# changes, not on every code change. (It stubs every declared target: lib, bins,
# tests, benches.)
FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# BuildKit cache mounts keep Cargo's registry and target/ between builds, so a code
# change recompiles only the crates it touches (and what depends on them), not all of
# ours. The cache lives on the builder, outside the image; without BuildKit's cache
# (a fresh builder) the build is as slow as a first one, never wrong. cargo-chef still
# gives the dependency layer for builders that keep layers but not caches.
FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
# Cooking builds stand-ins for our crates into the cached target/: forget the source
# hashes so that the next build touches, and so rebuilds, all of our code.
RUN --mount=type=cache,id=bytebot-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=bytebot-target,target=/src/target,sharing=locked \
    cargo chef cook --release --locked --recipe-path recipe.json \
        -p gateway-discord -p gateway-irc -p router-tools -p example-subscriber \
 && rm -f target/bytebot-source-hashes
COPY . .
# deploy/touch-changed-sources sets mtimes from content hashes (changed files: now,
# others: 2000-01-01), so Cargo rebuilds exactly what changed whatever mtimes the
# build context carried. The binaries are copied out of the cache mount.
RUN --mount=type=cache,id=bytebot-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=bytebot-target,target=/src/target,sharing=locked \
    deploy/touch-changed-sources target/bytebot-source-hashes \
        cargo build --release --locked -p gateway-discord -p gateway-irc -p router-tools -p example-subscriber \
 && mkdir /out \
 && cp target/release/gateway-discord target/release/gateway-irc target/release/router-tools \
       target/release/example-subscriber /out/

# A small runtime with glibc, libgcc and CA certificates (for rediss://, Discord's
# HTTPS and IRC over TLS), no shell, running as an unprivileged user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
# example-subscriber's slash commands, which gateway-discord syncs at start
# (BYTEBOT_COMMANDS in docker-compose.yml and fly.toml; `router-tools commands check`).
COPY deploy/example-subscriber.commands.json /etc/bytebot/example-subscriber.commands.json
# distroless's "nonroot" user, by number so any host resolves it.
USER 65532:65532
# The daemons' optional health and metrics listener (set BYTEBOT_HTTP_ADDR=0.0.0.0:9090).
EXPOSE 9090
CMD ["gateway-discord"]
