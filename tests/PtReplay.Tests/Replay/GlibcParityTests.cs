using PtReplay.Replay;
using PtReplay.Replay.Native;
using PtReplay.Replay.Preparation;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>
/// The glibc replay of a single-thread recording returns the recorded heap addresses: every
/// main-heap block at the same offset from brk0 as in the recorded process (read from the native
/// replayer's address log), every mmapped block again outside the heap (mmapped chunks are compared
/// by size only: their addresses depend on the kernel).
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed class GlibcParityTests(Recordings recordings)
{
    /// <summary>Heap offsets beyond this are not in the brk heap (the mmap area is terabytes away).</summary>
    private const ulong HeapWindow = 1UL << 36;

    [Fact]
    public void Python_ReplaysAtTheRecordedHeapAddresses() => AssertParity(recordings.Python);

    [Fact]
    public void Sqlite_ReplaysAtTheRecordedHeapAddresses() => AssertParity(recordings.Sqlite);

    private void AssertParity(string tracePath)
    {
        string dir = recordings.NewFolder("parity");
        TraceHeader header;
        List<AllocEvent> events;
        using (var reader = TraceReader.Open(tracePath))
        {
            header = reader.Header;
            events = reader.ReadAll().ToList();
        }

        Assert.NotEqual(0UL, header.Brk0);
        PreparedTrace prepared = TracePreparer.Prepare(events, Path.Combine(dir, "t.prepared"));
        Assert.Equal(0, prepared.IssueCount);
        Assert.Equal(1, prepared.ThreadCount);

        var env = ReplayRunner.MallocEnvironment(null, header);
        var (result, raw) = NativeEngine.Run("glibc", prepared, new ReplayOptions { LogAddresses = true }, Path.Combine(dir, "glibc.results"), env);
        Assert.True(result.Error is null, result.Error);
        ulong[] replayed = raw!.ReadAddresses();
        ulong replayBrk0 = raw.Header.Brk0;

        using var file = new PreparedFile(prepared.Path);
        int heapCompared = 0, mmapCompared = 0;
        var mismatches = new List<string>();
        for (long i = 0; i < (long)file.Header.OpCount; i++)
        {
            AllocEvent e = events[(int)file.EventIndex(i)];
            if (!e.Kind.Allocates() || e.Result == 0)
            {
                continue;
            }

            ulong recordedOffset = e.Result - header.Brk0;
            ulong replayedOffset = replayed[i] - replayBrk0;
            if (e.Result >= header.Brk0 && recordedOffset < HeapWindow)
            {
                heapCompared++;
                if (recordedOffset != replayedOffset && mismatches.Count < 5)
                {
                    mismatches.Add($"event {file.EventIndex(i)} {e}: recorded brk0+0x{recordedOffset:x}, replayed brk0+0x{replayedOffset:x}");
                }
            }
            else
            {
                mmapCompared++;
                if (replayed[i] >= replayBrk0 && replayedOffset < HeapWindow && mismatches.Count < 5)
                {
                    mismatches.Add($"event {file.EventIndex(i)} {e}: mmapped in the recording, in the heap when replayed");
                }
            }
        }

        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
        Assert.True(heapCompared > 1000, $"only {heapCompared} heap blocks compared ({mmapCompared} mmapped)");
        Assert.Equal(prepared.CallCount, (long)raw.Header.Calls);
        Assert.Equal(0UL, raw.Header.ReplayNulls);
    }
}
