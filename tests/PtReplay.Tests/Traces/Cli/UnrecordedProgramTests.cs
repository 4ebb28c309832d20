using PtReplay.Tests.Infrastructure;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Traces.Cli;

/// <summary>
/// Programs the recorder cannot enter run during a recording without a trace and without any of their calls: a
/// statically linked program (no dynamic loader reads LD_PRELOAD), a set-user-ID program owned by another user (secure
/// mode: the loader ignores LD_PRELOAD), a program started with a cleared environment (env -i). `record` must say so,
/// for the started program and for any program its tree ran, instead of leaving the tree silently without them. So
/// must it for a program that defines malloc itself (rustc links jemalloc into its executable): the dynamic linker binds
/// its calls to that definition, ahead of the recorder's, and its trace holds almost nothing.
/// </summary>
public sealed class UnrecordedProgramTests : IDisposable
{
    private const string Source = """
        #include <stdio.h>
        #include <stdlib.h>
        int main(void) {
            void *p[100];
            for (int i = 0; i < 100; i++) p[i] = malloc(16 + i);
            for (int i = 0; i < 100; i++) free(p[i]);
            puts("ran");
            return 3;
        }
        """;

    /// <summary>A program with its own malloc family (a bump allocator over a static arena), exported by the executable.</summary>
    private const string OwnMallocSource = """
        #include <stddef.h>
        #include <stdio.h>
        #include <string.h>
        static char arena[1 << 22];
        static size_t used;
        void *malloc(size_t n) {
            n = (n + 15) & ~(size_t)15;
            if (used + n + 16 > sizeof arena) return NULL;
            *(size_t *)(arena + used) = n;
            void *p = arena + used + 16;
            used += n + 16;
            return p;
        }
        void free(void *p) { (void)p; }
        void *calloc(size_t a, size_t b) { void *p = malloc(a * b); if (p) memset(p, 0, a * b); return p; }
        void *realloc(void *p, size_t n) {
            void *q = malloc(n);
            if (p && q) { size_t old = *((size_t *)p - 2); memcpy(q, p, old < n ? old : n); }
            return q;
        }
        int main(void) {
            for (int i = 0; i < 1000; i++) free(malloc(100));
            puts("own");
            return 0;
        }
        """;

    private readonly TempDir _dir = new("ptreplay-unrecorded-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void AStaticallyLinkedStartedProgram_IsNamedAsTheReasonNoTraceWasWritten()
    {
        string program = Gcc.CompileSource(_dir.Path, "static-prog", Source, ["-O1", "-fno-builtin", "-static"]);
        string trace = _dir.File("static.trace");
        (int code, string stdout, string stderr) = CliRunner.Run("record", "-o", trace, "--", program);
        Assert.Equal(3, code); // the program's own exit code
        Assert.Contains("ran", stdout, StringComparison.Ordinal);
        Assert.Contains($"no trace was written to {trace}: {program} is statically linked", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(UnrecordedProgram.NotesPath(trace)), "the notes file was left behind");
    }

    [Fact]
    public void AProgramWithItsOwnMalloc_IsNamed_AsRecordingOnlyWhatReachesGlibc()
    {
        string program = Gcc.CompileSource(_dir.Path, "own-malloc", OwnMallocSource, ["-O1", "-fno-builtin"]);
        string trace = _dir.File("own.trace");
        (int code, string stdout, string stderr) = CliRunner.Run("record", "-o", trace, "--", program);
        Assert.True(code == 0, stderr);
        Assert.Contains("own", stdout, StringComparison.Ordinal);
        Assert.Contains("ptreplay record: 1 program allocated through its own malloc, which the recorder cannot come before", stderr, StringComparison.Ordinal);
        Assert.Contains($": malloc defined in {program}: {program}", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("ran without the recorder", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ProgramsRunByTheRecordedTree_WithoutTheRecorder_AreListedWithTheirReason()
    {
        string dynamic = Gcc.CompileSource(_dir.Path, "dyn-prog", Source, ["-O1", "-fno-builtin"]);
        string staticProgram = Gcc.CompileSource(_dir.Path, "static-prog", Source, ["-O1", "-fno-builtin", "-static"]);
        bool root = Environment.UserName == "root";
        string setuid = _dir.File("setuid-prog");
        string script = $"{staticProgram}; env -i {dynamic}; {dynamic}; ";
        if (root)
        {
            // Set-user-ID to nobody: run by root, the kernel switches the effective uid and runs it in secure mode.
            File.Copy(dynamic, setuid);
            var chown = NativeProgram.Exec("/bin/chown", ["65534", setuid], _dir.Path, new Dictionary<string, string>());
            Assert.True(chown.ExitCode == 0, chown.Stderr);
            var chmod = NativeProgram.Exec("/bin/chmod", ["u+s", setuid], _dir.Path, new Dictionary<string, string>());
            Assert.True(chmod.ExitCode == 0, chmod.Stderr);
            script += $"{setuid}; ";
        }

        string trace = _dir.File("tree.trace");
        (int code, string stdout, string stderr) = CliRunner.Run("record", "-o", trace, "--", "/bin/sh", "-c", script + "echo done");
        Assert.True(code == 0, stderr);
        Assert.Equal(root ? 4 : 3, stdout.Split('\n').Count(l => l == "ran"));

        int expected = root ? 3 : 2;
        Assert.Contains($"ptreplay record: {expected} programs ran without the recorder; their calls are not in the recording:", stderr, StringComparison.Ordinal);
        Assert.Contains($" {staticProgram}: statically linked (", stderr, StringComparison.Ordinal);
        Assert.Contains($" {dynamic}: started without the recorder's LD_PRELOAD (", stderr, StringComparison.Ordinal);
        if (root)
        {
            Assert.Contains($" {setuid}: set-user-ID to another user (", stderr, StringComparison.Ordinal);
        }

        // The one run that had the recorder has its trace; the notes file is gone once `record` has reported it.
        Assert.Contains(stderr.Split('\n'), l => l.Contains("exec, pid", StringComparison.Ordinal) && l.EndsWith(": " + dynamic, StringComparison.Ordinal));
        Assert.False(File.Exists(UnrecordedProgram.NotesPath(trace)), "the notes file was left behind");
    }
}
