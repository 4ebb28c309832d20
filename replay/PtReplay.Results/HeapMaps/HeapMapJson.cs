using System.Text.Json;
using System.Text.Json.Serialization;

namespace PtReplay.Results.HeapMaps;

/// <summary>Source-generated JSON of heapmap.json (snake_case names).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(HeapMapFile))]
[JsonSerializable(typeof(HeapTimelineFile))]
internal sealed partial class HeapMapJsonContext : JsonSerializerContext;

/// <summary>Writes and reads <see cref="HeapMapFile"/>.</summary>
public static class HeapMapJson
{
    /// <summary>The JSON text of <paramref name="map"/>.</summary>
    public static string Serialize(HeapMapFile map) => JsonSerializer.Serialize(map, HeapMapJsonContext.Default.HeapMapFile);

    /// <summary>The JSON text of <paramref name="timeline"/>.</summary>
    public static string Serialize(HeapTimelineFile timeline) => JsonSerializer.Serialize(timeline, HeapMapJsonContext.Default.HeapTimelineFile);

    /// <summary>Parses a heap timeline; throws <see cref="JsonException"/> on malformed text.</summary>
    public static HeapTimelineFile DeserializeTimeline(string json) =>
        JsonSerializer.Deserialize(json, HeapMapJsonContext.Default.HeapTimelineFile) ?? throw new JsonException("heap timeline is null");

    /// <summary>Parses heapmap.json; throws <see cref="JsonException"/> on malformed text.</summary>
    public static HeapMapFile Deserialize(string json) =>
        JsonSerializer.Deserialize(json, HeapMapJsonContext.Default.HeapMapFile) ?? throw new JsonException("heapmap.json is null");
}
