using System.Globalization;
using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Native;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Replay;

/// <summary>
/// Thread exits are replayed where glibc ran them (just after the thread's last call), not where the
/// recorder wrote the marker. On a <c>--lockstep</c> recording of the bundled multi-thread workload (one
/// thread calls at a time in a fixed schedule; threads exit, their arenas are reused by later threads),
/// the serial glibc replay must put every allocation at the recorded arena-relative place: main-heap
/// blocks at the same offset from brk0 (the replay's shifted by exactly its own setup use of the heap, see
/// <see cref="NativeResultsHeader.SetupHeapBytes"/>), arena-heap blocks in the same heap (heaps numbered by first use)
/// at the same offset. Were the exits replayed late, a dead thread's tcache would still hold chunks that
/// glibc had already flushed to its arena, and later threads would get other addresses.
/// </summary>
public sealed class ThreadExitReplayTests : IDisposable
{
    /// <summary>Offsets from brk0 beyond this are not in the brk heap.</summary>
    private const ulong HeapWindow = 1UL << 36;

    /// <summary>glibc 2.36's HEAP_MAX_SIZE on 64-bit: non-main heaps are aligned to it.</summary>
    private const ulong ArenaHeapSize = 64UL << 20;

    /// <summary>
    /// The main thread's tcache block (a 0x290 chunk, glibc 2.36 x86_64; see glibc-2.36-malloc-facts.md): the
    /// recording has it too, so it is the part of the replayer's setup use that does not shift the heap.
    /// </summary>
    private const ulong TcacheChunk = 0x290;

    /// <summary>glibc's initial mmap threshold: smaller requests are never mmapped.</summary>
    private const ulong MmapThresholdMin = 128 * 1024;

