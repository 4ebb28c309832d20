#!/usr/bin/env bash
# PtReplay's one entry point.
#   ./run-bench.sh              build everything, record the bundled workloads, replay them, write the report
#   ./run-bench.sh VERB ARGS... run one ptreplay verb, e.g. ./run-bench.sh record -o py.trace -- python3 app.py
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLI_DLL="$ROOT/replay/PtReplay.Cli/bin/Release/net10.0/ptreplay.dll"

build() {
    # Quiet unless it fails: then the whole build log goes to stderr.
    local log
    log="$(mktemp)"
    echo "ptreplay: building (C# and native parts)..." >&2
    if ! dotnet build "$ROOT/replay/PtReplay.Cli/PtReplay.Cli.csproj" -c Release -nologo -v quiet >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        exit 2
    fi
    rm -f "$log"
}

if [[ $# -gt 0 ]]; then
    # Pass-through: build quietly when needed, then run the verb.
    if [[ ! -f "$CLI_DLL" || -n "$(find "$ROOT/traces" "$ROOT/allocator" "$ROOT/replay" "$ROOT/reports" \( -name '*.cs' -o -name '*.c' -o -name '*.h' -o -name '*.csproj' \) -newer "$CLI_DLL" -print -quit)" ]]; then
        build
    fi
    exec dotnet "$CLI_DLL" "$@"
fi

# The main job: build (incremental; native parts too), then record, replay and report.
build
"$ROOT/traces/workloads/bench-main.sh" "$ROOT"
