#!/usr/bin/env bash
# Bootstrap a fresh machine for this project; idempotent and cached, safe to run before every command.
#
#   1. .venv           python -m venv, then the project (editable, with test and dev extras) and the emulator
#   2. node_modules    npm ci (Azurite, pinned in package-lock.json)
#   3. Pulumi engine   a `pulumi` on PATH at the pinned version is used as is; otherwise the engine is built
#                      from the Go module proxy into a cache outside the repo and reused while it matches.
#
# Each step prints its time. The chosen engine directory is written to .local/engine-path.
set -euo pipefail

PULUMI_VERSION="3.259.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${PULUMI_AZBATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-azbatch}"
ENGINE_HOME="$CACHE_ROOT/engine/v$PULUMI_VERSION"
ENGINE_DIR="$ENGINE_HOME/bin"
PYTHON="${PYTHON:-python3}"
cd "$ROOT"
mkdir -p .local

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
secs_since() { local d=$(( $(now_ms) - $1 )); printf '%d.%01d' $((d / 1000)) $(((d % 1000) / 100)); }
T_ALL=$(now_ms)
step_start() { STEP="$1"; T_STEP=$(now_ms); echo "==> $STEP"; }
step_end() { echo "    $STEP: $1 ($(secs_since "$T_STEP")s)"; }

# retry N CMD...: run CMD up to N times, waiting 2, 4, 8 s between tries (transient registry failures).
retry() {
  local tries=$1; shift
  local n=1 wait=2
  until "$@"; do
    if (( n >= tries )); then echo "    failed after $n tries: $*" >&2; return 1; fi
    echo "    attempt $n failed; retrying in ${wait}s: $*" >&2
    sleep "$wait"; n=$((n + 1)); wait=$((wait * 2))
  done
}

hash_files() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

