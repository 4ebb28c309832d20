using System.Globalization;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Recording;
using PtReplay.Traces;
using PtReplay.Traces.Recording;
using PtReplay.Traces.Stacks;

namespace PtReplay.Tests.Traces.Stacks;

/// <summary>
/// `record --stacks`: a program that allocates from known functions is recorded with stacks, and each allocation's
/// innermost frames must fall in those functions' address ranges as the toolchain reports them (nm -S for the symbols,
/// readelf -l for the executable segment, relocated by the recorded module mapping: the program is a PIE).
/// </summary>
public class RecorderStackTests
{
    private const string Source = """
        #include <dlfcn.h>
        #include <pthread.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/wait.h>
        #include <unistd.h>

        /* The asm after each call keeps it from being a tail call: the return address stays in the maker. */
        __attribute__((noinline)) void *pin_maker(void) { void *p = malloc(4321); __asm__ volatile("" ::: "memory"); return p; }
        __attribute__((noinline)) void *pool_maker(void) { void *p = calloc(3, 1234); __asm__ volatile("" ::: "memory"); return p; }
        __attribute__((noinline)) void *thread_maker(void) { void *p = malloc(5555); __asm__ volatile("" ::: "memory"); return p; }
        __attribute__((noinline)) void *child_maker(void) { void *p = malloc(6666); __asm__ volatile("" ::: "memory"); return p; }

        static void *worker(void *arg)
        {
            (void)arg;
            for (int i = 0; i < 200; i++) {
                free(thread_maker());
            }
            return NULL;
        }

        int main(int argc, char **argv)
        {
            const char *mode = argc > 1 ? argv[1] : "plain";
            void *keep[20];
            for (int i = 0; i < 20; i++) {
                keep[i] = i % 2 ? pin_maker() : pool_maker();
            }
            if (strcmp(mode, "threads") == 0) {
                pthread_t t[4];
                for (int i = 0; i < 4; i++) {
                    pthread_create(&t[i], NULL, worker, NULL);
                }
                for (int i = 0; i < 4; i++) {
                    pthread_join(t[i], NULL);
                }
            } else if (strcmp(mode, "dlopen") == 0) {
                void *lib = dlopen(argv[2], RTLD_NOW);
                void *(*plugin_alloc)(void) = lib ? (void *(*)(void))dlsym(lib, "plugin_alloc") : NULL;
                if (plugin_alloc == NULL) {
                    return 3;
                }
                for (int i = 0; i < 3; i++) {
                    free(plugin_alloc());
                }
            } else if (strcmp(mode, "fork") == 0) {
                pid_t pid = fork();
                if (pid == 0) {
                    for (int i = 0; i < 5; i++) {
                        free(child_maker());
                    }
                    exit(0);
                }
                waitpid(pid, NULL, 0);
            }
            for (int i = 0; i < 20; i++) {
                free(keep[i]);
            }
            puts("done");
            return 0;
        }
        """;

    private const string PluginSource = """
        #include <stdlib.h>
        __attribute__((noinline)) void *plugin_alloc(void) { void *p = malloc(7777); __asm__ volatile("" ::: "memory"); return p; }
        """;

    private static string Program => NativeTestBuild.DebugProgram("stack-makers", Source);

    private static RecordingResult Record(TempDir dir, string mode, int depth, string? unwinder = null, string? argument = null)
    {
        Dictionary<string, string> env = RecordingRuns.BaseEnvironment(dir.Path);
        if (unwinder == "libunwind")
        {
            Requires.Package("libunwind8", "libunwind.so.8"); // the recorder's fast unwinder; libgcc otherwise
        }
        else if (unwinder is not null)
        {
            env["PTRECORD_UNWIND"] = unwinder;
        }

        RecordingResult run = Recorder.Run(new RecordingOptions
        {
            Command = argument is null ? [Program, mode] : [Program, mode, argument],
            OutputPath = dir.File("s.trace"),
            Environment = env,
            CaptureOutput = true,
            StackDepth = depth,
            Timeout = TimeSpan.FromMinutes(1),
        });
        Assert.Equal(0, run.ExitCode);
        return run;
    }

    /// <summary>The binary's function ranges and its executable segment, from nm -S and readelf -l.</summary>
    private sealed class Golden
    {
        private readonly Dictionary<string, (ulong Start, ulong Size)> _symbols = [];
        private readonly ulong _segmentVaddr;
        private readonly ulong _segmentOffset;

