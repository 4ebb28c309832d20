using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Traces.Recording;

/// <summary>Recording never changes what a program does, and records what it really got.</summary>
public class RecorderBehaviourTests
{
    [Theory]
    [InlineData("python")]
    [InlineData("sqlite")]
    [InlineData("perl")]
    [InlineData("sort")]
    [InlineData("mt")]
    public void Recording_LeavesStdoutAndExitCodeUnchanged(string workload)
    {
        using var dir = new TempDir();
        RecordingRuns.Workload w = RecordingRuns.Get(workload);
        RecordingResult plain = RecordingRuns.Run(w, null, dir.Path);
        RecordingResult recorded = RecordingRuns.Run(w, dir.File("w.trace"), dir.Path);

        Assert.Equal(plain.ExitCode, recorded.ExitCode);
        Assert.NotEmpty(plain.StandardOutput);
        Assert.Equal(plain.StandardOutput, recorded.StandardOutput);
        using var reader = TraceReader.Open(recorded.TracePath);
        Assert.False(reader.IsTruncated);
        Assert.True(reader.ReadAll().Count(e => e.Kind.IsCall()) >= w.MinCalls);
    }

    /// <summary>
    /// With the TSC clock most events take the recorder's inline path; with PTRECORD_CLOCK=monotonic
    /// every event takes the out-of-line one. Addresses are encoded with PDEP where the CPU has it fast,
    /// with the byte loop under PTRECORD_PDEP=0. Every way must record exactly what the program got.
    /// </summary>
    [Theory]
    [InlineData(null, null)]
    [InlineData("monotonic", null)]
    [InlineData(null, "0")]
    public void RecordedAddresses_AreWhatTheProgramGot(string? clock, string? pdep)
    {
        using var dir = new TempDir();
        string probe = NativeTestBuild.Program("probe", TestPrograms.Probe);
        Dictionary<string, string> env = RecordingRuns.BaseEnvironment(dir.Path);
        if (clock != null)
        {
            env["PTRECORD_CLOCK"] = clock;
        }

        if (pdep != null)
        {
            env["PTRECORD_PDEP"] = pdep;
        }

        RecordingResult run = RecordedRun.Run([probe, "addresses"], dir.File("a.trace"), env, followChildren: true);
        Assert.Equal(0, run.ExitCode);
        if (clock != null)
        {
            using var header = TraceReader.Open(run.TracePath);
            Assert.Equal("CLOCK_MONOTONIC", header.Header.ClockName);
        }

        string[] lines = CallsBySize.Lines(run.StandardOutput);
        List<AllocEvent> events = RecordingRuns.ReadEvents(run.TracePath);
        Assert.Single(events.Select(e => e.Thread).Distinct());

        // Every reported call appears, in order, with the program's result.
        int at = 0;
        foreach (string line in lines.Where(l => !l.StartsWith("posix_memalign_bad", StringComparison.Ordinal)))
        {
            string[] f = line.Split(' ');
            EventKind kind = f[0] == "realloc0" ? EventKind.Realloc : EventKinds.Calls.Single(k => k.CName() == f[0]);
            ulong size = ulong.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture);
            ulong result = Convert.ToUInt64(f[2], 16);
            at = events.FindIndex(at, e => e.Kind == kind && e.Size == size);
            Assert.True(at >= 0, $"no {line} in the trace");
            Assert.Equal(result, events[at].Result);
            at++;
        }

