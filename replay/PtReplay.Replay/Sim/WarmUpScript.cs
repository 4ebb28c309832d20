using PtReplay.Replay.Preparation;

namespace PtReplay.Replay.Sim;

/// <summary>
/// One op of the warm-up: the thread that runs it and the op, in the layout the sim engine executes.
/// </summary>
/// <param name="Thread">Trace thread index (0 = main thread).</param>
/// <param name="Op">The op; its <see cref="PreparedOp.Slot"/> indexes the script's own slot array.</param>
internal readonly record struct WarmUpOp(int Thread, PreparedOp Op);

/// <summary>
/// The synthetic program the sim engine runs on a scratch model before a timed replay (<see cref="SimWarmUp"/>): every
/// call kind of <see cref="PreparedKind"/> and the allocator paths a real program reaches, in this order:
/// <code>
///  1 tcache and fastbins   malloc/free of 24..120 bytes, more than a tcache bin holds, then malloc again
///  2 small bins, unsorted  200..1000-byte blocks between guards, freed and re-requested
///  3 large bins            1.5 K..60 K blocks between guards, freed, a larger request sorts them, a smaller one splits
///  4 consolidation         fastbins filled, then a large-bin request (malloc_consolidate); a 64 K+ free (trim check)
///  5 top, trim             the break grows past 4 MiB in 100 K requests, they are freed from the top (systrim)
///  6 threads               threads 1..3 get arenas (new heaps), grow and shrink them, free across threads, exit;
///                          thread 4 then reuses a freed arena
///  7 realloc               grow in place, shrink, move, realloc(NULL), realloc(p, 0), reallocarray
///  8 mmapped chunks        malloc above the mmap threshold, mremap by realloc, free (threshold moves), free(NULL)
///  9 aligned calls         memalign, posix_memalign (one invalid alignment), aligned_alloc (one mmapped), valloc, pvalloc
/// 10 calloc                small, from top, large, mmapped, overflowing count (fails)
/// 11 failing malloc        a request no address space can hold
/// </code>
/// Invariants: every free names a block the script allocated and has not freed (a slot is freed once, then reused), so
/// the model has no reason to abort whatever the tunables; the script is a pure function of the page size.
/// </summary>
internal sealed class WarmUpScript
{
    private const ulong Kib = 1024;

    private readonly List<WarmUpOp> _ops = [];
    private readonly Stack<uint> _freeSlots = new();
    private readonly Dictionary<uint, ulong> _sizes = [];
    private uint _slotCount = 1;

    private WarmUpScript()
    {
    }

    /// <summary>The ops in order.</summary>
    public IReadOnlyList<WarmUpOp> Ops => _ops;

    /// <summary>Slots the ops use (index 0 is "none").</summary>
    public int SlotCount => (int)_slotCount;

    /// <summary>The highest thread index the script uses.</summary>
    public const int LastThread = 4;

    /// <summary>Builds the script for a model with pages of <paramref name="pageSize"/> bytes.</summary>
    public static WarmUpScript Build(ulong pageSize)
    {
        var s = new WarmUpScript();
        s.SmallBlocks(0);
        s.MediumBlocks(0);
        s.LargeBlocks(0);
        s.Consolidation(0);
        s.TopAndTrim(0);
        // Before any mmapped chunk is freed: that raises the trim threshold, and the arena heaps would not shrink.
        s.Threads();
        s.Reallocs(0);
        // Each free of an mmapped chunk raises the mmap threshold to its size: the phases go up in mmapped sizes.
        s.Mmapped(0);
        s.AlignedCalls(0, pageSize);
        s.Callocs(0, pageSize);
        s.Add(0, PreparedKind.Malloc, 1UL << 62, 0, 0, OpMarks.ExpectFail);
        return s;
    }

    private void SmallBlocks(int thread)
    {
        foreach (ulong size in (ulong[])[24, 40, 56, 100, 120])
        {
            var blocks = Allocate(thread, size, 10);
            FreeAll(thread, blocks);
            FreeAll(thread, Allocate(thread, size, 10));
        }
    }

    private void MediumBlocks(int thread)
    {
        var blocks = new List<uint>();
        var guards = new List<uint>();
        foreach (ulong size in (ulong[])[200, 500, 1000])
        {
            for (int i = 0; i < 9; i++)
            {
                blocks.Add(Malloc(thread, size));
                guards.Add(Malloc(thread, 24));
            }
        }

        FreeAll(thread, blocks);
        // A request no tcache bin can serve sorts the unsorted blocks into small bins; then small-bin hits.
        uint big = Malloc(thread, 1200);
        FreeAll(thread, Allocate(thread, 500, 9));
        Free(thread, big);
        FreeAll(thread, guards);
    }

