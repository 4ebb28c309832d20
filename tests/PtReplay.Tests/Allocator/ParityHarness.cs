using System.Globalization;
using System.Text;
using PtReplay.Allocator;
using PtReplay.Allocator.Tunables;

namespace PtReplay.Tests.Allocator;

/// <summary>Runs a script through the real glibc (driver) and through the model, comparing every result.</summary>
public static class ParityHarness
{
    private const ulong HeapMaxSize = 64UL * 1024 * 1024;
    private const ulong PageSize = 4096;

    /// <summary>DTV calloc glibc's pthread_create makes in the creating thread (measured: a 0x120 chunk).</summary>
    public const ulong DtvCount = 17, DtvSize = 16;

    /// <summary>Bytes fdopen mallocs for its FILE (a 0x1e0 chunk).</summary>
    public const ulong FileStructSize = 472;

    public sealed record Outcome(int Compared, int Identical, string? FirstDivergence)
    {
        /// <summary>malloc_info XML from glibc and from the model (after a final MallocInfo call).</summary>
        public (string Glibc, string Model) MallocInfo { get; set; } = ("", "");

        /// <summary>Model allocations per region (shows which paths a script exercised).</summary>
        public Dictionary<AddressRegion, int> Regions { get; } = [];

        /// <summary>Arenas the model created (main included).</summary>
        public int Arenas { get; init; }
    }

    public static Outcome Run(DriverScript script, string glibcTunables = "", bool validateEachStep = true)
    {
        var env = new Dictionary<string, string>();
        if (glibcTunables.Length > 0)
            env["GLIBC_TUNABLES"] = glibcTunables;
        return RunWithEnvironment(script, env, validateEachStep);
    }

    /// <summary>Runs glibc with exactly <paramref name="env"/> and the model with the tunables that environment implies.</summary>
    public static Outcome RunWithEnvironment(DriverScript script, IDictionary<string, string> env, bool validateEachStep = true)
    {
        var real = GlibcDriver.Execute(script, env);
        var model = new Ptmalloc(new ModelOptions
        {
            Brk0 = real.Brk0,
            Tunables = MallocTunables.FromEnvironment(env.Select(kv => kv.Key + "=" + kv.Value)),
        });
        for (int t = 1; t < script.Threads; t++)
            model.Calloc(0, DtvCount, DtvSize);
        var slots = new ulong[script.Slots];
        int compared = 0, identical = 0;
        string? first = null;
        var realHeapToModel = new Dictionary<ulong, ulong>();
        var regions = new Dictionary<AddressRegion, int>();
        string modelInfo = "";
        for (int i = 0; i < script.Calls.Count; i++)
        {
            var c = script.Calls[i];
            var r = real.PerCall[i];
            ulong m0 = 0, m1 = 0, m2 = 0, m3 = 0;
            bool isAlloc = true;
            switch (c.Op)
            {
                case DriverOp.Malloc: m0 = slots[c.Slot] = model.Malloc(c.Thread, c.A); break;
                case DriverOp.Free: model.Free(c.Thread, slots[c.Slot]); slots[c.Slot] = 0; isAlloc = false; break;
                case DriverOp.Calloc: m0 = slots[c.Slot] = model.Calloc(c.Thread, c.A, c.B); break;
                case DriverOp.Realloc:
                    m0 = model.Realloc(c.Thread, slots[c.Slot], c.A);
                    if (m0 != 0 || c.A == 0)
                        slots[c.Slot] = m0;
                    break;
                case DriverOp.Memalign: m0 = slots[c.Slot] = model.Memalign(c.Thread, c.A, c.B); break;
                case DriverOp.PosixMemalign:
                    m2 = (ulong)model.PosixMemalign(c.Thread, c.A, c.B, out m0);
                    slots[c.Slot] = m0;
                    break;
                case DriverOp.AlignedAlloc: m0 = slots[c.Slot] = model.AlignedAlloc(c.Thread, c.A, c.B); break;
                case DriverOp.Valloc: m0 = slots[c.Slot] = model.Valloc(c.Thread, c.A); break;
                case DriverOp.Pvalloc: m0 = slots[c.Slot] = model.Pvalloc(c.Thread, c.A); break;
                case DriverOp.Trim: m0 = (ulong)model.MallocTrim(c.Thread, c.A); isAlloc = false; break;
                case DriverOp.ReallocArray:
                    m0 = model.ReallocArray(c.Thread, slots[c.Slot], c.A, c.B);
                    if (m0 != 0)
                        slots[c.Slot] = m0;
                    break;
                case DriverOp.Mallopt: m0 = (ulong)(long)model.Mallopt((int)(long)c.A, (int)(long)c.B); isAlloc = false; break;
                case DriverOp.Usable: m0 = model.UsableSize(slots[c.Slot]); isAlloc = false; break;
                case DriverOp.ThreadExit: model.ThreadExit(c.Thread); isAlloc = false; break;
                case DriverOp.HeapResident:
                    m1 = model.Brk - real.Brk0;
                    m0 = model.ResidentBytesInRange(real.Brk0, m1) / 4096;
                    for (ulong pg = 0; pg < m1 / 4096; pg++)
                        if (model.ResidentBytesInRange(real.Brk0 + pg * 4096, 4096) != 0)
                        {
                            m2 += pg;
                            m3 += pg * pg;
                        }
                    isAlloc = false;
                    break;
                case DriverOp.MallocInfo:
                    model.Malloc(c.Thread, FileStructSize); // fdopen's FILE
                    modelInfo = model.MallocInfoXml();
                    isAlloc = false;
                    break;
                case DriverOp.MallInfo:
                    var mi = model.MallInfo2();
                    (m0, m1, m2, m3) = (mi.Arena, mi.Ordblks, mi.Fordblks, mi.Hblkhd);
                    isAlloc = false;
                    break;
            }
            if (isAlloc && m0 != 0)
            {
                m1 = model.UsableSize(m0);
                var region = model.Classify(m0).Region;
                regions[region] = regions.GetValueOrDefault(region) + 1;
            }
            if (validateEachStep)
                model.Validate();

            string? why = null;
            if (isAlloc)
            {
                compared++;
                ulong alignment = c.Op is DriverOp.Memalign or DriverOp.PosixMemalign or DriverOp.AlignedAlloc ? c.A : 0;
                why = CompareAllocation(model, real.Brk0, r[0], r[1], m0, m1, alignment, realHeapToModel);
                if (why is null && c.Op == DriverOp.PosixMemalign && r[2] != m2)
                    why = $"posix_memalign rc {r[2]} vs model {m2}";
                if (why is null)
                    identical++;
            }
            else if (c.Op == DriverOp.MallInfo)
            {
                if (r[0] != m0 || r[1] != m1 || r[2] != m2 || r[3] != m3)
                    why = $"mallinfo2 glibc (arena {r[0]}, ordblks {r[1]}, fordblks {r[2]}, hblkhd {r[3]}) model ({m0}, {m1}, {m2}, {m3})";
            }
            else if (c.Op == DriverOp.HeapResident)
            {
                if (r[0] != m0 || r[1] != m1 || r[2] != m2 || r[3] != m3)
                    why = $"heap: glibc {r[0]} resident pages of 0x{r[1]:x} bytes, model {m0} of 0x{m1:x} (page set checksums {r[2]}/{r[3]} vs {m2}/{m3})";
            }
            else if (c.Op is DriverOp.Trim or DriverOp.Mallopt or DriverOp.Usable && r[0] != m0)
            {
                why = $"{c.Op} returned {r[0]} in glibc, {m0} in the model";
            }
            if (why is not null && first is null)
            {
                var sb = new StringBuilder();
                sb.Append(CultureInfo.InvariantCulture, $"call {i} ({c.Op} thread {c.Thread} slot {c.Slot} a {c.A} b {c.B}): {why}\n");
                for (int k = Math.Max(0, i - 6); k < i; k++)
                {
                    var pc = script.Calls[k];
                    sb.Append(CultureInfo.InvariantCulture, $"  before: {k} {pc.Op} t{pc.Thread} s{pc.Slot} {pc.A} {pc.B} -> 0x{real.PerCall[k][0]:x}\n");
                }
                sb.Append(model.DescribeAround(m0));
                first = sb.ToString();
            }
        }
        var outcome = new Outcome(compared, identical, first) { Arenas = model.ArenaCount, MallocInfo = (real.MallocInfoXml, modelInfo) };
        foreach (var kv in regions)
            outcome.Regions[kv.Key] = kv.Value;
        return outcome;
    }

