using System.Text.Json;
using PtReplay.Replay.Sim;

namespace PtReplay.Replay.Output;

/// <summary>
/// summary.json <c>options.sim_preamble</c>:
/// <code>
/// { "mode": "auto" | "none" | "bytes", "bytes": 3040, "source": "glibc_run" | "probe" | "single_thread" | "explicit" |
///   "none" | "unavailable" | "sim_not_run", "setup_heap_bytes": 3696 (when measured), "reason": "..." }
/// </code>
/// <c>bytes</c> is the chunk the model allocated on thread 0 before the first op (0 = none).
/// </summary>
public static class SimPreambleJson
{
    /// <summary>Writes the object as property <c>sim_preamble</c> of the current object.</summary>
    public static void Write(Utf8JsonWriter w, SimPreambleDecision decision)
    {
        w.WriteStartObject("sim_preamble");
        w.WriteString("mode", decision.ModeName);
        w.WriteNumber("bytes", decision.Bytes);
        w.WriteString("source", decision.SourceName);
        if (decision.SetupHeapBytes is ulong setup)
        {
            w.WriteNumber("setup_heap_bytes", setup);
        }

        w.WriteString("reason", decision.Reason);
        w.WriteEndObject();
    }
}
