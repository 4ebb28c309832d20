using System.Globalization;
using PtReplay.Replay.Preparation;
using PtReplay.Traces;

namespace PtReplay.Replay;

/// <summary>
/// A trace file opened for replay: its header, its events in global order, and the file-level
/// problems met while reading (truncated: reported; corrupt: the events before the damage are
/// replayed and the damage is reported), which the replay treats under the same skip/strict policy
/// as bad events.
/// </summary>
public sealed class TraceInput : IDisposable
{
    private readonly TraceReader _reader;
    private readonly List<TraceIssue> _issues = [];

    private TraceInput(TraceReader reader) => _reader = reader;

    /// <summary>Opens a trace; throws <see cref="TraceCorruptException"/> for a damaged header, <see cref="FileNotFoundException"/>.</summary>
    public static TraceInput Open(string path) => new(TraceReader.Open(path));

    /// <summary>The recorded process's header.</summary>
    public TraceHeader Header => _reader.Header;

    /// <summary>Problems of the file itself, complete once <see cref="Events"/> has been enumerated.</summary>
    public IReadOnlyList<TraceIssue> Issues => _issues;

    /// <summary>The events; stops early (with an issue) at a damaged block.</summary>
    public IEnumerable<AllocEvent> Events()
    {
        var batch = new AllocEvent[4096];
        while (true)
        {
            int n;
            try
            {
                n = _reader.ReadBatch(batch);
            }
            catch (TraceCorruptException ex)
            {
                _issues.Add(new TraceIssue(ex.EventIndex >= 0 ? ex.EventIndex : _reader.EventsRead, TraceIssueKind.Corrupt,
                    string.Create(CultureInfo.InvariantCulture,
                        $"trace damaged at byte {ex.ByteOffset} ({ex.Problem}); the events before it are replayed")));
                yield break;
            }

            if (n == 0)
            {
                break;
            }

            for (int i = 0; i < n; i++)
            {
                yield return batch[i];
            }
        }

        if (_reader.IsTruncated)
        {
            _issues.Add(new TraceIssue(_reader.EventsRead, TraceIssueKind.Truncated, string.Create(CultureInfo.InvariantCulture,
                $"trace is truncated at byte {_reader.TruncatedAtOffset} (the recorded program did not exit normally); its {_reader.EventsRead} events are replayed")));
        }
    }

    /// <inheritdoc />
    public void Dispose() => _reader.Dispose();
}
