using System.Text.Json.Serialization;

namespace PtReplay.Results;

/// <summary>Source-generated JSON metadata of summary.json and sweep.json (snake_case names, nulls left out).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(ReplaySummary))]
[JsonSerializable(typeof(SweepResults))]
internal sealed partial class ResultsJsonContext : JsonSerializerContext;
