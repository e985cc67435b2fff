#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment in .venv from
# pyproject.toml and requirements.lock, then puts it on PATH. Used by the other
# scripts and meant to be sourced by users (`source scripts/env.sh`): it leaves the
# caller's shell options as they were and never exits the caller's shell. Safe to
# run repeatedly: it only reinstalls when pyproject.toml or requirements.lock changed
# since the last successful install.

_asicgen_pick_python() {
    local candidate
    for candidate in python3.11 python3.10 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 11) else 1)'; then
            echo "$candidate"; return 0
        fi
    done
    echo "error: asicgen needs Python 3.10 or 3.11 on PATH" >&2
    return 1
}

_asicgen_env() {
    local root venv stamp want py log
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)" || return 1
    venv="${ASICGEN_VENV:-$root/.venv}"
    stamp="$venv/.asicgen-installed"
    want="$(cat "$root/pyproject.toml" "$root/requirements.lock" | sha256sum | cut -d' ' -f1)" || return 1
    if [[ ! -x "$venv/bin/python" ]]; then
        py="$(_asicgen_pick_python)" || return 1
        echo "[env] creating virtual environment $venv with $py" >&2
        "$py" -m venv "$venv" || return 1
    fi
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        echo "[env] installing asicgen and its locked dependencies (first run: about 2 minutes, ~600 MB download)" >&2
        log="$venv/install.log"
        if ! { "$venv/bin/python" -m pip install --upgrade pip &&
               "$venv/bin/python" -m pip install -c "$root/requirements.lock" -e "$root[test]"; } >"$log" 2>&1; then
            tail -n 40 "$log" >&2
            echo "error: installing asicgen failed; full log in $log" >&2
            return 1
        fi
        echo "$want" > "$stamp"
    fi
    case ":$PATH:" in
        *":$venv/bin:"*) ;;
        *) export PATH="$venv/bin:$PATH" ;;
    esac
}

_asicgen_env
_asicgen_status=$?
unset -f _asicgen_env _asicgen_pick_python
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    exit "$_asicgen_status"
fi
return "$_asicgen_status"
