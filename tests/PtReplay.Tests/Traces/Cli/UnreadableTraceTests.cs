using PtReplay.Tests.Infrastructure;

namespace PtReplay.Tests.Traces.Cli;

/// <summary>
/// A trace the user may not read (mode 000), as a user who is not root sees it: every verb that reads a trace says so in
/// one line naming the file, exits 3 (input unreadable), and never prints a stack trace. The CLI runs as user nobody
/// (setpriv), from a copy of its assemblies in a folder that user can read.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class UnreadableTraceTests : IDisposable
{
    private const int Nobody = 65534;
    private readonly TempDir _dir = new("ptreplay-unreadable-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void EveryReadingVerb_AsAnUnprivilegedUser_ExitsThreeNamingTheFile()
    {
        Assert.True(File.Exists("/usr/bin/setpriv"), "setpriv (util-linux) is needed to run the CLI as another user");
        const UnixFileMode Open = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(_dir.Path, Open);

        // The CLI's managed assemblies and configuration (reading a trace needs nothing else).
        string cli = Directory.CreateDirectory(_dir.File("cli")).FullName;
        File.SetUnixFileMode(cli, Open);
        foreach (string file in Directory.EnumerateFiles(AppContext.BaseDirectory)
                     .Where(f => f.EndsWith(".dll", StringComparison.Ordinal) || Path.GetFileName(f).StartsWith("ptreplay.", StringComparison.Ordinal)))
        {
            string copy = Path.Combine(cli, Path.GetFileName(file));
            File.Copy(file, copy);
            File.SetUnixFileMode(copy, Open & ~(UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute));
        }

        string trace = _dir.File("secret.trace");
        File.Copy(RepoFiles.SampleTraces[0], trace);
        File.SetUnixFileMode(trace, UnixFileMode.None);
        string output = _dir.File("out");

        string[][] verbs =
        [
            ["info", trace],
            ["verify", trace],
            ["replay", trace, "-o", output, "--engine", "sim"],
            ["gate", "--baseline", RepoFiles.Baseline, trace],
            ["pack", trace, "-o", _dir.File("packed.trace")],
        ];
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = CleanEnvironment.SearchPath,
            ["HOME"] = _dir.Path,
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        };
        foreach (string[] verb in verbs)
        {
            string[] args = ["--reuid=" + Nobody, "--regid=" + Nobody, "--clear-groups", RealPrograms.Dotnet, Path.Combine(cli, "ptreplay.dll"), .. verb];
            (int code, string stdout, string stderr) = ChildProcess.Run("/usr/bin/setpriv", args, environment);
            string all = stdout + stderr;
            Assert.True(code == 3, $"{verb[0]}: exit {code}\n{all}");
            Assert.Contains($"{trace}: cannot read the trace file: permission denied", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", all, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", all, StringComparison.Ordinal);
        }
    }
}
