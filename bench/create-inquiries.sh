#!/usr/bin/env bash
# Create-inquiry throughput and p50/p99 latency on SQLite at 64 concurrent clients, against a
# bare axum JSON handler (server/examples/bare_json.rs) measured in the same run on the same
# machine. Goal: >= 1,000 creates/s and >= 30 % of the bare handler's rate.
#
#   bench/create-inquiries.sh                  one round (build, create run, bare run, summary)
#   BENCH_RUNS=3 bench/create-inquiries.sh     three rounds, then the medians
#
# Each round starts `verity serve` on a fresh temporary data directory (its own SQLite file),
# creates an API key, warms up, then runs `wrk -t2 -c64 -d20s --latency` against
# POST /api/v1/inquiries and the same wrk run against the bare handler's POST /echo. Every
# request carries a unique reference-id (so every create also creates its account). The
# inquiries in the database afterwards must equal the 201s wrk counted; the round fails if not.
# Each round also prints the server's CPU per create by thread (tokio workers, SQLite writer,
# checkpointer) and the time each spent waiting for a core, from /proc/PID/task/*/schedstat.
#
# Knobs (environment): BENCH_RUNS (1), BENCH_DURATION (20s), BENCH_CONNECTIONS (64),
# BENCH_THREADS (2), BENCH_WARMUP (3s), BENCH_SKIP_BUILD=1 (use the binaries already built),
# BENCH_KEEP=1 (keep the temporary data directories), BENCH_COUNT=0 (no per-response Lua).
# The machine may be shared: each figure is printed with the load average (`uptime`) before it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

RUNS=${BENCH_RUNS:-1}
DURATION=${BENCH_DURATION:-20s}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
WARMUP=${BENCH_WARMUP:-3s}
LUA="$ROOT/bench/post-inquiry.lua"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
ok() { printf '    ok: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
load() { uptime | sed 's/.*load average: /load /'; }

export PATH="$HOME/.cargo/bin:$PATH"

step "load generator and SQLite CLI (Debian wrk, sqlite3)"
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]} == 0)); then
  ok "already installed ($(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), sqlite3 $(sqlite3 --version | cut -d' ' -f1))"
else
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  }
  ok "installed ${missing[*]}"
fi

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  step "release build of verity and the bare handler (several minutes when cold)"
  cargo build --release -p server --bin verity --example bare_json --locked
fi
VERITY="$ROOT/target/release/verity"
BARE="$ROOT/target/release/examples/bare_json"
[[ -x $VERITY && -x $BARE ]] || die "missing $VERITY or $BARE (build first)"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null && return
  local port
  for port in $(seq 20000 20999 | shuf); do
    (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
  die "no free port"
}

wait_http() { # url pid
  local i
  for i in $(seq 1 200); do
    kill -0 "$2" 2>/dev/null || return 1
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  return 1
}

