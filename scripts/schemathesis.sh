#!/usr/bin/env bash
# Fuzzes the REST API with schemathesis against the OpenAPI document the server itself serves
# (/openapi.json): no 5xx, and every response's status code, content type and body as documented.
#
# Installs schemathesis (pinned in scripts/schemathesis-requirements.txt) into .venv-schemathesis
# when it is not there yet, builds target/debug/verity (a no-op when fresh; set VERITY_BIN to test
# another binary instead), starts it on a free loopback port over a fresh data folder, creates an
# API key, seeds accounts, inquiries and (through the hosted flow) a document and a verification
# so that the fuzzer reaches real resources, and runs schemathesis with a fixed seed. Kills the
# server on exit. Exits non-zero on any failure. Reports and the server's log go to
# target/schemathesis/.
#
#   SCHEMATHESIS_MAX_EXAMPLES   test cases per operation and phase (default 50)
#   SCHEMATHESIS_SEED           the generation seed (default fixed, for reproducible runs)
#   SCHEMATHESIS_TIME_LIMIT     seconds before the fuzzer is stopped and the run fails (default 900)
#   SCHEMATHESIS_CHECKS         comma-separated checks instead of the enforced set (e.g. `all`, to explore)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

VENV=.venv-schemathesis
REQUIREMENTS=scripts/schemathesis-requirements.txt
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-50}
SEED=${SCHEMATHESIS_SEED:-20261127}
TIME_LIMIT=${SCHEMATHESIS_TIME_LIMIT:-900}
REPORT_DIR=$ROOT/target/schemathesis

say() { printf '  schemathesis: %s\n' "$*"; }
fail() { printf '  schemathesis: FAILED: %s\n' "$*" >&2; exit 1; }

