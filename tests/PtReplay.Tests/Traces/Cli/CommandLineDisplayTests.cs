using PtReplay.Tests.Infrastructure;

namespace PtReplay.Tests.Traces.Cli;

/// <summary>
/// A recorded command line with newlines in it (a <c>python3 -c</c> script that runs a child, so `record` prints a tree) is shown on one line by `record`'s process tree
/// and by `info`, with the newlines escaped, so the tree stays a tree.
/// </summary>
public sealed class CommandLineDisplayTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-cmdline-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void MultiLineScript_IsShownOnOneLine_WithTheNewlinesEscaped()
    {
        string trace = _dir.File("py.trace");
        (int code, string stdout, string stderr) = CliRunner.Run("record", "-o", trace, "--", RealPrograms.Python, "-c", "import os\nos.system('true')");
        Assert.True(code == 0, stderr);
        string all = stdout + stderr;
        string[] treeLines = all.Split('\n').Where(l => l.Contains("py.trace  pid", StringComparison.Ordinal)).ToArray();
        string line = Assert.Single(treeLines);
        Assert.EndsWith("-c import os\\nos.system('true')", line.TrimEnd(), StringComparison.Ordinal);

        (int infoCode, string info, _) = CliRunner.Run("info", trace);
        Assert.Equal(0, infoCode);
        string program = Assert.Single(info.Split('\n'), l => l.StartsWith("program ", StringComparison.Ordinal));
        Assert.Contains("-c import os\\nos.system('true')", program, StringComparison.Ordinal);
    }

    [Fact]
    public void LongCommandLine_IsCutInTheTree_AndWholeInInfo()
    {
        string trace = _dir.File("long.trace");
        string longArgument = string.Concat(Enumerable.Range(0, 120).Select(i => $"arg{i}-"));
        (int code, string stdout, string stderr) = CliRunner.Run("record", "-o", trace, "--", RealPrograms.Python, "-c", "import os\nos.system('true')", longArgument);
        Assert.True(code == 0, stderr);
        string line = Assert.Single((stdout + stderr).Split('\n'), l => l.Contains("long.trace  pid", StringComparison.Ordinal));
        Assert.DoesNotContain(longArgument, line, StringComparison.Ordinal);
        Assert.Contains(longArgument[..40], line, StringComparison.Ordinal);
        Assert.Matches(@"… \([0-9,]+ more characters\)$", line.TrimEnd());
        Assert.True(line.Length < 300, $"a tree line of {line.Length} characters");

        (int infoCode, string info, _) = CliRunner.Run("info", trace);
        Assert.Equal(0, infoCode);
        Assert.Contains(longArgument, info, StringComparison.Ordinal);
    }
}