        // Failures: the status says why.
        AllocEvent failed = events.Single(e => e.Kind == EventKind.Malloc && e.Size == ulong.MaxValue - 4096);
        Assert.Equal(0ul, failed.Result);
        Assert.Equal(12, failed.Status); // ENOMEM
        AllocEvent badAlign = events.Single(e => e.Kind == EventKind.PosixMemalign && e.Alignment == 3);
        Assert.Equal(0ul, badAlign.Result);
        Assert.Equal(22, badAlign.Status); // EINVAL
        AllocEvent zero = events.Single(e => e.Kind == EventKind.Realloc && e.Size == 0);
        Assert.Equal((0ul, 0), (zero.Result, zero.Status)); // realloc(p, 0) frees: NULL, not a failure
        Assert.Contains(events, e => e.Kind == EventKind.Free && e.Ptr == 0);
        AllocEvent calloc = events.Single(e => e.Kind == EventKind.Calloc && e.Size == 24);
        Assert.Equal(10ul, calloc.Count);
        AllocEvent array = events.Single(e => e.Kind == EventKind.ReallocArray && e.Size == 9);
        Assert.Equal(7ul, array.Count);
        Assert.Equal(256ul, events.Single(e => e.Kind == EventKind.Memalign && e.Size == 100).Alignment);
    }

    /// <summary>
    /// The recorder allocates nothing on the heap: the probe's heap blocks sit at the same offsets from
    /// the first one (and at the same offset within its page) with and without recording.
    /// </summary>
    [Fact]
    public void Recording_DoesNotMoveTheHeap()
    {
        using var dir = new TempDir();
        string probe = NativeTestBuild.Program("probe", TestPrograms.Probe);
        List<(string Call, long Offset)> Layout(bool record)
        {
            RecordingResult run = RecordedRun.Run([probe, "addresses"], record ? dir.File("m.trace") : null,
                RecordingRuns.BaseEnvironment(dir.Path), followChildren: true);
            Assert.Equal(0, run.ExitCode);
            var heap = System.Text.Encoding.ASCII.GetString(run.StandardOutput)
                .Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(' '))
                .Where(f => f.Length == 3 && f[2] != "0x0" && ulong.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture) < 128 * 1024)
                .Select(f => (Call: f[0] + " " + f[1], Address: Convert.ToInt64(f[2], 16)))
                .ToList();
            long first = heap[0].Address;
            return [("page offset", first & 0xfff), .. heap.Select(h => (h.Call, h.Address - first))];
        }

        List<(string, long)> plain = Layout(record: false);
        Assert.True(plain.Count > 10);
        Assert.Equal(plain, Layout(record: true));
    }

    [Fact]
    public void Header_DescribesTheProcess()
    {
        using var dir = new TempDir();
        string probe = NativeTestBuild.Program("probe", TestPrograms.Probe);
        var env = RecordingRuns.BaseEnvironment(dir.Path);
        env["MALLOC_ARENA_MAX"] = "2";
        // Several settings: glibc's parser cuts the original environment block at each value, the header must not.
        env["GLIBC_TUNABLES"] = "glibc.malloc.tcache_count=3:glibc.malloc.mxfast=64:glibc.malloc.top_pad=4096";
        RecordingResult run = RecordedRun.Run([probe, "addresses"], dir.File("h.trace"), env, followChildren: true);
        using var reader = TraceReader.Open(run.TracePath);
        TraceHeader h = reader.Header;
        Assert.Equal(probe, h.ExecutablePath);
        Assert.Equal(new[] { probe, "addresses" }, h.Argv.ToArray());
        Assert.Equal(Environment.ProcessId, h.ParentPid);
        Assert.Contains("MALLOC_ARENA_MAX=2", h.MallocEnvironment);
        Assert.Contains("GLIBC_TUNABLES=glibc.malloc.tcache_count=3:glibc.malloc.mxfast=64:glibc.malloc.top_pad=4096", h.MallocEnvironment);
        Assert.DoesNotContain(h.MallocEnvironment, v => v.StartsWith("glibc.", StringComparison.Ordinal));
        Assert.Equal(OnlineCpus(), h.OnlineCpus);
        Assert.Equal(4096, h.PageSize);
        Assert.StartsWith("2.", h.GlibcVersion, StringComparison.Ordinal);
        Assert.StartsWith("CLOCK_MONOTONIC", h.ClockName, StringComparison.Ordinal);
        // brk0 is the break before the first allocation: the first heap block lies just above it.
        ulong firstHeapResult = reader.ReadAll().First(e => e.Kind == EventKind.Malloc && e.Size < 1000).Result;
        Assert.InRange(firstHeapResult - h.Brk0, 16ul, 64ul * 1024);
    }

    /// <summary>
    /// An environment far larger than the recorder's read window (64 KiB): the control variables and the
    /// malloc variables are still found wherever they sit in it, and the program sees its environment whole.
    /// </summary>
    [Fact]
    public void ALargeEnvironment_StillYieldsTheControlAndMallocVariables()
    {
        using var dir = new TempDir();
        string probe = NativeTestBuild.Program("probe", TestPrograms.Probe);
        var env = RecordingRuns.BaseEnvironment(dir.Path);
        for (int i = 0; i < 40; i++)
        {
            env[$"PTREPLAY_TEST_FILLER_{i}"] = new string((char)('a' + (i % 26)), 5000 + (i * 977));
        }

        env["PTREPLAY_TEST_HUGE"] = new string('z', 100_000); // longer than the whole window
        env["MALLOC_ARENA_MAX"] = "3";
        env["GLIBC_TUNABLES"] = "glibc.malloc.tcache_count=5:glibc.malloc.top_pad=8192";
        RecordingResult plain = RecordedRun.Run([probe, "addresses"], null, env, followChildren: true);
        RecordingResult run = RecordedRun.Run([probe, "addresses"], dir.File("big.trace"), env, followChildren: true);
        Assert.Equal(0, run.ExitCode);
        Assert.Equal(plain.StandardOutput.Length, run.StandardOutput.Length);
        using var reader = TraceReader.Open(run.TracePath); // PTRECORD_OUT was found: the trace is where it was asked for
        Assert.Contains("MALLOC_ARENA_MAX=3", reader.Header.MallocEnvironment);
        Assert.Contains("GLIBC_TUNABLES=glibc.malloc.tcache_count=5:glibc.malloc.top_pad=8192", reader.Header.MallocEnvironment);
        Assert.Equal(2, reader.Header.MallocEnvironment.Count);
        Assert.True(reader.ReadAll().Count(e => e.Kind.IsCall()) > 10);
    }

    /// <summary>Counts /sys/devices/system/cpu/online ("0-3,6" = 5 CPUs).</summary>
    private static int OnlineCpus() =>
        File.ReadAllText("/sys/devices/system/cpu/online").Trim().Split(',').Sum(range =>
        {
            string[] ends = range.Split('-');
            return ends.Length == 1 ? 1 : int.Parse(ends[1], System.Globalization.CultureInfo.InvariantCulture) -
                                          int.Parse(ends[0], System.Globalization.CultureInfo.InvariantCulture) + 1;
        });

    [Fact]
    public void SignalQueries_SeeTheDefaultDisposition()
    {
        using var dir = new TempDir();
        string probe = NativeTestBuild.Program("probe", TestPrograms.Probe);
        RecordingResult run = RecordedRun.Run([probe, "sigaction"], dir.File("s.trace"),
            RecordingRuns.BaseEnvironment(dir.Path), followChildren: true);
        Assert.Equal("SIGSEGV default\n", System.Text.Encoding.ASCII.GetString(run.StandardOutput));
    }
}
