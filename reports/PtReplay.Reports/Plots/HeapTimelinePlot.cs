using System.Globalization;
using PtReplay.Results.HeapMaps;
using ScottPlot;

namespace PtReplay.Reports.Plots;

/// <summary>
/// Draws a <see cref="HeapTimelineFile"/>: one band per heap, x = time (the moment's op), y = offset in the heap (its start
/// at the bottom), each cell coloured by the chunk state holding the most bytes there (the colours of
/// <see cref="HeapMapPlot.StateColors"/>), white where the heap did not reach. One heatmap per heap, so the cost does not
/// depend on the number of chunks.
/// </summary>
public static class HeapTimelinePlot
{
    /// <summary>Width in pixels.</summary>
    public const int Width = 1400;

    /// <summary>Height in pixels for <paramref name="panels"/> bands.</summary>
    public static int Height(int panels) => 140 + (180 * Math.Max(1, panels));

    /// <summary>The plot of <paramref name="timeline"/>.</summary>
    public static Plot Create(HeapTimelineFile timeline)
    {
        ArgumentNullException.ThrowIfNull(timeline);
        var plot = new Plot();
        var colormap = new StateColormap(timeline.States);
        int moments = timeline.Moments.Count;
        var positions = new List<double>();
        var labels = new List<string>();
        for (int p = 0; p < timeline.Panels.Count; p++)
        {
            HeapTimelinePanel panel = timeline.Panels[p];
            int buckets = panel.Cells.Count == 0 ? 0 : panel.Cells[0].Count;
            if (buckets == 0 || moments == 0)
            {
                continue;
            }

            // Intensities[row, column]: row 0 is drawn at the top, so the heap's start is the last row.
            var values = new double[buckets, moments];
            for (int m = 0; m < moments; m++)
            {
                for (int b = 0; b < buckets; b++)
                {
                    int s = panel.Cells[m][b];
                    values[buckets - 1 - b, m] = s < 0 ? double.NaN : s;
                }
            }

            double bottom = timeline.Panels.Count - 1 - p;
            var heatmap = plot.Add.Heatmap(values);
            heatmap.Colormap = colormap;
            heatmap.ManualRange = new ScottPlot.Range(0, Math.Max(1, timeline.States.Count - 1));
            heatmap.NaNCellColor = Colors.White;
            heatmap.Rectangle = new CoordinateRect(0, moments, bottom, bottom + 0.92);
            positions.Add(bottom + 0.46);
            labels.Add(string.Create(CultureInfo.InvariantCulture,
                $"arena {panel.Arena} {panel.Kind}\n0x{panel.Start:x}\n{panel.SpanBytes / 1048576.0:0.##} MiB"));
        }

        // Legend: one marker per state, off the data.
        foreach (string state in timeline.States)
        {
            var marker = plot.Add.Marker(-10, -10);
            marker.Color = Color.FromHex(HeapMapPlot.StateColors.GetValueOrDefault(state, "#000000"));
            marker.Size = 10;
            marker.MarkerShape = MarkerShape.FilledSquare;
            marker.LegendText = state;
        }

        plot.Axes.Left.SetTicks([.. positions], [.. labels]);
        if (moments > 1)
        {
            var ticks = new List<double>();
            var tickLabels = new List<string>();
            for (int i = 0; i <= 5; i++)
            {
                int m = Math.Min(moments - 1, i * (moments - 1) / 5);
                ticks.Add(m + 0.5);
                tickLabels.Add(TimeLabel(timeline, m));
            }

            plot.Axes.Bottom.SetTicks([.. ticks], [.. tickLabels]);
        }

        plot.Axes.SetLimitsX(0, Math.Max(1, moments));
        plot.Axes.SetLimitsY(0, Math.Max(1, timeline.Panels.Count));
        string leftOut = timeline.PanelsLeftOut > 0 ? string.Create(CultureInfo.InvariantCulture, $"; {timeline.PanelsLeftOut} heap(s) not drawn") : "";
        plot.Title(string.Create(CultureInfo.InvariantCulture,
            $"heap over time: {timeline.TotalOps:N0} ops, {moments} moments; each cell shows the state holding the most bytes{leftOut}"));
        plot.XLabel(timeline.MomentTimesNs.Count == moments ? "op (recorded time)" : "op");
        plot.YLabel("offset in heap");
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    /// <summary>SVG text of the timeline.</summary>
    public static string Svg(HeapTimelineFile timeline) => Create(timeline).GetSvgXml(Width, Height(timeline.Panels.Count));

    /// <summary>Writes a PNG of the timeline to <paramref name="path"/>.</summary>
    public static void SavePng(HeapTimelineFile timeline, string path) => Create(timeline).SavePng(path, Width, Height(timeline.Panels.Count));

    private static string TimeLabel(HeapTimelineFile t, int m)
    {
        string op = t.Moments[m].ToString("N0", CultureInfo.InvariantCulture);
        return t.MomentTimesNs.Count == t.Moments.Count ? string.Create(CultureInfo.InvariantCulture, $"{op}\n{t.MomentTimesNs[m] / 1e9:0.###} s") : op;
    }

    /// <summary>Maps a state index (scaled to 0..1 by the heatmap) to the state's colour.</summary>
    private sealed class StateColormap(IReadOnlyList<string> states) : IColormap
    {
        public string Name => "chunk states";

        public Color GetColor(double normalizedIntensity)
        {
            if (double.IsNaN(normalizedIntensity) || states.Count == 0)
            {
                return Colors.White;
            }

            int i = (int)Math.Round(Math.Clamp(normalizedIntensity, 0, 1) * (states.Count - 1));
            return Color.FromHex(HeapMapPlot.StateColors.GetValueOrDefault(states[i], "#000000"));
        }
    }
}
