#!/usr/bin/env bash
# Instructions per create, by thread, with the server running under valgrind's callgrind: a
# count that repeats from run to run whatever else the machine is doing, where the CPU time per
# create that bench/create-inquiries.sh prints moves by up to 25 % between identical runs on a
# shared virtual machine. Use it to compare two builds of one change; throughput figures still
# come from bench/create-inquiries.sh. Kernel time (syscalls, page cache) is not counted.
#
#   bench/instructions-per-create.sh              release build, 10 s of load (wrk -t1 -c16)
#   BENCH_SKIP_BUILD=1 VERITY_BIN=/path/to/verity bench/instructions-per-create.sh 20
#
# Prints the creates counted in the database during the measured window, then per thread: its
# role (tokio worker, SQLite writer, checkpointer, other), instructions, instructions per create.
# BENCH_KEEP=DIR copies the callgrind files there (for callgrind_annotate).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_OF_LOAD=${1:-10}
export PATH="$HOME/.cargo/bin:$PATH"

missing=()
for tool in valgrind wrk sqlite3 curl; do command -v $tool >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  }
fi
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  cargo build --release -p server --bin verity --locked
fi
BIN=${VERITY_BIN:-$ROOT/target/release/verity}

DATA=$(mktemp -d /tmp/verity-callgrind.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$DATA"' EXIT
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export VERITY_DATA_DIR="$DATA" VERITY_TEMPLATES_DIR="$ROOT/templates" LEPTOS_SITE_ADDR="127.0.0.1:$PORT"
export VERITY_API_RATE_LIMIT=0 RUST_LOG=warn VERITY_PUBLIC_URL="http://127.0.0.1:$PORT"
key=$("$BIN" api-key create --name instructions 2>/dev/null)
valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$DATA/callgrind.%p" \
  "$BIN" serve >"$DATA/verity.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  kill -0 "$pid" 2>/dev/null || { cat "$DATA/verity.log"; exit 1; }
  sleep 0.2
done
load() { # tag seconds
  BENCH_API_KEY=$key BENCH_TAG=$1 BENCH_COUNT=0 wrk -t1 -c16 -d"$2"s \
    -s "$ROOT/bench/post-inquiry.lua" "http://127.0.0.1:$PORT/api/v1/inquiries" >/dev/null
}
count() { sqlite3 "$DATA/verity.sqlite3" 'SELECT COUNT(*) FROM inquiries'; }
load warm 3
before=$(count)
callgrind_control -z "$pid" >/dev/null 2>&1
load measured "$SECONDS_OF_LOAD"
sleep 0.5
callgrind_control -d "$pid" >/dev/null 2>&1
sleep 1
creates=$(($(count) - before))
echo "creates measured: $creates"
for file in "$DATA"/callgrind.$pid.*-*; do
  total=$(grep -m1 '^summary:\|^totals:' "$file" | awk '{print $2}')
  [[ -n $total && $total -gt 0 ]] || continue
  calls=$(callgrind_annotate --inclusive=yes --threshold=100 "$file" 2>/dev/null)
  role=other
  grep -q 'sqlite_writer::run_writer' <<<"$calls" && role=sqlite-writer
  grep -q 'wal_checkpoint\|walCheckpoint' <<<"$calls" && ! grep -q run_writer <<<"$calls" && role=checkpointer
  grep -q 'hyper::proto' <<<"$calls" && role=tokio-worker
  printf '%-14s %14s instructions %9s per create  (%s)\n' "$role" "$total" $((total / creates)) "${file##*.}"
done | sort -k4 -n -r
[[ -n ${BENCH_KEEP:-} ]] && mkdir -p "$BENCH_KEEP" && cp "$DATA"/callgrind.$pid.* "$BENCH_KEEP"/
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
