using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using PtReplay.Allocator.Arenas;
using PtReplay.Allocator.Bins;
using PtReplay.Allocator.Chunks;
using PtReplay.Allocator.Free;
using PtReplay.Allocator.Malloc;
using PtReplay.Allocator.Memory;
using PtReplay.Allocator.Tunables;

namespace PtReplay.Allocator;

/// <summary>One simulated thread: its arena (thread_arena) and tcache.</summary>
internal sealed class ThreadState
{
    public Arena? Arena;
    public Tcache? Tcache;
    public bool TcacheShuttingDown;
    public bool Exited;
}

/// <summary>
/// Everything the allocator components share: the address space, mp_, the arenas, the heaps, the
/// threads, and the components themselves (wired once by <see cref="Ptmalloc"/>).
/// </summary>
internal sealed class MallocState
{
    /// <summary>The process's tcache key (random in glibc; any value that user data never holds works).</summary>
    public const ulong TcacheKey = 0x6b1d_43f0_a5c3_9e27;

    public readonly ModelOptions Options;
    public readonly AddressSpace Space;
    public readonly SimulatedMemory M;
    public readonly MallocParams Mp = new();
    public readonly ulong PageSize;
    public readonly Arena Main;
    /// <summary>All arenas in creation order (index = CreationIndex).</summary>
    public readonly List<Arena> Arenas = [];
    public readonly Dictionary<ulong, HeapInfo> Heaps = [];
    public readonly List<ThreadState> Threads = [];
    public ThreadState Current = null!;
    public bool SingleThread = true;

    // arena.c statics
    public ulong NArenas = 1;
    public ulong NArenasLimit;
    public Arena? FreeList;
    public Arena? NextToUse;
    public ulong AlignedHeapArea;

    // components
    public IntMalloc Malloc = null!;
    public SysMalloc Sys = null!;
    public IntFree Free = null!;
    public Consolidator Consolidator = null!;
    public Trimmer Trimmer = null!;
    public HeapManager HeapManager = null!;
    public ArenaSelector Selector = null!;
    public TcacheOps Tcaches = null!;

    public MallocState(ModelOptions options)
    {
        Options = options;
        PageSize = options.PageSize;
        Space = new AddressSpace(options.Brk0, options.PageSize, options.MmapBase, options.OvercommitLimit);
        M = Space.Memory;
        Main = new Arena(MainArenaAddress(options), isMain: true, creationIndex: 0);
        Main.Next = Main;
        Main.AttachedThreads = 1;
        Arenas.Add(Main);
    }

    /// <summary>Where the main arena's malloc_state sits (stands for libc's .data, above the mmap area).</summary>
    public static ulong MainArenaAddress(ModelOptions o) => o.MmapBase + 0x1c80;

    /// <summary>arena_for_chunk: main arena unless NON_MAIN_ARENA, then the arena of the chunk's heap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Arena ArenaForChunk(ulong p) => M.IsMainArenaChunk(p) ? Main : HeapArenaForChunk(p);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private Arena HeapArenaForChunk(ulong p)
    {
        if (Heaps.TryGetValue(p & ~(HeapInfo.MaxSize - 1), out var heap))
            return heap.Arena;
        return Abort("free(): invalid pointer");
    }

    /// <summary>heap_for_ptr.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public HeapInfo HeapForPtr(ulong p) => Heaps[p & ~(HeapInfo.MaxSize - 1)];

    /// <summary>malloc_printerr: glibc would print the message and abort.</summary>
    [DoesNotReturn]
    public static Arena Abort(string message) => throw new MallocAbortException(message);

    /// <summary>malloc_printerr for void contexts.</summary>
    [DoesNotReturn]
    public static void Fail(string message) => throw new MallocAbortException(message);
}
