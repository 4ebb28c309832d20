using PtReplay.Allocator;
using PtReplay.Allocator.Tunables;

namespace PtReplay.Tests.Allocator.Tunables;

public class MallocTunablesTests
{
    [Trait("Category", "Fast")]
    [Fact]
    public void Parse_ReadsMallocNames_IgnoresOthersAndOutOfRange()
    {
        var t = MallocTunables.Parse("glibc.malloc.tcache_count=0x14:glibc.rtld.nns=2:glibc.malloc.perturb=300:glibc.malloc.arena_max=0:glibc.malloc.mxfast=010");
        Assert.Equal(20UL, t.Get(TunableId.TcacheCount));
        Assert.Null(t.Get(TunableId.Perturb));   // above maxval 0xff
        Assert.Null(t.Get(TunableId.ArenaMax));  // below minval 1
        Assert.Equal(8UL, t.Get(TunableId.MxFast)); // octal
        Assert.Equal(7UL, MallocTunables.Default.Effective(TunableId.TcacheCount));
    }

    [Trait("Category", "Fast")]
    [Fact]
    public void FromEnvironment_LaterSettingWins_AliasesApply()
    {
        var t = MallocTunables.FromEnvironment(["PATH=/bin", "MALLOC_TOP_PAD_=4096", "GLIBC_TUNABLES=glibc.malloc.top_pad=8192:glibc.malloc.mmap_max=3", "MALLOC_ARENA_MAX=2"]);
        Assert.Equal(8192UL, t.Get(TunableId.TopPad));
        Assert.Equal(3UL, t.Get(TunableId.MmapMax));
        Assert.Equal(2UL, t.Get(TunableId.ArenaMax));
        Assert.Equal("glibc.malloc.top_pad=8192:glibc.malloc.mmap_max=3:glibc.malloc.arena_max=2", t.ToGlibcTunables());
    }

    [Trait("Category", "Fast")]
    [Fact]
    public void Table_HasEveryIdOnceWithGlibcNames()
    {
        Assert.Equal(Enum.GetValues<TunableId>().Length, TunableTable.All.Count);
        for (int i = 0; i < TunableTable.All.Count; i++)
        {
            Assert.Equal((TunableId)i, TunableTable.All[i].Id);
            Assert.StartsWith("glibc.malloc.", TunableTable.All[i].Name, StringComparison.Ordinal);
        }
    }

    /// <summary>MALLOC_*_ aliases given to the real glibc and to the model through FromEnvironment give the same heap.</summary>
    [Fact]
    public void EnvironmentAliases_MatchGlibc()
    {
        var env = new Dictionary<string, string> { ["MALLOC_TOP_PAD_"] = "0", ["MALLOC_MMAP_THRESHOLD_"] = "32768", ["MALLOC_TRIM_THRESHOLD_"] = "8192" };
        var outcome = ParityHarness.RunWithEnvironment(ScriptGenerator.Random(77, 2500), env);
        Assert.True(outcome.FirstDivergence is null, outcome.FirstDivergence);
        Assert.Equal(outcome.Compared, outcome.Identical);
        Assert.True(outcome.Regions.GetValueOrDefault(AddressRegion.Mmapped) > 0);
    }
}

public class MallocTunablesCheckedTests
{
    [Theory]
    [InlineData("garbage", "is not NAME=VALUE")]
    [InlineData("glibc.malloc.nosuch=5", "unknown tunable 'glibc.malloc.nosuch'")]
    [InlineData("glibc.rtld.nns=2", "unknown tunable 'glibc.rtld.nns'")]
    [InlineData("glibc.malloc.arena_max=-1", "glibc.malloc.arena_max=-1: the value must be a whole number in [1, SIZE_MAX]")]
    [InlineData("glibc.malloc.arena_max=0", "[1, SIZE_MAX]")]
    [InlineData("glibc.malloc.perturb=256", "glibc.malloc.perturb=256: the value must be a whole number in [0, 255]")]
    [InlineData("glibc.malloc.tcache_count=lots", "[0, SIZE_MAX]")]
    [InlineData(":", "no tunable")]
    [InlineData("glibc.malloc.tcache_count=65536", "malloc ignores values above 65535")]
    [InlineData("glibc.malloc.tcache_max=1033", "use a whole number in [0, 1032]")]
    [InlineData("glibc.malloc.mxfast=161", "malloc ignores values above 160")]
    public void ParseChecked_RefusesWhatParseIgnores_NamingTheAcceptedNamesOrRange(string text, string expected)
    {
        var e = Assert.Throws<InvalidTunablesException>(() => MallocTunables.ParseChecked(text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        if (expected.Contains("NAME=VALUE", StringComparison.Ordinal) || expected.Contains("unknown", StringComparison.Ordinal))
        {
            foreach (TunableSpec spec in TunableTable.All)
            {
                Assert.Contains(spec.Name, e.Message, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void ParseChecked_AcceptsEveryTunableAtItsBounds_AsParseDoes()
    {
        foreach (TunableSpec spec in TunableTable.All)
        {
            foreach (ulong v in new[] { spec.Min, spec.SetterMax })
            {
                string text = $"{spec.Name}={v}";
                Assert.Equal(MallocTunables.Parse(text), MallocTunables.ParseChecked(text));
                Assert.Equal(v, MallocTunables.ParseChecked(text).Get(spec.Id));
            }
        }
    }

    /// <summary>
    /// What the refusal above rests on, shown by glibc itself: a program frees 8 blocks of one tcache size and mallocs
    /// once; with room for 7 per tcache bin the 8th freed block went to a fastbin and the malloc returns the 7th, with room
    /// for 8 or more it returns the 8th. glibc with tcache_count=65536 (and tcache_count=100000) behaves as with the
    /// default 7, with 65535 as with room for 8: the setter ignored the larger values.
    /// </summary>
    [Fact]
    public void Glibc_IgnoresTcacheCountAbove65535_AsParseCheckedSays()
    {
        const string source = """
            #include <stdio.h>
            #include <stdlib.h>
            int main(void)
            {
                void *p[8];
                for (int i = 0; i < 8; i++) p[i] = malloc(24);
                for (int i = 0; i < 8; i++) free(p[i]);
                void *q = malloc(24);
                printf("%s\n", q == p[7] ? "eighth" : q == p[6] ? "seventh" : "other");
                return 0;
            }
            """;
        using var program = PtReplay.Tests.Traces.NativeProgram.Compile("tcache-count", source, "-O0 -fno-builtin");
        string Run(string? tunables)
        {
            var env = tunables is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["GLIBC_TUNABLES"] = tunables };
            var (code, stdout, stderr) = program.Run(env);
            Assert.True(code == 0, stderr);
            return stdout.Trim();
        }

        Assert.Equal("seventh", Run(null));
        Assert.Equal("eighth", Run("glibc.malloc.tcache_count=65535"));
        Assert.Equal("seventh", Run("glibc.malloc.tcache_count=65536"));
        Assert.Equal("seventh", Run("glibc.malloc.tcache_count=100000"));
        Assert.Equal(65535UL, MallocTunables.ParseChecked("glibc.malloc.tcache_count=65535").Get(TunableId.TcacheCount));
        Assert.Throws<InvalidTunablesException>(() => MallocTunables.ParseChecked("glibc.malloc.tcache_count=65536"));
    }
}
