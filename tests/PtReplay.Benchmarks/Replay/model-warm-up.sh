#!/usr/bin/env bash
# The model's (sim engine's) malloc p99 on short traces against its p99 on a long one, with and without the warm-up,
# measured side by side in one run. Target: the short traces' p99 within 2x the long trace's (warm-up on).
#
#   tests/PtReplay.Benchmarks/Replay/model-warm-up.sh [REPEATS [BASELINE]]
#
# REPEATS: replays of each short trace per mode (default 5). BASELINE: another checkout's run-bench.sh (e.g. an older
# commit extracted with `git archive COMMIT | tar -x -C DIR`), replayed as a third mode "base" on the same traces.
# Records (./run-bench.sh record) a forked shell, `sh -c 'ls; ( loop in a subshell ); echo'`: its own trace (about
# 70 calls, starting from an empty heap) and its subshell's fork-child trace (about 60 calls after the fork, replayed
# from the parent's heap), and a python3 run under PYTHONMALLOC=malloc (about 5 M calls). Replays each with
# `--engine sim` (Release build), with `--no-sim-warm-up` (cold) and by default (warm), and prints per trace and mode
# the malloc p99 (median, min and max over the repeats), warmup_ns, wall_ns and the methods still compiled while the
# clock ran (extra.timed_jit_methods), then the ratios short p99 / long p99.
# CPU: about 40 s on 2 vCPUs (about 60 s with a baseline). Needs python3 (JSON parsing and the long workload).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
REPEATS="${1:-5}"
BASELINE="${2:-}"
PTREPLAY="$ROOT/run-bench.sh"
MODES=(cold warm)
if [[ -n "$BASELINE" ]]; then
    BASELINE="$(realpath "$BASELINE")"
    MODES=(base cold warm)
fi
WORK="$(mktemp -d /tmp/ptreplay-warmup-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

echo "recording (work folder $WORK)..." >&2
"$PTREPLAY" record -o shell.trace -- sh -c \
    'ls >/dev/null; (for i in 1 2 3 4 5 6 7 8 9 10 11 12; do v="$v $i"; done; echo "$v" >/dev/null); echo done >/dev/null' \
    >/dev/null 2>&1
PYTHON="$(python3 -c 'import sys; print(sys.executable)')"   # the interpreter itself, not a version-manager shim
cat >work.py <<'EOF'
import json, re
rows = [{"id": i, "name": "item%d" % i, "tags": [str(i % 7), str(i % 11)], "v": i * 0.5} for i in range(60000)]
text = json.dumps(rows)
back = json.loads(text)
counts = {}
for w in re.findall(r"[a-z]+\d+", text):
    counts[w] = counts.get(w, 0) + 1
print(len(back), len(counts))
EOF
PYTHONMALLOC=malloc "$PTREPLAY" record -o python.trace --no-follow -- "$PYTHON" work.py >/dev/null 2>&1

FORK_CHILD=""
for t in shell.trace.*; do
    if [[ "$("$PTREPLAY" info "$t" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["origin"])')" == fork ]]; then
        FORK_CHILD="$t"
    fi
done
[[ -n "$FORK_CHILD" ]] || { echo "no fork-child trace recorded" >&2; exit 5; }

replay() { # TRACE MODE N -> replays into out-TRACE-MODE-i
    local trace="$1" mode="$2" n="$3" i flag=() cli="$PTREPLAY"
    [[ "$mode" == cold ]] && flag=(--no-sim-warm-up)
    [[ "$mode" == base ]] && cli="$BASELINE"
    for ((i = 1; i <= n; i++)); do
        "$cli" replay "$trace" -o "out-$trace-$mode-$i" --engine sim "${flag[@]}" >/dev/null 2>&1
    done
}

echo "replaying ($REPEATS x each short trace per mode, the long trace once per mode)..." >&2
for mode in "${MODES[@]}"; do
    replay shell.trace "$mode" "$REPEATS"
    replay "$FORK_CHILD" "$mode" "$REPEATS"
    replay python.trace "$mode" 1
done

python3 - "$FORK_CHILD" "${MODES[@]}" <<'EOF'
import glob, json, statistics, sys
fork_child, modes = sys.argv[1], sys.argv[2:]
traces = [("shell.trace", "forked shell, own trace"), (fork_child, "forked shell, subshell child"), ("python.trace", "python3, long")]

def runs(trace, mode):
    out = []
    for f in sorted(glob.glob(f"out-{trace}-{mode}-*/summary.json")):
        d = json.load(open(f))
        e = d["engines"][0]
        t = e["timing"]
        out.append({"calls": t["calls"], "p99": t["latency_ns"]["malloc"]["p99"], "max": t["latency_ns"]["malloc"]["max"],
                    "mallocs": t["latency_ns"]["malloc"]["count"], "warmup": t.get("warmup_ns", 0), "wall": t["wall_ns"],
                    "jit": e["extra"].get("timed_jit_methods", float("nan"))})
    return out

print(f"{'trace':34} {'mode':5} {'calls':>9} {'mallocs':>8} {'malloc p99 ns (median [min, max])':>36} {'warmup ms':>10} {'wall ms':>10} {'JIT in timed':>12}")
p99 = {}
for trace, label in traces:
    for mode in modes:
        r = runs(trace, mode)
        vals = [x["p99"] for x in r]
        med = statistics.median(vals)
        p99[(trace, mode)] = med
        span = f"{med:,.1f} [{min(vals):,.1f}, {max(vals):,.1f}]"
        print(f"{label:34} {mode:5} {r[0]['calls']:>9,} {r[0]['mallocs']:>8,} {span:>36} "
              f"{statistics.median(x['warmup'] for x in r) / 1e6:>10.1f} {statistics.median(x['wall'] for x in r) / 1e6:>10.2f} "
              f"{statistics.median(x['jit'] for x in r):>12.0f}")
print()
for trace, label in traces[:2]:
    for mode in modes:
        ratio = p99[(trace, mode)] / p99[("python.trace", mode)]
        print(f"malloc p99 ratio {label} / python3 long, {mode}: {ratio:,.1f}x (target, warm: at most 2x)")
EOF
