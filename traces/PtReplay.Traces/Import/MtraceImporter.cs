namespace PtReplay.Traces.Import;

/// <summary>
/// Converts an mtrace file into a PtReplay trace (what `ptreplay import-mtrace` does).
/// <para>Mapping: "+" → malloc(SIZE) = PTR (mtrace cannot tell calloc or the aligned calls apart, so every
/// allocation becomes malloc of the bytes mtrace printed; a "(nil)" result becomes a failed malloc); "-" → free;
/// "&lt;"/"&gt;" → realloc(OLD, SIZE) = NEW; "!" → realloc(OLD, SIZE) = NULL. "= Start"/"= End" are dropped.
/// mtrace has neither clock nor threads: the trace has one thread (tid 1) and event i gets timestamp i ns
/// (line order); the header names the clock "mtrace-line-order".</para>
/// </summary>
public static class MtraceImporter
{
    /// <summary>The thread id given to every imported event.</summary>
    public const int ImportedTid = 1;

    /// <summary>Converts <paramref name="mtracePath"/> to a complete trace at <paramref name="outTrace"/>; returns the number of events written.</summary>
    public static long Import(string mtracePath, string outTrace, TraceWriterOptions? options = null)
    {
        var header = new TraceHeader
        {
            RecorderVersion = "ptreplay import-mtrace",
            ExecutablePath = "",
            Argv = [Path.GetFullPath(mtracePath)],
            ClockName = "mtrace-line-order",
            ClockResolutionNs = 1,
        };
        string temp = outTrace + ".tmp";
        long written = 0;
        try
        {
            using (TraceWriter writer = TraceWriter.Create(temp, header, options))
            {
                writer.DeclareThread(0, ImportedTid);
                foreach (MtraceRecord r in MtraceParser.ParseFile(mtracePath))
                {
                    if (ToEvent(r, written) is { } e)
                    {
                        writer.Write(e);
                        written++;
                    }
                }

                writer.Complete();
            }

            File.Move(temp, outTrace, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }

        return written;
    }

    /// <summary>The trace event for one record (thread 0, timestamp <paramref name="timestamp"/>), or null for Start/End.</summary>
    public static AllocEvent? ToEvent(in MtraceRecord r, long timestamp) => r.Kind switch
    {
        MtraceRecordKind.Allocate => new AllocEvent { Kind = EventKind.Malloc, Size = r.Size, Count = 1, Result = r.Result, Timestamp = timestamp },
        MtraceRecordKind.Free => new AllocEvent { Kind = EventKind.Free, Ptr = r.Ptr, Timestamp = timestamp },
        MtraceRecordKind.Realloc => new AllocEvent { Kind = EventKind.Realloc, Ptr = r.Ptr, Size = r.Size, Count = 1, Result = r.Result, Timestamp = timestamp },
        MtraceRecordKind.ReallocFailed => new AllocEvent { Kind = EventKind.Realloc, Ptr = r.Ptr, Size = r.Size, Count = 1, Result = 0, Timestamp = timestamp },
        _ => null,
    };
}
