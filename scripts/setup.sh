#!/usr/bin/env bash
# Installs what Verity needs on a fresh machine of this kind, and nothing that is already there.
# Every version is pinned (see ../shared/design/TOOLCHAIN.md). Safe to run again and again.
#
#   scripts/setup.sh            build tools only (what `scripts/run.sh` needs)
#   scripts/setup.sh --tests    also Chromium and the end-to-end test packages
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.129
CARGO_LEPTOS_VERSION=0.3.10
WITH_TESTS=0
[[ "${1:-}" == "--tests" ]] && WITH_TESTS=1

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }

export PATH="$HOME/.cargo/bin:$PATH"

# Tesseract + Leptonica (the server links them for MRZ OCR), libclang, the OCR-B font and the
# pinned MRZ model: needed to build and run, not only to test.
scripts/install-ocr.sh

step "Rust target wasm32-unknown-unknown"
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  ok "already installed"
else
  rustup target add wasm32-unknown-unknown
fi

step "wasm-bindgen-cli $WASM_BINDGEN_VERSION"
if wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  ok "already installed"
else
  echo "    compiling from crates.io (about 5 minutes, once)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked
fi

step "cargo-leptos $CARGO_LEPTOS_VERSION"
if cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION\$"; then
  ok "already installed"
else
  echo "    compiling from crates.io (about 18 minutes and 3 GB of memory, once)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

step "wasm-opt (npm binaryen, pinned in tools/package-lock.json)"
if [[ -x tools/node_modules/.bin/wasm-opt ]] && tools/node_modules/.bin/wasm-opt --version | grep -q "version 132"; then
  ok "already installed"
else
  (cd tools && npm ci --no-audit --no-fund)
fi

if [[ $WITH_TESTS == 1 ]]; then
  step "Chromium (Debian) for the end-to-end tests"
  if [[ -x /usr/bin/chromium ]]; then
    ok "$(/usr/bin/chromium --version 2>/dev/null || echo present)"
  else
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
  fi

  step "SMTP server for the email tests (Debian python3-aiosmtpd)"
  if /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
    ok "already installed"
  else
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-aiosmtpd
  fi

  step "gdb (Debian), so a stalled test leaves its stack traces in the test log"
  if command -v gdb >/dev/null; then
    ok "already installed"
  else
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gdb
  fi

  step "Playwright test runner (npm, pinned in end2end/package-lock.json)"
  if [[ -f end2end/node_modules/.package-lock.json ]] && cmp -s end2end/package-lock.json end2end/node_modules/.verity-lock 2>/dev/null; then
    ok "already installed"
  else
    (cd end2end && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.verity-lock)
  fi
fi

step "set-up complete"
