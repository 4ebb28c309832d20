using System.Text.Json;
using System.Text.Json.Serialization;

namespace PtReplay.Results.Findings;

/// <summary>Source-generated JSON of findings.json (snake_case names).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(HeapFindingsFile))]
[JsonSerializable(typeof(SiteListFile))]
internal sealed partial class HeapFindingsJsonContext : JsonSerializerContext;

/// <summary>Writes and reads <see cref="HeapFindingsFile"/>.</summary>
public static class HeapFindingsJson
{
    /// <summary>The file name inside a replay's output folder.</summary>
    public const string FileName = "findings.json";

    /// <summary>The JSON text of <paramref name="findings"/>.</summary>
    public static string Serialize(HeapFindingsFile findings) => JsonSerializer.Serialize(findings, HeapFindingsJsonContext.Default.HeapFindingsFile);

    /// <summary>The JSON text of `info --sites --json`.</summary>
    public static string Serialize(SiteListFile sites) => JsonSerializer.Serialize(sites, HeapFindingsJsonContext.Default.SiteListFile);

    /// <summary>Parses the JSON of `info --sites --json`.</summary>
    public static SiteListFile DeserializeSites(string json) =>
        JsonSerializer.Deserialize(json, HeapFindingsJsonContext.Default.SiteListFile) ?? throw new JsonException("site list is null");

    /// <summary>Parses findings.json; throws <see cref="JsonException"/> on malformed text.</summary>
    public static HeapFindingsFile Deserialize(string json) =>
        JsonSerializer.Deserialize(json, HeapFindingsJsonContext.Default.HeapFindingsFile) ?? throw new JsonException("findings.json is null");
}
