using PtReplay.Results.Findings;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;

namespace PtReplay.Tests.Replay.Findings;

/// <summary>
/// A C++ program recorded with `record --stacks` allocates through operator new[]: the site is the program's function
/// (demangled), not libstdc++'s operator new nor libc's malloc below it.
/// </summary>
public sealed class CppSiteTests : IDisposable
{
    private const string Source = """
        namespace shapes { struct Box { int w; };
        __attribute__((noinline)) Box *make_boxes(unsigned long n) { Box *b = new Box[n]; __asm__ volatile("" ::: "memory"); return b; } }
        int main() {
            shapes::Box *keep = shapes::make_boxes(1000);
            keep[0].w = 1;
            return 0;
        }
        """;

    private readonly TempDir _dir = new("ptreplay-cppsite-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void OperatorNew_IsSkipped_AndTheSiteIsTheProgramsFunction_Demangled()
    {
        string src = _dir.File("boxes.cc");
        File.WriteAllText(src, Source);
        string exe = Gcc.Compile(src, _dir.File("boxes"), Gcc.Flags("-x c++ -g -O1"), "-lstdc++");
        string trace = _dir.File("boxes.trace");
        var record = CliRunner.Run("record", "--stacks", "-o", trace, "--", exe);
        Assert.True(record.ExitCode == 0, record.Stderr);

        var run = CliRunner.Run("info", trace, "--sites", "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        SiteListFile sites = HeapFindingsJson.DeserializeSites(run.Stdout);
        SiteFigures boxes = Assert.Single(sites.Sites, s => s.Site.Function.Contains("make_boxes", StringComparison.Ordinal));
        Assert.Equal("shapes::make_boxes(unsigned long)", boxes.Site.Function);
        Assert.Equal((1L, 4000UL), (boxes.Calls, boxes.RequestedBytes)); // new Box[1000] of a 4-byte struct: one malloc(4000)
        Assert.Equal(4000UL, boxes.EndLiveBytes);
        // Below the site in its stack: operator new[] (libstdc++), which the site skipped.
        int at = boxes.Site.Stack.ToList().FindIndex(f => f.Function == boxes.Site.Function);
        Assert.Contains(boxes.Site.Stack.Take(at), f => f.Function.StartsWith("operator new", StringComparison.Ordinal));
    }
}
