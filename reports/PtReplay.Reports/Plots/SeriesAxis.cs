using PtReplay.Results;

namespace PtReplay.Reports.Plots;

/// <summary>What the x axis of the report's time series counts.</summary>
public enum SeriesAxis
{
    /// <summary>The replay's call index (op position): what each engine was given, the same for all.</summary>
    Calls,
    /// <summary>The recorded time of that call, in seconds since the trace's start: pauses of the program show as flat stretches.</summary>
    RecordedTime,
}

/// <summary>Places samples on a <see cref="SeriesAxis"/>.</summary>
public static class SeriesAxes
{
    /// <summary>
    /// The axis to draw: recorded time only when every row has one (series written before the column existed have
    /// none; they are drawn by call index).
    /// </summary>
    public static SeriesAxis Usable(SeriesAxis wanted, IEnumerable<SeriesRow> rows) =>
        wanted == SeriesAxis.RecordedTime && rows.All(r => r.TimestampNs is not null) ? SeriesAxis.RecordedTime : SeriesAxis.Calls;

    /// <summary>The x value of a sample after op <paramref name="seq"/> recorded at <paramref name="timestampNs"/>.</summary>
    public static double X(SeriesAxis axis, long seq, long? timestampNs) =>
        axis == SeriesAxis.RecordedTime ? (timestampNs ?? 0) / 1e9 : seq;

    /// <summary>The axis label.</summary>
    public static string Label(SeriesAxis axis) => axis == SeriesAxis.RecordedTime ? "recorded time (s)" : "call index";
}
