using System.Runtime.CompilerServices;
using PtReplay.Traces.Format;

namespace PtReplay.Traces;

/// <summary>
/// Streams the events of a trace (traces/FORMAT.md) in global timestamp order (ties: file order).
/// <para><b>Memory</b> is bounded by what the merge needs, never by the file size: a file of only mixed blocks
/// (packed, or written by <see cref="TraceWriter"/>) is read block by block, decoding straight into the
/// caller's buffer; a raw recording (one run of blocks per thread, interleaved in the file) is merged with one
/// block payload and a chunk of decoded events per thread, plus the offsets of each thread's blocks (8 bytes
/// per block, found by a scan of the block headers at open).</para>
/// <para><b>Truncation</b>: a file without an end block, or whose bytes end inside a block, is read up to its
/// last complete block; <see cref="IsTruncated"/> and <see cref="TruncatedAtOffset"/> say so, and reading ends
/// normally.</para>
/// <para><b>Corruption</b>: a damaged block (bad magic, unknown codec, CRC mismatch, payload that does not
/// decode to its header's counts, unknown event kind) makes the reader deliver every event it can order
/// before the damage and then throw <see cref="TraceCorruptException"/> with the block's byte offset and the
/// index of the first undelivered event (a payload whose CRC matches but does not decode is a writer bug;
/// in a file read in order the events of that block before the bad one are delivered too). After the
/// exception every further read throws it again. A damaged header throws from <see cref="Open(string)"/>.</para>
/// <para>Thread numbers: see <see cref="ThreadTids"/>.</para>
/// </summary>
public sealed partial class TraceReader : IDisposable
{
    /// <summary>Blocks claiming more raw bytes than this are treated as corrupt (writers use far less).</summary>
    public const int MaxRawBlockBytes = 256 << 20;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly string _path;
    private readonly ThreadNumbering _threads = new();
    private readonly long _firstBlockOffset;
    private readonly long _limit;
    private BlockCursor[] _heap = [];
    private BlockCursor? _sequential;
    private int _heapCount;
    private bool _started;
    private byte[] _io = new byte[1 << 16];
    private TraceCorruptException? _failure;
    private readonly string? _scanDamage;
    private readonly long _scanDamageOffset = -1;
    private bool _failureDue;
    private long _produced;
    private readonly AllocEvent[] _one = new AllocEvent[256];
    private int _onePos;
    private int _oneCount;
    private readonly Dictionary<uint, Queue<long>>? _threadBlocks;
    private readonly Queue<long>? _mixedBlocks;
    private readonly PrefixGuard? _prefixGuard;
    private readonly long _eventsInBlocks;

