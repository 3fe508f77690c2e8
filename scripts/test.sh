#!/usr/bin/env bash
# Runs every test: formatting, lints for the server and the wasm builds, unit and integration
# tests, then the end-to-end tests in headless Chromium against a freshly built server.
# Installs whatever is missing first. Fails on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
source scripts/env.sh

step() { printf '\n\033[1m==> %s\033[0m  (%d s so far)\n' "$*" "$SECONDS"; }

# A test process still running after $VERITY_TEST_STALL_MINUTES minutes (default 10) has its
# threads' stacks printed once (gdb), so a hang in CI leaves evidence of where it hangs.
watch_for_stalls() {
  local limit=$((${VERITY_TEST_STALL_MINUTES:-10} * 60)) reported=" "
  command -v gdb >/dev/null || return 0
  while sleep 30; do
    for pid in $(pgrep -f "/target/debug/deps/" || true); do
      local age
      age=$(ps -o etimes= -p "$pid" 2>/dev/null | tr -d ' ') || continue
      if [[ -n $age && $age -ge $limit && $reported != *" $pid "* ]]; then
        reported+="$pid "
        printf '\n!!! test process %s has run for %s s: %s\n' "$pid" "$age" "$(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null)" >&2
        gdb -p "$pid" -batch -ex "thread apply all bt 30" 2>/dev/null | grep -E '^(Thread|#)' >&2 || true
      fi
    done
  done
}

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
watch_for_stalls &
WATCHDOG=$!
trap 'kill $WATCHDOG 2>/dev/null || true' EXIT
cargo test --workspace --locked
kill $WATCHDOG 2>/dev/null || true

step "building the server and the site (cargo leptos build)"
cargo leptos build

step "API fuzzing (schemathesis against /openapi.json)"
VERITY_BIN=target/debug/verity scripts/schemathesis.sh

step "end-to-end tests (Playwright, Debian Chromium)"
(cd end2end && VERITY_BIN=../target/debug/verity npx playwright test)

step "all tests passed"
