using System.Diagnostics;
using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing.Parsers;

namespace PtReplay.Replay.GcProof;

/// <summary>
/// An EventPipe session on the own process, opened through the runtime's diagnostics port with
/// <see cref="DiagnosticsClient"/>: the runtime's GC events (keyword GC, Informational level: GCStart, GCStop, heap
/// statistics; never the Verbose allocation ticks) and the phase markers of <see cref="ReplayPhaseEvents"/>. The
/// runtime writes the events from native code; one dedicated thread copies the stream into a file with a buffer it
/// allocates once (its managed allocations while the session runs are measured and reported), and the file is read
/// with <see cref="GcWindowReader"/> after the session stopped. An in-process EventListener is no substitute: it
/// receives each event as a managed object, so it allocates inside the windows it watches.
/// Invariant: after <see cref="Start"/> returns, the phase markers are enabled (the session is live).
/// </summary>
public sealed class GcWindowSession : IDisposable
{
    /// <summary>The runtime's event provider (GC events).</summary>
    public const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";

    private readonly EventPipeSession _session;
    private readonly Thread _copier;
    private readonly string _path;
    private readonly FileStream _file;
    private long _copierAllocated;
    private Exception? _copyError;
    private bool _stopped;

    private GcWindowSession(EventPipeSession session, string path, FileStream file)
    {
        _session = session;
        _path = path;
        _file = file;
        _copier = new Thread(Copy) { IsBackground = true, Name = "gc-window events" };
        _copier.Start();
    }

    /// <summary>Environment variables that, set to 0, turn the runtime's diagnostics port off.</summary>
    private static readonly string[] DiagnosticsSwitches =
        ["DOTNET_EnableDiagnostics", "DOTNET_EnableDiagnostics_IPC", "COMPlus_EnableDiagnostics", "COMPlus_EnableDiagnostics_IPC"];

    /// <summary>The providers of the session.</summary>
    public static IReadOnlyList<EventPipeProvider> Providers { get; } =
    [
        new(RuntimeProvider, EventLevel.Informational, (long)ClrTraceEventParser.Keywords.GC),
        new(ReplayPhaseEvents.SourceName, EventLevel.Informational),
    ];

    /// <summary>
    /// Opens the session and starts copying its events to <paramref name="nettracePath"/>; returns once the phase
    /// markers are enabled. Throws <see cref="InvalidOperationException"/> (with the reason) when the runtime's
    /// diagnostics port cannot be reached (DOTNET_EnableDiagnostics=0, no writable temporary folder).
    /// </summary>
    public static GcWindowSession Start(string nettracePath)
    {
        foreach (string variable in DiagnosticsSwitches)
        {
            if (Environment.GetEnvironmentVariable(variable) == "0")
            {
                throw new InvalidOperationException(
                    $"the runtime's diagnostics port is off ({variable}=0): unset it to open an EventPipe session on this process");
            }
        }

        // The instance exists (and is registered with the runtime) before the session enables it.
        _ = ReplayPhaseEvents.Log.Name;
        EventPipeSession session;
        try
        {
            var client = new DiagnosticsClient(Environment.ProcessId);
            session = client.StartEventPipeSession(Providers, requestRundown: false, circularBufferMB: 64);
        }
        catch (Exception ex) when (ex is ServerNotAvailableException or DiagnosticsClientException or IOException or TimeoutException
                                       or UnauthorizedAccessException)
        {
            throw new InvalidOperationException(
                $"cannot open an EventPipe session on this process through the runtime's diagnostics port: {ex.Message}", ex);
        }

        var file = new FileStream(nettracePath, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        var started = new GcWindowSession(session, nettracePath, file);
        var wait = Stopwatch.StartNew();
        while (!ReplayPhaseEvents.Log.IsEnabled())
        {
            if (wait.Elapsed > TimeSpan.FromSeconds(10))
            {
                started.Dispose();
                throw new InvalidOperationException($"the EventPipe session did not enable {ReplayPhaseEvents.SourceName} within 10 s");
            }

            Thread.Sleep(1);
        }

        return started;
    }

    /// <summary>Stops the session, waits until every event is in the file and reads it.</summary>
    public GcWindowReport Stop()
    {
        StopSession();
        if (_copyError is not null)
        {
            throw new InvalidOperationException($"copying the EventPipe stream to {_path} failed: {_copyError.Message}", _copyError);
        }

        return GcWindowReader.Read(_path) with { CopierAllocatedBytes = _copierAllocated };
    }

    /// <summary>Stops the session if it still runs and deletes its file.</summary>
    public void Dispose()
    {
        StopSession();
        _session.Dispose();
        File.Delete(_path);
    }

    private void StopSession()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        try
        {
            _session.Stop();
        }
        catch (Exception ex) when (ex is ServerNotAvailableException or IOException or TimeoutException)
        {
            // Closing the connection ends the stream; what reached the file is read as it is.
            _copyError ??= ex;
            _session.Dispose();
        }

        _copier.Join();
        _file.Dispose();
    }

    /// <summary>The copier thread: the stream into the file until the runtime closes it.</summary>
    private void Copy()
    {
        var buffer = new byte[1 << 16];
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            Stream stream = _session.EventStream;
            int n;
            while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                _file.Write(buffer, 0, n);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            _copyError = ex;
        }

        _copierAllocated = GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