    private TraceReader(Stream stream, string path, bool leaveOpen)
    {
        _stream = stream;
        _path = path;
        _leaveOpen = leaveOpen;
        _stream.Position = 0;
        (Header, _firstBlockOffset) = HeaderCodec.Read(_stream, path);
        FileLength = _stream.Length;

        // Scan the block headers: find truncation and header-level damage, and decide between reading
        // in file order (only mixed blocks) and merging per-thread runs (raw recording).
        var threadBlocks = new Dictionary<uint, Queue<long>>();
        var mixedBlocks = new Queue<long>();
        var modules = new List<Stacks.ModuleMapping>();
        var stacks = new Dictionary<int, ulong[]>();
        Span<byte> hb = stackalloc byte[BlockHeader.Size];
        long offset = _firstBlockOffset;
        long limit = -1;
        while (offset < FileLength)
        {
            if (FileLength - offset < BlockHeader.Size)
            {
                TruncatedAtOffset = offset;
                break;
            }

            ReadAt(offset, hb);
            BlockHeader h = BlockHeader.Read(hb);
            string? bad = CheckHeader(h, Header.FormatVersion);
            if (bad is not null)
            {
                _scanDamageOffset = offset;
                _scanDamage = bad;
                break;
            }

            long end = offset + BlockHeader.Size + h.StoredLength;
            if (end > FileLength)
            {
                TruncatedAtOffset = offset;
                break;
            }

            if (h.IsEnd)
            {
                string? endDamage = h.StoredLength == 0 ? null : ReadEndPayload(offset, h);
                if (endDamage is not null)
                {
                    _scanDamageOffset = offset;
                    _scanDamage = endDamage;
                    break;
                }

                IsComplete = true;
            }
            else if (h.IsTable)
            {
                string? tableDamage = ReadTable(offset, h, modules, stacks);
                if (tableDamage is not null)
                {
                    _scanDamageOffset = offset;
                    _scanDamage = tableDamage;
                    break;
                }
            }
            else if (h.EventCount > 0)
            {
                BlockCount++;
                _eventsInBlocks += h.EventCount;
                CompressedBlockCount += h.Codec == (byte)BlockCodec.Raw ? 0 : 1;
                if (h.IsMixed)
                {
                    mixedBlocks.Enqueue(offset);
                }
                else
                {
                    if (!threadBlocks.TryGetValue(h.Tid, out Queue<long>? q))
                    {
                        threadBlocks.Add(h.Tid, q = new Queue<long>());
                    }

                    q.Enqueue(offset);
                }
            }

            offset = end;
        }

        FillStacks(modules, stacks);
        limit = _scanDamage is not null || TruncatedAtOffset >= 0 ? offset : FileLength;
        _limit = limit;
        if (TruncatedAtOffset < 0 && _scanDamage is null && !IsComplete)
        {
            TruncatedAtOffset = FileLength;
        }

        if (threadBlocks.Count > 0)
        {
            _threadBlocks = threadBlocks;
            _mixedBlocks = mixedBlocks;
            IsMerged = true;
            if (TruncatedAtOffset >= 0)
            {
                (PrefixEndTimestamp, ThreadsWithoutEnd) = FindPrefixEnd(threadBlocks);
                _prefixGuard = PrefixEndTimestamp >= 0 ? new PrefixGuard() : null;
            }
        }
    }

    /// <summary>
    /// A cut raw recording: every thread's blocks are whole, but a thread may miss its tail while others go on
    /// (each flushes its own buffer). A thread whose last event is its exit marker is whole; for the others the
    /// readable part is a prefix in time up to the earliest of their last events: later events of any thread
    /// could free blocks allocated in a missing tail. Reads the last block of each thread once.
    /// </summary>
    private (long End, IReadOnlyList<int> Threads) FindPrefixEnd(Dictionary<uint, Queue<long>> threadBlocks)
    {
        long end = long.MaxValue;
        var open = new List<int>();
        foreach ((uint tid, Queue<long> blocks) in threadBlocks)
        {
            var cursor = new BlockCursor { Pending = new Queue<long>([blocks.ToArray()[^1]]) };
            AllocEvent last = default;
            bool any = false;
            try
            {
                while (Refill(cursor))
                {
                    last = cursor.Events[cursor.Count - 1];
                    any = true;
                }
            }
            catch (TraceCorruptException)
            {
                continue; // reading stops at the damage anyway
            }

            if (!any || (last.Kind == EventKind.ThreadExit && (last.Size == 0 || last.Size == tid)))
            {
                continue;
            }

            open.Add((int)tid);
            end = Math.Min(end, last.Timestamp);
        }

        open.Sort();
        return (open.Count == 0 ? -1 : end, open);
    }

    /// <summary>
    /// For a complete, undamaged trace of one thread in per-thread blocks (a single-thread recording, raw or packed by
    /// `record`): the number of events and the timestamps of the first and last, from the block headers and the first
    /// and last block only. False for any other trace (read it instead). Call before reading.
    /// </summary>
    internal bool TryQuickSpan(out long events, out long first, out long last)
    {
        events = 0;
        first = 0;
        last = 0;
        if (_started || _threadBlocks is not { Count: 1 } || _mixedBlocks!.Count > 0 || _scanDamage is not null || !IsComplete || IsTruncated)
        {
            return false;
        }

        long[] blocks = _threadBlocks.Values.First().ToArray();
        try
        {
            var head = new BlockCursor { Pending = new Queue<long>([blocks[0]]) };
            if (!Refill(head))
            {
                return false;
            }

            first = head.Events[0].Timestamp;
            var tail = new BlockCursor { Pending = new Queue<long>([blocks[^1]]) };
            while (Refill(tail))
            {
                last = tail.Events[tail.Count - 1].Timestamp;
            }
        }
        catch (TraceCorruptException)
        {
            return false;
        }

        events = _eventsInBlocks;
        return true;
    }

