# Container image whose entrypoint is lightrag-master:
#   docker build -t lightrag-master .
#   docker run -p 9621:9621 -v lightrag-data:/data lightrag-master --workers 4
#
# The master runs as PID 1: TERM is a graceful stop, INT/QUIT a quick one, and orphans
# re-parented to it are reaped without being mistaken for workers.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin lightrag-master \
    && strip target/release/lightrag-master

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin lightrag \
    && mkdir -p /data/rag_storage /data/inputs /data/logs \
    && chown -R lightrag:lightrag /data
COPY --from=build /src/target/release/lightrag-master /usr/local/bin/lightrag-master
ENV HOST=0.0.0.0 \
    PORT=9621 \
    WORKING_DIR=/data/rag_storage \
    INPUT_DIR=/data/inputs \
    LOG_DIR=/data/logs
USER lightrag
WORKDIR /data
VOLUME ["/data/rag_storage", "/data/inputs"]
EXPOSE 9621
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["lightrag-master", "healthcheck"]
ENTRYPOINT ["lightrag-master"]
