# tokenmint: docker build -t tokenmint .
# Runs `tokenmint serve` as a non-root user; data/ and keys/ are volumes; configure with
# TOKENMINT_* environment variables (at least TOKENMINT_ISSUER, your public https URL).

FROM rust:1.95-bookworm AS build
WORKDIR /src
# The build copies only what the server's build reads: the manifests, then the sources.
# Dependencies come first, in a layer of their own, built against stubs of every target the
# workspace's manifests name (the tests, benchmarks and the client crate are never built here),
# so a change to tokenmint's code does not rebuild them. This is what cargo-chef does, without
# one more tool to build in the image. scripts/dockerfile-check (run by CI) checks that these
# COPY lines hold everything the build reads.
COPY Cargo.toml Cargo.lock build.rs ./
COPY crates/tokenmint-client/Cargo.toml ./crates/tokenmint-client/
RUN mkdir -p src benches tests/api crates/tokenmint-client/src \
      crates/tokenmint-client/benches crates/tokenmint-client/examples/monitors \
 && for stub in src/main.rs benches/hot_path.rs crates/tokenmint-client/benches/verify.rs \
      crates/tokenmint-client/examples/monitors/main.rs; do echo 'fn main() {}' > "$stub"; done \
 && touch src/lib.rs tests/api/main.rs crates/tokenmint-client/src/lib.rs \
 && cargo build --release --locked --bin tokenmint \
 && rm -rf src
COPY src ./src
COPY migrations ./migrations
COPY console ./console
# The same build command CI runs (.ci/run).
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin tokenmint

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/tokenmint tokenmint \
 && mkdir -p /var/lib/tokenmint/data /var/lib/tokenmint/keys \
 && chown -R tokenmint /var/lib/tokenmint && chmod 700 /var/lib/tokenmint/keys
COPY --from=build /src/target/release/tokenmint /usr/local/bin/tokenmint
COPY config/default.toml /etc/tokenmint/tokenmint.toml
WORKDIR /var/lib/tokenmint
USER tokenmint
ENV TOKENMINT_BIND=0.0.0.0:8080 \
    TOKENMINT_LOG__FORMAT=json
VOLUME ["/var/lib/tokenmint/data", "/var/lib/tokenmint/keys"]
EXPOSE 8080
# Asks /readyz on the configured bind (TOKENMINT_BIND), so it follows a moved port; no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["tokenmint", "--config", "/etc/tokenmint/tokenmint.toml", "healthcheck"]
ENTRYPOINT ["tokenmint", "--config", "/etc/tokenmint/tokenmint.toml"]
CMD ["serve"]
