# syntax=docker/dockerfile:1
# Build stage: compiles the release binary (the H.264 encoder is compiled from source).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin vidcache

# Runtime stage: the binary, CA certificates, and ffmpeg for the pipeline generator.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates ffmpeg \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/vidcache --create-home vidcache
COPY --from=build /src/target/release/vidcache /usr/local/bin/vidcache
USER vidcache
WORKDIR /var/lib/vidcache
ENV VIDCACHE_DATA_DIR=/var/lib/vidcache/data
VOLUME ["/var/lib/vidcache/data"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["vidcache"]
CMD ["serve"]
