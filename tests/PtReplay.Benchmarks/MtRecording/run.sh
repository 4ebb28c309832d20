#!/usr/bin/env bash
# CPU time (user + sys) of multi-threaded programs, unrecorded and recorded, side by side in one run:
#   unrecorded   the program alone
#   fenced       ptreplay record --raw with PTRECORD_MT_CLOCK=fenced (every event reads the TSC behind lfence)
#   adaptive     ptreplay record --raw with the default multi-thread clock (unfenced adaptive clock, format version 5)
# and, to leave ptreplay's own start-up out, the program alone under the recorder (LD_PRELOAD) in both modes.
# Each round runs every variant once, in turn; the table gives medians of the per-round ratios to unrecorded.
#   tests/PtReplay.Benchmarks/MtRecording/run.sh [ROUNDS]      (default 7; needs a Release or Debug build)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
ROUNDS="${1:-7}"
CLI="$ROOT/replay/PtReplay.Cli/bin/Release/net10.0/ptreplay"
[ -x "$CLI" ] || CLI="$ROOT/replay/PtReplay.Cli/bin/Debug/net10.0/ptreplay"
LIB="$ROOT/artifacts/native/libptrecord.so"
MT="$ROOT/artifacts/native/ptworkload-mt"
for f in "$CLI" "$LIB" "$MT"; do
    [ -e "$f" ] || { echo "missing $f: build first (dotnet build tests/PtReplay.Tests)" >&2; exit 2; }
done
WORK="$(mktemp -d /tmp/ptreplay-mtbench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
gcc -O2 -Wall -Wextra -Werror -o "$WORK/mt_handoff" "$HERE/mt_handoff.c" -lpthread

# cpu VARIANT PROGRAM...: prints the user+sys seconds of one run (children included).
cpu() {
    local variant="$1"
    shift
    rm -f "$WORK"/t.trace*
    local env=()
    case "$variant" in
        unrecorded) ;;
        fenced | adaptive) env=(PTRECORD_MT_CLOCK="$variant") ;;
        preload-fenced) env=(LD_PRELOAD="$LIB" PTRECORD_ROLE=root PTRECORD_OUT="$WORK/t.trace" PTRECORD_MT_CLOCK=fenced) ;;
        preload-adaptive) env=(LD_PRELOAD="$LIB" PTRECORD_ROLE=root PTRECORD_OUT="$WORK/t.trace" PTRECORD_MT_CLOCK=adaptive) ;;
    esac
    local cmd=("$@")
    case "$variant" in
        fenced | adaptive) cmd=("$CLI" record --raw -o "$WORK/t.trace" -- "$@") ;;
    esac
    /usr/bin/time -f "%U %S" -o "$WORK/time" env "${env[@]}" "${cmd[@]}" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
    awk '{ printf "%.3f\n", $1 + $2 }' "$WORK/time"
}

VARIANTS=(unrecorded fenced adaptive preload-fenced preload-adaptive)
bench() {
    local name="$1"
    shift
    local -A ratios
    local line
    for ((r = 0; r < ROUNDS; r++)); do
        local base
        base="$(cpu unrecorded "$@")"
        line="round $r: unrecorded ${base}s"
        for v in "${VARIANTS[@]:1}"; do
            local t
            t="$(cpu "$v" "$@")"
            ratios[$v]+="$(awk -v t="$t" -v b="$base" 'BEGIN { printf "%.4f ", t / b }')"
            line+=", $v ${t}s"
        done
        echo "  $line" >&2
    done
    printf '%-34s' "$name"
    for v in "${VARIANTS[@]:1}"; do
        printf ' %8s' "$(echo "${ratios[$v]}" | tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { printf "%.2fx", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')"
    done
    echo
}

printf '%-34s %8s %8s %8s %8s\n' "program (CPU user+sys / unrecorded)" "fenced" "adaptive" "LD-fenc" "LD-adap"
bench "mt_handoff 4 threads, 1.5M rounds" "$WORK/mt_handoff" 1500000
bench "ptworkload-mt 4 100000" "$MT" 4 100000
