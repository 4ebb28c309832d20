using System.Diagnostics;
using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;

namespace PtReplay.Replay.Preparation;

/// <summary>
/// Read access to a prepared file (memory-mapped): header, thread table, ops, sample ids, event indexes. A streamed file
/// (<see cref="Streamed"/>) is being written while it is read: the reader waits for an op (<see cref="WaitWritten"/>)
/// before it reads it and reports what it has finished (<see cref="Consumed"/>), which punches it out of the file.
/// </summary>
public sealed unsafe class PreparedFile : IDisposable
{
    private readonly MemoryMappedFile _mmf;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly long _length;
    private readonly SafeFileHandle? _handle;
    private readonly long[]? _punchedOps;
    private readonly long[]? _punchedSamples;

    /// <summary>Maps the file read-only and checks its magic and version.</summary>
    public PreparedFile(string path)
    {
        long length = new FileInfo(path).Length;
        if (length < PreparedFormat.HeaderSize)
        {
            throw new InvalidDataException($"{path} is too short to be a prepared trace.");
        }

        PreparedHeader peek = default;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            fs.ReadExactly(new Span<byte>(&peek, PreparedFormat.HeaderSize));
        }

        // A streamed file is mapped writable: the reader stores its progress in the header.
        MemoryMappedFileAccess access = peek.StreamWindow != 0 ? MemoryMappedFileAccess.ReadWrite : MemoryMappedFileAccess.Read;
        if (peek.StreamWindow != 0)
        {
            _handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            _mmf = MemoryMappedFile.CreateFromFile(new FileStream(_handle, FileAccess.ReadWrite), null, 0, access, HandleInheritability.None, leaveOpen: true);
        }
        else
        {
            _mmf = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, access);
        }

        _view = _mmf.CreateViewAccessor(0, length, access);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
        _length = length;
        Header = *(PreparedHeader*)_base;
        if (!new ReadOnlySpan<byte>(_base, 8).SequenceEqual(PreparedFormat.Magic) || Header.Version != PreparedFormat.Version)
        {
            Dispose();
            throw new InvalidDataException($"{path} is not a prepared trace of version {PreparedFormat.Version}.");
        }

        if (Streamed)
        {
            ResidentPages.AdviseRandom(_base, _length);
            _punchedOps = new long[Header.ThreadCount];
            _punchedSamples = new long[Header.ThreadCount];
            for (int t = 0; t < _punchedOps.Length; t++)
            {
                _punchedOps[t] = (long)Thread(t).OpStart;
                _punchedSamples[t] = (long)Thread(t).SampleStart;
            }
        }
    }

    /// <summary>True when the file is written while it is read (<see cref="PreparedHeader.StreamWindow"/>).</summary>
    public bool Streamed => Header.StreamWindow != 0;

    /// <summary>Streamed file: whether the op at a position is written (its kind, read with acquire semantics, is set).</summary>
    public bool IsWritten(long index) => Volatile.Read(ref ((byte*)(_base + Header.OpsOffset + (32 * index)))[28]) != 0;

    /// <summary>
    /// Streamed file: waits until the op at a position is written, having first published <paramref name="done"/> (the ops
    /// finished: the writer may be waiting for them). Returns the Stopwatch ticks waited.
    /// </summary>
    public long WaitWritten(long index, ulong done)
    {
        if (IsWritten(index))
        {
            return 0;
        }

        long t0 = Stopwatch.GetTimestamp();
        Publish(done);
        var spin = new SpinWait();
        while (!IsWritten(index))
        {
            if (spin.NextSpinWillYield)
            {
                System.Threading.Thread.Sleep(1);
            }
            else
            {
                spin.SpinOnce();
            }
        }

        return Stopwatch.GetTimestamp() - t0;
    }

    /// <summary>
    /// Streamed file: <paramref name="done"/> ops are finished, each thread's up to <paramref name="opCursor"/> (op
    /// positions) and <paramref name="sampleCursor"/> (sample-id positions): their pages are punched out of the file
    /// and the writer learns it may go on.
    /// </summary>
    public void Consumed(ulong done, ReadOnlySpan<long> opCursor, ReadOnlySpan<long> sampleCursor)
    {
        if (_handle is null)
        {
            return;
        }

        for (int t = 0; t < opCursor.Length; t++)
        {
            long from = _punchedOps![t], to = opCursor[t];
            if (to - from < 128)
            {
                continue;
            }

            long start = (long)Thread(t).OpStart;
            Punch(Header.OpsOffset, 32, start, from, to);
            Punch(Header.EventIndexOffset, 8, start, from, to);
            Punch(Header.TimesOffset, 8, start, from, to);
            Punch(Header.AddressesOffset, 8, start, from, to);
            Punch(Header.SampleIdsOffset, 4, (long)Thread(t).SampleStart, _punchedSamples![t], sampleCursor[t]);
            _punchedOps[t] = to;
            _punchedSamples[t] = sampleCursor[t];
        }

        Publish(done);
    }

    /// <summary>
    /// Punches the entries [<paramref name="from"/>, <paramref name="to"/>) of a thread's stretch of a table, which starts at
    /// entry <paramref name="start"/>: from the page of <paramref name="from"/> (the rest of a page an earlier punch left
    /// whole), but not below the stretch's first whole page (the page before is shared with the previous thread's stretch).
    /// </summary>
    private void Punch(ulong table, long size, long start, long from, long to)
    {
        if (table == 0 || to <= from)
        {
            return;
        }

        long first = Math.Max(((long)table + (size * from)) & ~4095L, ((long)table + (size * start) + 4095) & ~4095L);
        long end = (long)table + (size * to);
        if (end > first)
        {
            ScratchDisk.Punch(_handle!, first, end - first);
        }
    }

    private void Publish(ulong done)
    {
        ref ulong consumed = ref ((PreparedHeader*)_base)->Consumed;
        if (done > Volatile.Read(ref consumed))
        {
            Volatile.Write(ref consumed, done);
        }
    }

    /// <summary>The header.</summary>
    public PreparedHeader Header { get; }

    /// <summary>
    /// Gives back the pages of the file read so far (they are read again if touched): a reader that walks a long trace
    /// calls it every <see cref="ResidentPages.Window"/> or so of ops, so its resident memory stays bounded.
    /// </summary>
    public void ReleaseResidentPages() => ResidentPages.Release(_base, _length);

    /// <summary>Thread table entry.</summary>
    public PreparedThread Thread(int index) => ((PreparedThread*)(_base + Header.ThreadsOffset))[index];

    /// <summary>Op at a position of the op array.</summary>
    public ref readonly PreparedOp Op(long index) => ref ((PreparedOp*)(_base + Header.OpsOffset))[index];

    /// <summary>Trace event index of the op at a position.</summary>
    public long EventIndex(long index) => ((long*)(_base + Header.EventIndexOffset))[index];

    /// <summary>Recorded time of the op at a position (ns after the first op); 0 when the file has no time table.</summary>
    public long RecordedTime(long index) => Header.TimesOffset == 0 ? 0 : ((long*)(_base + Header.TimesOffset))[index];

    /// <summary>True when the file has the recorded-address table (<see cref="PreparationOptions.RecordedAddresses"/>).</summary>
    public bool HasRecordedAddresses => Header.AddressesOffset != 0;

    /// <summary>The address the recorded call of the op at a position returned (0: failed, or not a call); 0 when the file has no address table.</summary>
    public ulong RecordedAddress(long index) => Header.AddressesOffset == 0 ? 0 : ((ulong*)(_base + Header.AddressesOffset))[index];

    /// <summary>Entry of the sample id array.</summary>
    public uint SampleId(long index) => ((uint*)(_base + Header.SampleIdsOffset))[index];

    /// <summary>
    /// Op positions in the recorded global order (seq 0, 1, ...), following each op's next_thread:
    /// yields (thread, position in the op array).
    /// </summary>
    public IEnumerable<(int Thread, long Index)> GlobalOrder()
    {
        int threads = (int)Header.ThreadCount;
        var cursor = new long[threads];
        for (int t = 0; t < threads; t++)
        {
            cursor[t] = (long)Thread(t).OpStart;
        }

        int thread = (int)Header.FirstThread;
        for (ulong n = 0; n < Header.OpCount; n++)
        {
            long index = cursor[thread]++;
            yield return (thread, index);
            ushort next = Op(index).NextThread;
            if (next == PreparedFormat.NoThread)
            {
                yield break;
            }

            thread = next;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mmf.Dispose();
        _handle?.Dispose();
    }
}
