using System.Diagnostics;
using System.Globalization;

namespace PtReplay.Cli.Commands;

/// <summary>
/// Progress of long work on stderr, the same for every verb. Work is a sequence of steps (prepare, then one per
/// engine; or one "info"/"pack"/"verify" step). On a terminal each step has one line, rewritten in place with a
/// carriage return at most ten times a second: percent (when the total is known), events per second and time left;
/// when the step ends the line shows 100 % and its final rate. Not on a terminal (a pipe, a file, a CI log) a step
/// prints a few plain lines: one at most every 10 seconds while it runs and one when it ends. No escape sequences
/// are written; nothing is printed for a step that ends within a second on a terminal.
/// Thread-safe: engines report from other threads.
/// </summary>
public sealed class ProgressDisplay : IDisposable
{
    private const long TerminalRedrawMs = 100;
    private const long PlainLineMs = 10_000;

    private readonly TextWriter _out;
    private readonly bool _terminal;
    private readonly Func<long> _milliseconds;
    private readonly Lock _lock = new();
    private Step? _current;
    private long _total;
    private int _lastWidth;

    /// <summary>Progress on the process's stderr; in-place lines when stderr is a terminal.</summary>
    public ProgressDisplay()
        : this(Console.Error, !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") is not "dumb")
    {
    }

    /// <summary>Progress on <paramref name="output"/>, drawn for a terminal or as plain lines.</summary>
    /// <param name="output">Where to write.</param>
    /// <param name="terminal">Rewrite one line per step in place (true) or print plain lines (false).</param>
    /// <param name="milliseconds">The clock, in ms from any start (default: a stopwatch started now).</param>
    public ProgressDisplay(TextWriter output, bool terminal, Func<long>? milliseconds = null)
    {
        _out = output;
        _terminal = terminal;
        if (milliseconds is null)
        {
            var clock = Stopwatch.StartNew();
            milliseconds = () => clock.ElapsedMilliseconds;
        }

        _milliseconds = milliseconds;
    }

    /// <summary>How many events the later fractional steps stand for (their events per second are computed from it).</summary>
    public void SetTotal(long events) => Interlocked.Exchange(ref _total, events);

    /// <summary>A count-only step (events done so far, total unknown); <see cref="Finish"/> or the next step ends it.</summary>
    public void Count(string step, long done) => Update(step, done, fraction: null);

    /// <summary>A step with a known end: <paramref name="fraction"/> in [0, 1]; 1 ends it.</summary>
    public void Fraction(string step, double fraction)
    {
        double f = double.IsNaN(fraction) ? 0 : Math.Clamp(fraction, 0, 1);
        Update(step, (long)(f * Interlocked.Read(ref _total)), f);
        if (f >= 1)
        {
            Finish();
        }
    }

    /// <summary>An <see cref="IProgress{T}"/> of events done for <paramref name="step"/>.</summary>
    public IProgress<long> For(string step) => new CountProgress(this, step);

    /// <summary>Ends the current step: its line shows 100 % (or its final count).</summary>
    public void Finish()
    {
        lock (_lock)
        {
            if (_current is { } s)
            {
                _current = null;
                if (s.Fraction is not null)
                {
                    s.Fraction = 1;
                    s.Done = Math.Max(s.Done, Interlocked.Read(ref _total));
                }

                long now = _milliseconds();
                if (_terminal ? s.Shown : now - s.StartMs >= 1000 || s.Shown)
                {
                    Draw(s, now, final: true);
                }
            }
        }
    }

    /// <summary>Ends the current step.</summary>
    public void Dispose() => Finish();

    private void Update(string step, long done, double? fraction)
    {
        lock (_lock)
        {
            long now = _milliseconds();
            if (_current is null || _current.Name != step)
            {
                Finish();
                _current = new Step(step, now);
            }

            Step s = _current;
            s.Done = Math.Max(s.Done, done);
            if (fraction is not null)
            {
                s.Fraction = Math.Max(s.Fraction ?? 0, fraction.Value);
            }

            long due = _terminal
                ? (s.Shown ? s.LastDrawMs + TerminalRedrawMs : s.StartMs + 1000)
                : s.LastDrawMs + PlainLineMs;
            if (now >= due)
            {
                Draw(s, now, final: false);
            }
        }
    }

    private void Draw(Step s, long now, bool final)
    {
        s.Shown = true;
        s.LastDrawMs = now;
        string text = Describe(s, now, final);
        if (_terminal)
        {
            string padded = text.Length < _lastWidth ? text + new string(' ', _lastWidth - text.Length) : text;
            _lastWidth = final ? 0 : text.Length;
            _out.Write("\r" + padded + (final ? "\n" : ""));
        }
        else
        {
            _out.WriteLine(text);
        }

        _out.Flush();
    }

    /// <summary>"sim: 42 %, 1,234,567 events/s, 12 s left" or "info: 3,000,000 events, 1,500,000 events/s, 2 s".</summary>
    private static string Describe(Step s, long now, bool final)
    {
        var inv = CultureInfo.InvariantCulture;
        double seconds = Math.Max(1, now - s.StartMs) / 1000.0;
        double rate = s.Done / seconds;
        string rateText = s.Done > 0 ? string.Create(inv, $", {rate:N0} events/s") : "";
        if (s.Fraction is { } f)
        {
            string percent = string.Create(inv, $"{Math.Floor(f * 100):0} %");
            if (final)
            {
                return string.Create(inv, $"{s.Name}: {percent}{rateText}, {seconds:F1} s");
            }

            string left = f > 0.001 ? string.Create(inv, $", {Math.Ceiling(seconds * (1 - f) / f):0} s left") : "";
            return $"{s.Name}: {percent}{rateText}{left}";
        }

        return string.Create(inv, $"{s.Name}: {s.Done:N0} events{rateText}, {seconds:F1} s{(final ? " (done)" : "")}");
    }

    private sealed class Step(string name, long startMs)
    {
        public string Name { get; } = name;
        public long StartMs { get; } = startMs;
        public long LastDrawMs { get; set; } = startMs;
        public long Done { get; set; }
        public double? Fraction { get; set; }
        public bool Shown { get; set; }
    }

    private sealed class CountProgress(ProgressDisplay display, string step) : IProgress<long>
    {
        public void Report(long value) => display.Count(step, value);
    }
}
