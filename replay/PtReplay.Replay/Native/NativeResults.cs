using System.Runtime.InteropServices;
using PtReplay.Replay.Metrics;

namespace PtReplay.Replay.Native;

/// <summary>Memory figures of the native replayer, in bytes (results_format.h, struct res_memory).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct NativeMemory
{
    /// <summary>Anonymous resident bytes: statm (resident - shared) pages.</summary>
    public ulong Rss;
    /// <summary>Writable private address space: statm data pages.</summary>
    public ulong Committed;
    /// <summary>All mapped address space: statm size pages.</summary>
    public ulong AddressSpace;
}

/// <summary>The results file header written by ptreplay-native (results_format.h, struct res_header).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct NativeResultsHeader
{
    /// <summary>The version this reader understands (RES_VERSION).</summary>
    public const uint CurrentVersion = 2;

    /// <summary>"PTRRES01".</summary>
    public ulong Magic;
    /// <summary><see cref="CurrentVersion"/>.</summary>
    public uint Version;
    /// <summary>Threads replayed.</summary>
    public uint ThreadCount;
    /// <summary>Ops in the prepared trace.</summary>
    public ulong OpCount;
    /// <summary>Samples.</summary>
    public ulong SampleCount;
    /// <summary>Cycle counter ticks per ns.</summary>
    public double TscPerNs;
    /// <summary>sbrk(0) before the replayer's first heap use (before it creates its threads).</summary>
    public ulong Brk0;
    /// <summary>sbrk(0) after the replay.</summary>
    public ulong BrkEnd;
    /// <summary>Replay wall time less sampling and pace sleeps.</summary>
    public ulong WallNs;
    /// <summary>Replay wall time as measured (sampling and pace sleeps included).</summary>
    public ulong ElapsedNs;
    /// <summary>Time spent taking samples (cycle counter around each sample), left out of <see cref="WallNs"/>.</summary>
    public ulong SamplingNs;
    /// <summary>Samples taken.</summary>
    public ulong SamplesTaken;
    /// <summary>Samples that also read the allocator's own statistic (its reads are capped at 1 % of the time).</summary>
    public ulong AllocatorSamplesTaken;
    /// <summary>0: as fast as possible; otherwise the recorded gaps were divided by this factor.</summary>
    public double PaceFactor;
    /// <summary>Sleeps performed to keep the recorded pace.</summary>
    public ulong PaceWaits;
    /// <summary>Recorded time (scaled) before each op the replayer slept for, summed: from the trace's timestamps.</summary>
    public ulong PaceRecordedWaitNs;
    /// <summary>Time spent in those sleeps as measured, left out of <see cref="WallNs"/>.</summary>
    public ulong PaceSleptNs;
    /// <summary>The allocator's memory before the first replayed call (part of every sample).</summary>
    public NativeMemory AllocatorAtBaseline;
    /// <summary>The harness's own memory, subtracted from every sample.</summary>
    public NativeMemory Harness;
    /// <summary>The allocator's memory after the replay.</summary>
    public NativeMemory Final;
    /// <summary>The allocator's own statistic after the replay (see <see cref="AllocatorStatsSource"/>).</summary>
    public ulong FinalAllocatorMapped;
    /// <summary>0 none, 1 mallinfo2, 2 jemalloc stats.mapped, 3 tcmalloc heap_size - unmapped, 4 mimalloc commit.</summary>
    public ulong AllocatorStatsSource;
    /// <summary>Calls executed.</summary>
    public ulong Calls;
    /// <summary>Calls that returned NULL although the recording got memory.</summary>
    public ulong ReplayNulls;
    /// <summary>Blocks freed that the recording did not have.</summary>
    public ulong ExtraFrees;
    /// <summary>Cross-thread ops that had to wait (concurrent mode).</summary>
    public ulong CrossThreadWaits;
    /// <summary>Cross-thread ops executed (ops whose slot's previous op ran on another thread).</summary>
    public ulong CrossThreadOps;
    /// <summary>mallinfo2().arena at the end (glibc).</summary>
    public ulong MallinfoArena;
    /// <summary>mallinfo2().hblkhd at the end (glibc).</summary>
    public ulong MallinfoHblkhd;
    /// <summary>mallinfo2().uordblks at the end (glibc).</summary>
    public ulong MallinfoUordblks;
    /// <summary>mallinfo2().fordblks at the end (glibc).</summary>
    public ulong MallinfoFordblks;
    /// <summary>Histogram table offset.</summary>
    public ulong HistogramsOffset;
    /// <summary>Sample table offset.</summary>
    public ulong SamplesOffset;
    /// <summary>Address log offset.</summary>
    public ulong AddressesOffset;
    /// <summary>1 once complete.</summary>
    public ulong Ok;
    /// <summary>Seq of the latest sample.</summary>
    public ulong ProgressSeq;
    /// <summary>1 for --null-allocator.</summary>
    public ulong NullAllocator;
    /// <summary>Smallest difference of two back-to-back cycle counter reads (the floor of every latency).</summary>
    public ulong TimerFloorCycles;
    /// <summary>Frees (not of NULL) that found their slot empty: a replay NULL or a broken cross-thread dependency.</summary>
    public ulong EmptySlotFrees;
    /// <summary>
    /// glibc: bytes in use in the heap before the first replayed call (mallinfo2 uordblks): the replayer's
    /// own use, i.e. the main thread's tcache block (once any allocation ran) plus one DTV per replay thread
    /// (pthread_create callocs it in the creator's arena). 0 for other allocators.
    /// </summary>
    public ulong SetupHeapBytes;
    /// <summary>Replay threads created during the replay (at a START op, on a stack a joined thread left in glibc's cache).</summary>
    public ulong ThreadStarts;
    /// <summary>Time those creations took, in ns (left out of <see cref="WallNs"/>).</summary>
    public ulong ThreadStartNs;
    /// <summary>Most replay threads (the main one included) alive at once: created and not yet joined.</summary>
    public ulong ThreadsPeak;
    /// <summary>The replayer process's peak resident memory in bytes (VmHWM), the mapped prepared file's pages included.</summary>
    public ulong ReplayerPeakRss;
    /// <summary>Calls timed apart from the histograms: each thread's first call (heap, tcache and arena set-up).</summary>
    public ulong FirstCalls;
    /// <summary>The slowest of those first calls, in cycles.</summary>
    public ulong FirstCallMaxCycles;
    /// <summary>Latency histograms in the file: one per replay thread alive at once (a later thread takes over a joined one's).</summary>
    public ulong HistogramCount;

    /// <summary>Byte offset of <see cref="ProgressSeq"/> (for progress polling).</summary>
    public static int ProgressSeqOffset => (int)Marshal.OffsetOf<NativeResultsHeader>(nameof(ProgressSeq));
}