    /// <summary>Opens the trace at <paramref name="path"/> and reads its header (throws <see cref="TraceCorruptException"/> when the header is damaged).</summary>
    public static TraceReader Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        try
        {
            return new TraceReader(stream, path, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Reads a trace from a seekable stream; <paramref name="name"/> names it in messages.</summary>
    public static TraceReader Open(Stream stream, string name = "<stream>", bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek || !stream.CanRead)
        {
            throw new ArgumentException("TraceReader needs a readable, seekable stream.", nameof(stream));
        }

        return new TraceReader(stream, name, leaveOpen);
    }

    /// <summary>The file header.</summary>
    public TraceHeader Header { get; }

    /// <summary>The trace's call stacks (<c>record --stacks</c>): complete for every event delivered so far; empty for a trace recorded without stacks.</summary>
    public Stacks.StackTable Stacks { get; } = new();

    /// <summary>The file path (or stream name) used in messages.</summary>
    public string Path => _path;

    /// <summary>Kernel tid of each thread number (index = <see cref="AllocEvent.Thread"/>), for the threads seen so far. Numbers are given in delivery order, first appearance first; a tid reused after its thread-exit event gets a new number.</summary>
    public IReadOnlyList<int> ThreadTids => _threads.Tids;

    /// <summary>True when the file has no end block or ends inside a block (the recorded program did not exit normally, or the file was cut).</summary>
    public bool IsTruncated => TruncatedAtOffset >= 0;

    /// <summary>Byte offset where the readable part ends when <see cref="IsTruncated"/> (the cut block's offset, or the file length when only the end block is missing); -1 otherwise.</summary>
    public long TruncatedAtOffset { get; } = -1;

    /// <summary>True when the end block was found.</summary>
    public bool IsComplete { get; }

    /// <summary>
    /// Events the recorder could not write (disk full, file size limit; FORMAT.md version 3), as the last end
    /// block says; 0 when it says nothing. The trace holds the events before them, in full.
    /// </summary>
    public long LostEvents { get; private set; }

    /// <summary>Length of the file in bytes.</summary>
    public long FileLength { get; }

    /// <summary>
    /// A truncated raw recording is read as a prefix in time. Up to this timestamp (the last event of the first
    /// thread in <see cref="ThreadsWithoutEnd"/> whose stream ends) every thread's events are all there. After it
    /// some threads' tails are missing, so events are delivered, in time order, only for as long as each refers to
    /// no missing one: reading stops for every thread at the first free or realloc of a pointer the delivered events
    /// never allocated, or allocation of an address they still hold (<see cref="StoppedAtTimestamp"/>), so the
    /// events delivered always form a consistent heap history. -1 when reading is not cut so.
    /// </summary>
    public long PrefixEndTimestamp { get; } = -1;

    /// <summary>The timestamp of the first event a cut recording did not deliver because it refers to a missing one; -1 while none.</summary>
    public long StoppedAtTimestamp { get; private set; } = -1;

    /// <summary>Kernel tids of a truncated raw recording's threads whose stream does not end with their exit marker: their tails may be missing.</summary>
    public IReadOnlyList<int> ThreadsWithoutEnd { get; } = [];

    /// <summary>Blocks with events found by the header scan (up to any damage or cut).</summary>
    public long BlockCount { get; }

    /// <summary>Blocks with events found by the header scan whose payload is compressed (a packed trace has only such blocks, but for the few too small to gain).</summary>
    public long CompressedBlockCount { get; }

    /// <summary>
    /// Set before reading: merge a version 5 file's threads by timestamp alone, as versions 2-4, without the lifecycle
    /// order. For readers that need every event and each thread's own order but not the order across threads
    /// (counts, threads, time span: <see cref="Recording.RecordingSummary"/>).
    /// </summary>
    internal bool TimestampOrderOnly { get; set; }

    /// <summary>True when the file is a raw per-thread recording that the reader merges by timestamp; false when it is read in file order.</summary>
    public bool IsMerged { get; }

    /// <summary>Events delivered to the caller so far.</summary>
    public long EventsRead => _produced - (_oneCount - _onePos);

    /// <summary>Byte offset of a damaged block header found by the scan at open, or -1. Reading still delivers every event before it, then throws.</summary>
    public long DamagedBlockOffset => _scanDamageOffset;

    /// <summary>
    /// Fills <paramref name="dest"/> with the next events; returns how many (0 = end of trace).
    /// Throws <see cref="TraceCorruptException"/> once every event before a damaged block has been returned.
    /// </summary>
    public int ReadBatch(Span<AllocEvent> dest)
    {
        int n = 0;
        if (_onePos < _oneCount)
        {
            n = Math.Min(dest.Length, _oneCount - _onePos);
            _one.AsSpan(_onePos, n).CopyTo(dest);
            _onePos += n;
            if (n == dest.Length)
            {
                return n;
            }
        }

        return n + Produce(dest[n..], allowThrow: n == 0);
    }

    /// <summary>Reads the next event; false at the end of the trace.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryRead(out AllocEvent e)
    {
        if (_onePos < _oneCount)
        {
            e = _one[_onePos++];
            return true;
        }

        return TryReadSlow(out e);
    }

    /// <summary>All remaining events, lazily (convenience; <see cref="ReadBatch"/> is faster).</summary>
    public IEnumerable<AllocEvent> ReadAll()
    {
        var buffer = new AllocEvent[4096];
        int n;
        while ((n = ReadBatch(buffer)) > 0)
        {
            for (int i = 0; i < n; i++)
            {
                yield return buffer[i];
            }
        }
    }

    /// <summary>Closes the file.</summary>
    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TryReadSlow(out AllocEvent e)
    {
        _onePos = 0;
        _oneCount = 0;
        _oneCount = Produce(_one, allowThrow: true);
        if (_oneCount == 0)
        {
            e = default;
            return false;
        }

        e = _one[_onePos++];
        return true;
    }

    /// <summary>Merges events into <paramref name="dest"/>; remembers a failure and throws it only when nothing was produced.</summary>
    private int Produce(Span<AllocEvent> dest, bool allowThrow)
    {
        if (!_started)
        {
            Start();
        }

        int n = _sequential is not null ? ProduceSequential(dest) : IsLifecycleOrdered ? ProduceLifecycle(dest) : 0;
        while (!IsLifecycleOrdered && n < dest.Length && _heapCount > 0)
        {
            BlockCursor s = _heap[0];
            int available = Math.Min(s.Count - s.Position, dest.Length - n);
            int take = available;
            if (_heapCount > 1)
            {
                BlockCursor next = _heapCount == 2 || Less(_heap[1], _heap[2]) ? _heap[1] : _heap[2];
                long limitTs = next.HeadTimestamp;
                AllocEvent[] ev = s.Events;
                int p = s.Position;
                take = 0;
                if (s.BlockOffset < next.BlockOffset)
                {
                    while (take < available && ev[p + take].Timestamp <= limitTs)
                    {
                        take++;
                    }
                }
                else
                {
                    while (take < available && ev[p + take].Timestamp < limitTs)
                    {
                        take++;
                    }
                }
            }

            // The root is the minimum, so it always yields at least one event; never spin.
            take = Math.Max(take, 1);
            if (_prefixGuard is not null)
            {
                // A cut recording: up to the prefix end every thread is whole; after it, events go on only while
                // they refer to no missing one (the root is the earliest of all, so stopping here stops every thread).
                int within = 0;
                while (within < take && _prefixGuard.Accept(s.Events[s.Position + within], PrefixEndTimestamp))
                {
                    within++;
                }

                if (within == 0)
                {
                    StoppedAtTimestamp = s.Events[s.Position].Timestamp;
                    _heapCount = 0;
                    break;
                }

                take = within;
            }
            Span<AllocEvent> chunk = dest.Slice(n, take);
            s.Events.AsSpan(s.Position, take).CopyTo(chunk);
            _threads.Assign(chunk);
            s.Position += take;
            n += take;
            _produced += take;
            if (s.Position == s.Count)
            {
                bool more;
                try
                {
                    more = Refill(s);
                }
                catch (TraceCorruptException ex)
                {
                    Fail(ex);
                    break;
                }

                if (!more)
                {
                    _heap[0] = _heap[--_heapCount];
                    _heap[_heapCount] = null!;
                }
            }

            if (_heapCount > 1)
            {
                SiftDown(0);
            }
        }

        if (n == 0 && _heapCount == 0 && _sequential is null && _failure is null && _scanDamage is not null)
        {
            Fail(Corrupt(_scanDamageOffset, _scanDamage));
        }

        if (_failureDue && n == 0 && allowThrow)
        {
            throw _failure!;
        }

        return n;
    }

    private void Fail(TraceCorruptException ex)
    {
        _failure = ex;
        _failureDue = true;
        _heapCount = 0;
        _sequential = null;
    }

    /// <summary>File of only mixed blocks: decode straight into the caller's buffer, block after block, in file order.</summary>
    private int ProduceSequential(Span<AllocEvent> dest)
    {
        BlockCursor c = _sequential!;
        int n = 0;
        while (n < dest.Length)
        {
            if (!c.BlockActive)
            {
                bool more;
                try
                {
                    more = LoadNext(c);
                }
                catch (TraceCorruptException ex)
                {
                    Fail(ex);
                    return n;
                }

                if (!more)
                {
                    _sequential = null;
                    if (_scanDamage is not null)
                    {
                        Fail(Corrupt(_scanDamageOffset, _scanDamage));
                    }

                    return n;
                }
            }

            string? bad = BlockDecoder.DecodeSome(c.Raw, ref c.State, dest[n..], out int got);
            Span<AllocEvent> chunk = dest.Slice(n, got);
            _threads.Assign(chunk);
            n += got;
            _produced += got;
            if (bad is not null)
            {
                Fail(Corrupt(c.BlockOffset, bad));
                return n;
            }

            c.BlockActive = !c.State.Done;
        }

        return n;
    }

    /// <summary>Merge mode: decodes the cursor's next chunk (loading its next block when needed); false when the cursor has no events left.</summary>
    private bool Refill(BlockCursor c)
    {
        while (true)
        {
            if (!c.BlockActive && !LoadNext(c))
            {
                return false;
            }

            if (c.Events.Length == 0)
            {
                c.Events = new AllocEvent[BlockCursor.ChunkEvents];
            }

            string? bad = BlockDecoder.DecodeSome(c.Raw, ref c.State, c.Events, out int got);
            if (bad is not null)
            {
                throw Corrupt(c.BlockOffset, bad);
            }

            c.BlockActive = !c.State.Done;
            c.Position = 0;
            c.Count = got;
            if (got > 0)
            {
                return true;
            }
        }
    }

    private void Start()
    {
        _started = true;
        var cursors = new List<BlockCursor>();
        if (_threadBlocks is null)
        {
            _sequential = new BlockCursor { NextOffset = _firstBlockOffset };
            return;
        }
        else if (_threadBlocks.Count == 1 && _mixedBlocks!.Count == 0 && _prefixGuard is null)
        {
            // One thread: its blocks in file order are already in time order; decode straight into the caller's buffer.
            _sequential = new BlockCursor { Pending = _threadBlocks.Values.First() };
            return;
        }
        else
        {
            if (_mixedBlocks!.Count > 0)
            {
                cursors.Add(new BlockCursor { Pending = _mixedBlocks });
            }

            foreach (Queue<long> q in _threadBlocks.Values)
            {
                cursors.Add(new BlockCursor { Pending = q });
            }
        }

        _heap = new BlockCursor[cursors.Count];
        try
        {
            foreach (BlockCursor c in cursors)
            {
                if (Refill(c))
                {
                    _heap[_heapCount++] = c;
                }
            }
        }
        catch (TraceCorruptException ex)
        {
            Fail(ex);
            return;
        }

        if (Header.FormatVersion >= TraceFormat.MultiThreadOrderVersion && !TimestampOrderOnly)
        {
            StartLifecycle();
            return;
        }

        for (int i = (_heapCount / 2) - 1; i >= 0; i--)
        {
            SiftDown(i);
        }
    }

    /// <summary>Orders cursors by (next timestamp, block offset): global time order, ties in file order.</summary>
    private static bool Less(BlockCursor a, BlockCursor b)
    {
        long ta = a.HeadTimestamp, tb = b.HeadTimestamp;
        return ta < tb || (ta == tb && a.BlockOffset < b.BlockOffset);
    }

    private void SiftDown(int i)
    {
        BlockCursor x = _heap[i];
        while (true)
        {
            int c = (2 * i) + 1;
            if (c >= _heapCount)
            {
                break;
            }

            if (c + 1 < _heapCount && Less(_heap[c + 1], _heap[c]))
            {
                c++;
            }

            if (!Less(_heap[c], x))
            {
                break;
            }

            _heap[i] = _heap[c];
            i = c;
        }

        _heap[i] = x;
    }

    /// <summary>Loads the cursor's next block with events; false when it has none left.</summary>
    private bool LoadNext(BlockCursor c)
    {
        Span<byte> hb = stackalloc byte[BlockHeader.Size];
        while (true)
        {
            long offset;
            if (c.Pending is not null)
            {
                if (!c.Pending.TryDequeue(out offset))
                {
                    return false;
                }
            }
            else
            {
                offset = c.NextOffset;
                if (offset >= _limit)
                {
                    return false;
                }
            }

            ReadAt(offset, hb);
            BlockHeader h = BlockHeader.Read(hb);
            c.NextOffset = offset + BlockHeader.Size + h.StoredLength;
            if (h.IsEnd || h.IsTable || h.EventCount == 0)
            {
                continue;
            }

            Load(offset, h, c);
            return true;
        }
    }

    /// <summary>Reads, checks (CRC) and decompresses the block at <paramref name="offset"/> into the cursor, ready to decode.</summary>
    private void Load(long offset, in BlockHeader h, BlockCursor c)
    {
        int stored = (int)h.StoredLength;
        int raw = (int)h.RawLength;
        if (c.Raw.Length < raw + BlockDecoder.Padding)
        {
            c.Raw = new byte[Math.Max(raw + BlockDecoder.Padding, Math.Min(c.Raw.Length * 2, (1 << 20) + BlockDecoder.Padding))];
        }

        bool rawCodec = h.Codec == (byte)BlockCodec.Raw;
        if (!rawCodec && _io.Length < stored)
        {
            _io = new byte[Math.Max(stored, _io.Length * 2)];
        }

        Span<byte> storedBytes = rawCodec ? c.Raw.AsSpan(0, stored) : _io.AsSpan(0, stored);
        ReadAt(offset + BlockHeader.Size, storedBytes);
        uint crc = h.ComputeCrc(storedBytes, Header.FormatVersion);
        if (crc != h.Crc)
        {
            throw Corrupt(offset, $"block CRC mismatch (stored 0x{h.Crc:x8}, computed 0x{crc:x8})");
        }

        if (!rawCodec)
        {
            string? bad = BlockCompression.Decompress(h.Codec, storedBytes, c.Raw.AsSpan(0, raw));
            if (bad is not null)
            {
                throw Corrupt(offset, bad);
            }
        }

        c.Raw.AsSpan(raw, BlockDecoder.Padding).Clear();
        c.State = DecoderState.Start(h, Stacks.Count);
        c.BlockActive = true;
        c.BlockOffset = offset;
    }

    private TraceCorruptException Corrupt(long offset, string what) => new(_path, offset, _produced, what);

    /// <summary>Checks what the header scan can check; null when the header is plausible.</summary>
    /// <summary>An end block's payload (version 3: varint events lost), CRC-checked; returns what is wrong, or null.</summary>
    private string? ReadEndPayload(long offset, in BlockHeader h)
    {
        if (h.Codec != (byte)BlockCodec.Raw || h.StoredLength > Varint.MaxLength)
        {
            return $"end block with a {h.StoredLength}-byte payload of codec {h.Codec} (expected a raw varint: the events lost)";
        }

        Span<byte> payload = stackalloc byte[(int)h.StoredLength];
        ReadAt(offset + BlockHeader.Size, payload);
        if (h.ComputeCrc(payload, Header.FormatVersion) != h.Crc)
        {
            return "end block CRC mismatch";
        }

        ulong value = 0;
        int shift = 0, i = 0;
        for (; i < payload.Length; i++, shift += 7)
        {
            value |= (ulong)(payload[i] & 0x7f) << shift;
            if ((payload[i] & 0x80) == 0)
            {
                break;
            }
        }

        if (i != payload.Length - 1 || value > long.MaxValue)
        {
            return "end block payload is not one varint (the events lost)";
        }

        LostEvents = (long)value;
        return null;
    }

    private static string? CheckHeader(in BlockHeader h, int version)
    {
        if (h.BlockMagic != BlockHeader.Magic)
        {
            return $"bad block magic 0x{h.BlockMagic:x8} (expected 0x{BlockHeader.Magic:x8}, \"PBLK\")";
        }

        if (!BlockCompression.IsKnown(h.Codec))
        {
            return $"unknown block codec {h.Codec} (this reader knows 0 raw, 1 deflate, 2 brotli, 3 zstd)";
        }

        if (h.RawLength > MaxRawBlockBytes || h.StoredLength > MaxRawBlockBytes)
        {
            return $"implausible block lengths (stored {h.StoredLength}, raw {h.RawLength})";
        }

        if (h.Codec == (byte)BlockCodec.Raw && h.StoredLength != h.RawLength)
        {
            return $"raw block with stored_len {h.StoredLength} != raw_len {h.RawLength}";
        }

        if ((h.HasStacks || h.IsTable) && version < TraceFormat.StacksVersion)
        {
            return $"block flags 0x{h.Flags:x2} (call stacks) in a format version {version} file (they need version {TraceFormat.StacksVersion})";
        }

        if (h.IsTable && h.Flags != BlockHeader.FlagTable)
        {
            return $"a stack-table block with other flags (0x{h.Flags:x2})";
        }

        if (h.IsMixed && h.IsTimedTags)
        {
            return "a mixed block with the timed-tags flag";
        }

        if (h.EventCount > (h.IsTimedTags ? h.RawLength : h.RawLength / 2))
        {
            return $"{h.EventCount} events cannot fit in {h.RawLength} payload bytes";
        }

        return null;
    }

    /// <summary>A stack-table block (FORMAT.md "Stacks"), CRC-checked and decoded into the collections; returns what is wrong, or null.</summary>
    private string? ReadTable(long offset, in BlockHeader h, List<Stacks.ModuleMapping> modules, Dictionary<int, ulong[]> stacks)
    {
        byte[] stored = new byte[h.StoredLength];
        ReadAt(offset + BlockHeader.Size, stored);
        uint crc = h.ComputeCrc(stored, Header.FormatVersion);
        if (crc != h.Crc)
        {
            return $"stack-table block CRC mismatch (stored 0x{h.Crc:x8}, computed 0x{crc:x8})";
        }

        byte[] raw = stored;
        if (h.Codec != (byte)BlockCodec.Raw)
        {
            raw = new byte[h.RawLength];
            string? bad = BlockCompression.Decompress(h.Codec, stored, raw);
            if (bad is not null)
            {
                return bad;
            }
        }

        return StackTableCodec.Read(raw, h.EventCount, modules, stacks);
    }

    /// <summary>
    /// Fills <see cref="Stacks"/> from the table blocks read at open: modules in file order, stacks by id. An id below the
    /// largest one whose definition is missing (a recording cut between a thread taking the id and writing it) gets no
    /// frames; no event can carry it, as a definition is written before any event that uses it.
    /// </summary>
    private void FillStacks(List<Stacks.ModuleMapping> modules, Dictionary<int, ulong[]> stacks)
    {
        foreach (Stacks.ModuleMapping m in modules)
        {
            Stacks.AddModule(m);
        }

        int max = stacks.Count == 0 ? 0 : stacks.Keys.Max();
        for (int id = 1; id <= max; id++)
        {
            Stacks.Add(stacks.TryGetValue(id, out ulong[]? frames) ? frames : []);
        }
    }

    private void ReadAt(long offset, Span<byte> into)
    {
        _stream.Position = offset;
        _stream.ReadExactly(into);
    }
}
