using System.Buffers.Binary;
using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;
using PtReplay.Traces.Format;

namespace PtReplay.Traces.Packing;

/// <summary>What one call of <see cref="BlockRepacker.Advance"/> ended on.</summary>
internal enum RepackStep
{
    /// <summary>The input has no more complete blocks yet (or, online, the next one is an end block): try again later.</summary>
    Wait,

    /// <summary>Final pass: every block was copied, the input ends at a block boundary.</summary>
    Done,

    /// <summary>Final pass: the input has a damaged header or block, ends inside one, or is of format version 1: pack it by merging instead.</summary>
    Unusual,
}

/// <summary>
/// Recompresses one raw recording block by block, as it grows (traces/FORMAT.md "Blocks"): the header's bytes are
/// copied, every raw block with events is stored compressed with its tid, flags, counts and base timestamp unchanged
/// (kept raw when compression does not make it smaller), and every other block (end blocks, blocks already
/// compressed) is copied as it is, in file order. So a reader delivers the same events, tids, lost-event count and
/// truncation state from the output as from the input: it merges the per-thread blocks as it does for the raw file,
/// and the relative order of blocks, which breaks timestamp ties, is kept.
/// <para>Invariants: <c>_next</c> is the input offset of the first block not yet copied; every block before it was
/// whole and matched its CRC when copied, and <c>_consumed</c> holds each copied block's offset and its 36 header
/// bytes (the CRC among them covers the payload), so <see cref="StillMatches"/> can tell whether the recorder later
/// cut or rewrote any of them (lost-event end block, failed exec, exit handlers after the end block). Online
/// (<c>final: false</c>) an end block is never copied: the recorder may overwrite it.</para>
/// </summary>
internal sealed class BlockRepacker : IDisposable
{
    private readonly string _input;
    private readonly string _temp;
    private readonly int _level;
    private SafeFileHandle? _in;
    private SafeFileHandle? _tail;
    private readonly Slot _tailSlot = new();
    private FileStream? _out;
    private long _next = -1;
    private readonly List<(long Offset, byte[] Header)> _consumed = [];
    private byte[] _headerBytes = [];
    private readonly List<Slot> _slots = [];

    /// <summary>Prepares to recompress <paramref name="input"/> into <paramref name="temp"/> (created on the first header read).</summary>
    public BlockRepacker(string input, string temp, int level)
    {
        _input = input;
        _temp = temp;
        _level = level;
    }

    /// <summary>The output being written (renamed over the input by the caller once complete).</summary>
    public string Temp => _temp;

    /// <summary>The raw trace this repacks.</summary>
    public string Input => _input;

    /// <summary>Input bytes copied so far (header included).</summary>
    public long InputDone => Math.Max(0, _next);

    /// <summary>Events in the blocks copied so far.</summary>
    public long Events { get; private set; }

    /// <summary>True once an end block was copied (final pass only): the output reads as complete.</summary>
    public bool SawEnd { get; private set; }

    /// <summary>Output bytes written so far.</summary>
    public long OutputBytes => _out?.Position ?? 0;

