using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace PtReplay.Traces.Analysis;

/// <summary>
/// The live set of a trace: which addresses hold a live block, the bytes each block's caller requested, live and
/// peak live requested bytes, and which addresses were freed (to tell a double free from a free of an unknown
/// pointer). Feed every event in replay order to <see cref="Apply"/>; it returns what the event did
/// (<see cref="LiveChange"/>). `ptreplay info` (<see cref="TraceStatistics"/>) and the replay's preparation both keep
/// their books with it, so the rules below exist once.
/// <para><b>Rules</b>, event by event (<b>live requested bytes</b> = the sum of <see cref="LiveBlock.Bytes"/> over live blocks):
/// <list type="bullet">
/// <item>an allocating call (malloc, calloc, memalign, posix_memalign, aligned_alloc, valloc, pvalloc, and
/// realloc/reallocarray of NULL) with a non-NULL result makes the result live with
/// <see cref="AllocEvent.RequestedBytes"/> (calloc/reallocarray: count × size); with a NULL result it changes nothing
/// (<see cref="LiveChangeKind.Failed"/>);</item>
/// <item>a call asking for more than <see cref="MaxBlockBytes"/> (count × size overflowing included) fails in glibc
/// whatever the trace says: it is <see cref="LiveChangeKind.Failed"/> (a realloc's pointer stays live), and a non-NULL
/// recorded result is reported as <see cref="LiveChange.ImpossibleSize"/>;</item>
/// <item>free(p) of a live p removes p's block and remembers p as freed; free(NULL) changes nothing; free of an
/// address that is not live changes nothing and reports it as <see cref="PointerState.Freed"/> (a double free)
/// when p is remembered as freed, else <see cref="PointerState.Unknown"/>;</item>
/// <item>realloc(p, n) / reallocarray(p, c, n) with a non-NULL result: a live p's block is removed (p remembered as
/// freed) and the result becomes live with the new requested bytes and p's tag (<see cref="LiveChangeKind.Reallocated"/>;
/// the result may equal p); when p is not live the result is a new block (<see cref="LiveChangeKind.Allocated"/>)
/// and the pointer is reported as for free;</item>
/// <item>realloc(p, 0) (requested bytes 0) returning NULL frees p exactly as free(p) does (glibc's realloc(p, 0));
/// any other realloc returning NULL failed: p stays live with its old size;</item>
/// <item>an allocation returning an address that is still live replaces the old block
/// (<see cref="LiveChange.ResultWasLive"/>: the trace misses a free);</item>
/// <item>markers (thread start/exit, fork, exec) change nothing.</item>
/// </list>
/// <see cref="PeakLiveBytes"/> and <see cref="PeakLiveBlocks"/> are the maxima after any event (0 for an empty trace).
/// Live bytes are summed exactly (with a carry word); <see cref="LiveBytes"/> shows 2^64-1 while the sum is above it
/// (<see cref="Saturated"/>), which only a damaged trace can reach.</para>
/// <para><b>Remembered frees</b>: a freed address is remembered until it is returned again. At most
/// <c>rememberedFrees</c> are kept: when a block is freed while that many are remembered, all are forgotten first
/// (later frees of those addresses then read <see cref="PointerState.Unknown"/>), which bounds memory by the live set
/// plus that number.</para>
/// <para><b>Layout</b>: one open-addressing table of 16-byte entries (linear probing, at most three quarters
/// full) holds live and remembered-freed addresses alike, so every event costs one probe sequence and nothing is
/// allocated per event; the requested bytes of live blocks sit in a dense array beside it. An address' home entry is
/// its 4 KiB page's Fibonacci hash plus its 16-byte offset in the page: pages scatter over the table while the blocks
/// of one page sit side by side, so a program's run of nearby allocations touches few cache lines (measured 1.2-2x
/// faster than a plain Fibonacci hash of the address on CPython recordings). Entries are never deleted one by one (a
/// freed block turns its entry into a remembered free; the address' next allocation turns it back), so no
/// tombstones are needed; forgetting rebuilds the table. At most 3 × 2^28 addresses fit at once.
/// <code>
///   entry (16 bytes): | address (0 = empty) | tag | block: index of its requested bytes, or -1 = freed |
///   requested bytes: a dense array over live blocks, indices reused most recent first (hot in cache)
///   free(p):       [p live]  ->  [p freed]          realloc(p) = q: [p live] -> [p freed], [q live, p's tag]
///   malloc() = q:  [q empty or freed]  ->  [q live]  (q live already: old block replaced, ResultWasLive)
/// </code></para>
/// </summary>
public sealed class LiveSet
{
    private const ulong FibonacciMultiplier = 0x9E3779B97F4A7C15UL;
    private const int PageBits = 12;
    private const int GrainBits = 4;
    private const int PageGrains = 1 << (PageBits - GrainBits);
    private const int MinCapacity = 64;
    private const int MaxCapacity = 1 << 30;
    private const int FreedBlock = -1;