    private void LargeBlocks(int thread)
    {
        var blocks = new List<uint>();
        var guards = new List<uint>();
        foreach (ulong size in (ulong[])[1500, 3000, 8000, 20_000, 60_000])
        {
            for (int i = 0; i < 3; i++)
            {
                blocks.Add(Malloc(thread, size + ((ulong)i * 16)));
                guards.Add(Malloc(thread, 40));
            }
        }

        FreeAll(thread, blocks);
        uint larger = Malloc(thread, 100_000); // sorts every unsorted block into its large bin
        uint split = Malloc(thread, 1400);     // best fit from a large bin, the remainder goes to unsorted
        uint again = Malloc(thread, 7000);
        Free(thread, split);
        Free(thread, again);
        Free(thread, larger);
        FreeAll(thread, guards);
    }

    private void Consolidation(int thread)
    {
        uint guard = Malloc(thread, 24);
        var fast = Allocate(thread, 48, 16);
        uint big = Malloc(thread, 70_000);
        uint guard2 = Malloc(thread, 24);
        FreeAll(thread, fast);
        uint large = Malloc(thread, 2000); // a large-bin request with fastbins in use: malloc_consolidate
        FreeAll(thread, Allocate(thread, 64, 12));
        Free(thread, big);                 // a free of 64 K or more consolidates fastbins and checks for a trim
        Free(thread, large);
        Free(thread, guard2);
        Free(thread, guard);
    }

    private void TopAndTrim(int thread)
    {
        var blocks = Allocate(thread, 100 * Kib, 48); // below the mmap threshold: the break grows
        for (int i = blocks.Count - 1; i >= 0; i--)
        {
            Free(thread, blocks[i]);                  // the last free at the top trims the break
        }
    }

    private void Reallocs(int thread)
    {
        uint a = Malloc(thread, 100);
        Realloc(thread, a, 400);       // grows into the top chunk
        uint guard = Malloc(thread, 24);
        Realloc(thread, a, 120);       // shrinks in place, the tail is freed
        Realloc(thread, a, 3000);      // the neighbour is in use: moves
        Realloc(thread, a, 2800);
        uint b = Malloc(thread, 64);
        Realloc(thread, b, 80);        // within the chunk: nothing moves
        uint c = Realloc(thread, 0, 200); // realloc(NULL, n) is malloc
        ReallocArray(thread, c, 30, 16);
        ReallocArray(thread, c, 4, 16);
        Add(thread, PreparedKind.Realloc, 0, 0, c, OpMarks.Release); // realloc(p, 0) frees p
        _sizes.Remove(c);
        _freeSlots.Push(c);
        Free(thread, b);
        Free(thread, a);
        Free(thread, guard);
    }

    private void Callocs(int thread, ulong pageSize)
    {
        var blocks = new List<uint>
        {
            Calloc(thread, 4, 8),
            Calloc(thread, 10, 100),
            Calloc(thread, 1, 5000),
            Calloc(thread, 2, 60 * Kib),
            Calloc(thread, 64, pageSize * 16),
        };
        FreeAll(thread, blocks);
        blocks = [Calloc(thread, 4, 8), Calloc(thread, 10, 100)]; // from tcache and bins: cleared on reuse
        FreeAll(thread, blocks);
        Add(thread, PreparedKind.Calloc, 1UL << 62, 1UL << 62, 0, OpMarks.ExpectFail); // count * size overflows
    }

    private void AlignedCalls(int thread, ulong pageSize)
    {
        var blocks = new List<uint>
        {
            Aligned(thread, PreparedKind.Memalign, 64, 100),
            Aligned(thread, PreparedKind.Memalign, pageSize, 5000),
            Aligned(thread, PreparedKind.PosixMemalign, 32, 40),
            Aligned(thread, PreparedKind.PosixMemalign, 256, 2000),
            Aligned(thread, PreparedKind.AlignedAlloc, 128, 256),
            Aligned(thread, PreparedKind.AlignedAlloc, 4096, 2 * Kib * Kib), // above the threshold the mmapped frees left
            Aligned(thread, PreparedKind.Valloc, 0, 100),
            Aligned(thread, PreparedKind.Pvalloc, 0, 5000),
        };
        FreeAll(thread, blocks);
        Add(thread, PreparedKind.PosixMemalign, 24, 3, 0, OpMarks.ExpectFail); // alignment not a power of two: EINVAL
    }

