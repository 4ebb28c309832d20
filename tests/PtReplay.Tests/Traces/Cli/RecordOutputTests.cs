using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Recording;
using PtReplay.Traces;

namespace PtReplay.Tests.Traces.Cli;

/// <summary>
/// `record` and its output: a trace that cannot be written is refused before the program starts (exit 4, the
/// path named); events lost while the program runs (file size limit, full disk) are reported and exit 4.
/// </summary>
public class RecordOutputTests
{
    public static TheoryData<string> Unwritable => new()
    {
        "/sys/ptreplay-test.trace",                    // a read-only file system (sysfs), even for root
        "/proc/self/ptreplay-no-such-folder/x.trace",  // a folder that cannot be created
    };

    [Theory]
    [MemberData(nameof(Unwritable))]
    public void AnUnwritableOutput_IsRefusedBeforeTheProgramRuns(string trace)
    {
        using var dir = new TempDir();
        string marker = dir.File("ran");
        (int code, _, string stderr) = CliRunner.Run("record", "-o", trace, "--", "/usr/bin/touch", marker);
        Assert.Equal(4, code);
        Assert.Contains(trace, stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(marker), "the program ran");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EventsLostToTheFileSizeLimit_AreReported_AndExit4(bool raw)
    {
        using var dir = new TempDir();
        string program = NativeTestBuild.Program("fsizelimit", TestPrograms.FileSizeLimit);
        string trace = dir.File("limited.trace");
        (int code, string stdout, string stderr) = raw
            ? CliRunner.Run("record", "--raw", "-o", trace, "--", program, "200000", "300000")
            : CliRunner.Run("record", "-o", trace, "--", program, "200000", "300000");
        Assert.Equal(4, code);
        Assert.Equal("calls 600000\n", stdout); // the program itself ran to its end
        Assert.Contains("events were lost", stderr, StringComparison.Ordinal);
        using TraceReader reader = TraceReader.Open(trace);
        Assert.False(reader.IsTruncated);
        Assert.True(reader.LostEvents > 0);
        Assert.Contains($"{reader.LostEvents:N0} events LOST", stderr, StringComparison.Ordinal);
    }
}
