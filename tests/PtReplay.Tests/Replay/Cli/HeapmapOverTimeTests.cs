using PtReplay.Results.HeapMaps;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Replay.Findings;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Cli;

/// <summary>
/// `heapmap --over-time` on a real program (eight 100,000-byte blocks allocated, one 2,000-byte block above them, the eight
/// freed, the program exits with the last one live): the cells where glibc returned the blocks (the recorded addresses)
/// are in use while they live and free (unsorted) once freed, the heap still reaches past the late block, and the pictures
/// render.
/// </summary>
public sealed class HeapmapOverTimeTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-timeline-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TheCells_FollowTheBlocksAtTheAddressesGlibcReturned()
    {
        string exe = Gcc.CompileSource(_dir.Path, "pinner", ExplainFindingsTests.PinnerSource, Gcc.Flags("-O1 -fno-builtin"));
        string trace = _dir.File("keep.trace");
        RecordedRun.RecordOrThrow([exe, "keep"], trace, CleanEnvironment.With());
        List<AllocEvent> events;
        using (var reader = TraceReader.Open(trace))
        {
            events = [.. reader.ReadAll()];
        }

        AllocEvent firstBig = events.First(e => e.Kind == EventKind.Malloc && e.Size == 100_000);
        AllocEvent pin = events.First(e => e.Kind == EventKind.Malloc && e.Size == 2000);
        int lastBigFree = events.FindLastIndex(e => e.Kind == EventKind.Free);

        string json = _dir.File("t.json"), svg = _dir.File("t.svg"), png = _dir.File("t.png");
        var run = CliRunner.Run("heapmap", trace, "--over-time", "-o", json, "-o", svg, "-o", png);
        Assert.True(run.ExitCode == 0, run.Stderr);
        HeapTimelineFile t = HeapMapJson.DeserializeTimeline(File.ReadAllText(json));
        Assert.Equal(t.TotalOps, t.Moments[^1]);
        HeapTimelinePanel main = t.Panels.Single(p => p.Kind == "brk");
        Assert.All(main.Cells, row => Assert.Equal(main.Cells[0].Count, row.Count));
        Assert.True(main.SpanBytes >= 8 * 100_000UL, $"the main heap spans {main.SpanBytes} B");

        int State(string name) => t.States.ToList().IndexOf(name);
        int Bucket(ulong userAddress) => (int)((userAddress - main.Start) / main.BucketBytes);
        int bigCell = Bucket(firstBig.Result + 50_000);

        // Before any op nothing is mapped; at the end the first block's cell is free in the unsorted bin, and the heap still
        // reaches past the late block (a 2,000-byte block is narrower than a cell: its neighbours' states colour it).
        Assert.All(main.Cells[0], c => Assert.Equal(-1, c));
        Assert.Equal(State("unsorted"), main.Cells[^1][bigCell]);
        Assert.NotEqual(-1, main.Cells[^1][Bucket(pin.Result + 2000)]);

        // While the blocks live (a moment after the pin's malloc and before the frees, if one falls there) the cell is in use.
        int pinIndex = events.IndexOf(pin);
        int during = t.Moments.ToList().FindIndex(m => m > pinIndex + 1 && m <= lastBigFree - 8);
        if (during >= 0)
        {
            Assert.Equal(State("in_use"), main.Cells[during][bigCell]);
        }

        Assert.Contains("<svg", File.ReadAllText(svg), StringComparison.Ordinal);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(png)[..4]);
        Assert.Contains("arena 0 brk", run.Stdout, StringComparison.Ordinal);
    }
}