# --- the fuzzer, in its own venv ---------------------------------------------------------------
python=${SCHEMATHESIS_PYTHON:-$(command -v python3.11 || command -v python3 || true)}
[[ -n $python ]] || fail "no python3.11 (or python3) on PATH"
wanted=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [[ -x $VENV/bin/schemathesis ]] && [[ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" == "$wanted" ]] \
  && "$VENV/bin/schemathesis" --version >/dev/null 2>&1; then
  say "$("$VENV/bin/schemathesis" --version) already installed in $VENV"
else
  if ! "$VENV/bin/python" -c '' 2>/dev/null; then
    say "creating $VENV with $("$python" --version 2>&1)"
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
  fi
  say "installing $REQUIREMENTS into $VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  echo "$wanted" >"$VENV/.requirements.sha256"
  say "$("$VENV/bin/schemathesis" --version) installed"
fi
py=$ROOT/$VENV/bin/python

# --- the server under test ----------------------------------------------------------------------
if [[ -n ${VERITY_BIN:-} ]]; then
  bin=$(realpath "$VERITY_BIN")
  say "testing $bin (VERITY_BIN)"
else
  say "building the server (cargo build -p server --bin verity)"
  cargo build -p server --bin verity --locked
  bin=$ROOT/target/debug/verity
fi
[[ -x $bin ]] || fail "$bin is not an executable"

work=$(mktemp -d -t verity-schemathesis.XXXXXX)
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$REPORT_DIR"
mkdir -p "$REPORT_DIR" "$work/data"
: >"$work/verity.toml" # an empty configuration file, so that a developer's ./verity.toml is not read
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port

# Only what is set here reaches the server: no database, mail server or limits from the caller.
# (A plain command, not a function, so that `&` gives the server's own pid to kill.)
verity=(
  env -i PATH="$PATH" HOME="${HOME:-/root}" RUST_LOG="${RUST_LOG:-info}"
  VERITY_CONFIG="$work/verity.toml" VERITY_DATA_DIR="$work/data"
  VERITY_TEMPLATES_DIR="$ROOT/templates" VERITY_API_RATE_LIMIT=0
  LEPTOS_SITE_ADDR="127.0.0.1:$port" "$bin"
)

say "creating an API key in a fresh data folder ($work/data)"
api_key=$("${verity[@]}" api-key create --name schemathesis 2>"$work/api-key.log") \
  || { cat "$work/api-key.log" >&2; fail "verity api-key create"; }
[[ -n $api_key ]] || fail "verity api-key create printed no key"

say "starting $bin on $base"
"${verity[@]}" serve >"$REPORT_DIR/server.log" 2>&1 &
server_pid=$!

say "waiting for $base/healthz"
"$py" - "$base/healthz" "$server_pid" <<'EOF' || { tail -n 40 "$REPORT_DIR/server.log" >&2; fail "the server did not become healthy"; }
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("the server exited")
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit("timed out")
EOF

# Without ids that exist, every operation on one resource answers 404 and the fuzzer never gets
# past the lookup. Seed accounts and inquiries through the API, and two inquiries with an ID photo
# through the hosted flow (for documents, files and verifications); the fuzzer then draws ids from
# these most of the time and random ones the rest, via a generated schemathesis.toml.
say "seeding accounts, inquiries, a document and a verification"
API_KEY=$api_key "$py" - "$base" "$work/schemathesis.toml" <<'EOF' || fail "seeding the API failed"
import json, os, struct, sys, zlib
import requests

base, config_path = sys.argv[1], sys.argv[2]
api = requests.Session()
api.headers["Authorization"] = "Bearer " + os.environ["API_KEY"]

def call(method, path, body=None):
    response = api.request(method, base + path, json=body, timeout=30)
    if response.status_code not in (200, 201):
        sys.exit(f"{method} {path}: {response.status_code} {response.text[:500]}")
    return response.json()

def png(width, height):
    """A grey checkerboard: sharp, no glare, large enough to pass the ID photo checks."""
    rows = b"".join(
        b"\x00" + bytes(20 + 200 * ((x // 8 + y // 8) % 2) for x in range(width)) for y in range(height)
    )
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")

def through_the_flow(template_id, photo):
    """What a person does in the browser without JavaScript: start, details, ID photo."""
    flow = requests.Session()
    flow.headers["Accept"] = "text/html"
    started = flow.post(base + "/flow/start", data={"template_id": template_id}, allow_redirects=False, timeout=30)
    if started.status_code != 302 or "inquiry-id=" not in started.headers.get("location", ""):
        sys.exit(f"POST /flow/start: {started.status_code} {started.text[:300]}")
    inquiry_id = started.headers["location"].split("inquiry-id=", 1)[1]
    # The session cookie is `Secure`, which requests will not send over http: send it by hand.
    flow.headers["Cookie"] = started.headers["set-cookie"].split(";", 1)[0]
    details = {"inquiry_id": inquiry_id, "fields[name-first]": "Alex", "fields[name-last]": "Doe",
               "fields[birthdate]": "1990-01-31"}
    for path, form, files in (("/flow/details", details, None),
                              ("/flow/id-photo", {"inquiry_id": inquiry_id}, {"photo": ("id-front.png", photo, "image/png")})):
        response = flow.post(base + path, data=form, files=files, allow_redirects=False, timeout=60)
        if response.status_code != 302:
            sys.exit(f"POST {path}: {response.status_code} {response.text[:300]}")
    return inquiry_id

listed = call("GET", "/api/v1/inquiry-templates")["data"]
if not listed:
    sys.exit("the server has no inquiry templates")
templates = [t["id"] for t in listed]
versions = [t["relationships"]["latest-published-version"]["data"]["id"] for t in listed]
accounts = [
    call("POST", "/api/v1/accounts", {"data": {"attributes": {"reference-id": f"seed-account-{n}"}}})["data"]["id"]
    for n in range(3)
]
inquiries = []
for n in range(8):
    attributes = {"inquiry-template-id": templates[n % len(templates)], "tags": ["seed"]}
    if n % 2:
        attributes["fields"] = {"name-first": "Alex", "name-last": "Doe", "birthdate": "1990-01-31"}
    if n % 3 == 0:
        attributes["account-id"] = accounts[n % len(accounts)]
    else:
        attributes["reference-id"] = f"seed-person-{n}"
    inquiries.append(call("POST", "/api/v1/inquiries", {"data": {"attributes": attributes}})["data"]["id"])
photo = png(1200, 800)
verifications, documents, files = [], [], []
for n in range(2):
    inquiry_id = through_the_flow(templates[0], photo)
    inquiries.append(inquiry_id)
    relationships = call("GET", f"/api/v1/inquiries/{inquiry_id}")["data"]["relationships"]
    verifications += [v["id"] for v in relationships["verifications"]["data"]]
    for d in relationships["documents"]["data"]:
        documents.append(d["id"])
        files += [f["id"] for f in call("GET", f"/api/v1/documents/{d['id']}")["data"]["attributes"]["files"]]
if not (verifications and documents and files):
    sys.exit("the hosted flow made no verification, document or file")
events = [e["id"] for e in call("GET", "/api/v1/events?page[size]=100")["data"]]
# Webhooks pointing at a closed loopback port: deliveries fail fast and are retried.
webhooks = [
    call("POST", "/api/v1/webhooks", {"data": {"attributes": {
        "url": f"http://127.0.0.1:9/hook-{n}", "enabled-events": ["*"] if n else ["inquiry.completed"]}}})["data"]["id"]
    for n in range(2)
]

def dictionary(values):
    return "{ values = %s }" % json.dumps(sorted(set(values)))

def draw(parameter, name, probability=0.8):
    return '"%s" = { dictionary = "%s", probability = %s }' % (parameter, name, probability)

operations = [
    # TOML string: the regex `^/api/v1/inquiries/\{id\}` (every operation on one inquiry).
    ('include-path-regex = "^/api/v1/inquiries/\\\\{id\\\\}"', [draw("path.id", "inquiry-ids")]),
    ('include-path = "/api/v1/accounts/{id}"', [draw("path.id", "account-ids")]),
    ('include-path = "/api/v1/inquiry-templates/{id}"', [draw("path.id", "template-ids")]),
    ('include-path = "/api/v1/events/{id}"', [draw("path.id", "event-ids")]),
    ('include-path-regex = "^/api/v1/webhooks/\\\\{id\\\\}"', [draw("path.id", "webhook-ids")]),
    ('include-path = "/api/v1/verifications/{id}"', [draw("path.id", "verification-ids")]),
    ('include-path = "/api/v1/documents/{id}"', [draw("path.id", "document-ids")]),
    ('include-path = "/api/v1/documents/{id}/files/{file_id}"',
     [draw("path.id", "document-ids"), draw("path.file_id", "file-ids")]),
    ('include-name = "POST /api/v1/inquiries"', [
        draw("body.data.attributes.inquiry-template-id", "template-ids", 0.7),
        draw("body.data.attributes.inquiry-template-version-id", "template-version-ids", 0.3),
        draw("body.data.attributes.account-id", "account-ids", 0.5),
    ]),
]
with open(config_path, "w") as config:
    config.write("[cache]\nenabled = false\n\n[dictionaries]\n")
    for name, values in (("inquiry-ids", inquiries), ("account-ids", accounts), ("template-ids", templates),
                         ("template-version-ids", versions), ("event-ids", events),
                         ("verification-ids", verifications), ("document-ids", documents), ("file-ids", files),
                         ("webhook-ids", webhooks)):
        config.write(f"{name} = {dictionary(values)}\n")
    for selector, parameters in operations:
        config.write("\n[[operations]]\n%s\nparameters = { %s }\n" % (selector, ", ".join(parameters)))
print(f"  schemathesis: seeded {len(accounts)} accounts, {len(inquiries)} inquiries, "
      f"{len(documents)} documents, {len(verifications)} verifications, {len(events)} events, "
      f"{len(webhooks)} webhooks")
EOF

# --- the run ------------------------------------------------------------------------------------
# The contract: no 5xx; status codes, content types and bodies as documented; and every operation
# refuses a request without a valid API key (ignored_auth).
checks=${SCHEMATHESIS_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,ignored_auth}
args=(
  run "$base/openapi.json"
  --checks "$checks"
  --max-examples "$MAX_EXAMPLES"
  --seed "$SEED"
  --generation-database none
  --workers 1
  --continue-on-failure
  --request-timeout 10
  --report junit,ndjson --report-dir "$REPORT_DIR"
)
say "running (at most ${TIME_LIMIT}s): schemathesis --config-file <seeded ids> ${args[*]} --header 'Authorization: Bearer <key>'"
started=$SECONDS
status=0
# The fuzzer runs in the temporary folder so that its caches (.hypothesis, .schemathesis) stay
# out of the work tree and one run cannot steer the next.
(
  cd "$work"
  exec timeout --kill-after=10 "$TIME_LIMIT" "$ROOT/$VENV/bin/schemathesis" \
    --config-file "$work/schemathesis.toml" "${args[@]}" --header "Authorization: Bearer $api_key"
) || status=$?
elapsed=$((SECONDS - started))

if [[ $status == 124 || $status == 137 ]]; then
  fail "schemathesis did not finish within ${TIME_LIMIT}s (reports so far and the server log: $REPORT_DIR)"
fi
if ! kill -0 "$server_pid" 2>/dev/null; then
  tail -n 40 "$REPORT_DIR/server.log" >&2
  fail "the server died during the run (log: $REPORT_DIR/server.log)"
fi
if [[ $status != 0 ]]; then
  fail "schemathesis found problems after ${elapsed}s (exit $status); reports and the server log: $REPORT_DIR"
fi
say "passed in ${elapsed}s"
