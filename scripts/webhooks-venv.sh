#!/usr/bin/env bash
# Makes .venv-webhooks (idempotently) with the Standard Webhooks library pinned in
# scripts/webhooks-requirements.txt, for server/tests/webhooks.rs, and prints the venv's python
# as the last line of stdout; progress goes to stderr. Use it as
#   export VERITY_PYTHON=$(scripts/webhooks-venv.sh | tail -1)
# WEBHOOKS_PYTHON picks the interpreter the venv is made from (default python3.11 or python3).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

VENV=.venv-webhooks
REQUIREMENTS=scripts/webhooks-requirements.txt

say() { printf '  webhooks-venv: %s\n' "$*" >&2; }
fail() { printf '  webhooks-venv: FAILED: %s\n' "$*" >&2; exit 1; }

python=${WEBHOOKS_PYTHON:-$(command -v python3.11 || command -v python3 || true)}
[[ -n $python ]] || fail "no python3.11 (or python3) on PATH"
wanted=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [[ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" == "$wanted" ]] \
  && "$VENV/bin/python" -c 'import standardwebhooks.webhooks' >/dev/null 2>&1; then
  say "standardwebhooks already installed in $VENV"
else
  if ! "$VENV/bin/python" -c '' 2>/dev/null; then
    say "creating $VENV with $("$python" --version 2>&1)"
    rm -rf "$VENV"
    "$python" -m venv "$VENV" >&2
  fi
  say "installing $REQUIREMENTS into $VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS" >&2
  "$VENV/bin/python" -c 'import standardwebhooks.webhooks' || fail "standardwebhooks does not import"
  echo "$wanted" >"$VENV/.requirements.sha256"
  say "standardwebhooks installed in $VENV"
fi
echo "$ROOT/$VENV/bin/python"
