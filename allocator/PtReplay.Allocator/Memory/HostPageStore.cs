using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PtReplay.Allocator.Memory;

/// <summary>
/// The host memory behind the simulated pages: 4 KiB blocks of native memory, carved from slabs that grow geometrically
/// (16 pages first, at most 256 per slab) and recycled through a free list. Native, so that the model's memory growing
/// inside a timed call allocates nothing on the managed heap and so cannot start a garbage collection there.
/// Invariants: every block handed out by <see cref="Take"/> or held in the free list is all zeros until its taker writes
/// it; blocks are returned only through <see cref="Give"/>; the slabs live as long as this object (freed by its
/// finalizer, so the owner must keep it reachable while it uses a block: <see cref="SimulatedMemory"/> holds it for its
/// whole life and keeps itself alive across each access). The bookkeeping arrays grow by doubling, so their managed
/// allocations are a few over a model's life, not one per page.
/// </summary>
internal sealed unsafe class HostPageStore
{
    /// <summary>Bytes of one page.</summary>
    public const int PageBytes = 4096;

    private const int FirstSlabPages = 16;
    private const int MaxSlabPages = 256;

    private nint[] _slabs = new nint[4];
    private int _slabCount;
    private byte* _next;
    private int _leftInSlab;
    private int _nextSlabPages = FirstSlabPages;
    private nint[] _free = new nint[16];
    private int _freeCount;

    /// <summary>Frees every slab.</summary>
    ~HostPageStore()
    {
        for (int i = 0; i < _slabCount; i++)
        {
            NativeMemory.Free((void*)_slabs[i]);
        }
    }

    /// <summary>A zeroed page.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public nint Take()
    {
        if (_freeCount > 0)
        {
            return _free[--_freeCount];
        }

        if (_leftInSlab == 0)
        {
            NewSlab(_nextSlabPages);
            _nextSlabPages = Math.Min(MaxSlabPages, _nextSlabPages * 2);
        }

        nint page = (nint)_next;
        _next += PageBytes;
        _leftInSlab--;
        return page;
    }

    /// <summary>Takes back a page (zeroed here, so it is taken again as a page never written).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Give(nint page)
    {
        NativeMemory.Clear((void*)page, PageBytes);
        if (_freeCount == _free.Length)
        {
            Array.Resize(ref _free, _free.Length * 2);
        }

        _free[_freeCount++] = page;
    }

    /// <summary>
    /// Makes sure the next <paramref name="pages"/> pages are taken without allocating, and with the host's pages already
    /// mapped in (each is written once here, so the kernel's page faults happen now, not in the call that first writes
    /// the page). Host memory only: nothing simulated changes.
    /// </summary>
    public void Reserve(int pages)
    {
        if (pages > _free.Length)
        {
            // Room for every reserved page to come back without growing the list.
            Array.Resize(ref _free, pages);
        }

        int available = _freeCount + _leftInSlab;
        if (pages > available)
        {
            // The pages left in the current slab stay unused: a slab is carved from its start only.
            NewSlab(pages - _freeCount);
            for (int i = 0; i < _leftInSlab; i++)
            {
                Volatile.Write(ref _next[(nint)i * PageBytes], 0);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void NewSlab(int pages)
    {
        if (_slabCount == _slabs.Length)
        {
            Array.Resize(ref _slabs, _slabs.Length * 2);
        }

        _next = (byte*)NativeMemory.AllocZeroed((nuint)pages * PageBytes);
        _slabs[_slabCount++] = (nint)_next;
        _leftInSlab = pages;
    }
}