    private void Mmapped(int thread)
    {
        // Above the threshold the threads' 300 K mmapped frees left.
        uint a = Malloc(thread, 400 * Kib);
        Realloc(thread, a, 800 * Kib);      // mremap
        Realloc(thread, a, 500 * Kib);
        uint b = Malloc(thread, 1100 * Kib);
        Free(thread, a);                    // frees an mmapped chunk: the dynamic threshold moves up
        Free(thread, b);
        Free(thread, Malloc(thread, 300 * Kib));
        Add(thread, PreparedKind.Free, 0, 0, 0, OpMarks.NullPtr);
    }

    private void Threads()
    {
        var byThread = new List<uint>[LastThread + 1];
        for (int t = 1; t < LastThread; t++)
        {
            byThread[t] = [.. Allocate(t, 40, 12), .. Allocate(t, 600, 10), .. Allocate(t, 5000, 4)];
            byThread[t].Add(Malloc(t, 300 * Kib));
            FreeAll(t, Allocate(t, 24, 10));
        }

        for (int t = 1; t < LastThread; t++)
        {
            // The arena heap grows past its first pages, then shrinks when the block at its top is freed.
            var grow = Allocate(t, 120 * Kib, 3);
            for (int i = grow.Count - 1; i >= 0; i--)
            {
                Free(t, grow[i]);
            }

            uint c = Calloc(t, 8, 300);
            Realloc(t, c, 9000);
            byThread[t].Add(c);
            uint m = Aligned(t, PreparedKind.Memalign, 512, 700);
            byThread[t].Add(m);
        }

        // Frees across threads: thread 0 frees thread 1's blocks, thread 2 frees thread 3's.
        FreeAll(0, byThread[1]);
        FreeAll(2, byThread[3]);
        FreeAll(2, byThread[2]);
        for (int t = 1; t < LastThread; t++)
        {
            _ops.Add(new WarmUpOp(t, new PreparedOp { Kind = PreparedKind.ThreadExit }));
        }

        // A new thread takes an arena from the free list.
        FreeAll(LastThread, Allocate(LastThread, 80, 10));
        FreeAll(LastThread, Allocate(LastThread, 2000, 3));
        _ops.Add(new WarmUpOp(LastThread, new PreparedOp { Kind = PreparedKind.ThreadExit }));
    }

    private List<uint> Allocate(int thread, ulong size, int count)
    {
        var slots = new List<uint>(count);
        for (int i = 0; i < count; i++)
        {
            slots.Add(Malloc(thread, size));
        }

        return slots;
    }

    private void FreeAll(int thread, List<uint> slots)
    {
        foreach (uint slot in slots)
        {
            Free(thread, slot);
        }
    }

    private uint Malloc(int thread, ulong size) => Add(thread, PreparedKind.Malloc, size, 0, NewSlot(size), OpMarks.None);

    private uint Calloc(int thread, ulong count, ulong size) =>
        Add(thread, PreparedKind.Calloc, size, count, NewSlot(count * size), OpMarks.None);

    private uint Aligned(int thread, PreparedKind kind, ulong alignment, ulong size) =>
        Add(thread, kind, size, alignment, NewSlot(size), OpMarks.None);

    private uint Realloc(int thread, uint slot, ulong size)
    {
        if (slot == 0)
        {
            slot = NewSlot(size);
        }

        _sizes[slot] = size;
        return Add(thread, PreparedKind.Realloc, size, 0, slot, OpMarks.None);
    }

    private void ReallocArray(int thread, uint slot, ulong count, ulong size)
    {
        _sizes[slot] = count * size;
        Add(thread, PreparedKind.ReallocArray, size, count, slot, OpMarks.None);
    }

    private void Free(int thread, uint slot)
    {
        ulong size = _sizes[slot];
        _sizes.Remove(slot);
        Add(thread, PreparedKind.Free, size, 0, slot, OpMarks.None);
        _freeSlots.Push(slot);
    }

    private uint NewSlot(ulong size)
    {
        uint slot = _freeSlots.Count > 0 ? _freeSlots.Pop() : _slotCount++;
        _sizes[slot] = size;
        return slot;
    }

    private uint Add(int thread, PreparedKind kind, ulong size, ulong arg, uint slot, OpMarks flags)
    {
        _ops.Add(new WarmUpOp(thread, new PreparedOp { Kind = kind, Size = size, Arg = arg, Slot = slot, Flags = flags }));
        return slot;
    }
}
