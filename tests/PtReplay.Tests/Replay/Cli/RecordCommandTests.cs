using PtReplay.Cli;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Recording;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Replay.Cli;

/// <summary>`ptreplay record`: exit code pass-through, packing, --raw.</summary>
public class RecordCommandTests
{
    private static int Ptreplay(params string[] args) => Program.BuildRoot().Parse(args).Invoke();

    [Fact]
    public void Record_ReturnsTheProgramsExitCode()
    {
        using var dir = new TempDir();
        Assert.Equal(3, Ptreplay("record", "-o", dir.File("sh.trace"), "--", "/bin/sh", "-c", "exit 3"));
        Assert.True(File.Exists(dir.File("sh.trace")));
    }

    [Fact]
    public void Record_PacksByDefault_RawKeepsTheRecordersBlocks_SameEvents()
    {
        using var dir = new TempDir();
        string script = Path.Combine(RepoFiles.Workloads, "perl_work.pl");
        // perl with a fixed hash seed allocates the same way every run (trace names of equal length:
        // PTRECORD_OUT is part of its environment); env execs it, and the exec'd image writes OUT.<pid> beside env's OUT.
        string[] perl = ["/usr/bin/env", "PERL_HASH_SEED=0", "PERL_PERTURB_KEYS=0", "/usr/bin/perl", script, "2"];
        Assert.Equal(0, Ptreplay(["record", "-o", dir.File("pack.trace"), "--", .. perl]));
        Assert.Equal(0, Ptreplay(["record", "--raw", "-o", dir.File("raws.trace"), "--", .. perl]));

        using var packed = TraceReader.Open(Assert.Single(Recorder.FindChildTraces(dir.File("pack.trace"))));
        using var raw = TraceReader.Open(Assert.Single(Recorder.FindChildTraces(dir.File("raws.trace"))));
        List<AllocEvent> p = packed.ReadAll().ToList();
        List<AllocEvent> r = raw.ReadAll().ToList();
        Assert.Equal("/usr/bin/perl", packed.Header.ExecutablePath);
        Assert.True(packed.CompressedBlockCount > 0); // packed: the recorder's blocks, each compressed
        Assert.Equal(0, raw.CompressedBlockCount);    // raw: the recorder's blocks as written
        Assert.Equal(r.Where(e => e.Kind.IsCall()).Select(e => (e.Kind, e.Size, e.Count)),
                     p.Where(e => e.Kind.IsCall()).Select(e => (e.Kind, e.Size, e.Count)));
        Assert.True(new FileInfo(packed.Path).Length * 2 < new FileInfo(raw.Path).Length,
            "packing should at least halve the raw recording");
    }
}
