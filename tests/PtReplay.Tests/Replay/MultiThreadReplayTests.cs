using PtReplay.Replay;
using PtReplay.Replay.Native;
using PtReplay.Replay.Preparation;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>
/// A real multi-threaded recording (producer/consumer: every handed-over block is freed by another
/// thread) replays into glibc in both thread modes with every call executed and every cross-thread
/// free finding its block (counted by the native replayer).
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed class MultiThreadReplayTests(Recordings recordings)
{
    [Theory]
    [InlineData(ThreadMode.Serial)]
    [InlineData(ThreadMode.Concurrent)]
    public void EveryCrossThreadFree_IsHonoured(ThreadMode mode)
    {
        string dir = recordings.NewFolder("mt-" + mode);
        PreparedTrace prepared;
        using (var reader = TraceReader.Open(recordings.MultiThread))
        {
            prepared = TracePreparer.Prepare(reader.ReadAll(), Path.Combine(dir, "t.prepared"), new PreparationOptions { SampleEvery = 2000 });
        }

        Assert.Equal(0, prepared.IssueCount);
        Assert.True(prepared.ThreadCount >= 5, $"{prepared.ThreadCount} threads"); // main + 4 workers
        long crossThread = CountWaitOps(prepared.Path);
        Assert.True(crossThread >= 3000, $"{crossThread} cross-thread ops"); // 2 producers x 3000 items handed over

        var (result, raw) = NativeEngine.Run("glibc", prepared, new ReplayOptions { Threads = mode }, Path.Combine(dir, "r"), null);
        Assert.True(result.Error is null, result.Error);
        Assert.Equal((ulong)prepared.CallCount, raw!.Header.Calls);
        Assert.Equal((ulong)crossThread, raw.Header.CrossThreadOps);
        Assert.Equal(0UL, raw.Header.EmptySlotFrees);
        Assert.Equal(0UL, raw.Header.ReplayNulls);
        Assert.True(result.PeakFootprintBytes >= result.PeakLiveBytes);
    }

    [Fact]
    public void SerialMode_IsDeterministic()
    {
        string dir = recordings.NewFolder("mt-det");
        PreparedTrace prepared;
        using (var reader = TraceReader.Open(recordings.MultiThread))
        {
            prepared = TracePreparer.Prepare(reader.ReadAll(), Path.Combine(dir, "t.prepared"), new PreparationOptions { SampleEvery = 500 });
        }

        var runs = new List<(List<ulong> Footprints, double Arena, double InUse)>();
        for (int run = 0; run < 2; run++)
        {
            var (result, _) = NativeEngine.Run("glibc", prepared, new ReplayOptions(), Path.Combine(dir, $"r{run}"), null);
            Assert.True(result.Error is null, result.Error);
            runs.Add((result.Series.Select(p => p.FootprintBytes).ToList(), result.Extra["mallinfo2_arena"], result.Extra["mallinfo2_uordblks"]));
        }

        Assert.True(runs[0].Footprints.Count > 10);
        Assert.Equal(runs[0].Footprints, runs[1].Footprints);
        Assert.Equal(runs[0].Arena, runs[1].Arena);
        Assert.Equal(runs[0].InUse, runs[1].InUse);
    }

    private static long CountWaitOps(string path)
    {
        using var file = new PreparedFile(path);
        long n = 0;
        for (long i = 0; i < (long)file.Header.OpCount; i++)
        {
            n += (file.Op(i).Flags & OpMarks.Wait) != 0 ? 1 : 0;
        }

        return n;
    }
}
