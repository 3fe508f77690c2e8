#!/usr/bin/env bash
# Quick start: installs what is missing, builds Verity (release) and runs it with the example
# template, its SQLite file and documents under ./data.
#
#   scripts/run.sh                      serve on http://127.0.0.1:3000
#   LEPTOS_SITE_ADDR=0.0.0.0:8080 scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh

printf '\n\033[1m==> building Verity (release; the first build takes several minutes)\033[0m\n'
cargo leptos build --release

export VERITY_DATA_DIR="${VERITY_DATA_DIR:-data}"
export VERITY_TEMPLATES_DIR="${VERITY_TEMPLATES_DIR:-templates}"
printf '\n\033[1m==> starting Verity (Ctrl-C stops it)\033[0m\n'
printf '    API key for the REST API (shown once; run in another terminal):\n'
printf '      VERITY_DATA_DIR=%s target/release/verity api-key create --name my-backend\n' "$VERITY_DATA_DIR"
exec target/release/verity serve
