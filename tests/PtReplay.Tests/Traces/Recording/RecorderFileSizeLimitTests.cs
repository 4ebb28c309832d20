using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Traces.Recording;

/// <summary>
/// The trace file hits the file size limit (RLIMIT_FSIZE, as a full disk would stop it): the program runs on
/// unchanged (the SIGXFSZ of the recorder's writes never reaches it), the recorder stops writing, and the trace
/// ends complete with every event before the failure and the number of events it could not write.
/// </summary>
public class RecorderFileSizeLimitTests
{
    [Theory]
    [InlineData(1, 400_000)]
    [InlineData(2, 300_000)]
    [InlineData(1, 3_000)]     // the limit falls inside the very first blocks
    public void TraceOverTheLimit_KeepsItsPrefix_AndCountsTheLostEvents(int threads, long limitBytes)
    {
        using var dir = new TempDir();
        string program = NativeTestBuild.Program("fsizelimit", TestPrograms.FileSizeLimit);
        Dictionary<string, string> env = RecordingRuns.BaseEnvironment(dir.Path);
        string[] args = ["500000", threads.ToString(System.Globalization.CultureInfo.InvariantCulture)];

        // The same run without a limit: how many events the recorder writes for it.
        RecordingResult whole = RecordedRun.RecordOrThrow([program, "0", .. args], dir.File("whole.trace"), env);
        long expected;
        using (TraceReader full = TraceReader.Open(whole.TracePath))
        {
            expected = full.ReadAll().LongCount();
            Assert.Equal(0, full.LostEvents);
            Assert.Equal(threads == 2 ? TraceFormat.MultiThreadOrderVersion : TraceFormat.CurrentVersion, full.Header.FormatVersion);
        }

        RecordingResult limited = RecordedRun.Run(
            [program, limitBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), .. args], dir.File("limited.trace"), env);
        Assert.Equal(0, limited.ExitCode); // not ended by SIGXFSZ
        Assert.Equal(whole.StandardOutput, limited.StandardOutput);
        Assert.True(new FileInfo(limited.TracePath).Length <= limitBytes);

        using TraceReader reader = TraceReader.Open(limited.TracePath);
        Assert.False(reader.IsTruncated);
        Assert.Equal(threads == 2 ? TraceFormat.MultiThreadOrderVersion : TraceFormat.LostEventsVersion, reader.Header.FormatVersion);
        long recorded = reader.ReadAll().LongCount();
        Assert.True(reader.LostEvents > 0);
        Assert.Equal(expected, recorded + reader.LostEvents);
    }
}