# CPU time and run-queue wait (ns) of a process's threads, summed by thread name:
# "name cpu_ns wait_ns" lines, sorted (from /proc/PID/task/*/schedstat).
thread_times() { # pid
  local task
  for task in /proc/"$1"/task/*; do
    printf '%s %s\n' "$(tr -d ' ' <"$task/comm" 2>/dev/null)" "$(cat "$task/schedstat" 2>/dev/null)"
  done | awk 'NF >= 3 { cpu[$1] += $2; wait[$1] += $3 } END { for (name in cpu) print name, cpu[name], wait[name] }' | sort
}

# Per create, by thread name: CPU µs and (run-queue wait µs) between two thread_times files.
per_thread() { # before after requests
  join "$1" "$2" | awk -v n="$3" '
    { cpu = ($4 - $2) / 1e3 / n; wait = ($5 - $3) / 1e3 / n
      if (cpu >= 0.5) printf "%s%s %.1f (%.1f)", sep, $1, cpu, wait; sep = ", " }
    END { print "" }'
}

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # utime + stime of a process, in clock ticks
  awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

PIDS=()
DIRS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ ${BENCH_KEEP:-0} != 1 ]]; then
    local dir
    for dir in "${DIRS[@]}"; do rm -rf "$dir"; done
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The inquiries in the database once the server has finished what wrk left in flight.
settled_count() { # db
  local now last=-1 i
  for i in $(seq 1 50); do
    now=$(sqlite3 "$1" 'SELECT COUNT(*) FROM inquiries')
    [[ $now == "$last" ]] && { echo "$now"; return; }
    last=$now
    sleep 0.2
  done
  echo "$now"
}

field() { # name line
  sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

# wrk run: url tag duration [api_key [record_file]] -> prints the BENCH line (wrk's full output
# goes to stderr)
run_wrk() {
  local out
  out=$(BENCH_TAG="$2" BENCH_API_KEY="${4:-}" BENCH_RECORD="${5:-}" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$3" --latency -s "$LUA" "$1") || die "wrk failed: $out"
  printf '%s\n' "$out" | sed 's/^/    | /' >&2
  grep '^BENCH requests=' <<<"$out" || die "no summary from wrk: $out"
}

declare -a C_RPS C_P50 C_P99 B_RPS B_P50 B_P99 RATIO
for round in $(seq 1 "$RUNS"); do
  step "round $round of $RUNS"
  data=$(mktemp -d /tmp/verity-bench.XXXXXX)
  DIRS+=("$data")
  vport=$(free_port)
  bport=$(free_port)
  while [[ $bport == "$vport" ]]; do bport=$(free_port); done

  export VERITY_DATA_DIR="$data" VERITY_TEMPLATES_DIR=templates LEPTOS_SITE_ADDR="127.0.0.1:$vport"
  export VERITY_API_RATE_LIMIT=0 RUST_LOG=warn VERITY_PUBLIC_URL="http://127.0.0.1:$vport"
  key=$("$VERITY" api-key create --name bench) || die "verity api-key create failed"
  [[ $key == verity_* ]] || die "unexpected api-key output: $key"
  "$VERITY" serve >"$data/verity.log" 2>&1 &
  vpid=$!
  PIDS+=("$vpid")
  wait_http "http://127.0.0.1:$vport/healthz" "$vpid" || die "verity did not start: $(tail -20 "$data/verity.log")"
  "$BARE" "$bport" >"$data/bare.log" 2>&1 &
  bpid=$!
  PIDS+=("$bpid")
  wait_http "http://127.0.0.1:$bport/" "$bpid" || die "bare_json did not start: $(cat "$data/bare.log")"
  ok "verity pid $vpid on :$vport (data $data), bare_json pid $bpid on :$bport"

  create_url="http://127.0.0.1:$vport/api/v1/inquiries"
  bare_url="http://127.0.0.1:$bport/echo"
  db="$data/verity.sqlite3"

  # One request by hand first: a clear error beats 20 s of failures.
  status=$(curl -s -o "$data/first.json" -w '%{http_code}' -X POST "$create_url" \
    -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"data":{"attributes":{"inquiry-template-id":"itmpl_basic_kyc","reference-id":"bench-probe"}}}')
  [[ $status == 201 ]] || die "probe create answered $status: $(head -c 500 "$data/first.json")"

  step "warm-up ($WARMUP each)"
  run_wrk "$create_url" "warm$round" "$WARMUP" "$key" >/dev/null
  run_wrk "$bare_url" "warm$round" "$WARMUP" >/dev/null
  before=$(settled_count "$db")

  step "create inquiries: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency  ($(load))"
  c_load=$(load)
  ticks0=$(cpu_ticks "$vpid")
  thread_times "$vpid" >"$data/threads-before.txt"
  cline=$(run_wrk "$create_url" "run$round" "$DURATION" "$key" "$data/created-201.txt")
  ticks1=$(cpu_ticks "$vpid")
  thread_times "$vpid" >"$data/threads-after.txt"
  after=$(settled_count "$db")
  created=$((after - before))
  c201=$(field status_201 "$cline")
  in_flight=$(($(field sent "$cline") - $(field requests "$cline")))
  # Match the reference-ids answered 201 against the rows of this run: every 201 must be in the
  # database, and the only rows without a 201 are requests wrk abandoned in flight at its deadline
  # (the server finished them, or dropped them when the connection closed).
  read -r recorded missing unanswered < <(sqlite3 -separator ' ' "$db" <<SQL
CREATE TEMP TABLE answered (reference_id TEXT PRIMARY KEY);
.import '$data/created-201.txt' answered
SELECT (SELECT COUNT(*) FROM answered),
       (SELECT COUNT(*) FROM answered WHERE reference_id NOT IN (SELECT reference_id FROM inquiries)),
       (SELECT COUNT(*) FROM inquiries WHERE reference_id LIKE 'run$round-%'
          AND reference_id NOT IN (SELECT reference_id FROM answered));
SQL
  )
  c_cpu_us=$(awk -v t=$((ticks1 - ticks0)) -v hz="$CLK_TCK" -v n="$(field requests "$cline")" \
    'BEGIN { printf "%.0f", (n > 0) ? (t / hz * 1e6 / n) : 0 }')

  step "bare handler: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency  ($(load))"
  b_load=$(load)
  ticks0=$(cpu_ticks "$bpid")
  bline=$(run_wrk "$bare_url" "run$round" "$DURATION")
  ticks1=$(cpu_ticks "$bpid")
  b_cpu_us=$(awk -v t=$((ticks1 - ticks0)) -v hz="$CLK_TCK" -v n="$(field requests "$bline")" \
    'BEGIN { printf "%.0f", (n > 0) ? (t / hz * 1e6 / n) : 0 }')

  kill "$vpid" "$bpid" 2>/dev/null || true
  wait "$vpid" "$bpid" 2>/dev/null || true

  c_rps=$(field rps "$cline")
  b_rps=$(field rps "$bline")
  ratio=$(awk -v c="$c_rps" -v b="$b_rps" 'BEGIN { printf "%.1f", (b > 0) ? (100 * c / b) : 0 }')
  C_RPS+=("$c_rps"); B_RPS+=("$b_rps"); RATIO+=("$ratio")
  C_P50+=("$(field p50_us "$cline")"); C_P99+=("$(field p99_us "$cline")")
  B_P50+=("$(field p50_us "$bline")"); B_P99+=("$(field p99_us "$bline")")

  ms() { awk -v us="$1" 'BEGIN { printf "%.2f ms", us / 1000 }'; }
  printf '\nround %d  (wrk -t%s -c%s -d%s, %s cores)\n' "$round" "$THREADS" "$CONNECTIONS" "$DURATION" "$(nproc)"
  printf '  creates:  %8.0f /s  p50 %s  p99 %s  non-201: %s [%s]  server CPU %s us/req   (%s)\n' \
    "$c_rps" "$(ms "$(field p50_us "$cline")")" "$(ms "$(field p99_us "$cline")")" \
    "$(field non_201 "$cline")" "$(field codes "$cline")" "$c_cpu_us" "$c_load"
  printf '            CPU us per create by thread (run-queue wait us): %s\n' \
    "$(per_thread "$data/threads-before.txt" "$data/threads-after.txt" "$(field requests "$cline")")"
  printf '  bare:     %8.0f /s  p50 %s  p99 %s  non-201: %s  server CPU %s us/req   (%s)\n' \
    "$b_rps" "$(ms "$(field p50_us "$bline")")" "$(ms "$(field p99_us "$bline")")" \
    "$(field non_201 "$bline")" "$b_cpu_us" "$b_load"
  printf '  ratio:    %s %% of bare\n' "$ratio"
  printf '  database: %s inquiries created during the run (SELECT COUNT(*) FROM inquiries: %s in all)\n' "$created" "$after"
  printf '            = %s answered 201 (all %s found by reference-id, %s missing)\n' "$c201" "$recorded" "$missing"
  printf '            + %s committed for requests wrk abandoned in flight at its deadline (%s were in flight)\n' \
    "$unanswered" "$in_flight"
  if [[ $recorded != "$c201" || $missing != 0 || $created != $((c201 + unanswered)) || $unanswered -gt $in_flight ]]; then
    die "the database does not match the 201s: $created rows, $c201 x 201 ($recorded recorded, $missing missing), $unanswered unanswered of $in_flight in flight"
  fi
  [[ $(field non_201 "$cline") == 0 ]] || die "some creates were not answered 201 (see above)"
  [[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$data" # its WAL alone can reach 100 MB
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
if ((RUNS > 1)); then
  printf '\nmedian of %d rounds\n' "$RUNS"
  printf '  creates:  %8.0f /s  p50 %.2f ms  p99 %.2f ms\n' "$(median "${C_RPS[@]}")" \
    "$(awk -v v="$(median "${C_P50[@]}")" 'BEGIN { print v / 1000 }')" \
    "$(awk -v v="$(median "${C_P99[@]}")" 'BEGIN { print v / 1000 }')"
  printf '  bare:     %8.0f /s  p50 %.2f ms  p99 %.2f ms\n' "$(median "${B_RPS[@]}")" \
    "$(awk -v v="$(median "${B_P50[@]}")" 'BEGIN { print v / 1000 }')" \
    "$(awk -v v="$(median "${B_P99[@]}")" 'BEGIN { print v / 1000 }')"
  printf '  ratio:    %s %% of bare (median of the per-round ratios)\n' "$(median "${RATIO[@]}")"
fi
c_final=$(median "${C_RPS[@]}")
r_final=$(median "${RATIO[@]}")
verdict=$(awk -v c="$c_final" -v r="$r_final" 'BEGIN { v = "NOT MET"; if (c >= 1000 && r >= 30) v = "MET"; print v }')
printf '\ngoal (>= 1,000 creates/s and >= 30 %% of bare): %s  (%.0f creates/s, %s %%)\n' "$verdict" "$c_final" "$r_final"
