#!/usr/bin/env bash
# Runs every test: formatting, lints for the server and the wasm builds, unit and integration
# tests, then the end-to-end tests in headless Chromium against a freshly built server.
# Installs whatever is missing first. Fails on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
source scripts/env.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "formatting (cargo fmt --check)"
cargo fmt --all --check

step "lints: server build (clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "lints: browser build, wasm32 (clippy -D warnings)"
cargo clippy -p app --lib --no-default-features --features hydrate --target wasm32-unknown-unknown --locked -- -D warnings

step "Standard Webhooks library (PyPI, pinned) for the webhook signature test"
VERITY_PYTHON=$(scripts/webhooks-venv.sh | tail -1)
export VERITY_PYTHON

step "unit and integration tests (cargo test)"
cargo test --workspace --locked

step "building the server and the site (cargo leptos build)"
cargo leptos build

step "API fuzzing (schemathesis against /openapi.json)"
VERITY_BIN=target/debug/verity scripts/schemathesis.sh

step "end-to-end tests (Playwright, Debian Chromium)"
(cd end2end && VERITY_BIN=../target/debug/verity npx playwright test)

step "all tests passed"
