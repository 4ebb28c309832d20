using System.Diagnostics;
using System.Globalization;

namespace PtReplay.Cli.Commands;

/// <summary>Progress on stderr for long trace work: "pack: 12,000,000 events" at most twice a second, only on a terminal.</summary>
internal sealed class ProgressLine(string verb) : IProgress<long>
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _enabled = !Console.IsErrorRedirected;
    private long _lastMs = 1000;
    private bool _shown;

    public void Report(long value)
    {
        if (!_enabled || _clock.ElapsedMilliseconds < _lastMs + 500)
        {
            return;
        }

        _lastMs = _clock.ElapsedMilliseconds;
        _shown = true;
        Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\r{verb}: {value:N0} events, {_clock.Elapsed.TotalSeconds:F0} s   "));
    }

    public void Done()
    {
        if (_shown)
        {
            Console.Error.Write("\r" + new string(' ', 60) + "\r");
        }
    }
}
