using System.Globalization;
using PtReplay.Traces;
using PtReplay.Traces.Analysis;
using PtReplay.Traces.Import;

namespace PtReplay.Tests.Traces.Import;

/// <summary>
/// The oracle is glibc itself: a C program runs under libc_malloc_debug's mtrace and prints, after
/// muntrace(), what each of its calls returned. The parser and importer must agree with both.
/// </summary>
public class MtraceImportTests
{
    private const string Probe = """
        #include <mcheck.h>
        #include <malloc.h>
        #include <stdint.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>

        /* Expected mtrace records, printed after muntrace() so printing cannot disturb the trace:
           "A size result" allocation, "R old size new" realloc, "X old size" failed realloc, "F ptr" free. */
        static char out[16384];
        static size_t len;
        static void rec(char kind, void *ptr, size_t size, void *result)
        {
            len += snprintf(out + len, sizeof out - len, "%c %zx %zx %zx\n", kind, (size_t)ptr, size, (size_t)result);
        }

        int main(void)
        {
            void *p[8];
            void *a, *b, *c, *d, *e, *f = NULL, *g, *h, *fail, *huge, *zero;
            mtrace();
            a = malloc(24);
            b = calloc(10, 8);
            c = realloc(a, 2000);
            d = realloc(NULL, 40);
            e = memalign(64, 100);
            int rc = posix_memalign(&f, 32, 48);
            g = aligned_alloc(128, 256);
            h = valloc(10);
            fail = realloc(b, (size_t)1 << 62);
            huge = malloc(SIZE_MAX / 2);
            zero = malloc(0);
            void *r0 = realloc(d, 0);
            free(NULL);
            for (int i = 0; i < 8; i++) p[i] = malloc(16 + i * 100);
            for (int i = 7; i >= 0; i -= 2) free(p[i]);
            free(c); free(e); free(f); free(g); free(h); free(b); free(zero);
            for (int i = 0; i < 8; i += 2) free(p[i]);
            muntrace();

            rec('A', 0, 24, a); rec('A', 0, 80, b); rec('R', a, 2000, c); rec('A', 0, 40, d);
            rec('A', 0, 100, e); rec('A', 0, 48, f); rec('A', 0, 256, g); rec('A', 0, 10, h);
            rec('X', b, (size_t)1 << 62, fail); rec('A', 0, SIZE_MAX / 2, huge); rec('A', 0, 0, zero);
            rec('F', d, 0, r0);
            for (int i = 0; i < 8; i++) rec('A', 0, 16 + i * 100, p[i]);
            for (int i = 7; i >= 0; i -= 2) rec('F', p[i], 0, 0);
            rec('F', c, 0, 0); rec('F', e, 0, 0); rec('F', f, 0, 0); rec('F', g, 0, 0); rec('F', h, 0, 0);
            rec('F', b, 0, 0); rec('F', zero, 0, 0);
            for (int i = 0; i < 8; i += 2) rec('F', p[i], 0, 0);
            if (rc != 0 || fail != NULL || huge != NULL || r0 != NULL) return 3;
            write(1, out, len);
            return 0;
        }
        """;

