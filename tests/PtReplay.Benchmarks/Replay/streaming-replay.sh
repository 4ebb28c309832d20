#!/usr/bin/env bash
# Peak memory and scratch disk of `ptreplay replay --engine sim,glibc` on a short and a long synthetic trace, side by
# side in one run: with the streamed prepared file, both should be flat in the trace's length (ratio long/short ~1).
#
#   tests/PtReplay.Benchmarks/Replay/streaming-replay.sh [LONG_EVENTS [SHORT_EVENTS [WORK]]]
#
# Defaults: 200,000,000 and 20,000,000 events, WORK a fresh folder under /tmp (deleted at the end). Writes each trace
# with the benchmark project (`write-streaming-trace`: a live set of 4,096 blocks over 4 worker threads, a quarter of
# the frees cross-thread, a worker replaced every million calls; Replay/StreamingTrace.cs), replays it (Release CLI)
# and polls every 0.2 s: the CLI's and the replayer's VmHWM (/proc/PID/status) and the bytes allocated by the files
# of the replay's work folder (st_blocks). Prints one row per trace and the ratios long/short.
# Cost: the long trace takes about 25 minutes of CPU on 2 vCPUs (three passes of the preparation, the model, glibc),
# a trace file of about 1 GB; run it niced.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
LONG="${1:-200000000}"
SHORT="${2:-20000000}"
WORK="${3:-$(mktemp -d /tmp/ptreplay-streaming-bench.XXXXXX)}"
mkdir -p "$WORK"
[[ -n "${3:-}" ]] || trap 'rm -rf "$WORK"' EXIT

echo "building (Release)..." >&2
dotnet build "$ROOT/replay/PtReplay.Cli/PtReplay.Cli.csproj" -c Release -nologo -v quiet >/dev/null
dotnet build "$ROOT/tests/PtReplay.Benchmarks/PtReplay.Benchmarks.csproj" -c Release -nologo -v quiet >/dev/null
CLI="$ROOT/replay/PtReplay.Cli/bin/Release/net10.0/ptreplay.dll"
BENCH="$ROOT/tests/PtReplay.Benchmarks/bin/Release/net10.0/PtReplay.Benchmarks.dll"

for n in "$SHORT" "$LONG"; do
    echo "writing a trace of $n events..." >&2
    dotnet "$BENCH" write-streaming-trace "$WORK/t$n.trace" "$n"
done

for n in "$SHORT" "$LONG"; do
    echo "replaying the trace of $n events (sim, glibc)..." >&2
    start=$(date +%s)
    dotnet "$CLI" replay "$WORK/t$n.trace" -o "$WORK/out$n" --engine sim,glibc >/dev/null 2>"$WORK/err$n" &
    pid=$!
    python3 - "$pid" "$WORK/out$n" >"$WORK/poll$n" <<'PY'
import os, sys, time
root, out = int(sys.argv[1]), sys.argv[2]
peak = {"cli": 0, "replayer": 0}
disk = 0
def children(pid):
    try:
        kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return []
    return [int(k) for k in kids] + [g for k in kids for g in children(int(k))]
def hwm(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
while os.path.exists(f"/proc/{root}") and open(f"/proc/{root}/stat").read().split()[2] != "Z":
    peak["cli"] = max(peak["cli"], hwm(root))
    for k in children(root):
        try:
            name = open(f"/proc/{k}/comm").read().strip()
        except OSError:
            continue
        if name.startswith("ptreplay-nativ"):
            peak["replayer"] = max(peak["replayer"], hwm(k))
    used = 0
    for d, _, files in os.walk(os.path.join(out, "work")):
        for f in files:
            try:
                used += os.stat(os.path.join(d, f)).st_blocks * 512
            except OSError:
                pass
    disk = max(disk, used)
    time.sleep(0.2)
print(peak["cli"], peak["replayer"], disk)
PY
    wait "$pid" || { echo "replay of $n events failed:" >&2; cat "$WORK/err$n" >&2; exit 1; }
    echo "$(( $(date +%s) - start ))" >"$WORK/secs$n"
done

python3 - "$WORK" "$SHORT" "$LONG" <<'PY'
import json, os, sys
work, short, long_ = sys.argv[1], sys.argv[2], sys.argv[3]
rows = {}
for n in (short, long_):
    cli, replayer_polled, disk = map(int, open(f"{work}/poll{n}").read().split())
    s = json.load(open(f"{work}/out{n}/summary.json"))
    glibc = next(e for e in s["engines"] if e["engine"] == "glibc")
    sim = next(e for e in s["engines"] if e["engine"] == "sim")
    replayer = glibc["extra"].get("replayer_peak_rss_bytes", 0)
    rows[n] = (cli, max(replayer, replayer_polled), disk, os.path.getsize(f"{work}/t{n}.trace"), int(open(f"{work}/secs{n}").read()),
               s.get("trace", {}).get("events", 0) or s.get("events", 0), glibc["error"] if "error" in glibc else None, sim.get("error"))
print(f"{'events':>12} {'trace MB':>9} {'CLI peak RSS MB':>16} {'replayer peak RSS MB':>21} {'peak scratch MB':>16} {'seconds':>8}")
for n, (cli, rep, disk, size, secs, _, ge, se) in rows.items():
    print(f"{int(n):>12,} {size / 1e6:>9.0f} {cli / 1048576:>16.1f} {rep / 1048576:>21.1f} {disk / 1048576:>16.1f} {secs:>8}"
          + (f"  glibc error: {ge}" if ge else "") + (f"  sim error: {se}" if se else ""))
a, b = rows[short], rows[long_]
print(f"ratio long/short ({int(long_) / int(short):.0f}x the events): CLI {b[0] / a[0]:.2f}, replayer {b[1] / a[1]:.2f}, scratch {b[2] / max(a[2], 1):.2f}")
PY
