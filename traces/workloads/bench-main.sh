#!/usr/bin/env bash
# The main job of ./run-bench.sh (which has just built everything, native parts included): record the
# bundled real workloads, summarise each recording, replay each one on every engine, and write the
# results and the report under reports/out/<timestamp>/ (override with PTREPLAY_OUT).
set -euo pipefail
ROOT="$1"
OUT="${PTREPLAY_OUT:-$ROOT/reports/out/$(date -u +%Y%m%dT%H%M%SZ)}"
TRACES="$OUT/traces"
mkdir -p "$TRACES"

say() { printf '\n== %s\n' "$*" >&2; }
ptreplay() { "$ROOT/run-bench.sh" "$@"; }

record() { # name, then `-w WORKLOAD` (a bundled workload: `ptreplay record --help`) or `-- CMD ARGS...`
    local name="$1"; shift
    say "recording $name: $*"
    ptreplay record -o "$TRACES/$name.trace" "$@" > "$OUT/$name.stdout"
}

record python -w python
record sqlite -w sqlite
record perl -w perl
record sort -w sort
record gcc -w gcc
# The driver forks cc1 (the compiler proper, the interesting heap) and as: their traces are gcc.trace.<pid>.
cc1="$(grep -l -a 'cc1' "$TRACES"/gcc.trace.* 2>/dev/null | head -1 || true)"
if [[ -n "$cc1" ]]; then mv "$cc1" "$TRACES/cc1.trace"; fi
record mt -- "$ROOT/artifacts/native/ptworkload-mt" # the default size: 185k events (bench-record's is 5x longer)

for t in "$TRACES"/*.trace; do
    name="$(basename "$t" .trace)"
    say "summary of $name"
    ptreplay info "$t" | tee "$OUT/$name.info.txt" >&2
done

for t in "$TRACES"/*.trace; do
    name="$(basename "$t" .trace)"
    say "replaying $name on every engine"
    ptreplay replay "$t" --engine sim,glibc,jemalloc,tcmalloc,mimalloc --explain --gc-proof --out "$OUT/replay-$name" || \
        echo "replay of $name failed (see above); continuing" >&2
done

if compgen -G "$OUT/replay-*/summary.json" > /dev/null; then
    say "writing the report"
    ptreplay report "$OUT"/replay-*/summary.json -o "$OUT/report.html" >&2
    echo "REPORT: $OUT/report.html"
fi

say "done: results in $OUT"
