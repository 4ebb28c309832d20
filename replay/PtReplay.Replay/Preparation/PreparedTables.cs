namespace PtReplay.Replay.Preparation;

/// <summary>Where each table of a prepared file lies (PREPARED-FORMAT.md), from its counts; 0 for a table the file does not have.</summary>
internal readonly record struct PreparedTables
{
    public long Threads { get; init; }
    public long ThreadsOffset { get; init; }
    public long OpsOffset { get; init; }
    public long SampleIdsOffset { get; init; }
    public long SamplesOffset { get; init; }
    public long EventIndexOffset { get; init; }
    public long TimesOffset { get; init; }
    public long AddressesOffset { get; init; }
    public long ThreadFlagsOffset { get; init; }

    /// <summary>
    /// The u64 after the thread flags table: in a streamed file, the ns the writer spent writing windows while the reader
    /// waited for them (the reader leaves them out of its wall time).
    /// </summary>
    public long StallOffset { get; init; }

    public long Total { get; init; }

    public static PreparedTables For(int threads, long ops, long samples, bool times, bool addresses)
    {
        long threadsOffset = PreparedFormat.HeaderSize;
        long opsOffset = threadsOffset + (32L * threads);
        long sampleIdsOffset = opsOffset + (32L * ops);
        long samplesOffset = Align8(sampleIdsOffset + (4L * samples));
        long eventIndexOffset = samplesOffset + (16L * samples);
        long end = eventIndexOffset + (8L * ops);
        long timesOffset = times ? end : 0;
        end += times ? 8L * ops : 0;
        long addressesOffset = addresses ? end : 0;
        end += addresses ? 8L * ops : 0;
        long flagsOffset = end;
        long stallOffset = Align8(end + (4L * threads));
        end = stallOffset + 8;
        return new PreparedTables
        {
            Threads = threads, ThreadsOffset = threadsOffset, OpsOffset = opsOffset, SampleIdsOffset = sampleIdsOffset,
            SamplesOffset = samplesOffset, EventIndexOffset = eventIndexOffset, TimesOffset = timesOffset,
            AddressesOffset = addressesOffset, ThreadFlagsOffset = flagsOffset, StallOffset = stallOffset, Total = end,
        };
    }

    /// <summary>Writes the header (without the stream fields) for these tables.</summary>
    public unsafe void WriteHeader(PreparedHeader* header, long ops, long slots, long samples, int firstThread, int threadsAtOnce)
    {
        PreparedFormat.Magic.CopyTo(new Span<byte>(header->Magic, 8));
        header->Version = PreparedFormat.Version;
        header->ThreadCount = (uint)Threads;
        header->OpCount = (ulong)ops;
        header->SlotCount = (ulong)slots;
        header->SampleCount = (ulong)samples;
        header->FirstThread = (uint)Math.Max(0, firstThread);
        header->ThreadsAtOnce = (uint)threadsAtOnce;
        header->ThreadsOffset = (ulong)ThreadsOffset;
        header->OpsOffset = (ulong)OpsOffset;
        header->SampleIdsOffset = (ulong)SampleIdsOffset;
        header->SamplesOffset = (ulong)SamplesOffset;
        header->EventIndexOffset = (ulong)EventIndexOffset;
        header->TimesOffset = (ulong)TimesOffset;
        header->AddressesOffset = (ulong)AddressesOffset;
        header->ThreadFlagsOffset = (ulong)ThreadFlagsOffset;
    }

    private static long Align8(long v) => (v + 7) & ~7L;
}
