using System.Globalization;
using System.Text;
using PtReplay.Allocator.Bins;
using PtReplay.Allocator.Chunks;

namespace PtReplay.Allocator.Diagnostics;

/// <summary>Produces the XML of glibc's malloc_info(0, fp): one &lt;heap&gt; per arena with size histograms (tcache not included).</summary>
internal static class MallocInfoWriter
{
    public static string Write(MallocState s)
    {
        var m = s.M;
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        sb.Append("<malloc version=\"1\">\n");
        ulong totalNblocks = 0, totalNfast = 0, totalAvail = 0, totalFastavail = 0, totalSystem = 0, totalMaxSystem = 0, totalAspace = 0, totalAspaceMprotect = 0;
        int n = 0;
        const int nsizes = BinIndex.NFastBins + BinIndex.NBins - 1;
        var from = new ulong[nsizes];
        var to = new ulong[nsizes];
        var total = new ulong[nsizes];
        var count = new ulong[nsizes];
        var a = s.Main;
        do
        {
            sb.Append(ci, $"<heap nr=\"{n++}\">\n<sizes>\n");
            ulong avail = m.ChunkSize(a.Top);
            ulong nblocks = 1, nfast = 0, fastavail = 0;
            for (int i = 0; i < BinIndex.NFastBins; i++)
            {
                ulong p = a.FastbinsY[i];
                if (p != 0)
                {
                    ulong nthis = 0, thissize = m.ChunkSize(p);
                    for (; p != 0; p = m.ReadProtected(p + 16))
                        nthis++;
                    fastavail += nthis * thissize;
                    nfast += nthis;
                    from[i] = thissize - (Chunk.Alignment - 1);
                    to[i] = thissize;
                    count[i] = nthis;
                }
                else
                {
                    from[i] = to[i] = count[i] = 0;
                }
                total[i] = count[i] * to[i];
            }
            for (int i = 1; i < BinIndex.NBins; i++)
            {
                int k = BinIndex.NFastBins - 1 + i;
                ulong bin = a.BinAt(i);
                from[k] = ulong.MaxValue;
                to[k] = total[k] = count[k] = 0;
                for (ulong r = m.Fd(bin); r != bin; r = m.Fd(r))
                {
                    ulong rs = m.SizeNoMask(r);
                    count[k]++;
                    total[k] += rs;
                    from[k] = Math.Min(from[k], rs);
                    to[k] = Math.Max(to[k], rs);
                }
                if (count[k] == 0)
                    from[k] = 0;
                nblocks += count[k];
                avail += total[k];
            }
            ulong heapSize = 0, heapMprotect = 0, heapCount = 0;
            if (!a.IsMain)
            {
                for (var h = s.HeapForPtr(a.Top); h is not null; h = h.Prev)
                {
                    heapSize += h.Size;
                    heapMprotect += h.MprotectSize;
                    heapCount++;
                }
            }
            totalNfast += nfast;
            totalFastavail += fastavail;
            totalNblocks += nblocks;
            totalAvail += avail;
            for (int i = 0; i < nsizes; i++)
                if (count[i] != 0 && i != BinIndex.NFastBins)
                    sb.Append(ci, $"  <size from=\"{from[i]}\" to=\"{to[i]}\" total=\"{total[i]}\" count=\"{count[i]}\"/>\n");
            if (count[BinIndex.NFastBins] != 0)
            {
                int u = BinIndex.NFastBins;
                sb.Append(ci, $"  <unsorted from=\"{from[u]}\" to=\"{to[u]}\" total=\"{total[u]}\" count=\"{count[u]}\"/>\n");
            }
            totalSystem += a.SystemMem;
            totalMaxSystem += a.MaxSystemMem;
            sb.Append(ci, $"</sizes>\n<total type=\"fast\" count=\"{nfast}\" size=\"{fastavail}\"/>\n<total type=\"rest\" count=\"{nblocks}\" size=\"{avail}\"/>\n<system type=\"current\" size=\"{a.SystemMem}\"/>\n<system type=\"max\" size=\"{a.MaxSystemMem}\"/>\n");
            if (!a.IsMain)
            {
                sb.Append(ci, $"<aspace type=\"total\" size=\"{heapSize}\"/>\n<aspace type=\"mprotect\" size=\"{heapMprotect}\"/>\n<aspace type=\"subheaps\" size=\"{heapCount}\"/>\n");
                totalAspace += heapSize;
                totalAspaceMprotect += heapMprotect;
            }
            else
            {
                sb.Append(ci, $"<aspace type=\"total\" size=\"{a.SystemMem}\"/>\n<aspace type=\"mprotect\" size=\"{a.SystemMem}\"/>\n");
                totalAspace += a.SystemMem;
                totalAspaceMprotect += a.SystemMem;
            }
            sb.Append("</heap>\n");
            a = a.Next!;
        }
        while (a != s.Main);
        var mp = s.Mp;
        sb.Append(ci, $"<total type=\"fast\" count=\"{totalNfast}\" size=\"{totalFastavail}\"/>\n");
        sb.Append(ci, $"<total type=\"rest\" count=\"{totalNblocks}\" size=\"{totalAvail}\"/>\n");
        sb.Append(ci, $"<total type=\"mmap\" count=\"{mp.NMmaps}\" size=\"{mp.MmappedMem}\"/>\n");
        sb.Append(ci, $"<system type=\"current\" size=\"{totalSystem}\"/>\n");
        sb.Append(ci, $"<system type=\"max\" size=\"{totalMaxSystem}\"/>\n");
        sb.Append(ci, $"<aspace type=\"total\" size=\"{totalAspace}\"/>\n");
        sb.Append(ci, $"<aspace type=\"mprotect\" size=\"{totalAspaceMprotect}\"/>\n");
        sb.Append("</malloc>\n");
        return sb.ToString();
    }
}
