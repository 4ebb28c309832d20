using System.Text;
using PtReplay.Allocator.Arenas;
using PtReplay.Allocator.Bins;
using PtReplay.Allocator.Chunks;

namespace PtReplay.Allocator.Diagnostics;

/// <summary>Human-readable state for divergence reports: the arena's top, non-empty bins, and chunks around an address.</summary>
internal static class StateDump
{
    /// <summary>The first chunk and the walk limit of the heap region holding chunk <paramref name="p"/>, if any.</summary>
    private static (ulong Start, ulong End)? FirstChunkOfRegion(MallocState s, Arena a, ulong p)
    {
        if (a.IsMain)
        {
            if (p < s.Space.Brk0 || p >= s.Space.Brk || s.Mp.SbrkBase == 0)
                return null;
            ulong start = s.Mp.SbrkBase + ((16 - ((s.Mp.SbrkBase + 16) & 15)) & 15);
            return (start, a.Top);
        }
        if (!s.Heaps.TryGetValue(p & ~(HeapInfo.MaxSize - 1), out var h))
            return null;
        ulong first = h.Index == 0 ? a.StateAddress + Arena.StateSize : h.Base + HeapInfo.HeaderSize;
        first += (16 - ((first + 16) & 15)) & 15;
        ulong end = (a.Top & ~(HeapInfo.MaxSize - 1)) == h.Base ? a.Top : h.Base + h.Size;
        return (first, end);
    }

    public static string Describe(MallocState s, ulong userPtr)
    {
        var m = s.M;
        var sb = new StringBuilder();
        Arena a = s.Main;
        if (userPtr != 0 && !s.M.IsMainArenaChunk(Chunk.FromMem(userPtr)) && s.Heaps.TryGetValue(Chunk.FromMem(userPtr) & ~(HeapInfo.MaxSize - 1), out var heap))
            a = heap.Arena;
        sb.Append("arena ").Append(a.CreationIndex).Append(": top ");
        Ptmalloc.AppendHex(sb, a.Top).Append(" size ");
        Ptmalloc.AppendHex(sb, m.ChunkSize(a.Top)).Append(", system_mem ");
        Ptmalloc.AppendHex(sb, a.SystemMem).Append(", brk ");
        Ptmalloc.AppendHex(sb, s.Space.Brk).Append('\n');
        for (int i = 0; i < BinIndex.NFastBins; i++)
        {
            if (a.FastbinsY[i] == 0)
                continue;
            sb.Append("  fastbin[").Append(i).Append("]:");
            int n = 0;
            for (ulong p = a.FastbinsY[i]; p != 0 && n < 8; p = m.ReadProtected(p + 16), n++)
                Ptmalloc.AppendHex(sb.Append(' '), p);
            sb.Append('\n');
        }
        for (int i = 1; i < BinIndex.NBins; i++)
        {
            ulong bin = a.BinAt(i);
            if (m.Fd(bin) == bin)
                continue;
            sb.Append(i == 1 ? "  unsorted:" : $"  bin[{i}]:");
            int n = 0;
            for (ulong p = m.Fd(bin); p != bin && n < 8; p = m.Fd(p), n++)
            {
                Ptmalloc.AppendHex(sb.Append(' '), p).Append('/');
                Ptmalloc.AppendHex(sb, m.ChunkSize(p));
            }
            sb.Append('\n');
        }
        if (s.Current.Tcache is { } tc)
        {
            for (int i = 0; i < Tcache.MaxBins; i++)
                if (tc.Counts[i] > 0)
                    sb.Append("  tcache[").Append(i).Append("] count ").Append(tc.Counts[i]).Append('\n');
        }
        if (userPtr != 0 && FirstChunkOfRegion(s, a, Chunk.FromMem(userPtr)) is { } region)
        {
            ulong target = Chunk.FromMem(userPtr);
            var window = new Queue<ulong>();
            ulong p = region.Start;
            while (p < region.End && p < target)
            {
                window.Enqueue(p);
                if (window.Count > 3)
                    window.Dequeue();
                ulong sz = m.ChunkSize(p);
                if (sz == 0)
                    break;
                p += sz;
            }
            for (int k = 0; k < 4 && p <= region.End; k++)
            {
                window.Enqueue(p);
                if (p == a.Top)
                    break;
                ulong sz = m.ChunkSize(p);
                if (sz == 0)
                    break;
                p += sz;
            }
            sb.Append("  chunks near ");
            Ptmalloc.AppendHex(sb, userPtr).Append(":\n");
            foreach (var c in window)
            {
                sb.Append("    ");
                Ptmalloc.AppendHex(sb, c).Append(" size ");
                Ptmalloc.AppendHex(sb, m.ChunkSize(c)).Append(m.InUse(c) || c == a.Top ? "" : " free").Append(c == a.Top ? " (top)" : "").Append(c == target ? "  <- this block" : "").Append('\n');
            }
        }
        else if (userPtr != 0 && s.M.IsMmappedChunk(Chunk.FromMem(userPtr)))
        {
            sb.Append("  ");
            Ptmalloc.AppendHex(sb, userPtr).Append(": mmapped chunk of ");
            Ptmalloc.AppendHex(sb, m.ChunkSize(Chunk.FromMem(userPtr))).Append(" bytes\n");
        }
        return sb.ToString();
    }
}