        public Golden(string binary)
        {
            var nm = ChildProcess.Run("nm", ["-S", "--defined-only", binary], null);
            Assert.Equal(0, nm.ExitCode);
            foreach (string line in nm.Stdout.Split('\n'))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length == 4 && f[2] is "T" or "t")
                {
                    _symbols[f[3]] = (ulong.Parse(f[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture), ulong.Parse(f[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                }
            }

            var readelf = ChildProcess.Run("readelf", ["-lW", binary], null);
            Assert.Equal(0, readelf.ExitCode);
            string load = readelf.Stdout.Split('\n').Single(l => l.TrimStart().StartsWith("LOAD", StringComparison.Ordinal) && l.Contains(" R E ", StringComparison.Ordinal));
            string[] g = load.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            _segmentOffset = Convert.ToUInt64(g[1], 16);
            _segmentVaddr = Convert.ToUInt64(g[2], 16);
        }

        /// <summary>True when run-time address <paramref name="pc"/>, placed by <paramref name="module"/>, lies in function <paramref name="name"/>.</summary>
        public bool In(string name, ModuleMapping module, ulong pc)
        {
            (ulong start, ulong size) = _symbols[name];
            ulong vaddr = module.FileOffsetOf(pc) - _segmentOffset + _segmentVaddr;
            return vaddr > start && vaddr <= start + size; // a return address: just past the call, at most the function's end
        }
    }

    private static ModuleMapping ProgramModule(TraceReader reader, ulong pc)
    {
        ModuleMapping? m = reader.Stacks.ModuleOf(pc);
        Assert.NotNull(m);
        Assert.Equal(Path.GetFullPath(Program), m.Path);
        Assert.Matches("^[0-9a-f]{40}$", m.BuildId); // gcc on Debian links with --build-id (sha1)
        return m;
    }

    /// <summary>libunwind (libunwind8), and libgcc alone (PTRECORD_UNWIND=libgcc).</summary>
    [Theory]
    [InlineData("libunwind")]
    [InlineData("libgcc")]
    public void EachAllocation_CarriesTheStackOfTheFunctionThatMadeIt(string? unwinder)
    {
        using var dir = new TempDir();
        RecordingResult run = Record(dir, "plain", 16, unwinder);
        var golden = new Golden(Program);
        using TraceReader reader = TraceReader.Open(run.TracePath);
        Assert.Equal(TraceFormat.StacksVersion, reader.Header.FormatVersion);
        List<AllocEvent> events = reader.ReadAll().ToList();
        List<AllocEvent> pins = events.Where(e => e.Kind == EventKind.Malloc && e.Size == 4321).ToList();
        List<AllocEvent> pools = events.Where(e => e.Kind == EventKind.Calloc && e.Size == 1234).ToList();
        Assert.Equal(10, pins.Count);
        Assert.Equal(10, pools.Count);
        // De-duplicated: the ten calls from one place share one stack, the two places have two.
        Assert.Single(pins.Select(e => e.Stack).Distinct());
        Assert.Single(pools.Select(e => e.Stack).Distinct());
        Assert.NotEqual(pins[0].Stack, pools[0].Stack);
        foreach ((AllocEvent e, string maker) in new[] { (pins[0], "pin_maker"), (pools[0], "pool_maker") })
        {
            IReadOnlyList<ulong> frames = reader.Stacks.Frames(e.Stack);
            Assert.True(golden.In(maker, ProgramModule(reader, frames[0]), frames[0]), $"frame 0 0x{frames[0]:x} is not in {maker}");
            Assert.True(golden.In("main", ProgramModule(reader, frames[1]), frames[1]), $"frame 1 0x{frames[1]:x} is not in main");
            Assert.InRange(frames.Count, 3, 16); // main's callers (libc's start code) follow
            Assert.All(frames, f => Assert.NotNull(reader.Stacks.ModuleOf(f)));
        }

        Assert.All(events.Where(e => e.Kind == EventKind.Free), e => Assert.Equal(0, e.Stack));
        Assert.Contains(reader.Stacks.Modules, m => m.Path.EndsWith("/libc.so.6", StringComparison.Ordinal));
    }

    /// <summary>A library dlopen'ed after the start: the recorder looks at the loaded objects again, so its frames are placed too.</summary>
    [Fact]
    public void ALibraryLoadedLater_HasItsModule()
    {
        string plugin = NativeTestBuild.SharedLibrary("libstackplugin.so", PluginSource);
        using var dir = new TempDir();
        RecordingResult run = Record(dir, "dlopen", 16, argument: plugin);
        using TraceReader reader = TraceReader.Open(run.TracePath);
        AllocEvent made = reader.ReadAll().First(e => e.Kind == EventKind.Malloc && e.Size == 7777);
        IReadOnlyList<ulong> frames = reader.Stacks.Frames(made.Stack);
        ModuleMapping? m = reader.Stacks.ModuleOf(frames[0]);
        Assert.NotNull(m);
        Assert.Equal(Path.GetFullPath(plugin), m.Path);
        Assert.True(new Golden(plugin).In("plugin_alloc", m, frames[0]), $"frame 0 0x{frames[0]:x} is not in plugin_alloc");
        Assert.True(new Golden(Program).In("main", ProgramModule(reader, frames[1]), frames[1]));
    }

    [Fact]
    public void TheDepthLimitsTheFrames()
    {
        using var dir = new TempDir();
        RecordingResult run = Record(dir, "plain", 1);
        using TraceReader reader = TraceReader.Open(run.TracePath);
        AllocEvent pin = reader.ReadAll().First(e => e.Kind == EventKind.Malloc && e.Size == 4321);
        ulong only = Assert.Single(reader.Stacks.Frames(pin.Stack));
        Assert.True(new Golden(Program).In("pin_maker", ProgramModule(reader, only), only));
    }

    [Fact]
    public void WithoutStacks_EventsCarryNone_AndTheTraceIsVersion2()
    {
        using var dir = new TempDir();
        RecordingResult run = Record(dir, "plain", 0);
        using TraceReader reader = TraceReader.Open(run.TracePath);
        Assert.Equal(TraceFormat.CurrentVersion, reader.Header.FormatVersion);
        List<AllocEvent> events = reader.ReadAll().ToList();
        Assert.Contains(events, e => e.Kind == EventKind.Malloc && e.Size == 4321);
        Assert.All(events, e => Assert.Equal(0, e.Stack));
        Assert.Equal(0, reader.Stacks.Count);
        Assert.Empty(reader.Stacks.Modules);
    }

    [Theory]
    [InlineData("libunwind")]
    [InlineData("libgcc")]
    public void Threads_ShareTheTable_AndEachThreadsAllocationsHaveTheirStack(string? unwinder)
    {
        using var dir = new TempDir();
        RecordingResult run = Record(dir, "threads", 16, unwinder);
        var golden = new Golden(Program);
        using TraceReader reader = TraceReader.Open(run.TracePath);
        Assert.True(reader.IsMerged);
        List<AllocEvent> events = reader.ReadAll().ToList();
        List<AllocEvent> fromThreads = events.Where(e => e.Kind == EventKind.Malloc && e.Size == 5555).ToList();
        Assert.Equal(800, fromThreads.Count);
        Assert.Equal(4, fromThreads.Select(e => e.Thread).Distinct().Count());
        // Every thread meets the same stack; two threads meeting it first at the same moment may define it twice.
        Assert.InRange(fromThreads.Select(e => e.Stack).Distinct().Count(), 1, 4);
        foreach (int id in fromThreads.Select(e => e.Stack).Distinct())
        {
            IReadOnlyList<ulong> frames = reader.Stacks.Frames(id);
            Assert.True(golden.In("thread_maker", ProgramModule(reader, frames[0]), frames[0]));
            Assert.True(golden.In("worker", ProgramModule(reader, frames[1]), frames[1]));
        }
    }

    [Fact]
    public void AForkChild_WritesItsOwnTableAndModules()
    {
        using var dir = new TempDir();
        RecordingResult run = Recorder.Run(new RecordingOptions
        {
            Command = [Program, "fork"],
            OutputPath = dir.File("f.trace"),
            Environment = RecordingRuns.BaseEnvironment(dir.Path),
            CaptureOutput = true,
            FollowChildren = true,
            StackDepth = 16,
            Timeout = TimeSpan.FromMinutes(1),
        });
        Assert.Equal(0, run.ExitCode);
        var golden = new Golden(Program);
        using TraceReader child = TraceReader.Open(Assert.Single(run.ChildTraces));
        List<AllocEvent> events = child.ReadAll().ToList();
        List<AllocEvent> made = events.Where(e => e.Kind == EventKind.Malloc && e.Size == 6666).ToList();
        Assert.Equal(5, made.Count);
        int id = Assert.Single(made.Select(e => e.Stack).Distinct());
        IReadOnlyList<ulong> frames = child.Stacks.Frames(id);
        Assert.True(golden.In("child_maker", ProgramModule(child, frames[0]), frames[0]));
        Assert.True(golden.In("main", ProgramModule(child, frames[1]), frames[1]));
        // The child's ids are its own (its table starts empty): the parent's stacks are not in its file.
        Assert.True(child.Stacks.Count < 5, $"{child.Stacks.Count} stacks in the child");
        using TraceReader parent = TraceReader.Open(run.TracePath);
        Assert.DoesNotContain(parent.ReadAll(), e => e.Kind == EventKind.Malloc && e.Size == 6666);
    }

    [Fact]
    public void Packing_KeepsTheStackOfEveryEvent()
    {
        using var dir = new TempDir();
        RecordingResult run = Record(dir, "threads", 16);
        string packed = dir.File("packed.trace");
        TracePacker.Pack(run.TracePath, packed);
        using TraceReader before = TraceReader.Open(run.TracePath);
        using TraceReader after = TraceReader.Open(packed);
        List<AllocEvent> a = before.ReadAll().ToList();
        List<AllocEvent> b = after.ReadAll().ToList();
        Assert.Equal(a.Count, b.Count);
        Assert.Equal(TraceFormat.StacksVersion, after.Header.FormatVersion);
        Assert.Equal(before.Stacks.Modules, after.Stacks.Modules);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i], b[i]);
            if (a[i].Stack != 0)
            {
                Assert.Equal(before.Stacks.Frames(a[i].Stack), after.Stacks.Frames(b[i].Stack));
            }
        }

        Assert.Contains(a, e => e.Stack != 0);
    }
}
