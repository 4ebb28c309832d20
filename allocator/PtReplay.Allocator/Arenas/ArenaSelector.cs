using System.Runtime.CompilerServices;
using PtReplay.Allocator.Chunks;

namespace PtReplay.Allocator.Arenas;

/// <summary>
/// Which arena a thread uses (arena.c). The main thread uses the main arena. A thread without an arena
/// takes one from the free list (arenas of exited threads), else creates a new arena while fewer than the
/// limit exist (arena_max, or 8 x online CPUs once more than arena_test arenas exist), else reuses arenas
/// round-robin starting after the last one handed out. Arenas are listed main → newest → ... → oldest.
/// </summary>
internal sealed class ArenaSelector
{
    private readonly MallocState _s;

    public ArenaSelector(MallocState s) => _s = s;

    /// <summary>arena_get: the current thread's arena, choosing one on first use.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Arena? ArenaGet(ulong size) => _s.Current.Arena ?? ArenaGet2(size, null);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Arena? ArenaGet2(ulong size, Arena? avoid)
    {
        var a = GetFreeList();
        if (a is not null)
            return a;
        if (_s.NArenasLimit == 0)
        {
            if (_s.Mp.ArenaMax != 0)
                _s.NArenasLimit = _s.Mp.ArenaMax;
            else if (_s.NArenas > _s.Mp.ArenaTest)
                _s.NArenasLimit = 8UL * (ulong)Math.Max(1, _s.Options.OnlineCpus);
        }
        ulong n = _s.NArenas;
        if (n <= _s.NArenasLimit - 1)
        {
            _s.NArenas = n + 1;
            a = NewArena(size);
            if (a is null)
                _s.NArenas--;
            return a;
        }
        return ReusedArena(avoid);
    }

    /// <summary>arena_get_retry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Arena? ArenaGetRetry(Arena? ar, ulong size)
    {
        if (ar is not null && !ar.IsMain)
            return _s.Main;
        return ArenaGet2(size, ar);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Arena? GetFreeList()
    {
        var result = _s.FreeList;
        if (result is null)
            return null;
        _s.FreeList = result.NextFree;
        result.AttachedThreads = 1;
        Detach(_s.Current.Arena);
        _s.Current.Arena = result;
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Detach(Arena? replaced)
    {
        if (replaced is not null)
            replaced.AttachedThreads--;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Arena ReusedArena(Arena? avoid)
    {
        _s.NextToUse ??= _s.Main;
        var result = _s.NextToUse;
        _ = avoid;
        Detach(_s.Current.Arena);
        RemoveFromFreeList(result);
        result.AttachedThreads++;
        _s.Current.Arena = result;
        _s.NextToUse = result.Next;
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RemoveFromFreeList(Arena arena)
    {
        Arena? prev = null;
        for (var p = _s.FreeList; p is not null; p = p.NextFree)
        {
            if (p == arena)
            {
                if (prev is null)
                    _s.FreeList = p.NextFree;
                else
                    prev.NextFree = p.NextFree;
                break;
            }
            prev = p;
        }
    }

    /// <summary>_int_new_arena: a heap whose start holds heap_info and the malloc_state, top right after.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Arena? NewArena(ulong size)
    {
        var hm = _s.HeapManager;
        ulong overhead = HeapInfo.HeaderSize + Arena.StateSize + Chunk.Alignment;
        var h = hm.NewHeap(size + overhead, _s.Mp.TopPad) ?? hm.NewHeap(overhead, _s.Mp.TopPad);
        if (h is null)
            return null;
        var a = new Arena(h.Base + HeapInfo.HeaderSize, isMain: false, creationIndex: _s.Arenas.Count);
        _s.Arenas.Add(a);
        h.Arena = a;
        h.Index = 0;
        a.HeapCount = 1;
        a.LastHeap = h;
        hm.WriteHeader(h);
        InitState(a);
        a.AttachedThreads = 1;
        a.SystemMem = a.MaxSystemMem = h.Size;
        ulong ptr = a.StateAddress + Arena.StateSize;
        ulong misalign = Chunk.ToMem(ptr) & Chunk.AlignMask;
        if (misalign > 0)
            ptr += Chunk.Alignment - misalign;
        a.Top = ptr;
        _s.M.SetHead(ptr, (h.Base + h.Size - ptr) | Chunk.PrevInuse);
        var replaced = _s.Current.Arena;
        _s.Current.Arena = a;
        a.Next = _s.Main.Next;
        _s.Main.Next = a;
        Detach(replaced);
        return a;
    }

    /// <summary>malloc_init_state: empty circular bins, top = the initial top (bin 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void InitState(Arena a)
    {
        for (int i = 1; i < Bins.BinIndex.NBins; i++)
        {
            ulong bin = a.BinAt(i);
            _s.M.SetFd(bin, bin);
            _s.M.SetBk(bin, bin);
        }
        a.Contiguous = a.IsMain;
        a.HaveFastchunks = false;
        a.Top = a.Unsorted;
    }
}
