#!/usr/bin/env bash
# import-lttng's speed: TraceEvent's CTF reader (what the verb runs) against the former path, babeltrace2's text
# parsed in C# (the tests' oracle, tests/PtReplay.Tests/Infrastructure/Babeltrace*.cs), side by side in one process
# on the same LTTng trace, alternating the order each round; then each path once per process under /usr/bin/time
# (CPU of babeltrace2 included), and babeltrace2 alone printing to /dev/null. Both paths write the same traces with
# the importer's writer; the run ends by comparing them event for event.
#
#   tests/PtReplay.Benchmarks/Traces/lttng-import-speed.sh [ROUNDS [EVENTS_PER_THREAD]]
#
# Records a two-thread C program (each thread: EVENTS_PER_THREAD/2 malloc+free pairs, default 500,000 events per
# thread, so about 1 M events) with LTTng's libc wrapper, as `ptreplay import-lttng --help` says, in a blocking
# channel. Needs gcc, lttng-tools, liblttng-ust1 and babeltrace2; a session daemon is started if none answers.
# CPU: about 30 s on 2 vCPUs with 4 rounds (Release build of a throwaway console program in the work folder).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
ROUNDS="${1:-4}"
PER_THREAD="${2:-500000}"
WORK="$(mktemp -d /tmp/ptreplay-lttng-speed.XXXXXX)"
SESSION="ptreplay-speed-$$"
trap 'lttng destroy "$SESSION" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
cd "$WORK"
WRAPPER="$(ls /usr/lib/*/liblttng-ust-libc-wrapper.so* 2>/dev/null | head -1)"
[[ -n "$WRAPPER" ]] || { echo "liblttng-ust-libc-wrapper.so not found (apt-get install liblttng-ust1)" >&2; exit 5; }

cat > churn.c <<EOF
#include <pthread.h>
#include <stdlib.h>
static void *work(void *arg) {
    unsigned seed = (unsigned)(size_t)arg;
    void *keep[64] = {0};
    for (int i = 0; i < $PER_THREAD / 2; i++) {
        seed = seed * 1103515245u + 12345u;
        int slot = (seed >> 8) & 63;
        free(keep[slot]);
        keep[slot] = malloc(16 + ((seed >> 16) & 1023));
    }
    for (int i = 0; i < 64; i++) free(keep[i]);
    return NULL;
}
int main(void) {
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, work, (void *)(size_t)(i + 1));
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    return 0;
}
EOF
gcc -O1 -fno-builtin -pthread -o churn churn.c
lttng list >/dev/null 2>&1 || lttng-sessiond --daemonize --no-kernel
echo "recording (work folder $WORK)..." >&2
lttng create "$SESSION" --output="$WORK/trace" >/dev/null
lttng enable-channel -u --blocking-timeout=inf --subbuf-size=8M channel0 >/dev/null
lttng enable-event -u -c channel0 'lttng_ust_libc:*' >/dev/null
lttng add-context -u -c channel0 -t vpid -t vtid -t procname >/dev/null
lttng start >/dev/null
LTTNG_UST_ALLOW_BLOCKING=1 LTTNG_UST_REGISTER_TIMEOUT=30000 LD_PRELOAD="$WRAPPER" ./churn
lttng stop >/dev/null
lttng destroy "$SESSION" >/dev/null
echo "trace: $(du -sh trace | cut -f1)" >&2

# A console program that links the importer and the oracle's sources (assembly name PtReplay.Benchmarks: it may call
# the importer's internal ImportRecords, as the tests do).
mkdir app
cat > app/PtReplay.Benchmarks.csproj <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <AssemblyName>PtReplay.Benchmarks</AssemblyName>
    <TieredPGO>false</TieredPGO>
  </PropertyGroup>
  <ItemGroup>
    <ProjectReference Include="$ROOT/traces/PtReplay.Traces/PtReplay.Traces.csproj" />
    <Compile Include="$ROOT/tests/PtReplay.Tests/Infrastructure/BabeltraceRun.cs" />
    <Compile Include="$ROOT/tests/PtReplay.Tests/Infrastructure/BabeltraceTextParser.cs" />
    <Compile Include="$ROOT/tests/PtReplay.Tests/Infrastructure/LttngFormatException.cs" />
  </ItemGroup>
</Project>
EOF
cp "$ROOT/Directory.Packages.props" "$ROOT/global.json" app/ 2>/dev/null || true
cat > app/Directory.Build.props <<'EOF'
<Project>
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <AllowUnsafeBlocks>true</AllowUnsafeBlocks>
    <InvariantGlobalization>true</InvariantGlobalization>
  </PropertyGroup>
</Project>
EOF
cat > app/Program.cs <<'EOF'
using System.Diagnostics;
using System.Globalization;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Import;

string dir = args[0];
int rounds = int.Parse(args[1], CultureInfo.InvariantCulture);
string only = args.Length > 2 ? args[2] : "both";
string outDir = Directory.CreateTempSubdirectory("ptreplay-lttng-speed-").FullName;
foreach (int r in Enumerable.Range(0, rounds))
{
    foreach (string path in r % 2 == 0 ? new[] { "ctf", "babeltrace2" } : ["babeltrace2", "ctf"])
    {
        if (only != "both" && only != path)
        {
            continue;
        }

        var sw = Stopwatch.StartNew();
        long events;
        if (path == "ctf")
        {
            events = LttngImporter.Import(dir, Path.Combine(outDir, "ctf.trace")).Events;
        }
        else
        {
            using BabeltraceRun run = BabeltraceRun.Start(LttngImporter.FindTraceFolders(dir), dir, "/usr/bin/babeltrace2");
            var parser = new BabeltraceTextParser(dir);
            events = LttngImporter.ImportRecords(parser.Parse(run.Output), dir, Path.Combine(outDir, "bt.trace")).Events;
            run.Finish();
        }

        sw.Stop();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"round {r} {path,-12} {events,9:N0} events {sw.Elapsed.TotalSeconds,6:F2} s {events / sw.Elapsed.TotalSeconds / 1e6,6:F3} M events/s"));
    }
}

if (only == "both")
{
    using TraceReader a = TraceReader.Open(Path.Combine(outDir, "ctf.trace"));
    using TraceReader b = TraceReader.Open(Path.Combine(outDir, "bt.trace"));
    List<AllocEvent> ea = [.. a.ReadAll()], eb = [.. b.ReadAll()];
    bool same = ea.Count == eb.Count && ea.SequenceEqual(eb) && a.ThreadTids.SequenceEqual(b.ThreadTids);
    Console.WriteLine($"same traces: {same} ({ea.Count:N0} and {eb.Count:N0} events, threads {string.Join(',', a.ThreadTids)})");
}

Directory.Delete(outDir, true);
EOF
echo "building..." >&2
dotnet build app -c Release -nologo -v quiet >build.log 2>&1 || { cat build.log >&2; exit 2; }
APP=(dotnet app/bin/Release/net10.0/PtReplay.Benchmarks.dll "$WORK/trace")
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
"${APP[@]}" "$ROUNDS"
for r in 1 2 3; do
    for m in ctf babeltrace2; do
        /usr/bin/time -f "  $m, whole process: %e s wall, %U s user + %S s sys (children included)" "${APP[@]}" 1 "$m"
    done
done
for r in 1 2; do
    /usr/bin/time -f "  babeltrace2 alone, text to /dev/null: %e s wall, %U s user + %S s sys" babeltrace2 --clock-seconds "$WORK/trace" >/dev/null
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
