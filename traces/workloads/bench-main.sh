#!/usr/bin/env bash
# The main job of ./run-bench.sh (which has just built everything, native parts included): record the
# bundled real workloads, summarise each recording, replay each one on every engine, and write the
# results and the report under reports/out/<timestamp>/ (override with PTREPLAY_OUT).
set -euo pipefail
ROOT="$1"
WL="$ROOT/traces/workloads"
OUT="${PTREPLAY_OUT:-$ROOT/reports/out/$(date -u +%Y%m%dT%H%M%SZ)}"
TRACES="$OUT/traces"
mkdir -p "$TRACES"

say() { printf '\n== %s\n' "$*" >&2; }
ptreplay() { "$ROOT/run-bench.sh" "$@"; }

# Inputs that need generating (deterministic).
seq 1 60000 | awk '{ printf "%08d line %d %s\n", ($1 * 7919) % 100003, $1, substr("abcdefghijklmnopqrstuvwxyz", 1 + $1 % 26) }' > "$OUT/sort-input.txt"

record() { # name, then the command
    local name="$1"; shift
    say "recording $name: $*"
    ptreplay record -o "$TRACES/$name.trace" -- "$@" > "$OUT/$name.stdout"
}

record python env PYTHONMALLOC=malloc PYTHONHASHSEED=0 /usr/bin/python3 "$WL/python_work.py" 40
record sqlite /usr/bin/sqlite3 :memory: -init /dev/null -bail -batch < "$WL/sqlite_work.sql"
record perl env PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 /usr/bin/perl "$WL/perl_work.pl" 30
record sort env LC_ALL=C /usr/bin/sort "$OUT/sort-input.txt"
record mt "$ROOT/artifacts/native/ptworkload-mt"

for t in "$TRACES"/*.trace; do
    name="$(basename "$t" .trace)"
    say "summary of $name"
    ptreplay info "$t" | tee "$OUT/$name.info.txt" >&2
done

for t in "$TRACES"/*.trace; do
    name="$(basename "$t" .trace)"
    say "replaying $name on every engine"
    ptreplay replay "$t" --engine sim,glibc,jemalloc,tcmalloc,mimalloc --out "$OUT/replay-$name" || \
        echo "replay of $name failed (see above); continuing" >&2
done

if compgen -G "$OUT/replay-*/summary.json" > /dev/null; then
    say "writing the report"
    ptreplay report "$OUT"/replay-*/summary.json -o "$OUT/report.html" >&2
    echo "REPORT: $OUT/report.html"
fi

say "done: results in $OUT"
