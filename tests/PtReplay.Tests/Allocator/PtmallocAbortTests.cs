using PtReplay.Allocator;
using PtReplay.Allocator.Tunables;

namespace PtReplay.Tests.Allocator;

/// <summary>
/// Heap corruption: the real glibc (driver in a child process, LIBC_FATAL_STDERR_=1) prints its message and
/// aborts; the model must stop at the same call with the same message in a <see cref="MallocAbortException"/>.
/// </summary>
public class PtmallocAbortTests
{
    public static TheoryData<string, string> Cases() => new()
    {
        { "tcache-double-free", "" },
        { "fastbin-double-free", "glibc.malloc.tcache_count=0" },
        { "normal-double-free", "glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0" },
        { "free-misaligned", "" },
        { "free-inside-block", "" },
        { "realloc-misaligned", "" },
        { "free-top-twice", "glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0" },
    };

    private static DriverScript Build(string name)
    {
        var s = new DriverScript();
        switch (name)
        {
            case "tcache-double-free":
                s.Add(DriverOp.Malloc, 0, 24);
                s.Add(DriverOp.Malloc, 1, 24);
                s.Add(DriverOp.FreeAt, 0);
                s.Add(DriverOp.FreeAt, 0);
                break;
            case "fastbin-double-free":
            case "normal-double-free":
                s.Add(DriverOp.Malloc, 0, name.StartsWith("fast", StringComparison.Ordinal) ? 24UL : 200UL);
                s.Add(DriverOp.Malloc, 1, 24);
                s.Add(DriverOp.FreeAt, 0);
                s.Add(DriverOp.FreeAt, 0);
                break;
            case "free-misaligned":
                s.Add(DriverOp.Malloc, 0, 100);
                s.Add(DriverOp.FreeAt, 0, 8);
                break;
            case "free-inside-block":
                s.Add(DriverOp.Malloc, 0, 100);
                s.Add(DriverOp.FreeAt, 0, 32);
                break;
            case "realloc-misaligned":
                s.Add(DriverOp.Malloc, 0, 100);
                s.Add(DriverOp.ReallocAt, 0, 8, 200);
                break;
            case "free-top-twice":
                s.Add(DriverOp.Malloc, 0, 300);
                s.Add(DriverOp.FreeAt, 0);
                s.Add(DriverOp.FreeAt, 0);
                break;
        }
        return s;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void CorruptionStopsWithGlibcsMessage(string name, string tunables)
    {
        var script = Build(name);
        var env = new Dictionary<string, string> { ["LIBC_FATAL_STDERR_"] = "1" };
        if (tunables.Length > 0)
            env["GLIBC_TUNABLES"] = tunables;
        var (exit, stderr) = GlibcDriver.ExecuteExpectingAbort(script, env);
        Assert.NotEqual(0, exit);
        string glibcMessage = stderr.Trim();
        Assert.False(string.IsNullOrEmpty(glibcMessage));

        var model = new Ptmalloc(new ModelOptions { Tunables = MallocTunables.Parse(tunables) });
        var slots = new ulong[script.Slots];
        MallocAbortException? abort = null;
        int at = -1;
        for (int i = 0; i < script.Calls.Count && abort is null; i++)
        {
            var c = script.Calls[i];
            try
            {
                switch (c.Op)
                {
                    case DriverOp.Malloc: slots[c.Slot] = model.Malloc(0, c.A); break;
                    case DriverOp.FreeAt: model.Free(0, slots[c.Slot] + c.A); break;
                    case DriverOp.ReallocAt: model.Realloc(0, slots[c.Slot] + c.A, c.B); break;
                }
            }
            catch (MallocAbortException e)
            {
                abort = e;
                at = i;
            }
        }
        Assert.NotNull(abort);
        Assert.Equal(script.Calls.Count - 1, at);
        Assert.Equal(glibcMessage, abort.GlibcMessage);
    }
}
