using System.Text;
using PtReplay.Allocator.Arenas;
using PtReplay.Allocator.Bins;
using PtReplay.Allocator.Chunks;

namespace PtReplay.Allocator.Diagnostics;

/// <summary>Human-readable state for divergence reports: the arena's top, non-empty bins, and chunks around an address.</summary>
internal static class StateDump
{
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
        if (userPtr != 0 && a.IsMain && userPtr > s.Space.Brk0 && userPtr < s.Space.Brk)
        {
            ulong start = s.Mp.SbrkBase + ((16 - ((s.Mp.SbrkBase + 16) & 15)) & 15);
            ulong target = Chunk.FromMem(userPtr);
            var window = new Queue<ulong>();
            ulong p = start;
            while (p < a.Top && p < target)
            {
                window.Enqueue(p);
                if (window.Count > 3)
                    window.Dequeue();
                ulong sz = m.ChunkSize(p);
                if (sz == 0)
                    break;
                p += sz;
            }
            for (int k = 0; k < 4 && p <= a.Top; k++)
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
                Ptmalloc.AppendHex(sb, m.ChunkSize(c)).Append(m.InUse(c) || c == a.Top ? "" : " free").Append(c == a.Top ? " (top)" : "").Append('\n');
            }
        }
        return sb.ToString();
    }
}
