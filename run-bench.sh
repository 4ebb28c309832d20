#!/usr/bin/env bash
# PtReplay's one entry point.
#   ./run-bench.sh              build everything, record the bundled workloads, replay them, write the report
#   ./run-bench.sh VERB ARGS... run one ptreplay verb, e.g. ./run-bench.sh record -o py.trace -- python3 app.py
# The main job first installs the Debian packages it needs and lacks, when it runs as root with apt-get
# (PTREPLAY_NO_INSTALL=1 turns that off); otherwise it prints the apt-get command and replays on the
# engines that are there (the others show in the report with the reason they did not run).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Published, not just built: the publish precompiles ptreplay (ReadyToRun, PtReplay.Cli.csproj), so every verb starts
# without JIT-compiling itself, which `record`'s end-to-end time counts.
CLI_DLL="$ROOT/replay/PtReplay.Cli/bin/Release/net10.0/publish/ptreplay.dll"

build() {
    # Quiet unless it fails: then the whole build log goes to stderr.
    local log
    log="$(mktemp)"
    echo "ptreplay: building (C# and native parts)..." >&2
    if ! dotnet publish "$ROOT/replay/PtReplay.Cli/PtReplay.Cli.csproj" -c Release -nologo -v quiet >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        exit 2
    fi
    rm -f "$log"
}

# Needed to build and to record the bundled workloads.
REQUIRED_PACKAGES=(gcc make libc6-dev python3 sqlite3 perl coreutils)
# The real allocators the replay compares with glibc (engines jemalloc, tcmalloc, mimalloc).
ENGINE_PACKAGES=(libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0)

installed() {
    dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed
}

# Installs what is missing when it can (root, apt-get, not PTREPLAY_NO_INSTALL); else says how to.
install_packages() {
    command -v dpkg-query >/dev/null || return 0   # not Debian: nothing to check
    local missing=() p log
    for p in "${REQUIRED_PACKAGES[@]}" "${ENGINE_PACKAGES[@]}"; do
        installed "$p" || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    local command="apt-get install -y --no-install-recommends ${missing[*]}"
    if [[ "${PTREPLAY_NO_INSTALL:-0}" != 1 && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        echo "ptreplay: installing ${missing[*]} with apt-get (PTREPLAY_NO_INSTALL=1 skips this)" >&2
        log="$(mktemp)"
        if (apt-get update -q && DEBIAN_FRONTEND=noninteractive $command) >"$log" 2>&1; then
            rm -f "$log"
            return 0
        fi
        cat "$log" >&2
        rm -f "$log"
        echo "ptreplay: apt-get failed (above)" >&2
    fi
    [[ "$(id -u)" == 0 ]] || command="sudo $command"
    for p in "${REQUIRED_PACKAGES[@]}"; do
        if ! installed "$p"; then
            echo "ptreplay: $p is needed; install what is missing with: $command" >&2
            exit 5
        fi
    done
    echo "ptreplay: the engines of ${missing[*]} will be skipped; to run them: $command" >&2
}

if [[ $# -gt 0 ]]; then
    # Pass-through: build quietly when needed, then run the verb.
    if [[ ! -f "$CLI_DLL" || -n "$(find "$ROOT/traces" "$ROOT/allocator" "$ROOT/replay" "$ROOT/reports" \( -name '*.cs' -o -name '*.c' -o -name '*.h' -o -name '*.csproj' \) -newer "$CLI_DLL" -print -quit)" ]]; then
        build
    fi
    exec dotnet "$CLI_DLL" "$@"
fi

# The main job: packages, build (incremental; native parts too), then record, replay and report.
install_packages
build
"$ROOT/traces/workloads/bench-main.sh" "$ROOT"