    private static string? CompareAllocation(Ptmalloc model, ulong brk0, ulong real, ulong realUsable, ulong mine, ulong myUsable, ulong alignment, Dictionary<ulong, ulong> realHeapToModel)
    {
        if (real == 0 || mine == 0)
            return real == mine ? null : $"glibc 0x{real:x}, model 0x{mine:x}";
        if (alignment > PageSize && realUsable != myUsable && model.Classify(mine) is { Region: AddressRegion.Mmapped } mm)
        {
            // The lead of an mmapped memalign chunk depends on where the kernel put the mapping (mapping mod
            // alignment), which only the real process knows. Same mapping length, page-aligned mapping start, lead below
            // alignment + MINSIZE: then glibc took the same decisions.
            ulong mapping = mm.MmapOffset + mm.ChunkSize;
            if (realUsable + 16 > mapping)
                return $"mmapped memalign chunk: glibc usable {realUsable} exceeds the model's mapping {mapping}";
            ulong lead = mapping - realUsable - 16;
            bool ok = lead < alignment + 32 && (real - 16 - lead) % PageSize == 0;
            return ok ? null : $"mmapped memalign chunk: glibc usable {realUsable} does not fit a {mapping}-byte mapping";
        }
        if (realUsable != myUsable)
            return $"usable size glibc {realUsable}, model {myUsable} (glibc 0x{real:x}, model 0x{mine:x})";
        var info = model.Classify(mine);
        bool realInBrkHeap = real >= brk0 && real - brk0 < (1UL << 36);
        switch (info.Region)
        {
            case AddressRegion.MainHeap:
                return realInBrkHeap && real == mine ? null : $"glibc 0x{real:x} (brk0+0x{real - brk0:x}), model 0x{mine:x} (brk0+0x{mine - brk0:x})";
            case AddressRegion.Mmapped:
                return realInBrkHeap ? $"glibc heap chunk brk0+0x{real - brk0:x}, model mmapped" : null;
            case AddressRegion.ArenaHeap:
                if (realInBrkHeap || (real & (HeapMaxSize - 1)) != (mine & (HeapMaxSize - 1)))
                    return $"arena chunk: glibc 0x{real:x}, model 0x{mine:x} (arena {info.ArenaIndex} heap {info.HeapIndex} offset 0x{info.Offset:x})";
                ulong rb = real & ~(HeapMaxSize - 1), mb = mine & ~(HeapMaxSize - 1);
                if (realHeapToModel.TryGetValue(rb, out var known) && known != mb)
                    return $"arena chunk 0x{real:x} lies in a heap glibc used for another model heap";
                realHeapToModel[rb] = mb;
                return null;
            default:
                return $"model pointer 0x{mine:x} not classified";
        }
    }
}
