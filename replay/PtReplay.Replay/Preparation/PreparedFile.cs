using System.IO.MemoryMappedFiles;

namespace PtReplay.Replay.Preparation;

/// <summary>Read access to a prepared file (memory-mapped): header, thread table, ops, sample ids, event indexes.</summary>
public sealed unsafe class PreparedFile : IDisposable
{
    private readonly MemoryMappedFile _mmf;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly long _length;

    /// <summary>Maps the file read-only and checks its magic and version.</summary>
    public PreparedFile(string path)
    {
        long length = new FileInfo(path).Length;
        if (length < PreparedFormat.HeaderSize)
        {
            throw new InvalidDataException($"{path} is too short to be a prepared trace.");
        }

        _mmf = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _mmf.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
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
    }
}
