using System.Runtime.CompilerServices;
using PtReplay.Allocator.Chunks;

namespace PtReplay.Allocator.Bins;

/// <summary>tcache_init / tcache_put / tcache_get / tcache_thread_shutdown.</summary>
internal sealed class TcacheOps
{
    private readonly MallocState _s;

    public TcacheOps(MallocState s) => _s = s;

    /// <summary>MAYBE_INIT_TCACHE for the current thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MaybeInit()
    {
        if (_s.Current.Tcache is null)
            Init();
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void Init()
    {
        var t = _s.Current;
        if (t.TcacheShuttingDown)
            return;
        var arena = _s.Selector.ArenaGet(Tcache.StructSize);
        ulong victim = _s.Malloc.Malloc(arena, Tcache.StructSize);
        if (victim == 0)
        {
            arena = _s.Selector.ArenaGetRetry(arena, Tcache.StructSize);
            victim = _s.Malloc.Malloc(arena, Tcache.StructSize);
        }
        if (victim == 0)
            return;
        for (ulong a = victim; a < victim + Tcache.StructSize; a += 8)
            _s.M.Write(a, 0);
        t.Tcache = new Tcache { BlockAddress = victim };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Put(Tcache tc, ulong chunk, ulong idx)
    {
        ulong e = Chunk.ToMem(chunk);
        _s.M.Write(e + 8, MallocState.TcacheKey);
        _s.M.Write(e, Chunk.Protect(e, tc.Entries[idx]));
        tc.Entries[idx] = e;
        tc.Counts[idx]++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Get(Tcache tc, ulong idx)
    {
        ulong e = tc.Entries[idx];
        if (Chunk.Misaligned(e))
            MallocState.Fail("malloc(): unaligned tcache chunk detected");
        tc.Entries[idx] = _s.M.ReadProtected(e);
        tc.Counts[idx]--;
        _s.M.Write(e + 8, 0);
        return e;
    }

    /// <summary>tcache_thread_shutdown: every cached chunk and then the tcache block go back to the arena.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Shutdown(Ptmalloc api)
    {
        var t = _s.Current;
        var tc = t.Tcache;
        t.TcacheShuttingDown = true;
        if (tc is null)
            return;
        t.Tcache = null;
        for (int i = 0; i < Tcache.MaxBins; i++)
        {
            while (tc.Entries[i] != 0)
            {
                ulong e = tc.Entries[i];
                if (Chunk.Misaligned(e))
                    MallocState.Fail("tcache_thread_shutdown(): unaligned tcache chunk detected");
                tc.Entries[i] = _s.M.ReadProtected(e);
                api.FreeInternal(e);
            }
        }
        api.FreeInternal(tc.BlockAddress);
    }
}
