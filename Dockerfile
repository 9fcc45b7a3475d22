# syntax=docker/dockerfile:1
#
# One image for every Bytebot program. Pick the program with the container's command:
#   docker run --rm -e DISCORD_TOKEN -e REDIS_URL bytebot gateway-discord
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

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json \
        -p gateway-discord -p router-tools -p example-subscriber
COPY . .
RUN cargo build --release --locked -p gateway-discord -p router-tools -p example-subscriber \
 && mkdir /out \
 && cp target/release/gateway-discord target/release/router-tools target/release/example-subscriber /out/

# A small runtime with glibc, libgcc and CA certificates (for rediss:// and Discord's
# HTTPS), no shell, running as an unprivileged user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
# distroless's "nonroot" user, by number so any host resolves it.
USER 65532:65532
# The daemons' optional health and metrics listener (set BYTEBOT_HTTP_ADDR=0.0.0.0:9090).
EXPOSE 9090
CMD ["gateway-discord"]
