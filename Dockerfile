# Multi-stage build: compile in the Rust image, run in a small Debian image as a non-root user.
# TLS roots are compiled into the binary (rustls + webpki roots), so no CA package is needed.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY config ./config
RUN cargo build --release --locked && strip target/release/switchyard

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/switchyard switchyard \
    && mkdir -p /var/lib/switchyard /etc/switchyard \
    && chown switchyard:switchyard /var/lib/switchyard
COPY --from=build /src/target/release/switchyard /usr/local/bin/switchyard
COPY config/switchyard.toml /etc/switchyard/switchyard.toml
# Containers are reachable from outside: listen on all interfaces and require gateway keys.
ENV SWITCHYARD_CONFIG=/etc/switchyard/switchyard.toml \
    SWITCHYARD_LISTEN=0.0.0.0:8080 \
    SWITCHYARD_DATABASE_URL=sqlite:///var/lib/switchyard/switchyard.db \
    SWITCHYARD_REQUIRE_KEYS=true \
    SWITCHYARD_LOG_FORMAT=json
USER switchyard
WORKDIR /var/lib/switchyard
VOLUME ["/var/lib/switchyard"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["switchyard", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["switchyard"]
CMD ["serve"]