    private static (List<MtraceRecord> Expected, string MtracePath, NativeProgram Program) RunProbe()
    {
        NativeProgram program = NativeProgram.Compile("mtrace-probe", Probe);
        string mtrace = Path.Combine(program.Directory, "probe.mtrace");
        (int code, string stdout, string stderr) = program.Run(new Dictionary<string, string>
        {
            ["LD_PRELOAD"] = "libc_malloc_debug.so.0",
            ["MALLOC_TRACE"] = mtrace,
        });
        Assert.True(code == 0, $"probe exited {code}: {stderr}");
        var expected = new List<MtraceRecord>();
        foreach (string line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split(' ');
            ulong V(int i) => ulong.Parse(f[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            expected.Add(f[0] switch
            {
                "A" => new MtraceRecord(MtraceRecordKind.Allocate, 0, V(2), V(3), null, 0),
                "R" => new MtraceRecord(MtraceRecordKind.Realloc, V(1), V(2), V(3), null, 0),
                "X" => new MtraceRecord(MtraceRecordKind.ReallocFailed, V(1), V(2), 0, null, 0),
                _ => new MtraceRecord(MtraceRecordKind.Free, V(1), 0, 0, null, 0),
            });
        }

        return (expected, mtrace, program);
    }

    [Fact]
    public void RealMtrace_ParsesToWhatTheProgramDid()
    {
        (List<MtraceRecord> expected, string mtrace, NativeProgram program) = RunProbe();
        using (program)
        {
            List<MtraceRecord> parsed = [.. MtraceParser.ParseFile(mtrace)];

            Assert.Equal(MtraceRecordKind.Start, parsed[0].Kind);
            Assert.Equal(MtraceRecordKind.End, parsed[^1].Kind);
            List<MtraceRecord> calls = parsed[1..^1];
            Assert.Equal(expected.Count, calls.Count);
            for (int i = 0; i < expected.Count; i++)
            {
                Assert.Equal((expected[i].Kind, expected[i].Ptr, expected[i].Size, expected[i].Result), (calls[i].Kind, calls[i].Ptr, calls[i].Size, calls[i].Result));
                Assert.False(string.IsNullOrEmpty(calls[i].Caller), $"record {i} has no caller");
            }
        }
    }

    [Fact]
    public void RealMtrace_ImportsToATraceWithTheSameCalls()
    {
        (List<MtraceRecord> expected, string mtrace, NativeProgram program) = RunProbe();
        using (program)
        {
            string trace = Path.Combine(program.Directory, "probe.trace");
            long written = MtraceImporter.Import(mtrace, trace);

            using TraceReader reader = TraceReader.Open(trace);
            List<AllocEvent> events = [.. reader.ReadAll()];
            Assert.Equal(expected.Count, written);
            Assert.Equal(expected.Count, events.Count);
            Assert.False(reader.IsTruncated);
            Assert.Equal([MtraceImporter.ImportedTid], reader.ThreadTids);
            Assert.Equal("ptreplay import-mtrace", reader.Header.RecorderVersion);
            for (int i = 0; i < expected.Count; i++)
            {
                MtraceRecord x = expected[i];
                AllocEvent e = events[i];
                (EventKind kind, ulong ptr, ulong size, ulong result) want = x.Kind switch
                {
                    MtraceRecordKind.Allocate => (EventKind.Malloc, 0UL, x.Size, x.Result),
                    MtraceRecordKind.Free => (EventKind.Free, x.Ptr, 0UL, 0UL),
                    _ => (EventKind.Realloc, x.Ptr, x.Size, x.Result),
                };
                Assert.Equal(want, (e.Kind, e.Ptr, e.Size, e.Result));
                Assert.Equal(i, e.Timestamp);
            }

            // Everything the probe allocated it freed, and nothing was freed twice.
            TraceStatistics stats = TraceStatistics.Compute(trace);
            Assert.Equal(0, stats.LiveBlocks);
            Assert.Empty(stats.AnomalyExamples);
            Assert.Equal(2, stats.FailedCalls);
        }
    }

    [Trait("Category", "Fast")]
    [Theory]
    [InlineData("@ ./a.out:(main+0x1c)[0x1189] + 0x55d0c2a1e2a0 0x18", MtraceRecordKind.Allocate, 0UL, 0x18UL, 0x55d0c2a1e2a0UL)]
    [InlineData("@ [0x7f0011223344] - 0x55d0c2a1e2a0", MtraceRecordKind.Free, 0x55d0c2a1e2a0UL, 0UL, 0UL)]
    [InlineData("+ (nil) 0", MtraceRecordKind.Allocate, 0UL, 0UL, 0UL)]
    [InlineData("@ /lib/x86_64-linux-gnu/libc.so.6:(__libc_start_main-0x40)[0x271ca] ! 0x10 0x4000000000000000", MtraceRecordKind.ReallocFailed, 0x10UL, 0x4000000000000000UL, 0UL)]
    public void LineForms_Parse(string line, MtraceRecordKind kind, ulong ptr, ulong size, ulong result)
    {
        MtraceRecord r = Assert.Single(MtraceParser.Parse(new StringReader(line)));
        Assert.Equal((kind, ptr, size, result), (r.Kind, r.Ptr, r.Size, r.Result));
    }

    [Trait("Category", "Fast")]
    [Theory]
    [InlineData("@ ./a.out:[0x11] ? 0x1", 1)]
    [InlineData("= Start\n+ 0x10", 2)]
    [InlineData("= Start\n< 0x10\n+ 0x20 0x1", 3)]
    [InlineData("+ 0x1g 0x1", 1)]
    public void BadLines_NameTheLine(string text, long line)
    {
        MtraceFormatException ex = Assert.Throws<MtraceFormatException>(() => MtraceParser.Parse(new StringReader(text), "x.mtrace").ToList());
        Assert.Equal(line, ex.Line);
        Assert.StartsWith($"x.mtrace:{line}:", ex.Message, StringComparison.Ordinal);
    }
}