    /// <summary>
    /// The largest block a call can get: 2^56 bytes, the user address space of x86_64 with 5-level paging (and more
    /// than any other 64-bit Linux gives a process). glibc refuses more than PTRDIFF_MAX (2^63-1) outright and the
    /// kernel cannot map more than the address space, so a larger request (or a calloc whose count × size overflows)
    /// never succeeds.
    /// </summary>
    public const ulong MaxBlockBytes = 1UL << 56;

    private readonly long _rememberLimit;
    private Entry[] _entries;
    private int _shift;
    private int _used;
    private int _growAt;
    private int _lastResult = -1;
    private ulong[] _bytes = new ulong[MinCapacity];
    private int[] _freeBlocks = new int[MinCapacity];
    private int _freeBlockCount;
    private int _blockCount;
    private ulong _liveLow;    // live requested bytes mod 2^64
    private ulong _liveHigh;   // ... and how many times the sum passed 2^64 (0 in any real trace)
    private readonly ulong[] _liveByClass = new ulong[RequestSizeClass.Count]; // live requested bytes per RequestSizeClass

    /// <summary>Creates an empty live set.</summary>
    /// <param name="expectedAddresses">Distinct addresses (live plus remembered frees) expected at once: the table is sized so that this many fit without growing.</param>
    /// <param name="rememberedFrees">How many freed addresses to remember at most (see the class comment); at least 1.</param>
    public LiveSet(int expectedAddresses = 4096, long rememberedFrees = long.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expectedAddresses);
        ArgumentOutOfRangeException.ThrowIfLessThan(rememberedFrees, 1);
        _rememberLimit = rememberedFrees;
        int capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(2L * expectedAddresses, MinCapacity, MaxCapacity));
        _entries = new Entry[capacity];
        SetCapacity(capacity);
    }

    /// <summary>Live requested bytes now (2^64-1 while the exact sum is larger: see <see cref="Saturated"/>).</summary>
    public ulong LiveBytes => _liveHigh == 0 ? _liveLow : ulong.MaxValue;

    /// <summary>True when live requested bytes went above 2^64-1 at some point (only a damaged trace does that).</summary>
    public bool Saturated { get; private set; }

    /// <summary>Live blocks now.</summary>
    public long LiveBlocks { get; private set; }

    /// <summary>
    /// Live requested bytes now in each <see cref="RequestSizeClass"/> (index = class), a block counted in the class of its
    /// requested size; they sum to <see cref="LiveBytes"/> while that is not saturated.
    /// </summary>
    public ReadOnlySpan<ulong> LiveBytesByClass => _liveByClass;

    /// <summary>Maximum of <see cref="LiveBytes"/> after any event.</summary>
    public ulong PeakLiveBytes { get; private set; }

    /// <summary>Maximum of <see cref="LiveBlocks"/> after any event.</summary>
    public long PeakLiveBlocks { get; private set; }

    /// <summary>Freed addresses remembered now (for telling double frees from unknown pointers).</summary>
    public long RememberedFrees { get; private set; }

    /// <summary>The live block at <paramref name="address"/>, if any.</summary>
    public bool TryGetLive(ulong address, out LiveBlock block)
    {
        int i = Find(address);
        ref Entry entry = ref _entries[i];
        if (entry.Address == address && entry.Live && address != 0)
        {
            block = new LiveBlock(_bytes[entry.Block], entry.Tag);
            return true;
        }

        block = default;
        return false;
    }

    /// <summary>Applies one event (the next in replay order) and returns what it did.</summary>
    public LiveChange Apply(in AllocEvent e)
    {
        switch (e.Kind)
        {
            case EventKind.Free:
                return e.Ptr == 0 ? default : Free(e.Ptr);
            case EventKind.Realloc or EventKind.ReallocArray when e.Ptr != 0:
                return Realloc(in e);
            default:
                if (!e.Kind.Allocates())
                {
                    return default;
                }

                ulong requested = e.RequestedBytes;
                return e.Result == 0 || requested > MaxBlockBytes || Overflows(in e)
                    ? new LiveChange(LiveChangeKind.Failed, PointerState.None, default, false, false, ImpossibleSize: e.Result != 0)
                    : Acquire(e.Result, requested, 0, LiveChangeKind.Allocated, PointerState.None, default);
        }
    }

    /// <summary>
    /// Sets the tag of the block the last <see cref="Apply"/> made live with <see cref="LiveChangeKind.Allocated"/>
    /// (a <see cref="LiveChangeKind.Reallocated"/> block keeps its pointer's tag). Call before the next Apply.
    /// </summary>
    public void TagResult(uint tag)
    {
        Debug.Assert(_lastResult >= 0 && _entries[_lastResult].Live, "TagResult without a block made live by the last Apply");
        _entries[_lastResult].Tag = tag;
    }

    private LiveChange Free(ulong ptr)
    {
        int i = Find(ptr);
        ref Entry entry = ref _entries[i];
        if (entry.Address != ptr || !entry.Live)
        {
            return new LiveChange(LiveChangeKind.Freed, StateOfMissing(in entry, ptr), default, false, false);
        }

        var block = new LiveBlock(_bytes[entry.Block], entry.Tag);
        Release(i);
        return new LiveChange(LiveChangeKind.Freed, PointerState.Live, block, false, false);
    }

    private LiveChange Realloc(in AllocEvent e)
    {
        int i = Find(e.Ptr);
        ref Entry entry = ref _entries[i];
        ulong bytes = e.RequestedBytes;
        bool impossible = e.Result != 0 && (bytes > MaxBlockBytes || Overflows(in e));
        if (entry.Address != e.Ptr || !entry.Live)
        {
            PointerState state = StateOfMissing(in entry, e.Ptr);
            return e.Result != 0 && !impossible
                ? Acquire(e.Result, bytes, 0, LiveChangeKind.Allocated, state, default)
                : new LiveChange(bytes == 0 ? LiveChangeKind.Freed : LiveChangeKind.Failed, state, default, false, false, impossible);
        }

        var block = new LiveBlock(_bytes[entry.Block], entry.Tag);
        if (impossible)
        {
            return new LiveChange(LiveChangeKind.Failed, PointerState.Live, block, false, false, ImpossibleSize: true);
        }

        if (e.Result != 0)
        {
            Release(i);
            return Acquire(e.Result, bytes, block.Tag, LiveChangeKind.Reallocated, PointerState.Live, block);
        }

        if (bytes == 0)
        {
            Release(i);   // realloc(p, 0) returning NULL freed p
            return new LiveChange(LiveChangeKind.Freed, PointerState.Live, block, false, false);
        }

        return new LiveChange(LiveChangeKind.Failed, PointerState.Live, block, false, false);
    }

    /// <summary>calloc/reallocarray whose count × size does not fit in 64 bits (glibc fails them with ENOMEM).</summary>
    private static bool Overflows(in AllocEvent e) =>
        e.Kind is EventKind.Calloc or EventKind.ReallocArray && e.Count != 0 && e.Size > ulong.MaxValue / e.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AddLive(ulong bytes)
    {
        _liveByClass[RequestSizeClass.Of(bytes)] += bytes;
        ulong sum = _liveLow + bytes;
        if (sum < bytes)
        {
            _liveHigh++;
            Saturated = true;
        }

        _liveLow = sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SubtractLive(ulong bytes)
    {
        _liveByClass[RequestSizeClass.Of(bytes)] -= bytes;
        if (_liveLow < bytes)
        {
            _liveHigh--;
        }

        _liveLow -= bytes;
    }

    private static PointerState StateOfMissing(in Entry entry, ulong address) =>
        entry.Address == address ? PointerState.Freed : PointerState.Unknown;

    /// <summary>Turns live entry <paramref name="i"/> into a remembered free.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Release(int i)
    {
        if (RememberedFrees >= _rememberLimit)
        {
            i = ForgetFrees(i);
        }

        ref Entry entry = ref _entries[i];
        SubtractLive(_bytes[entry.Block]);
        _freeBlocks[_freeBlockCount++] = entry.Block;
        entry.Block = FreedBlock;
        LiveBlocks--;
        RememberedFrees++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private LiveChange Acquire(ulong address, ulong bytes, uint tag, LiveChangeKind kind, PointerState pointer, LiveBlock block)
    {
        int i = Find(address);
        bool wasLive = false;
        if (_entries[i].Address == address)
        {
            ref Entry entry = ref _entries[i];
            if (entry.Live)
            {
                wasLive = true;
                SubtractLive(_bytes[entry.Block]);
                LiveBlocks--;
            }
            else
            {
                RememberedFrees--;
                entry.Block = NewBlock();
            }
        }
        else
        {
            if (_used >= _growAt)
            {
                i = GrowFor(address);
            }

            _used++;
            _entries[i].Address = address;
            _entries[i].Block = NewBlock();
        }

        ref Entry e = ref _entries[i];
        _bytes[e.Block] = bytes;
        e.Tag = tag;
        AddLive(bytes);
        LiveBlocks++;
        _lastResult = i;

        // Only an acquisition (the last step of any event that makes a block live) can raise the peaks.
        if (LiveBlocks > PeakLiveBlocks)
        {
            PeakLiveBlocks = LiveBlocks;
        }

        ulong live = LiveBytes;
        bool newPeak = live > PeakLiveBytes;
        if (newPeak)
        {
            PeakLiveBytes = live;
        }

        return new LiveChange(kind, pointer, block, wasLive, newPeak);
    }

    /// <summary>A free index into the requested-bytes array (the most recently released first: likely in cache).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int NewBlock()
    {
        if (_freeBlockCount > 0)
        {
            return _freeBlocks[--_freeBlockCount];
        }

        if (_blockCount == _bytes.Length)
        {
            GrowBlocks();
        }

        return _blockCount++;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowBlocks()
    {
        Array.Resize(ref _bytes, _bytes.Length * 2);
        Array.Resize(ref _freeBlocks, _bytes.Length);
    }

    /// <summary>The entry holding <paramref name="address"/>, or the empty entry where it would go.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Find(ulong address)
    {
        Entry[] entries = _entries;
        int mask = entries.Length - 1;
        int i = ((int)(((address >> PageBits) * FibonacciMultiplier) >> _shift) + (int)((address >> GrainBits) & (PageGrains - 1))) & mask;
        while (true)
        {
            ulong a = entries[i].Address;
            if (a == address || a == 0)
            {
                return i;
            }

            i = (i + 1) & mask;
        }
    }

    /// <summary>Doubles the table; returns the empty entry for <paramref name="address"/> in the new one.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int GrowFor(ulong address)
    {
        if (_entries.Length >= MaxCapacity)
        {
            ThrowFull();
        }

        Rebuild(_entries.Length * 2, keepFreed: true);
        return Find(address);
    }

    /// <summary>Drops every remembered free; returns where live entry <paramref name="i"/> is now.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int ForgetFrees(int i)
    {
        ulong address = _entries[i].Address;
        Rebuild(_entries.Length, keepFreed: false);
        RememberedFrees = 0;
        return Find(address);
    }

    private void Rebuild(int capacity, bool keepFreed)
    {
        Entry[] old = _entries;
        _entries = new Entry[capacity];
        SetCapacity(capacity);
        _used = 0;
        _lastResult = -1;
        foreach (ref readonly Entry entry in old.AsSpan())
        {
            if (entry.Address != 0 && (keepFreed || entry.Live))
            {
                _entries[Find(entry.Address)] = entry;
                _used++;
            }
        }
    }

    [DoesNotReturn]
    private static void ThrowFull() =>
        throw new InvalidOperationException($"The live set holds {MaxCapacity / 4 * 3:N0} distinct addresses (live and remembered frees), the most it can.");

    private void SetCapacity(int capacity)
    {
        _shift = 64 - int.Log2(capacity);
        _growAt = capacity / 4 * 3;
    }

    /// <summary>One address: live (its tag, and its requested bytes at <c>_bytes[Block]</c>) or a remembered free (<see cref="Block"/> = -1). Address 0 = empty.</summary>
    private struct Entry
    {
        public ulong Address;
        public uint Tag;
        public int Block;

        public readonly bool Live => Block >= 0;
    }
}