    private readonly string _dir = Directory.CreateTempSubdirectory("ptreplay-exit-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Lockstep_SerialGlibcReplay_PlacesEveryAllocationAsRecorded()
    {
        string trace = Record(["--lockstep", "3", "150", "5"]);
        TraceHeader header;
        List<AllocEvent> events;
        using (var reader = TraceReader.Open(trace))
        {
            header = reader.Header;
            events = reader.ReadAll().ToList();
        }

        PreparedTrace prepared = TracePreparer.Prepare(events, Path.Combine(_dir, "t.prepared"));
        Assert.Equal(0, prepared.IssueCount);
        var (result, raw) = NativeEngine.Run("glibc", prepared,
            new ReplayOptions { LogAddresses = true, Threads = ThreadMode.Serial },
            Path.Combine(_dir, "glibc.results"), ReplayRunner.MallocEnvironment(null, header));
        Assert.True(result.Error is null, result.Error);
        ulong[] replayed = raw!.ReadAddresses();

        using var file = new PreparedFile(prepared.Path);
        // The replayer's own threads each calloc a DTV in the main heap before the first replayed call (the
        // recorded program's pthread_create callocs are in the trace and replayed as calls): a fixed shift.
        ulong setup = raw.Header.SetupHeapBytes;
        Assert.True(setup > TcacheChunk, $"setup use {setup}: the replay threads' DTVs are missing");
        ulong shift = setup - TcacheChunk;
        // One DTV per replay thread created before the replay: as many as were ever alive at once; the later ones reuse a
        // joined thread's cached stack and calloc nothing.
        int precreated = RecordedThreads.MaxAliveAtOnce(events);
        Assert.True(precreated < (int)raw.Header.ThreadCount - 1, "every thread was alive at once: nothing to test");
        Assert.Equal((ulong)((int)raw.Header.ThreadCount - 1 - precreated), raw.Header.ThreadStarts);
        Assert.True(shift % (ulong)precreated == 0, $"shift {shift} is not one DTV per replay thread ({precreated})");
        var recorded = new Placer(header.Brk0, 0);
        var replayedPlaces = new Placer(raw.Header.Brk0, shift);
        int compared = 0, inArenas = 0, mmapped = 0, mismatches = 0;
        string first = "";
        for (long i = 0; i < (long)file.Header.OpCount; i++)
        {
            long index = file.EventIndex(i);
            AllocEvent e = events[(int)index];
            if (file.Op(i).Kind is PreparedKind.Join or PreparedKind.ThreadExit || !e.Kind.Allocates() || e.Result == 0)
            {
                continue;
            }

            if (LooksMmapped(e.Result, e.RequestedBytes))
            {
                // Placed by the kernel: only check the replay mmapped it too.
                mmapped++;
                if (!LooksMmapped(replayed[i], e.RequestedBytes) && mismatches++ == 0)
                {
                    first = string.Create(CultureInfo.InvariantCulture, $"event {index} {e}: mmapped when recorded, not when replayed");
                }

                continue;
            }

            var want = recorded.Place(e.Result);
            var got = replayedPlaces.Place(replayed[i]);
            compared++;
            if (want.Heap > 0)
            {
                inArenas++;
            }

            if (want != got && mismatches++ == 0)
            {
                first = string.Create(CultureInfo.InvariantCulture,
                    $"event {index} {e}: recorded heap {want.Heap} +0x{want.Offset:x}, replayed heap {got.Heap} +0x{got.Offset:x}");
            }
        }

        Assert.True(mismatches == 0, $"{mismatches} of {compared} allocations ({mmapped} mmapped) placed elsewhere; first: {first}");
        Assert.True(compared > 2000, $"only {compared} allocations compared");
        Assert.True(inArenas > 500, $"only {inArenas} allocations in thread arenas");
        Assert.True(recorded.ArenaHeaps >= 2, $"only {recorded.ArenaHeaps} arena heaps used");
        Assert.Equal(0UL, raw.Header.ReplayNulls);
    }

    /// <summary>
    /// The model and the serial glibc replay hold the same footprint at every sample. The replayer is not
    /// a blank process: before the first replayed call, creating its worker threads left one TLS dtv per
    /// thread in use in glibc's main heap, which moves glibc's brk growth and trims by a page here and
    /// there (about 20 of 75 samples off by 4096 bytes with an empty model). The model is given the same
    /// preamble, measured at run time as glibc's in-use bytes beyond the model's (final live bytes are
    /// equal), and must then match sample by sample.
    /// </summary>
    [Fact]
    public void Lockstep_SimAndSerialGlibc_SameFootprint()
    {
        string trace = Record(["--lockstep", "3", "150", "5"]);
        var options = new ReplayOptions { Threads = ThreadMode.Serial, NoTiming = true };
        TraceHeader header;
        ReplayReport report;
        using (var reader = TraceReader.Open(trace))
        {
            header = reader.Header;
            report = ReplayRunner.Run(trace, header, reader.ReadAll(), ["sim", "glibc"], Path.Combine(_dir, "out"),
                options, new PreparationOptions { SampleEvery = 200 }, keepIntermediates: true);
        }

        Assert.Equal(0, report.Prepared.IssueCount);
        EngineResult empty = report.Results.Single(r => r.Engine == "sim");
        EngineResult glibc = report.Results.Single(r => r.Engine == "glibc");
        Assert.True(empty.Error is null, empty.Error);
        Assert.True(glibc.Error is null, glibc.Error);

        double preamble = glibc.Extra["mallinfo2_uordblks"] - empty.Extra["mallinfo2_uordblks"];
        Assert.True(preamble >= 32 && preamble % 16 == 0, $"replayer's own in-use bytes: {preamble}");
        EngineResult sim = SimEngine.Run(report.Prepared, header, new ReplayOptions
        {
            Threads = ThreadMode.Serial,
            NoTiming = true,
            SimPreambleBytes = (ulong)preamble,
        }, null);
        Assert.True(sim.Error is null, sim.Error);
        Assert.Equal(glibc.Extra["mallinfo2_uordblks"], sim.Extra["mallinfo2_uordblks"]);

        Assert.True(sim.Series.Count > 10, $"only {sim.Series.Count} samples");
        Assert.Equal(glibc.Series.Select(p => p.Seq), sim.Series.Select(p => p.Seq));
        var differing = sim.Series.Zip(glibc.Series)
            .Where(pair => pair.First.FootprintBytes != pair.Second.FootprintBytes)
            .Select(pair => string.Create(CultureInfo.InvariantCulture,
                $"op {pair.First.Seq}: sim {pair.First.FootprintBytes}, glibc {pair.Second.FootprintBytes}"))
            .ToList();
        Assert.True(differing.Count == 0,
            $"{differing.Count} of {sim.Series.Count} samples differ (preamble {preamble} B): {string.Join("; ", differing.Take(5))}");
        Assert.Equal(glibc.PeakFootprintBytes, sim.PeakFootprintBytes);
        Assert.Equal(glibc.FinalFootprintBytes, sim.FinalFootprintBytes);
    }

    /// <summary>A chunk glibc mmapped on its own: large, and its user pointer 16 bytes into a page.</summary>
    private static bool LooksMmapped(ulong address, ulong size) => size >= MmapThresholdMin && (address & 0xfff) == 0x10;

    /// <summary>
    /// Numbers the heaps of one process: heap 0 is the brk heap, with offsets from
    /// <paramref name="brk0"/> + <paramref name="setupShift"/> (the bytes the process itself took from the
    /// heap start that the other process did not); heap n is the n-th 64 MiB-aligned arena heap seen, with
    /// offsets from its start (mmapped chunks are left out).
    /// </summary>
    private sealed class Placer(ulong brk0, ulong setupShift)
    {
        private readonly Dictionary<ulong, int> _heaps = [];

        public int ArenaHeaps => _heaps.Count;

        public (int Heap, ulong Offset) Place(ulong address)
        {
            if (address >= brk0 && address - brk0 < HeapWindow)
            {
                return (0, address - brk0 - setupShift);
            }

            ulong heapStart = address & ~(ArenaHeapSize - 1);
            if (!_heaps.TryGetValue(heapStart, out int n))
            {
                n = _heaps.Count + 1;
                _heaps[heapStart] = n;
            }

            return (n, address - heapStart);
        }
    }

    private string Record(string[] args)
    {
        string trace = Path.Combine(_dir, "mt.trace");
        var result = Recorder.Run(new RecordingOptions
        {
            Command = [NativeArtifacts.Find(NativeArtifacts.MtWorkload), .. args],
            OutputPath = trace,
            FollowChildren = false,
            Environment = new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" },
            CaptureOutput = true,
            WorkingDirectory = _dir,
            Timeout = TimeSpan.FromMinutes(2),
        });
        Assert.Equal(0, result.ExitCode);
        return result.TracePath;
    }
}
