using System.Runtime.CompilerServices;
using PtReplay.Traces.Format;

namespace PtReplay.Traces;

/// <summary>
/// Writes a trace in the packed layout of traces/FORMAT.md: the header, then <b>mixed</b> blocks (events of
/// every thread, with thread switches) compressed with <see cref="TraceWriterOptions.Codec"/>, then the end
/// block written by <see cref="Complete"/>.
/// <para>Threads: events name their thread by index (<see cref="AllocEvent.Thread"/>); the file stores kernel
/// tids. Tell the writer each index's tid with <see cref="DeclareThread"/> (or pass the tid to
/// <see cref="Write(in AllocEvent, int)"/>). Readers renumber threads in order of first appearance (and give a
/// reused tid a new number after its thread-exit event), so write indices in that order if you want the
/// same numbers back.</para>
/// <para>Order: write events in the order readers should deliver them (normally timestamp order). When a
/// timestamp goes back the writer starts a new block, so any order is stored faithfully in file order.</para>
/// <para>A writer disposed without <see cref="Complete"/> flushes its events but writes no end block: the file
/// then reads as <i>truncated</i>, like the trace of a killed program.</para>
/// </summary>
public sealed class TraceWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly TraceWriterOptions _options;
    private readonly BlockEncoder _encoder = new();
    private readonly List<int> _tids = [];
    private readonly byte[] _blockHeader = new byte[BlockHeader.Size];
    private byte[] _stored = new byte[1 << 16];
    private bool _completed;
    private bool _disposed;
    private readonly long _headerStart;
    private int _version = TraceFormat.CurrentVersion;
    private bool _stacks;
    private int _stacksDefined;
    private int _modulesWritten;

    /// <summary>Writes the header of <paramref name="header"/> to <paramref name="stream"/> and prepares for events.</summary>
    public TraceWriter(Stream stream, TraceHeader header, TraceWriterOptions? options = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(header);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _options = options ?? TraceWriterOptions.Default;
        if (_options.EventsPerBlock <= 0 || _options.MaxBlockBytes <= 0)
        {
            throw new ArgumentException("EventsPerBlock and MaxBlockBytes must be positive.", nameof(options));
        }

        _headerStart = _stream.CanSeek ? _stream.Position : -1;
        _stream.Write(HeaderCodec.Encode(header));
        _encoder.Reset(0, mixed: true, 0);
    }

    /// <summary>Creates (or overwrites) the file at <paramref name="path"/> and writes the header.</summary>
    public static TraceWriter Create(string path, TraceHeader header, TraceWriterOptions? options = null) =>
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16), header, options);

    /// <summary>Events written so far.</summary>
    public long EventsWritten { get; private set; }

    /// <summary>Blocks written so far (not counting the end block).</summary>
    public long BlocksWritten { get; private set; }

    /// <summary>Bytes written to the stream so far (header and flushed blocks).</summary>
    public long BytesWritten => _stream.CanSeek ? _stream.Position : -1;

    /// <summary>Says that thread index <paramref name="index"/> is kernel thread <paramref name="tid"/> (tid &gt; 0). May be called again to re-map an index.</summary>
    public void DeclareThread(int index, int tid)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tid);
        while (_tids.Count <= index)
        {
            _tids.Add(0);
        }

        _tids[index] = tid;
    }

    /// <summary>Declares every thread of <paramref name="tids"/> (index i -> tids[i]), e.g. a reader's <see cref="TraceReader.ThreadTids"/>.</summary>
    public void DeclareThreads(IReadOnlyList<int> tids)
    {
        ArgumentNullException.ThrowIfNull(tids);
        for (int i = 0; i < tids.Count; i++)
        {
            DeclareThread(i, tids[i]);
        }
    }

    /// <summary>Writes one event of the thread declared for <see cref="AllocEvent.Thread"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(in AllocEvent e)
    {
        int index = e.Thread;
        int tid = (uint)index < (uint)_tids.Count ? _tids[index] : 0;
        if (tid == 0)
        {
            ThrowUndeclared(index);
        }

        Write(e, tid);
    }

    /// <summary>Writes one event recorded by kernel thread <paramref name="tid"/> (its <see cref="AllocEvent.Thread"/> is ignored).</summary>
    public void Write(in AllocEvent e, int tid)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
        {
            ThrowCompleted();
        }

        if (tid <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(tid), tid, "kernel tids are positive");
        }

        if (e.Stack != 0 && (uint)e.Stack > (uint)_stacksDefined)
        {
            ThrowUndefinedStack(e.Stack);
        }

        if (_encoder.Count == 0)
        {
            _encoder.Reset(e.Timestamp, mixed: true, 0, stacks: _stacks);
        }
        else if (!_encoder.Accepts(e.Timestamp))
        {
            Flush();
            _encoder.Reset(e.Timestamp, mixed: true, 0, stacks: _stacks);
        }

        _encoder.Append(e, (uint)tid);
        EventsWritten++;
        if (_encoder.Count >= _options.EventsPerBlock || _encoder.Length >= _options.MaxBlockBytes)
        {
            Flush();
        }
    }

    /// <summary>Writes events in order (see <see cref="Write(in AllocEvent)"/>).</summary>
    public void Write(ReadOnlySpan<AllocEvent> events)
    {
        foreach (ref readonly AllocEvent e in events)
        {
            Write(e);
        }
    }

    /// <summary>Writes the buffered events as a block (no-op when there are none).</summary>
    public void Flush()
    {
        if (_encoder.Count == 0)
        {
            return;
        }

        int stored = BlockCompression.Compress(_options.Codec, _options.Level, _encoder.Buffer.AsSpan(0, _encoder.Length), ref _stored);
        WriteBlock(new BlockHeader
        {
            BlockMagic = BlockHeader.Magic,
            Codec = (byte)_options.Codec,
            Flags = (byte)(BlockHeader.FlagMixed | (_encoder.Stacks ? BlockHeader.FlagStacks : 0)),
            Tid = 0,
            EventCount = (uint)_encoder.Count,
            StoredLength = (uint)stored,
            RawLength = (uint)_encoder.Length,
            BaseTimestamp = _encoder.BaseTimestamp,
        }, _stored.AsSpan(0, stored));
        BlocksWritten++;
        _encoder.Reset(0, mixed: true, 0, stacks: _stacks);
    }

    /// <summary>
    /// Writes <paramref name="events"/> (in their order, timestamps never decreasing) as one block of kernel thread
    /// <paramref name="tid"/> alone, as the recorder writes them, after the events written so far (which are flushed
    /// first). A file with such blocks is merged per thread by readers (traces/FORMAT.md "Order"); with
    /// <see cref="MarkLifecycleOrder"/> its threads' timestamps are hints only.
    /// </summary>
    public void WriteThreadBlock(int tid, ReadOnlySpan<AllocEvent> events)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
        {
            ThrowCompleted();
        }

        if (tid <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(tid), tid, "kernel tids are positive");
        }

        if (events.IsEmpty)
        {
            return;
        }

        Flush();
        _encoder.Reset(events[0].Timestamp, mixed: false, (uint)tid, stacks: _stacks);
        foreach (ref readonly AllocEvent e in events)
        {
            if (!_encoder.Accepts(e.Timestamp))
            {
                throw new ArgumentException("the timestamps of one thread block never decrease", nameof(events));
            }

            _encoder.Append(e, (uint)tid);
        }

        int stored = BlockCompression.Compress(_options.Codec, _options.Level, _encoder.Buffer.AsSpan(0, _encoder.Length), ref _stored);
        WriteBlock(new BlockHeader
        {
            BlockMagic = BlockHeader.Magic,
            Codec = (byte)_options.Codec,
            Flags = (byte)(_encoder.Stacks ? BlockHeader.FlagStacks : 0),
            Tid = (uint)tid,
            EventCount = (uint)_encoder.Count,
            StoredLength = (uint)stored,
            RawLength = (uint)_encoder.Length,
            BaseTimestamp = _encoder.BaseTimestamp,
        }, _stored.AsSpan(0, stored));
        BlocksWritten++;
        EventsWritten += events.Length;
        _encoder.Reset(0, mixed: true, 0, stacks: _stacks);
    }

    /// <summary>
    /// Marks the file format version 5 (<see cref="TraceFormat.MultiThreadOrderVersion"/>): the timestamps of its
    /// per-thread blocks are hints, and readers order the threads' events by their address lifecycles too, as for a
    /// recording made with <c>PTRECORD_MT_CLOCK=adaptive</c>. The stream must be seekable.
    /// </summary>
    public void MarkLifecycleOrder() => SetVersion(TraceFormat.MultiThreadOrderVersion);

    /// <summary>
    /// Writes the modules and stacks of <paramref name="table"/> that this writer has not written yet, as one
    /// stack-table block (traces/FORMAT.md "Stacks"), after the events written so far; from then on events may carry
    /// stack ids up to <c>table.Count</c> (ids are the table's). Marks the file format version 4, so the stream must be
    /// seekable. Call it again after the table grew: only what was added since is written.
    /// </summary>
    public void WriteStacks(Stacks.StackTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
        {
            ThrowCompleted();
        }

        if (_headerStart < 0)
        {
            throw new InvalidOperationException("A trace with call stacks needs a seekable stream (its header version is set when the first stack is written).");
        }

        Flush();
        var payload = new List<byte>();
        uint records = 0;
        for (int i = _modulesWritten; i < table.Modules.Count; i++, records++)
        {
            StackTableCodec.WriteModule(payload, table.Modules[i]);
            WriteTableIfFull(payload, ref records);
        }

        for (int id = _stacksDefined + 1; id <= table.Count; id++)
        {
            IReadOnlyList<ulong> frames = table.Frames(id);
            if (frames.Count > 0)
            {
                StackTableCodec.WriteStack(payload, id, frames);
                records++;
                WriteTableIfFull(payload, ref records);
            }
        }

        _stacksDefined = Math.Max(_stacksDefined, table.Count);
        _modulesWritten = Math.Max(_modulesWritten, table.Modules.Count);
        _stacks = true;
        SetVersion(TraceFormat.StacksVersion);
        _encoder.Reset(0, mixed: true, 0, stacks: true);
        WriteTable(payload, records);
    }

    /// <summary>Table records per block are bounded like events (<see cref="TraceWriterOptions.MaxBlockBytes"/>).</summary>
    private void WriteTableIfFull(List<byte> payload, ref uint records)
    {
        if (payload.Count >= _options.MaxBlockBytes)
        {
            WriteTable(payload, records);
            payload.Clear();
            records = 0;
        }
    }

    private void WriteTable(List<byte> payload, uint records)
    {
        if (records == 0)
        {
            return;
        }

        byte[] raw = payload.ToArray();
        int stored = BlockCompression.Compress(_options.Codec, _options.Level, raw, ref _stored);
        WriteBlock(new BlockHeader
        {
            BlockMagic = BlockHeader.Magic,
            Codec = (byte)_options.Codec,
            Flags = BlockHeader.FlagTable,
            EventCount = records,
            StoredLength = (uint)stored,
            RawLength = (uint)raw.Length,
        }, _stored.AsSpan(0, stored));
        BlocksWritten++;
    }

    /// <summary>Sets the header's version (not under the header CRC) when <paramref name="version"/> is newer.</summary>
    private void SetVersion(int version)
    {
        if (version <= _version)
        {
            return;
        }

        long end = _stream.Position;
        _stream.Position = _headerStart + 8;
        Span<byte> bytes = stackalloc byte[2];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes, (ushort)version);
        _stream.Write(bytes);
        _stream.Position = end;
        _version = version;
    }

    /// <summary>
    /// Flushes the last block and writes the end block: the trace is complete (not truncated). With
    /// <paramref name="lostEvents"/> &gt; 0 the end block says that many events could not be recorded and the
    /// header is marked <see cref="TraceFormat.LostEventsVersion"/> (the stream must be seekable then).
    /// </summary>
    public void Complete(long lostEvents = 0)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(lostEvents);
        if (_completed)
        {
            return;
        }

        if (lostEvents > 0 && _headerStart < 0)
        {
            throw new InvalidOperationException("A trace with lost events needs a seekable stream (its header version is set last).");
        }

        Flush();
        byte[] payload = [];
        if (lostEvents > 0)
        {
            payload = new byte[Varint.MaxLength];
            int len = 0;
            Varint.Write(payload, ref len, (ulong)lostEvents);
            payload = payload[..len];
        }

        WriteBlock(new BlockHeader
        {
            BlockMagic = BlockHeader.Magic,
            Codec = (byte)BlockCodec.Raw,
            Flags = BlockHeader.FlagEnd,
            StoredLength = (uint)payload.Length,
            RawLength = (uint)payload.Length,
        }, payload);
        if (lostEvents > 0)
        {
            SetVersion(TraceFormat.LostEventsVersion);
        }

        _stream.Flush();
        _completed = true;
    }

    /// <summary>Flushes buffered events (without an end block unless <see cref="Complete"/> was called) and closes the stream.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            if (!_completed)
            {
                Flush();
            }

            _stream.Flush();
        }
        finally
        {
            _disposed = true;
            if (!_leaveOpen)
            {
                _stream.Dispose();
            }
        }
    }

    private void WriteBlock(in BlockHeader header, ReadOnlySpan<byte> payload)
    {
        header.WithCrc(payload).Write(_blockHeader);
        _stream.Write(_blockHeader);
        _stream.Write(payload);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowUndeclared(int index) =>
        throw new InvalidOperationException($"Thread index {index} has no kernel tid: call DeclareThread({index}, tid) first.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowUndefinedStack(int stack) =>
        throw new InvalidOperationException($"Event carries stack {stack}, but only stacks 1..{_stacksDefined} were written (call WriteStacks first).");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowCompleted() =>
        throw new InvalidOperationException("The trace is complete (Complete() was called); no more events can be written.");
}
