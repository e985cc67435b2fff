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

# Debian packages for the cell-library flow (`asicgen synth --liberty osu018`): the
# osu018 standard cells and OpenSTA; and a headless Chromium, in which a test renders the
# report page. Installed where the user is root and apt-get exists; elsewhere a note says
# what to install, and the tests that need them skip with that reason.
_asicgen_system_packages() {
    local missing=()
    [[ -f /usr/share/qflow/tech/osu018/osu018_stdcells.lib ]] || missing+=(qflow-tech-osu018)
    command -v sta >/dev/null 2>&1 || missing+=(opensta)
    command -v chromium-headless-shell >/dev/null 2>&1 || command -v chromium >/dev/null 2>&1 ||
        missing+=(chromium-headless-shell)
    (( ${#missing[@]} )) || return 0
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "[env] installing Debian packages: ${missing[*]}" >&2
        if { apt-get install -y --no-install-recommends "${missing[@]}" ||
             { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }; } \
               >/tmp/asicgen-apt.log 2>&1; then
            return 0
        fi
        echo "[env] note: installing ${missing[*]} failed (log /tmp/asicgen-apt.log)" >&2
    fi
    echo "[env] note: ${missing[*]} not installed (needs root and apt-get): the cell-library" \
         "synthesis (--liberty) or the browser test of the report is unavailable and its tests skip" >&2
    return 0
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

_asicgen_system_packages
_asicgen_env
_asicgen_status=$?
unset -f _asicgen_env _asicgen_pick_python _asicgen_system_packages
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    exit "$_asicgen_status"
fi
return "$_asicgen_status"
