using System.Globalization;
using PtReplay.Results.HeapMaps;
using ScottPlot;

namespace PtReplay.Reports.Plots;

/// <summary>
/// Draws a <see cref="HeapMapFile"/>: one horizontal band per heap (arena and start address on the left), x = offset
/// from the heap's start in MiB, the band's height split by the share of each chunk state in each address bucket.
/// Each (heap, state) with bytes is one filled polygon over the buckets, never one shape per chunk, so the picture
/// costs the same for a 1 GiB heap as for a small one. Mmapped chunks are not drawn (the text and JSON count them).
/// </summary>
public static class HeapMapPlot
{
    /// <summary>Width in pixels.</summary>
    public const int Width = 1400;

    /// <summary>Colour of each state, by its name in <see cref="HeapMapFile.States"/>.</summary>
    public static IReadOnlyDictionary<string, string> StateColors { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["in_use"] = "#1f77b4",
        ["tcache"] = "#17becf",
        ["fastbin"] = "#9467bd",
        ["unsorted"] = "#ff7f0e",
        ["small_bin"] = "#bcbd22",
        ["large_bin"] = "#d62728",
        ["top"] = "#c7c7c7",
        ["fencepost"] = "#7f7f7f",
    };

    /// <summary>Height in pixels for <paramref name="heaps"/> bands.</summary>
    public static int Height(int heaps) => 160 + (60 * Math.Max(1, heaps));

    /// <summary>The plot of the heaps of <paramref name="map"/>.</summary>
    public static Plot Create(HeapMapFile map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var plot = new Plot();
        var legendDone = new HashSet<string>(StringComparer.Ordinal);
        var positions = new List<double>();
        var labels = new List<string>();
        int row = 0;
        foreach (HeapMapArena arena in map.Arenas)
        {
            foreach (HeapMapHeap heap in arena.Heaps)
            {
                double baseY = row;
                HeapMapBuckets b = heap.Buckets;
                int n = b.Bytes.Count == 0 ? 0 : b.Bytes[0].Count;
                var lower = new double[n];
                for (int s = 0; s < b.Bytes.Count && s < map.States.Count; s++)
                {
                    IReadOnlyList<ulong> bytes = b.Bytes[s];
                    if (bytes.All(v => v == 0))
                    {
                        continue;
                    }

                    var xs = new double[2 * n];
                    var y1 = new double[2 * n];
                    var y2 = new double[2 * n];
                    for (int i = 0; i < n; i++)
                    {
                        double width = Math.Min(b.BucketBytes, (heap.End - heap.Start) - ((ulong)i * b.BucketBytes));
                        double share = 0.8 * bytes[i] / width;
                        xs[2 * i] = (double)i * b.BucketBytes / 1048576.0;
                        xs[(2 * i) + 1] = ((double)i * b.BucketBytes + width) / 1048576.0;
                        y1[2 * i] = y1[(2 * i) + 1] = baseY + 0.1 + lower[i];
                        y2[2 * i] = y2[(2 * i) + 1] = baseY + 0.1 + lower[i] + share;
                        lower[i] += share;
                    }

                    string state = map.States[s];
                    var fill = plot.Add.FillY(xs, y1, y2);
                    fill.FillColor = Color.FromHex(StateColors.GetValueOrDefault(state, "#000000"));
                    fill.LineWidth = 0;
                    if (legendDone.Add(state))
                    {
                        fill.LegendText = state;
                    }
                }

                positions.Add(baseY + 0.5);
                labels.Add(string.Create(CultureInfo.InvariantCulture, $"arena {arena.Arena} {heap.Kind}\n0x{heap.Start:x}"));
                row++;
            }
        }

        plot.Axes.Left.SetTicks([.. positions], [.. labels]);
        plot.Axes.SetLimitsY(0, Math.Max(1, row));
        plot.Title(map.At.StartsWith("op ", StringComparison.Ordinal)
            ? string.Create(CultureInfo.InvariantCulture, $"heap map after op {map.Ops} of {map.TotalOps}")
            : string.Create(CultureInfo.InvariantCulture, $"heap map at {map.At} (op {map.Ops} of {map.TotalOps})"));
        plot.XLabel("offset from the heap's first chunk (MiB)");
        plot.ShowLegend(Edge.Right); // outside the data area: the legend never covers a line
        return plot;
    }

    /// <summary>SVG text of the map.</summary>
    public static string Svg(HeapMapFile map) => Create(map).GetSvgXml(Width, Height(map.Arenas.Sum(a => a.Heaps.Count)));

    /// <summary>Writes a PNG of the map to <paramref name="path"/>.</summary>
    public static void SavePng(HeapMapFile map, string path) => Create(map).SavePng(path, Width, Height(map.Arenas.Sum(a => a.Heaps.Count)));
}
