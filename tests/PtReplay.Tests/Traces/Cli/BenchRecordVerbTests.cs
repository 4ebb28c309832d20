using System.Globalization;

namespace PtReplay.Tests.Traces.Cli;

/// <summary>
/// `ptreplay bench-record`, the recorder's overhead benchmark: it runs (one short round here; the
/// figures themselves are measured by running it, never asserted in a test) and reports every column.
/// </summary>
public class BenchRecordVerbTests
{
    [Fact]
    public void OneRoundOfABundledWorkload_PrintsItsRow_AndTheTargetLine()
    {
        (int code, string stdout, string stderr) = CliRunner.Run("bench-record", "-w", "sqlite", "-n", "1", "--no-heaptrack");
        Assert.True(code == 0, stderr);
        string row = stdout.Split('\n').Single(l => l.StartsWith("sqlite ", StringComparison.Ordinal));
        string[] f = row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // program, events, ns/call, unrecorded, raw, ratio, record, ratio, (range), program ratio, raw B/ev, packed B/ev
        Assert.EndsWith("x", f[5], StringComparison.Ordinal);
        Assert.EndsWith("x", f[7], StringComparison.Ordinal);
        Assert.EndsWith("x", f[^3], StringComparison.Ordinal);
        long events = long.Parse(f[1], NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        Assert.True(events > 100_000, row); // sqlite_work.sql makes ~300k calls
        double rawBytes = double.Parse(f[^2], CultureInfo.InvariantCulture);
        double packedBytes = double.Parse(f[^1], CultureInfo.InvariantCulture);
        Assert.InRange(rawBytes, 1.0, 32.0);
        Assert.True(packedBytes < rawBytes, row);
        string parts = stdout.Split('\n').Single(l => l.StartsWith("sqlite: where the time goes", StringComparison.Ordinal));
        System.Text.RegularExpressions.Match split = System.Text.RegularExpressions.Regex.Match(parts,
            @"record: ptreplay's start-up and exit (-?\d+\.\d+) s, the program (\d+\.\d+) s \((\d+\.\d+)x\), after the program exited (\d+\.\d+) s; " +
            @"record --raw: ptreplay's start-up and exit (-?\d+\.\d+) s, the program (\d+\.\d+) s \((\d+\.\d+)x\), after the program exited (\d+\.\d+) s");
        Assert.True(split.Success, parts);
        // One round: the parts add up to the end-to-end time of the row.
        double recordSeconds = double.Parse(f[6], CultureInfo.InvariantCulture);
        double sum = Enumerable.Range(1, 4).Where(i => i != 3).Sum(i => double.Parse(split.Groups[i].Value, CultureInfo.InvariantCulture));
        Assert.InRange(sum, recordSeconds - 0.0025, recordSeconds + 0.0025);
        Assert.True(double.Parse(split.Groups[2].Value, CultureInfo.InvariantCulture) > 0, parts);
        string cpu = stdout.Split('\n').Single(l => l.StartsWith("sqlite: CPU time", StringComparison.Ordinal));
        System.Text.RegularExpressions.Match c = System.Text.RegularExpressions.Regex.Match(cpu,
            @"unrecorded (\d+\.\d+) s, record --raw (\d+\.\d+) s \((\d+\.\d+)x\), record (\d+\.\d+) s \((\d+\.\d+)x\); " +
            @"record: the program (\d+\.\d+) s \((\d+\.\d+)x\), ptreplay (\d+\.\d+) s; record --raw: the program (\d+\.\d+) s \((\d+\.\d+)x\), ptreplay (\d+\.\d+) s");
        Assert.True(c.Success, cpu);
        double Cpu(int group) => double.Parse(c.Groups[group].Value, CultureInfo.InvariantCulture);
        Assert.True(Cpu(1) > 0 && Cpu(6) > 0 && Cpu(8) > 0, cpu);
        // One round: a `record` run's CPU time (its whole process tree, as bench-record sees it) is the program's plus
        // ptreplay's own, as `record` itself measured them (ptreplay's own a moment before its exit).
        Assert.InRange(Cpu(6) + Cpu(8), Cpu(4) - 0.25, Cpu(4) + 0.01);
        Assert.InRange(Cpu(9) + Cpu(11), Cpu(2) - 0.25, Cpu(2) + 0.01);
        Assert.Contains("target: record end to end at most 1.15x the unrecorded run: met on ", stdout, StringComparison.Ordinal);
        Assert.Contains("the program under record at most 1.08x: met on ", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownWorkload_IsRefused_NamingTheBundledOnes()
    {
        (int code, _, string stderr) = CliRunner.Run("bench-record", "-w", "nosuch", "-n", "1");
        Assert.Equal(2, code);
        Assert.Contains("unknown workload 'nosuch'", stderr, StringComparison.Ordinal);
        Assert.Contains("python, churn, perl, sqlite, gcc, sort, mt", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_DescribesEveryBundledWorkload_AsTheWorkloadItselfDoes()
    {
        (int code, string stdout, string stderr) = CliRunner.Run("bench-record", "--help");
        Assert.True(code == 0, stderr);
        foreach (string name in PtReplay.Traces.Recording.BundledWorkloads.Names)
        {
            string description = PtReplay.Traces.Recording.BundledWorkloads.Get(name).Description;
            Assert.Equal(description, PtReplay.Traces.Recording.BundledWorkloads.Describe(name));
            Assert.Contains($"  {name,-8} {description}", stdout, StringComparison.Ordinal);
        }

        Assert.Throws<ArgumentException>(() => PtReplay.Traces.Recording.BundledWorkloads.Describe("nosuch"));
    }
}
