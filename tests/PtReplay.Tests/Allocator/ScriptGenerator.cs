namespace PtReplay.Tests.Allocator;

/// <summary>Seeded random scripts that exercise every entry point and the main allocator paths.</summary>
public static class ScriptGenerator
{
    /// <summary>A request size drawn to hit tcache, fastbin, small, large and mmap sizes.</summary>
    public static ulong Size(Random r)
    {
        int k = r.Next(100);
        return k switch
        {
            < 30 => (ulong)r.Next(0, 121),          // tcache / fastbin
            < 55 => (ulong)r.Next(121, 1033),       // tcache / small bins
            < 70 => (ulong)r.Next(1033, 4096),      // small/large bins
            < 90 => (ulong)r.Next(4096, 70_000),    // large bins, consolidation threshold
            < 97 => (ulong)r.Next(70_000, 300_000), // around the mmap threshold
            _ => (ulong)r.Next(300_000, 3_000_000), // mmapped
        };
    }

    /// <summary>A random single-thread script of <paramref name="ops"/> calls using up to <paramref name="slots"/> live pointers.</summary>
    public static DriverScript Random(int seed, int ops, int slots = 200, bool allEntryPoints = true, int thread = 0, DriverScript? into = null, bool mallopt = false, bool trim = true)
    {
        var r = new Random(seed);
        var s = into ?? new DriverScript();
        var live = new bool[slots];
        // Slots holding memalign chunks with alignment above a page: if glibc mmapped them, their lead depends
        // on the kernel's choice of address, so realloc (mremap) sizes would too. Only freed, never realloc'ed.
        var addressDependent = new bool[slots];
        int slotBase = into is null ? 0 : thread * slots;
        for (int i = 0; i < ops; i++)
        {
            int slot = r.Next(slots);
            int k = r.Next(100);
            if (live[slot] && k < 45)
            {
                s.Add(DriverOp.Free, slotBase + slot, thread: thread);
                live[slot] = false;
                continue;
            }
            if (live[slot])
            {
                // grow, shrink, or usable
                if (k < 80 && !addressDependent[slot])
                {
                    ulong size = r.Next(3) == 0 ? Size(r) : (ulong)r.Next(1, 2000);
                    if (allEntryPoints && r.Next(10) == 0)
                        s.Add(DriverOp.ReallocArray, slotBase + slot, (ulong)r.Next(1, 8), size / 4 + 1, thread);
                    else
                        s.Add(DriverOp.Realloc, slotBase + slot, size, thread: thread);
                    live[slot] = size != 0;
                }
                else if (k < 85 && !addressDependent[slot])
                {
                    s.Add(DriverOp.Usable, slotBase + slot, thread: thread);
                }
                else
                {
                    s.Add(DriverOp.Free, slotBase + slot, thread: thread);
                    live[slot] = false;
                }
                continue;
            }
            int e = allEntryPoints ? r.Next(100) : 0;
            ulong sz = Size(r);
            ulong align = 1UL << r.Next(4, 17); // 16 .. 64 KiB
            if (align > 4096 && e >= 78 && e < 89)
            {
                // An mmapped chunk with such an alignment has a lead that depends on the kernel's address; freeing
                // it would move the dynamic mmap threshold by that amount. Stay below the default threshold.
                sz = Math.Min(sz, 128 * 1024 - align - 128);
            }
            if (e < 70) s.Add(DriverOp.Malloc, slotBase + slot, sz, thread: thread);
            else if (e < 78) s.Add(DriverOp.Calloc, slotBase + slot, (ulong)r.Next(1, 16), sz / 8 + 1, thread);
            else if (e < 82) s.Add(DriverOp.Memalign, slotBase + slot, align, sz, thread);
            else if (e < 86) s.Add(DriverOp.PosixMemalign, slotBase + slot, align, sz, thread);
            else if (e < 89) s.Add(DriverOp.AlignedAlloc, slotBase + slot, align, sz, thread);
            else if (e < 91) s.Add(DriverOp.Valloc, slotBase + slot, sz, thread: thread);
            else if (e < 93) s.Add(DriverOp.Pvalloc, slotBase + slot, sz, thread: thread);
            else if (e < 95) s.Add(DriverOp.Realloc, slotBase + slot, sz, thread: thread); // realloc(NULL, n)
            else if (e < 96 && trim) { s.Add(DriverOp.Trim, 0, (ulong)r.Next(0, 3) * 65536, thread: thread); continue; }
            else if (e < 98) { s.Add(DriverOp.MallInfo, 0, thread: thread); continue; }
            else if (mallopt && e < 99)
            {
                // M_MXFAST 1, M_TRIM_THRESHOLD -1, M_TOP_PAD -2, M_MMAP_THRESHOLD -3, M_PERTURB -6
                (long param, long value) = r.Next(6) switch
                {
                    0 => (1L, (long)r.Next(0, 161)),
                    1 => (-1L, (long)r.Next(0, 4) * 65536),
                    2 => (-2L, (long)r.Next(0, 3) * 8192),
                    3 => (-3L, (long)r.Next(1, 8) * 32768),
                    4 => (-6L, (long)r.Next(0, 256)),
                    _ => (1L, 200L), // rejected: above MAX_FAST_SIZE
                };
                s.Add(DriverOp.Mallopt, 0, (ulong)param, (ulong)value, thread);
                continue;
            }
            else s.Add(DriverOp.Malloc, slotBase + slot, (ulong)r.Next(1, 64), thread: thread);
            live[slot] = true;
            addressDependent[slot] = e >= 78 && e < 89 && align > 4096;
        }
        return s;
    }
}

/// <summary>Multi-thread scripts: threads run in bursts (one at a time, fixed schedule), sometimes freeing each other's blocks, and some exit.</summary>
public static class ThreadScriptGenerator
{
    public static DriverScript Random(int seed, int threads, int ops, int slotsPerThread = 60, int exits = 2)
    {
        var r = new Random(seed);
        var s = new DriverScript { Threads = threads };
        int total = threads * slotsPerThread;
        s.Slots = total;
        var live = new bool[total];
        var exited = new bool[threads];
        int thread = 0;
        for (int i = 0; i < ops; i++)
        {
            if (r.Next(20) == 0)
            {
                do thread = r.Next(threads); while (exited[thread]);
            }
            if (i > ops / 2 && exits > 0 && thread != 0 && r.Next(200) == 0)
            {
                s.Add(DriverOp.ThreadExit, 0, thread: thread);
                exited[thread] = true;
                exits--;
                thread = 0;
                continue;
            }
            int owner = r.Next(8) == 0 ? r.Next(threads) : thread;
            int slot = owner * slotsPerThread + r.Next(slotsPerThread);
            if (live[slot])
            {
                if (r.Next(4) == 0)
                    s.Add(DriverOp.Realloc, slot, ScriptGenerator.Size(r) / 2 + 1, thread: thread);
                else
                {
                    s.Add(DriverOp.Free, slot, thread: thread);
                    live[slot] = false;
                }
                continue;
            }
            if (owner != thread)
                continue;
            int e = r.Next(10);
            if (e < 7) s.Add(DriverOp.Malloc, slot, ScriptGenerator.Size(r), thread: thread);
            else if (e < 9) s.Add(DriverOp.Calloc, slot, 3, ScriptGenerator.Size(r) / 3 + 1, thread);
            else s.Add(DriverOp.Memalign, slot, 64, ScriptGenerator.Size(r), thread);
            live[slot] = true;
        }
        s.Add(DriverOp.MallInfo, 0);
        return s;
    }
}