# ---- 1. Python virtualenv -----------------------------------------------------------------------
step_start "python virtualenv (.venv)"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 or newer is required (found: $("$PYTHON" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  rm -rf .venv
  "$PYTHON" -m venv .venv
fi
PY_STAMP=".venv/.installed-$(hash_files pyproject.toml emulator/pyproject.toml file_conventions/pyproject.toml)"
if [ ! -f "$PY_STAMP" ]; then
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  retry 3 .venv/bin/python -m pip install --quiet --upgrade pip
  retry 3 .venv/bin/python -m pip install --quiet -e ./emulator -e ./file_conventions -e '.[test,dev]'
  rm -f .venv/.installed-*
  touch "$PY_STAMP"
  step_end "installed"
else
  step_end "up to date"
fi

# ---- 2. Node packages (Azurite) -----------------------------------------------------------------
step_start "node packages (npm ci)"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is required (Node.js 18 or newer) to install Azurite." >&2
  exit 1
fi
NODE_STAMP="node_modules/.installed-$(hash_files package-lock.json)"
if [ ! -f "$NODE_STAMP" ] || [ ! -x node_modules/.bin/azurite-blob ]; then
  retry 3 npm ci --no-audit --no-fund --loglevel=error
  touch "$NODE_STAMP"
  step_end "installed"
else
  step_end "up to date"
fi

# ---- 3. Pulumi engine ---------------------------------------------------------------------------
step_start "pulumi engine v$PULUMI_VERSION"
engine_ok() { [ -x "$1/pulumi" ] && [ "$("$1/pulumi" version 2>/dev/null)" = "v$PULUMI_VERSION" ]; }
ENGINE_STAMP="$(hash_files engine/go.mod engine/go.sum engine/cmd/pulumi-language-python/main.go)"
engine_cached() { engine_ok "$ENGINE_DIR" && [ "$(cat "$ENGINE_DIR/.complete" 2>/dev/null)" = "$ENGINE_STAMP" ]; }
# Several checkouts on one machine share the engine cache: one bootstrap builds it, holding a lock on
# fd 9 until this script exits; the others wait for that lock, then use the engine it built.
mkdir -p "$CACHE_ROOT/engine"
exec 9>"$CACHE_ROOT/engine/.build.lock"
engine_wait_for_other_build() {
  if ! flock -n 9; then
    echo "    another bootstrap is building the engine; waiting for it"
    flock 9
  fi
  engine_cached
}
CHOSEN=""
if command -v pulumi >/dev/null 2>&1 && engine_ok "$(dirname "$(command -v pulumi)")" \
   && [ -x "$(dirname "$(command -v pulumi)")/pulumi-language-python" ]; then
  CHOSEN="$(dirname "$(command -v pulumi)")"
  step_end "using pulumi on PATH at $CHOSEN"
elif engine_cached; then
  CHOSEN="$ENGINE_DIR"
  step_end "cached at $ENGINE_DIR"
elif command -v go >/dev/null 2>&1 && engine_wait_for_other_build; then
  CHOSEN="$ENGINE_DIR"
  step_end "cached at $ENGINE_DIR (built by a concurrent bootstrap)"
elif command -v go >/dev/null 2>&1; then
  GO_VERSION="$(go env GOVERSION | sed 's/^go//')"
  if ! printf '%s\n%s\n' "1.25" "$GO_VERSION" | sort -V -C; then
    echo "Go 1.25 or newer is needed to build the Pulumi engine (found go$GO_VERSION)." >&2
    exit 1
  fi
  echo "    building pulumi and pulumi-language-python v$PULUMI_VERSION from the Go module proxy"
  echo "    (cold: about 10-15 minutes on 2 cores; cached afterwards in $ENGINE_DIR)"
  rm -rf "$ENGINE_HOME.tmp"
  mkdir -p "$ENGINE_HOME.tmp/bin"
  (
    cd engine
    export CGO_ENABLED=0 GOFLAGS=-mod=mod
    retry 4 go mod download github.com/pulumi/pulumi/pkg/v3 github.com/pulumi/pulumi/sdk/v3
    LDFLAGS="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
    # `go build` downloads what it needs; a retry resumes after a transient download failure.
    retry 3 go build -trimpath -tags osusergo,grpcnotrace -ldflags "$LDFLAGS" \
      -o "$ENGINE_HOME.tmp/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    retry 3 go build -trimpath -tags osusergo,grpcnotrace -ldflags "$LDFLAGS" \
      -o "$ENGINE_HOME.tmp/bin/pulumi-language-python" ./cmd/pulumi-language-python
    # The two helper scripts ship inside the sdk/v3 module; the module cache drops their exec bits.
    SDK_DIR="$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
    install -m 0755 "$SDK_DIR/python/cmd/pulumi-language-python-exec" "$ENGINE_HOME.tmp/bin/"
    install -m 0755 "$SDK_DIR/python/dist/pulumi-resource-pulumi-python" "$ENGINE_HOME.tmp/bin/"
  )
  rm -rf "$ENGINE_HOME"
  mv "$ENGINE_HOME.tmp" "$ENGINE_HOME"
  echo "$ENGINE_STAMP" > "$ENGINE_DIR/.complete"
  if ! engine_ok "$ENGINE_DIR"; then
    echo "the engine built in $ENGINE_DIR does not report v$PULUMI_VERSION" >&2
    exit 1
  fi
  CHOSEN="$ENGINE_DIR"
  step_end "built into $ENGINE_DIR ($(du -sh "$ENGINE_HOME" | cut -f1))"
else
  cat >&2 <<MSG
No Pulumi engine v$PULUMI_VERSION is available and Go is not installed to build one.
Install Pulumi $PULUMI_VERSION and put it on PATH, for example:
    curl -fsSL https://get.pulumi.com | sh -s -- --version $PULUMI_VERSION
    export PATH="\$HOME/.pulumi/bin:\$PATH"
or install Go 1.25 or newer (https://go.dev/dl/) and run this bootstrap again.
MSG
  exit 1
fi
echo "$CHOSEN" > .local/engine-path

echo "==> bootstrap done in $(secs_since "$T_ALL")s (engine: $CHOSEN)"
