# Sourced by the scripts: puts the pinned build tools first on PATH and names the site folder.
# cargo-leptos looks for wasm-opt on PATH and would try to download one otherwise.
VERITY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$VERITY_ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export LEPTOS_OUTPUT_NAME=verity
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site}"
