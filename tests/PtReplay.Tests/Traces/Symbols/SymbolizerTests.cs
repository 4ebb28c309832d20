using System.Globalization;
using System.Text.RegularExpressions;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces.Stacks;
using PtReplay.Traces.Symbols;

namespace PtReplay.Tests.Traces.Symbols;

/// <summary>
/// The symboliser against the real system: a C program built with -g prints the run-time addresses of two of its
/// functions, a return address taken inside one, the address of libc's malloc, and its own executable mappings from
/// /proc/self/maps. The golden names come from nm, the golden lines from addr2line on the same binary, the build ids from
/// readelf -n; nothing comes from the code under test.
/// </summary>
public sealed partial class SymbolizerTests : IDisposable
{
    private const string Source = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>

        __attribute__((noinline)) void *pin_maker(size_t n) {
            printf("ret %p\n", __builtin_return_address(0));
            return malloc(n);
        }

        __attribute__((noinline)) int other_function(int x) { return x * 3 + 1; }

        int main(void) {
            void *p = pin_maker(64);
            printf("fn pin_maker %p\n", (void *)&pin_maker);
            printf("fn other_function %p\n", (void *)&other_function);
            printf("fn main %p\n", (void *)&main);
            printf("malloc %p\n", (void *)&malloc);
            FILE *maps = fopen("/proc/self/maps", "r");
            char line[4096];
            while (fgets(line, sizeof line, maps))
                if (strstr(line, " r-xp ")) printf("map %s", line);
            fclose(maps);
            free(p);
            return other_function(0) == 1 ? 0 : 1;
        }
        """;

    private readonly TempDir _dir = new("ptreplay-symbols-");
    private readonly string _exe;
    private readonly Dictionary<string, ulong> _functions = [];
    private readonly ulong _returnAddress;
    private readonly ulong _malloc;
    private readonly List<ModuleMapping> _maps = [];

    public SymbolizerTests()
    {
        _exe = Gcc.CompileSource(_dir.Path, "symprog", Source, Gcc.Flags("-g -O1 -fno-builtin"));
        var (code, stdout, stderr) = ChildProcess.Run(_exe, [], CleanEnvironment.With());
        Assert.True(code == 0, stderr);
        foreach (string line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            switch (f[0])
            {
                case "fn": _functions[f[1]] = Hex(f[2]); break;
                case "ret": _returnAddress = Hex(f[1]); break;
                case "malloc": _malloc = Hex(f[1]); break;
                case "map" when f.Length >= 7 && f[6].StartsWith('/'): // [vdso] is no file
                    // start-end perms offset dev inode path
                    string[] range = f[1].Split('-');
                    string path = f[6];
                    _maps.Add(new ModuleMapping(Hex(range[0]), Hex(range[1]), Hex(f[3]), path, ReadelfBuildId(path)));
                    break;
            }
        }
    }

    public void Dispose() => _dir.Dispose();

    [SkippableFact]
    public void FunctionsOfAPieBuiltWithG_AreNamedWithTheLineAddr2lineGives()
    {
        Requires.Package("libdw1", "libdw.so.1"); // source lines come from elfutils' libdw
        using var s = new Symbolizer(new SymbolizerOptions { CacheDirectory = null });
        Dictionary<string, ulong> nm = Nm(_exe);
        ulong bias = _functions["main"] - nm["main"]; // where the kernel loaded the PIE (nm gives link-time addresses)
        Assert.NotEqual(0UL, bias);
        foreach (string name in new[] { "pin_maker", "other_function", "main" })
        {
            SymbolizedFrame f = s.Resolve(MapOf(_functions[name]), _functions[name], returnAddress: false);
            Assert.True(f.Resolved, f.Problem);
            Assert.Equal(name, f.Function);
            Assert.Equal(_exe, f.Module);
            Assert.Equal(Addr2line(_exe, _functions[name] - bias), (f.File, f.Line));
        }

        // A return address: the caller (main), at the line of the call (addr2line on the call instruction, one byte back).
        SymbolizedFrame ret = s.Resolve(MapOf(_returnAddress), _returnAddress);
        Assert.Equal("main", ret.Function);
        Assert.Equal(Addr2line(_exe, _returnAddress - bias - 1), (ret.File, ret.Line));
        Assert.EndsWith("symprog.c", ret.File, StringComparison.Ordinal);
    }

    [Fact]
    public void LibcsMalloc_IsNamedFromItsDynamicSymbols()
    {
        using var s = new Symbolizer(new SymbolizerOptions { CacheDirectory = null });
        ModuleMapping libc = MapOf(_malloc);
        Assert.Contains("libc", Path.GetFileName(libc.Path), StringComparison.Ordinal);
        SymbolizedFrame f = s.Resolve(libc, _malloc, returnAddress: false);
        Assert.True(f.Resolved, f.Problem);
        // The names glibc's dynamic symbol table gives that address (readelf -Ws --dyn-syms): malloc and its aliases.
        ulong fileOffset = libc.FileOffsetOf(_malloc);
        Assert.Contains(f.Function, DynamicNamesAt(libc.Path, fileOffset));
        Assert.Equal("malloc", f.Function);
    }

    [Fact]
    public void AMismatchingBuildId_OrAMissingFile_GivesAQuestionMarkWithTheReason_NeverAName()
    {
        using var s = new Symbolizer(new SymbolizerOptions { CacheDirectory = null });
        ModuleMapping real = MapOf(_functions["pin_maker"]);
        Assert.NotNull(real.BuildId);
        ModuleMapping wrong = real with { BuildId = new string('0', 40) };
        SymbolizedFrame f = s.Resolve(wrong, _functions["pin_maker"], returnAddress: false);
        Assert.Equal("?", f.Function);
        Assert.False(f.Resolved);
        Assert.Contains("build id mismatch", f.Problem, StringComparison.Ordinal);
        Assert.Contains(real.BuildId!, f.Problem, StringComparison.Ordinal);

        SymbolizedFrame gone = s.Resolve(real with { Path = _dir.File("not-there") }, _functions["pin_maker"], returnAddress: false);
        Assert.Equal("?", gone.Function);
        Assert.Contains("missing", gone.Problem, StringComparison.Ordinal);

        SymbolizedFrame nowhere = s.Resolve(null, 0x1234);
        Assert.Equal("?", nowhere.Function);
        Assert.Contains("no recorded executable mapping", nowhere.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDiskCache_ResolvesByBuildId_AfterTheBinaryIsGone()
    {
        string copy = _dir.File("copy-of-symprog");
        File.Copy(_exe, copy);
        ModuleMapping real = MapOf(_functions["other_function"]) with { Path = copy };
        string cache = _dir.NewFolder("cache");
        SymbolizedFrame first;
        using (var s = new Symbolizer(new SymbolizerOptions { CacheDirectory = cache }))
        {
            first = s.Resolve(real, _functions["other_function"], returnAddress: false);
            Assert.Equal("other_function", first.Function);
        }

        Assert.True(File.Exists(Path.Combine(cache, real.BuildId + ".tsv")));
        File.Delete(copy);
        using (var s = new Symbolizer(new SymbolizerOptions { CacheDirectory = cache }))
        {
            SymbolizedFrame cached = s.Resolve(real, _functions["other_function"], returnAddress: false);
            Assert.Equal((first.Function, first.File, first.Line), (cached.Function, cached.File, cached.Line));
        }

        using (var s = new Symbolizer(new SymbolizerOptions { CacheDirectory = null }))
        {
            Assert.Equal("?", s.Resolve(real, _functions["other_function"], returnAddress: false).Function);
        }
    }

    [Fact]
    public void ACppFunction_IsNamedDemangled_AsNmDemanglesIt()
    {
        const string cpp = """
            #include <cstdio>
            #include <cstring>
            namespace shapes { struct Box { int w; };
            __attribute__((noinline)) Box *make_box(unsigned long n) { return new Box[n]; } }
            int main() {
                delete[] shapes::make_box(3);
                std::printf("fn %p\n", (void *)&shapes::make_box);
                FILE *maps = std::fopen("/proc/self/maps", "r");
                char line[4096];
                while (std::fgets(line, sizeof line, maps))
                    if (std::strstr(line, " r-xp ") && std::strchr(line, '/')) std::printf("map %s", line);
                std::fclose(maps);
            }
            """;
        string src = _dir.File("box.cc");
        File.WriteAllText(src, cpp);
        string exe = Gcc.Compile(src, _dir.File("box"), Gcc.Flags("-x c++ -g -O1"), "-lstdc++");
        var (code, stdout, stderr) = ChildProcess.Run(exe, [], CleanEnvironment.With());
        Assert.True(code == 0, stderr);
        ulong fn = 0;
        var maps = new List<ModuleMapping>();
        foreach (string[] f in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)))
        {
            if (f[0] == "fn")
            {
                fn = Hex(f[1]);
            }
            else
            {
                string[] range = f[1].Split('-');
                maps.Add(new ModuleMapping(Hex(range[0]), Hex(range[1]), Hex(f[3]), f[6], ReadelfBuildId(f[6])));
            }
        }

        // nm -C: the toolchain's demangled name of the symbol (the mangled one holds "make_box").
        string golden = Tool("/usr/bin/nm", "-C", exe).Split('\n').Select(l => l.Split(' ', 3)).Single(f => f.Length == 3 && f[2].Contains("make_box", StringComparison.Ordinal))[2];
        using var s = new Symbolizer(new SymbolizerOptions { CacheDirectory = null });
        SymbolizedFrame frame = s.Resolve(maps.Last(m => m.Contains(fn)), fn, returnAddress: false);
        Assert.Equal(golden, frame.Function);
        Assert.Equal("shapes::make_box(unsigned long)", frame.Function);
    }

    private ModuleMapping MapOf(ulong address) => _maps.Last(m => m.Contains(address));

    private static ulong Hex(string text) => ulong.Parse(text.StartsWith("0x", StringComparison.Ordinal) ? text[2..] : text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    private static string Tool(string tool, params string[] args)
    {
        var (code, stdout, stderr) = ChildProcess.Run(tool, args, CleanEnvironment.With(new Dictionary<string, string> { ["LC_ALL"] = "C" }));
        Assert.True(code == 0, $"{tool}: {stderr}");
        return stdout;
    }

    private static string? ReadelfBuildId(string path) =>
        BuildIdLine().Match(Tool("/usr/bin/readelf", "-nW", path)) is { Success: true } m ? m.Groups[1].Value : null;

    private static Dictionary<string, ulong> Nm(string path)
    {
        var result = new Dictionary<string, ulong>();
        foreach (string line in Tool("/usr/bin/nm", path).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split(' ');
            if (f.Length == 3 && f[1] is "T" or "t")
            {
                result[f[2]] = Hex(f[0]);
            }
        }

        return result;
    }

    private static (string? File, int Line) Addr2line(string exe, ulong vaddr)
    {
        string line = Tool("/usr/bin/addr2line", "-e", exe, string.Create(CultureInfo.InvariantCulture, $"0x{vaddr:x}")).Trim();
        int colon = line.LastIndexOf(':');
        string number = line[(colon + 1)..].Split(' ')[0];
        return (line[..colon], int.Parse(number, CultureInfo.InvariantCulture));
    }

    // Dynamic symbols of libc whose address is the file offset's virtual address (PT_LOAD from readelf -lW).
    private static List<string> DynamicNamesAt(string path, ulong fileOffset)
    {
        ulong vaddr = 0;
        foreach (Match m in LoadLine().Matches(Tool("/usr/bin/readelf", "-lW", path)))
        {
            (ulong off, ulong va, ulong size) = (Hex(m.Groups[1].Value), Hex(m.Groups[2].Value), Hex(m.Groups[3].Value));
            if (fileOffset >= off && fileOffset < off + size)
            {
                vaddr = fileOffset - off + va;
            }
        }

        Assert.NotEqual(0UL, vaddr);
        var names = new List<string>();
        foreach (string line in Tool("/usr/bin/readelf", "-W", "--dyn-syms", path).Split('\n'))
        {
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 8 && f[3] == "FUNC" && ulong.TryParse(f[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v) && v == vaddr)
            {
                names.Add(f[7].Split('@')[0]);
            }
        }

        return names;
    }

    [GeneratedRegex(@"Build ID: ([0-9a-f]+)")]
    private static partial Regex BuildIdLine();

    [GeneratedRegex(@"LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)")]
    private static partial Regex LoadLine();
}
