using PtReplay.Cli.Commands;

namespace PtReplay.Tests.Replay.Cli;

/// <summary>
/// The progress display of every verb, driven by a hand-moved clock: on a terminal one line per step rewritten in
/// place and ending at 100 %, with no escape sequences; elsewhere a few plain lines.
/// </summary>
[Trait("Category", "Fast")]
public sealed class ProgressDisplayTests
{
    private long _now;

    private ProgressDisplay Display(StringWriter output, bool terminal) => new(output, terminal, () => _now);

    [Fact]
    public void Terminal_OneLinePerStep_RewrittenInPlace_EndingAt100Percent()
    {
        var output = new StringWriter();
        using (ProgressDisplay display = Display(output, terminal: true))
        {
            display.SetTotal(1_000_000);
            for (int i = 1; i <= 9; i++)
            {
                _now += 500;
                display.Fraction("sim", i / 10.0);
            }

            for (int i = 1; i <= 4; i++)
            {
                _now += 500;
                display.Fraction("glibc", i / 10.0);
            }

            display.Fraction("glibc", 1.0);
        }

        string text = output.ToString();
        Assert.DoesNotContain('\x1b', text);
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        string sim = lines[0][(lines[0].LastIndexOf('\r') + 1)..];
        string glibc = lines[1][(lines[1].LastIndexOf('\r') + 1)..];
        Assert.StartsWith("sim: 100 %, ", sim, StringComparison.Ordinal);
        Assert.Contains("events/s", sim, StringComparison.Ordinal);
        Assert.StartsWith("glibc: 100 %", glibc, StringComparison.Ordinal);
        Assert.Contains("s left", lines[0], StringComparison.Ordinal);   // while it ran
        Assert.True(lines[0].Count(c => c == '\r') > 3, "the line is rewritten in place");
    }

    [Fact]
    public void Terminal_AStepShorterThanASecond_PrintsNothing()
    {
        var output = new StringWriter();
        using (ProgressDisplay display = Display(output, terminal: true))
        {
            display.Count("info", 10);
            _now += 300;
            display.Count("info", 20);
        }

        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void NotATerminal_AFewPlainLines_OneEveryTenSeconds_AndOneAtTheEnd()
    {
        var output = new StringWriter();
        using (ProgressDisplay display = Display(output, terminal: false))
        {
            for (int i = 0; i <= 60; i++)
            {
                _now = i * 1000L;
                display.Count("pack", i * 100_000L);
            }
        }

        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain('\r', output.ToString());
        Assert.Equal(7, lines.Length);   // at 10, 20, ... 60 s, and the end
        Assert.Equal("pack: 6,000,000 events, 100,000 events/s, 60.0 s (done)", lines[^1]);
    }
}