    /// <summary>
    /// The online pass, on a thread of its own while the recording runs: copies every complete block after the last
    /// one copied, one at a time, and returns <see cref="RepackStep.Wait"/> at an end block, at a block still being
    /// written, at anything that does not check out yet, or once <paramref name="stop"/> says so. It reads through a
    /// file handle and a buffer of its own and compresses without holding <paramref name="gate"/>; it writes the output
    /// and moves on only under <paramref name="gate"/>, and only while <paramref name="stop"/> is false. So whoever sets
    /// what <paramref name="stop"/> reads under <paramref name="gate"/> can go on with <see cref="StillMatches"/> and
    /// <see cref="Advance"/> at once, without waiting for this pass to return: it changes nothing any more (a block it
    /// was compressing then is dropped and copied again by the final pass).
    /// </summary>
    /// <param name="compressed">Called after each block is compressed, before it is committed (a test hook holds the thread there).</param>
    /// <param name="committing">Called under <paramref name="gate"/> right before each block is committed (a test hook holds the thread there, gate and all).</param>
    public RepackStep AdvanceOnline(object gate, Func<bool> stop, Action? compressed = null, Action? committing = null)
    {
        if (_tail is null)
        {
            try
            {
                _tail = File.OpenHandle(_input, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (FileNotFoundException)
            {
                return RepackStep.Wait;
            }
        }

        if (_next < 0)
        {
            lock (gate)
            {
                if (stop() || !CopyHeader(_tail))
                {
                    return RepackStep.Wait;
                }
            }
        }

        while (true)
        {
            if (stop() || ReadNext(_tail, final: false, _tailSlot, _next) is not null)
            {
                return RepackStep.Wait;
            }

            _tailSlot.Compress(_level);
            compressed?.Invoke();
            lock (gate)
            {
                if (stop())
                {
                    return RepackStep.Wait;
                }

                committing?.Invoke();
                Commit(_tailSlot);
            }
        }
    }

    /// <summary>
    /// Copies every complete block after the last one copied. Online (<paramref name="final"/> false) it stops at
    /// an end block, at a block still being written, or at anything that does not check out yet, and returns
    /// <see cref="RepackStep.Wait"/>. The final pass (the recording is over) copies end blocks too and returns
    /// <see cref="RepackStep.Done"/> at the end of the file, or <see cref="RepackStep.Unusual"/>. When
    /// <paramref name="stop"/> says so it returns <see cref="RepackStep.Wait"/> before the next block.
    /// </summary>
    public RepackStep Advance(bool final, Func<bool>? stop = null)
    {
        if (_in is null)
        {
            try
            {
                _in = File.OpenHandle(_input, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (FileNotFoundException) when (!final)
            {
                return RepackStep.Wait;
            }
        }

        if (_next < 0 && !CopyHeader(_in))
        {
            return final ? RepackStep.Unusual : RepackStep.Wait;
        }

        // Online one block at a time (the other CPU is the program's); the final pass reads a few blocks, compresses
        // them on every CPU (the program is gone) and writes them in order.
        int batchSize = final ? Math.Max(1, Environment.ProcessorCount) * 2 : 1;
        while (_slots.Count < batchSize)
        {
            _slots.Add(new Slot());
        }

        while (true)
        {
            int batch = 0;
            RepackStep? stopped = null;
            while (batch < batchSize)
            {
                if (stop is not null && stop())
                {
                    stopped = RepackStep.Wait;
                    break;
                }

                stopped = ReadNext(_in!, final, _slots[batch], _next + _slots.Take(batch).Sum(x => x.Length));
                if (stopped is not null)
                {
                    break;
                }

                batch++;
            }

            // Every CPU only for a full batch (much is left): the last few blocks, all that is left when the online packer
            // kept up, are compressed here in less time than the thread pool takes to start.
            if (batch > 1 && batch == batchSize)
            {
                Parallel.For(0, batch, i => _slots[i].Compress(_level));
            }
            else
            {
                for (int i = 0; i < batch; i++)
                {
                    _slots[i].Compress(_level);
                }
            }

            for (int i = 0; i < batch; i++)
            {
                Commit(_slots[i]);
            }

            if (stopped is not null)
            {
                return stopped.Value;
            }
        }
    }

    /// <summary>Writes a compressed (or copied) block to the output and moves past it in the input.</summary>
    private void Commit(Slot slot)
    {
        _consumed.Add((_next, (byte[])slot.InputHead.Clone()));
        _out!.Write(slot.OutputHead);
        _out.Write(slot.Output.AsSpan(0, slot.OutputLength));
        _next += slot.Length;
        Events += slot.Header.EventCount;
        SawEnd |= slot.Header.IsEnd;
    }

    /// <summary>Reads the block at <paramref name="offset"/> of <paramref name="input"/> into <paramref name="slot"/>; null when it did, else what to return.</summary>
    private static RepackStep? ReadNext(SafeFileHandle input, bool final, Slot slot, long offset)
    {
        long length = RandomAccess.GetLength(input);
        if (length == offset)
        {
            return final ? RepackStep.Done : RepackStep.Wait;
        }

        if (length - offset < BlockHeader.Size)
        {
            return final ? RepackStep.Unusual : RepackStep.Wait;
        }

        RandomAccess.Read(input, slot.InputHead, offset);
        BlockHeader h = BlockHeader.Read(slot.InputHead);
        bool plausible = h.BlockMagic == BlockHeader.Magic && BlockCompression.IsKnown(h.Codec) &&
                         h.StoredLength <= TraceReader.MaxRawBlockBytes && h.RawLength <= TraceReader.MaxRawBlockBytes &&
                         (h.Codec != (byte)BlockCodec.Raw || h.StoredLength == h.RawLength);
        if (!plausible || (h.IsEnd && !final))
        {
            return final && !plausible ? RepackStep.Unusual : RepackStep.Wait;
        }

        int stored = (int)h.StoredLength;
        if (length - offset - BlockHeader.Size < stored)
        {
            return final ? RepackStep.Unusual : RepackStep.Wait;
        }

        if (slot.Payload.Length < stored)
        {
            slot.Payload = new byte[Math.Max(stored, slot.Payload.Length * 2)];
        }

        Span<byte> payload = slot.Payload.AsSpan(0, stored);
        RandomAccess.Read(input, payload, offset + BlockHeader.Size);
        if (h.ComputeCrc(payload) != h.Crc)
        {
            // Online this may be a block whose write(2) is still in flight: its bytes are read again later.
            return final ? RepackStep.Unusual : RepackStep.Wait;
        }

        slot.Header = h;
        slot.Length = BlockHeader.Size + stored;
        return null;
    }

    /// <summary>One block on its way: the input's header and payload, then what is written for it.</summary>
    private sealed class Slot
    {
        public readonly byte[] InputHead = new byte[BlockHeader.Size];
        public readonly byte[] OutputHead = new byte[BlockHeader.Size];
        public byte[] Payload = new byte[1 << 18];
        public byte[] Compressed = new byte[1 << 18];
        public byte[] Output = [];
        public int OutputLength;
        public BlockHeader Header;
        public long Length;

        /// <summary>
        /// Sets the output: a raw block with events zstd-compressed (by the system's libzstd where it loads) when that
        /// makes it smaller (same tid, flags, counts and base timestamp; the CRC recomputed), anything else as it is.
        /// </summary>
        public void Compress(int level)
        {
            BlockHeader h = Header;
            int stored = (int)h.StoredLength;
            if (h.Codec == (byte)BlockCodec.Raw && h.EventCount > 0 && !h.IsEnd && stored >= 64)
            {
                int n = BlockCompression.Compress(BlockCodec.Zstd, level, Payload.AsSpan(0, stored), ref Compressed, preferNative: true);
                if (n < stored)
                {
                    h.Codec = (byte)BlockCodec.Zstd;
                    h.StoredLength = (uint)n;
                    h.WithCrc(Compressed.AsSpan(0, n)).Write(OutputHead);
                    Output = Compressed;
                    OutputLength = n;
                    return;
                }
            }

            InputHead.CopyTo(OutputHead, 0);
            Output = Payload;
            OutputLength = stored;
        }
    }

    /// <summary>
    /// True when every block copied so far is still in the input, byte for byte in its header (whose CRC covers the
    /// payload): the recorder did not cut or rewrite them after they were copied. Reopens the input by name.
    /// </summary>
    public bool StillMatches()
    {
        _in?.Dispose();
        _in = File.OpenHandle(_input, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (_next < 0)
        {
            return true;
        }

        long length = RandomAccess.GetLength(_in);
        if (length < _next || !HeaderStillMatches())
        {
            return false;
        }

        Span<byte> head = stackalloc byte[BlockHeader.Size];
        foreach ((long offset, byte[] header) in _consumed)
        {
            RandomAccess.Read(_in, head, offset);
            if (!head.SequenceEqual(header))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// After <see cref="RepackStep.Done"/>: gives the output the input's current format version (the recorder
    /// raises it to 3 when events were lost; the version is not under the header CRC) and closes both files.
    /// </summary>
    public void Complete()
    {
        Span<byte> version = stackalloc byte[2];
        RandomAccess.Read(_in!, version, 8);
        _out!.Position = 8;
        _out.Write(version);
        _out.Flush();
        Dispose();
    }

    /// <summary>Closes the files (the output stays on disk: the caller renames or deletes it).</summary>
    public void Dispose()
    {
        _in?.Dispose();
        _in = null;
        _tail?.Dispose();
        _out?.Dispose();
        _out = null;
    }

    /// <summary>Copies the file header once it is whole (CRC checked) and of format version 2 or 3.</summary>
    private bool CopyHeader(SafeFileHandle input)
    {
        long length = RandomAccess.GetLength(input);
        if (length < HeaderCodec.PrefixSize)
        {
            return false;
        }

        Span<byte> prefix = stackalloc byte[HeaderCodec.PrefixSize];
        RandomAccess.Read(input, prefix, 0);
        int version = BinaryPrimitives.ReadUInt16LittleEndian(prefix[8..]);
        uint bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(prefix[12..]);
        if (!prefix[..8].SequenceEqual(HeaderCodec.Magic) || version < BlockHeader.HeaderCrcVersion ||
            version > TraceFormat.NewestReadable || bodyLength > HeaderCodec.MaxBodyLength ||
            length < HeaderCodec.PrefixSize + bodyLength + 4)
        {
            return false;
        }

        byte[] all = new byte[HeaderCodec.PrefixSize + bodyLength + 4];
        RandomAccess.Read(input, all, 0);
        ReadOnlySpan<byte> body = all.AsSpan(HeaderCodec.PrefixSize, (int)bodyLength);
        if (Crc32.HashToUInt32(body) != BinaryPrimitives.ReadUInt32LittleEndian(all.AsSpan(HeaderCodec.PrefixSize + (int)bodyLength)))
        {
            return false;
        }

        _out = new FileStream(_temp, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, 1 << 16);
        _out.Write(all);
        _headerBytes = all;
        _next = all.Length;
        return true;
    }

    /// <summary>The header bytes past the version field are those copied (the version may change, see <see cref="Complete"/>).</summary>
    private bool HeaderStillMatches()
    {
        byte[] now = new byte[_headerBytes.Length];
        RandomAccess.Read(_in!, now, 0);
        return now.AsSpan(0, 8).SequenceEqual(_headerBytes.AsSpan(0, 8)) &&
               now.AsSpan(10).SequenceEqual(_headerBytes.AsSpan(10));
    }
}
