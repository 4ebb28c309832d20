using System.Globalization;
using PtReplay.Results.Findings;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Findings;

/// <summary>
/// Sites of a forked child's pins. A program built with -g makes eight 100,000-byte blocks and then one long-lived
/// 2,000-byte block in keep_in_parent, and forks. The child makes four 100,000-byte blocks and a 3,000-byte block of its
/// own in keep_in_child, then frees the twelve big blocks: the parent's block (inherited at the fork) pins the eight
/// freed blocks below it, the child's own block the four between the two. Recorded with `record --stacks`, the child's
/// findings must name keep_in_parent, with the source line of its malloc call (found in the source), for the inherited
/// pin (its event index is the parent trace's, and says so) and keep_in_child for the child's own.
/// </summary>
public sealed class ForkPinSiteTests : IDisposable
{
    private const string Source = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/wait.h>
        #include <unistd.h>

        static void *big[12];

        __attribute__((noinline)) void make_big_blocks(int from, int to) {
            for (int i = from; i < to; i++) { big[i] = malloc(100000); memset(big[i], 1, 100000); }
        }

        __attribute__((noinline)) void *keep_in_parent(size_t n) {
            void *p = malloc(n); /* the parent's pin */
            memset(p, 2, n);
            return p;
        }

        __attribute__((noinline)) void *keep_in_child(size_t n) {
            void *p = malloc(n); /* the child's pin */
            memset(p, 3, n);
            return p;
        }

        int main(void) {
            printf("start\n"); /* stdout's buffer is allocated now, below the big blocks */
            fflush(stdout);
            make_big_blocks(0, 8);
            void *pin = keep_in_parent(2000);
            pid_t pid = fork();
            if (pid == 0) {
                make_big_blocks(8, 12);
                void *own = keep_in_child(3000);
                for (int i = 0; i < 12; i++) free(big[i]);
                for (int i = 0; i < 50; i++) free(malloc(100 + i * 10));
                return own != pin ? 0 : 1; /* both stay live until exit */
            }
            int status = 0;
            waitpid(pid, &status, 0);
            for (int i = 0; i < 8; i++) free(big[i]);
            free(pin);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
        }
        """;

    private readonly TempDir _dir = new("ptreplay-forkpin-");

    public void Dispose() => _dir.Dispose();

    private static int LineOf(string marker) =>
        Source.Split('\n').ToList().FindIndex(l => l.Contains(marker, StringComparison.Ordinal)) + 1;

    [SkippableFact]
    public void AForkChildsPins_AreNamedWithTheSiteInTheTraceThatAllocatedThem()
    {
        Requires.Package("libdw1", "libdw.so.1"); // the source line comes from elfutils' libdw
        string exe = Gcc.CompileSource(_dir.Path, "forkpin", Source, Gcc.Flags("-g -O1 -fno-builtin"));
        string trace = _dir.File("stacks.trace");
        var record = CliRunner.Run("record", "--stacks", "-o", trace, "--", exe);
        Assert.True(record.ExitCode == 0, record.Stderr);
        string child = Assert.Single(Directory.GetFiles(_dir.Path, "stacks.trace.*"), f => f != trace);
        long parentEvent;
        using (var parent = TraceReader.Open(trace))
            parentEvent = parent.ReadAll().ToList().FindIndex(e => e.Kind == EventKind.Malloc && e.Size == 2000);
        long childEvent;
        using (var reader = TraceReader.Open(child))
        {
            Assert.Equal(TraceOrigin.ForkedChild, reader.Header.Origin);
            childEvent = reader.ReadAll().ToList().FindIndex(e => e.Kind == EventKind.Malloc && e.Size == 3000);
        }

        Assert.True(parentEvent >= 0 && childEvent >= 0);

        var run = CliRunner.Run("explain", child, "--at", "end", "--json", "--no-suggestions");
        Assert.True(run.ExitCode == 0, run.Stderr);
        HeapFindingsFile f = HeapFindingsJson.Deserialize(run.Stdout);
        Assert.True(f.StacksRecorded);
        IReadOnlyList<HeapPin> pins = f.Moments.Single().Pins;

        HeapPin inherited = pins[0];
        Assert.Equal(2016UL, inherited.ChunkBytes); // glibc's chunk for 2,000 bytes
        Assert.True(inherited.HostageBytes >= 8 * 100000UL, $"{inherited.HostageBytes} B below the parent's block");
        Assert.Equal(Path.GetFullPath(trace), Path.GetFullPath(Assert.IsType<string>(inherited.AllocatedInTrace)));
        Assert.Equal(parentEvent, inherited.AllocatedAtEvent);
        AllocationSite site = Assert.IsType<AllocationSite>(inherited.Site);
        Assert.Equal("keep_in_parent", site.Function);
        Assert.EndsWith("forkpin.c", site.File, StringComparison.Ordinal);
        Assert.Equal(LineOf("/* the parent's pin */"), site.Line);
        Assert.Contains("main", site.Stack.Select(s => s.Function));

        HeapPin own = pins.Single(p => p.ChunkBytes == 3008);
        Assert.Null(own.AllocatedInTrace);
        Assert.Equal(childEvent, own.AllocatedAtEvent);
        Assert.True(own.HostageBytes >= 4 * 100000UL, $"{own.HostageBytes} B below the child's block");
        AllocationSite ownSite = Assert.IsType<AllocationSite>(own.Site);
        Assert.Equal("keep_in_child", ownSite.Function);
        Assert.Equal(LineOf("/* the child's pin */"), ownSite.Line);

        var text = CliRunner.Run("explain", child, "--at", "end", "--no-suggestions");
        Assert.Equal(0, text.ExitCode);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"inherited at the fork: allocated at event {parentEvent:N0} of stacks.trace"), text.Stdout, StringComparison.Ordinal);
        Assert.Contains("allocated in keep_in_parent (forkpin.c:", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("allocated in keep_in_child (forkpin.c:", text.Stdout, StringComparison.Ordinal);

        string outDir = _dir.File("replay");
        var replay = CliRunner.Run("replay", child, "--engine", "sim", "--explain", "--out", outDir);
        Assert.True(replay.ExitCode == 0, replay.Stderr);
        string html = _dir.File("report.html");
        Assert.Equal(0, CliRunner.Run("report", Path.Combine(outDir, "summary.json"), "-o", html).ExitCode);
        string report = File.ReadAllText(html);
        Assert.Contains("inherited at the fork: allocated at event", report, StringComparison.Ordinal);
        Assert.Contains("allocated in <code>keep_in_parent (forkpin.c:", report, StringComparison.Ordinal);
    }
}
