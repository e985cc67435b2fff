#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment in .venv from
# pyproject.toml. Sourced by the other scripts; safe to run repeatedly: it only
# reinstalls when pyproject.toml changed since the last successful install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ASICGEN_VENV:-$ROOT/.venv}"
STAMP="$VENV/.asicgen-installed"

pick_python() {
    for candidate in python3.11 python3.10 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 11) else 1)'; then
            echo "$candidate"; return 0
        fi
    done
    echo "error: asicgen needs Python 3.10 or 3.11 on PATH" >&2
    return 1
}

want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" ]]; then
    py="$(pick_python)"
    echo "[env] creating virtual environment $VENV with $py" >&2
    "$py" -m venv "$VENV"
fi
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
    echo "[env] installing asicgen and its pinned dependencies (first run takes a few minutes)" >&2
    log="$VENV/install.log"
    if ! { "$VENV/bin/python" -m pip install --upgrade pip &&
           "$VENV/bin/python" -m pip install -e "$ROOT[test]"; } >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "error: installing asicgen failed; full log in $log" >&2
        exit 1
    fi
    echo "$want" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
