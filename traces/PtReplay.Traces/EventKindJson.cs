using System.Text.Json;

namespace PtReplay.Traces;

/// <summary>
/// The JSON form of per-kind figures, one for every output that lists them (`ptreplay info --json`'s
/// counts and markers, summary.json's counts): an object keyed by each kind's C name
/// (<see cref="EventKinds.CName"/>), in the order given, zeros included, so scripts can rely on every key.
/// </summary>
public static class EventKindJson
{
    /// <summary>Writes <c>"propertyName": { "malloc": n, "calloc": n, ... }</c> with n = <paramref name="count"/>(kind).</summary>
    public static void WriteCounts(Utf8JsonWriter writer, string propertyName, IEnumerable<EventKind> kinds, Func<EventKind, long> count)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(kinds);
        ArgumentNullException.ThrowIfNull(count);
        writer.WriteStartObject(propertyName);
        foreach (EventKind kind in kinds)
        {
            writer.WriteNumber(kind.CName(), count(kind));
        }

        writer.WriteEndObject();
    }
}
