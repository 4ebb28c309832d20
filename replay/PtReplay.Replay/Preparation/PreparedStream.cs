using PtReplay.Traces;

namespace PtReplay.Replay.Preparation;

/// <summary>
/// One engine run over a streamed prepared file: a thread of this process prepares the trace's events a second time
/// (after the planning pass, <see cref="TracePreparer.Plan"/>) and writes each op to the file while the engine replays
/// it (<see cref="PreparedStreamWriter"/>). Usage: <c>using var s = PreparedStream.Start(...); run the engine on
/// plan.Path; string? error = s.Finish();</c> The file is deleted on dispose.
/// </summary>
internal sealed class PreparedStream : IDisposable
{
    private readonly PreparedStreamWriter _writer;
    private readonly PreparedTrace _plan;
    private readonly PreparationOptions _tables;
    private readonly Func<IEnumerable<AllocEvent>> _events;
    private readonly Thread _thread;
    private Exception? _error;

    private PreparedStream(PreparedTrace plan, PreparationOptions tables, long window, Func<IEnumerable<AllocEvent>> events)
    {
        _plan = plan;
        _tables = tables;
        _events = events;
        _writer = new PreparedStreamWriter(plan.Path, plan, tables, window);
        _thread = new Thread(Produce) { IsBackground = true, Name = "ptreplay-prepare" };
    }

    /// <summary>Creates the file of <paramref name="plan"/> (at its path) and starts writing it from <paramref name="events"/>.</summary>
    public static PreparedStream Start(PreparedTrace plan, PreparationOptions tables, long window, Func<IEnumerable<AllocEvent>> events)
    {
        var stream = new PreparedStream(plan, tables, window, events);
        stream._thread.Start();
        return stream;
    }

    /// <summary>The most disk the file held (bytes), as its writer measured it.</summary>
    public long AllocatedHighWater => _writer.AllocatedHighWater;

    /// <summary>The window (ops written ahead of the reader at most).</summary>
    public long Window => _writer.Window;

    /// <summary>
    /// After the engine: stops a writer still waiting for it (the engine ended early) and waits for the writer. Returns
    /// why the writing failed, or null.
    /// </summary>
    public string? Finish()
    {
        _writer.Cancel();
        _thread.Join();
        return _error is null ? null : $"the preparation's second pass failed: {_error.Message}";
    }

    private void Produce()
    {
        try
        {
            using var preparer = TracePreparer.Streaming(_tables, _writer);
            foreach (var (e, index) in preparer.InReplayOrder(_events()))
            {
                preparer.Add(in e, index);
            }

            PreparedTrace again = preparer.Finish();
            if (again.OpCount != _plan.OpCount)
            {
                throw new InvalidDataException($"the trace gave {again.OpCount} ops the second time, {_plan.OpCount} the first");
            }
        }
        catch (OperationCanceledException)
        {
            // The engine stopped before the end: nothing more to write.
        }
        catch (Exception ex)
        {
            // Whatever stopped the writer, the reader must not wait for ever: it finds the abort mark and stops.
            _error = ex;
            _writer.Abort();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _writer.Dispose();
        File.Delete(_plan.Path);
    }
}
