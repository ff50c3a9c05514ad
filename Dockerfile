# syntax=docker/dockerfile:1
# Logpipe: one image, every role (`logpipe collect|generate|stream|…`), with the Kafka bus.
# Build:  docker build -t logpipe .
# Run:    docker run --rm logpipe --help

# Build stage: Swift 6.3 on Debian 12. Its librdkafka-dev (2.0.2) provides the headers the
# Kafka trait compiles against (docs/kafka.md); the runtime stage brings a librdkafka >= 2.2.
FROM swift:6.3-bookworm AS build
# Debian package versions are not pinned: the suite's security updates replace them.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends librdkafka-dev libzstd-dev zlib1g-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --traits Kafka --static-swift-stdlib --product logpipe \
 && install -D "$(swift build -c release --traits Kafka --static-swift-stdlib --show-bin-path)/logpipe" /out/logpipe

# Runtime stage: Debian 13 slim, whose librdkafka1 is 2.x >= 2.2 (Debian 12's 2.0.2 cannot
# talk to current brokers); the Swift runtime is linked in statically.
FROM debian:trixie-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends librdkafka1 libzstd1 zlib1g ca-certificates curl tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 logpipe \
 && useradd --system --uid 10001 --gid logpipe --home-dir /var/lib/logpipe --create-home logpipe
COPY --from=build /out/logpipe /usr/local/bin/logpipe
USER 10001:10001
WORKDIR /var/lib/logpipe
ENV LOGPIPE_DATA_DIR=/var/lib/logpipe
# The collector's port; the generator is on 8000, a stream worker's API on 8082.
EXPOSE 8081 8000 8082
# Liveness of whichever role runs: set LOGPIPE_HEALTH_PORT to its port (default the collector's).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/bin/sh", "-c", "curl -fsS \"http://127.0.0.1:${LOGPIPE_HEALTH_PORT:-8081}/health\" || exit 1"]
ENTRYPOINT ["logpipe"]
CMD ["--help"]
