#!/usr/bin/env bash
# The main job of ./run-bench.sh: build, record the bundled real workloads, summarise them.
set -euo pipefail
ROOT="$1"
echo "PtReplay: building (native parts included)..." >&2
dotnet build "$ROOT/replay/PtReplay.Cli/PtReplay.Cli.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly
echo "The recording and replay steps land with issues #2 and #4." >&2