/// <summary>One native sample (struct res_sample): the allocator's memory, the harness's excluded.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct NativeSample
{
    /// <summary>The allocator statistic was not read at this sample (over its time budget).</summary>
    public const ulong NotTaken = ulong.MaxValue;

    /// <summary>Op position.</summary>
    public ulong Seq;
    /// <summary>Cycle counter.</summary>
    public ulong Tsc;
    /// <summary>Anonymous resident bytes.</summary>
    public ulong Rss;
    /// <summary>Writable private address space (committed).</summary>
    public ulong Committed;
    /// <summary>Address space, reservations included.</summary>
    public ulong AddressSpace;
    /// <summary>The allocator's own statistic, or <see cref="NotTaken"/>.</summary>
    public ulong AllocatorMapped;
}

/// <summary>Reads a ptreplay-native results file.</summary>
public sealed class NativeResults
{
    private readonly string _path;

    private NativeResults(string path, NativeResultsHeader header, NativeSample[] samples)
    {
        _path = path;
        Header = header;
        Samples = samples;
    }

    /// <summary>The header.</summary>
    public NativeResultsHeader Header { get; }

    /// <summary>Samples indexed by sample id.</summary>
    public IReadOnlyList<NativeSample> Samples { get; }

    /// <summary>Reads the header and samples; throws <see cref="InvalidDataException"/> when the file is incomplete.</summary>
    public static NativeResults Read(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var header = ReadStruct<NativeResultsHeader>(fs, 0);
        if (header.Magic != BitConverter.ToUInt64("PTRRES01"u8) || header.Version != NativeResultsHeader.CurrentVersion || header.Ok != 1)
        {
            throw new InvalidDataException($"Results file {path} is incomplete (the native replayer did not finish).");
        }

        var samples = new NativeSample[header.SampleCount];
        fs.Position = (long)header.SamplesOffset;
        fs.ReadExactly(MemoryMarshal.AsBytes(samples.AsSpan()));
        return new NativeResults(path, header, samples);
    }

    /// <summary>Latency histograms of all threads merged.</summary>
    public LatencyHistogram ReadLatency()
    {
        var hist = new LatencyHistogram(Header.TscPerNs);
        using var fs = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        fs.Position = (long)Header.HistogramsOffset;
        var row = new ulong[LatencyHistogram.Buckets];
        for (int t = 0; t < (int)Header.HistogramCount; t++)
        {
            for (int k = 0; k < LatencyHistogram.Kinds; k++)
            {
                for (int c = 0; c < LatencyHistogram.SizeClasses; c++)
                {
                    fs.ReadExactly(MemoryMarshal.AsBytes(row.AsSpan()));
                    hist.AddRow(k, c, row);
                }
            }
        }

        return hist;
    }

    /// <summary>The address each op returned (0 for frees, markers and NULL), indexed like the prepared file's ops.</summary>
    public ulong[] ReadAddresses()
    {
        if (Header.AddressesOffset == 0)
        {
            throw new InvalidOperationException("The replay did not log addresses (ReplayOptions.LogAddresses).");
        }

        var addresses = new ulong[Header.OpCount];
        using var fs = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        fs.Position = (long)Header.AddressesOffset;
        fs.ReadExactly(MemoryMarshal.AsBytes(addresses.AsSpan()));
        return addresses;
    }

    /// <summary>Reads the progress word of a results file that is still being written (0 when not available yet).</summary>
    public static long TryReadProgress(string path)
    {
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (fs.Length < 4096)
            {
                return 0;
            }

            Span<byte> b = stackalloc byte[8];
            fs.Position = NativeResultsHeader.ProgressSeqOffset;
            fs.ReadExactly(b);
            return (long)BitConverter.ToUInt64(b);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static T ReadStruct<T>(FileStream fs, long offset)
        where T : unmanaged
    {
        T value = default;
        fs.Position = offset;
        fs.ReadExactly(MemoryMarshal.AsBytes(new Span<T>(ref value)));
        return value;
    }
}
