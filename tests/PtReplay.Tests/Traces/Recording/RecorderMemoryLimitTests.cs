using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;

namespace PtReplay.Tests.Traces.Recording;

/// <summary>
/// A program that runs out of address space under `ulimit -v`: its failed mallocs are in the trace, the model (which has
/// no such limit) serves them, so verify cannot match them. The trace must carry the limit, `info` must show it, and
/// verify's divergence must name it as the cause rather than leave a bare "recorded 0x0, model 0x...".
/// </summary>
public sealed class RecorderMemoryLimitTests : IDisposable
{
    private const string Source = """
        #include <stdio.h>
        #include <stdlib.h>
        int main(void) {
            static void *keep[4096];
            int n = 0, failed = 0;
            for (int i = 0; i < 4096 && failed < 3; i++) {
                void *p = malloc(1 << 20);
                if (p == NULL) failed++; else keep[n++] = p;
            }
            for (int i = 0; i < n; i++) free(keep[i]);
            printf("%d %d\n", n, failed);
            return failed == 3 ? 0 : 1;
        }
        """;

    /// <summary>The limit in KiB, as ulimit -v takes it: room for the program and about 150 blocks of 1 MiB.</summary>
    private const long LimitKiB = 160_000;

    private readonly TempDir _dir = new("ptreplay-limit-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void AnAddressSpaceLimit_IsRecorded_AndNamedWhereVerifyMeetsTheFailedCalls()
    {
        string program = NativeTestBuild.Program("address-space-hog", Source);
        string trace = _dir.File("limit.trace");
        var result = RecordedRun.RecordOrThrow(["/bin/sh", "-c", $"ulimit -v {LimitKiB}; exec {program}"], trace,
            CleanEnvironment.With(new Dictionary<string, string> { ["HOME"] = _dir.Path }), followChildren: true);
        string image = Assert.Single(result.ChildTraces, c =>
        {
            using var r = TraceReader.Open(c);
            return r.Header.ExecutablePath == program;
        });

        using (var reader = TraceReader.Open(image))
        {
            Assert.Equal((ulong)LimitKiB * 1024, reader.Header.AddressSpaceLimit);
            Assert.Equal(3, reader.ReadAll().Count(e => e.Kind == EventKind.Malloc && e.Result == 0));
        }

        var info = CliRunner.Run("info", image);
        Assert.True(info.ExitCode == 0, info.Stderr);
        Assert.Contains($"limits     ulimit -v {LimitKiB} KiB (address space)", info.Stdout, StringComparison.Ordinal);

        var verify = CliRunner.Run("verify", image);
        Assert.Equal(1, verify.ExitCode); // the three failed calls are not identical: the model had room
        Assert.Contains($"the call failed in the recording, which ran under ulimit -v {LimitKiB} KiB (address space); the model has no such limit",
            verify.Stdout, StringComparison.Ordinal);
    }
}
