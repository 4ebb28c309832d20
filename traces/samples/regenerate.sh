#!/usr/bin/env bash
# Re-records the small golden traces of the model's regression gate (traces/samples/*.trace) from real,
# deterministic single-thread programs, then rewrites the baseline from them:
#   traces/samples/regenerate.sh            re-record the traces and run `ptreplay gate --update`
# The traces are packed and each must stay well under 500 KB. After regenerating, commit the traces
# and reports/baseline/model-baseline.json together.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ptreplay() { "$ROOT/run-bench.sh" "$@"; }
# The programs are started directly (no `env` wrapper: --no-follow would record the wrapper, not the program);
# their settings come through the environment of the record command. No malloc tunables are set.
unset GLIBC_TUNABLES MALLOC_ARENA_MAX MALLOC_TOP_PAD_ MALLOC_TRIM_THRESHOLD_ MALLOC_MMAP_THRESHOLD_ MALLOC_PERTURB_
export LC_ALL=C
PYTHONMALLOC=malloc PYTHONHASHSEED=0 ptreplay record --no-follow -o "$HERE/python.trace" -- \
    /usr/bin/python3 -S -s "$HERE/sample.py" > /dev/null
ptreplay record --no-follow -o "$HERE/sqlite.trace" -- \
    /usr/bin/sqlite3 :memory: -init /dev/null -bail -batch < "$HERE/sample.sql" > /dev/null
PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 ptreplay record --no-follow -o "$HERE/perl.trace" -- \
    /usr/bin/perl "$HERE/sample.pl" > /dev/null

ls -l "$HERE"/*.trace >&2
for t in "$HERE"/*.trace; do
    if (( $(stat -c %s "$t") > 500000 )); then
        echo "regenerate: $t is larger than 500 KB; make its workload smaller" >&2
        exit 1
    fi
done
ptreplay gate --baseline "$ROOT/reports/baseline/model-baseline.json" --update "$HERE"/*.trace
