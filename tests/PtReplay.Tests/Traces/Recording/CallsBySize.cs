using System.Globalization;
using PtReplay.Traces;

namespace PtReplay.Tests.Traces.Recording;

/// <summary>
/// The successful mallocs and the frees of a trace counted by the size the block was asked with (a free counts under
/// the size of the malloc that returned its pointer), for tests whose program counts its own calls by size, and the
/// reading of what such a program printed about them.
/// </summary>
internal static class CallsBySize
{
    public static (Dictionary<ulong, long> Mallocs, Dictionary<ulong, long> Frees) Count(TraceReader reader)
    {
        var live = new Dictionary<ulong, ulong>();
        var mallocs = new Dictionary<ulong, long>();
        var frees = new Dictionary<ulong, long>();
        foreach (AllocEvent e in reader.ReadAll())
        {
            if (e.Kind == EventKind.Malloc && e.Result != 0)
            {
                live[e.Result] = e.Size;
                mallocs[e.Size] = mallocs.GetValueOrDefault(e.Size) + 1;
            }
            else if (e.Kind == EventKind.Free && live.Remove(e.Ptr, out ulong size))
            {
                frees[size] = frees.GetValueOrDefault(size) + 1;
            }
        }

        return (mallocs, frees);
    }

    /// <summary>The lines a test program printed (ASCII), empty ones dropped.</summary>
    public static string[] Lines(byte[] output) =>
        System.Text.Encoding.ASCII.GetString(output).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The numbers of a line in which a test program reports its own calls ("mallocs 12 frees 10 ..."), in order.</summary>
    public static long[] NumbersIn(string line) =>
        line.Split(' ').Where(f => char.IsDigit(f[0])).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
}
