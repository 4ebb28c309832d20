namespace PtReplay.Tests.Infrastructure;

/// <summary>
/// The optional-package check every such test relies on: a present package gives its file, a missing one skips
/// naming the package and the command, and the strict mode turns that skip into a failure with the same text.
/// </summary>
[Trait("Category", "Fast")]
public sealed class RequiresTests
{
    [Fact]
    public void PresentPackage_GivesTheFileFound_ByPathOrByLibraryName()
    {
        Assert.Equal("/bin/sh", Requires.Package("dash", "/nonexistent/sh", "/bin/sh"));
        string libc = Requires.Package("libc6", "libc.so.6");
        Assert.True(File.Exists(libc) && Path.IsPathRooted(libc), libc);
        Assert.Equal(["/bin/sh", libc], Requires.Packages(("dash", ["/bin/sh"]), ("libc6", ["libc.so.6"])));
    }

    /// <summary>Skips; under the strict mode (.ci/run sets it) the same reason fails the test instead.</summary>
    [Fact]
    public void MissingPackage_SkipsNamingEveryMissingPackageAndTheCommand()
    {
        var skip = Assert.ThrowsAny<Exception>(() => Requires.Packages(
            ("dash", ["/bin/sh"]), ("no-such-pkg", ["/nonexistent/a"]), ("no-such-pkg", ["b.so.1"]), ("other-pkg", ["/nonexistent/c"])));
        Assert.IsType(Requires.Strict ? typeof(Xunit.Sdk.XunitException) : typeof(SkipException), skip);
        Assert.Contains("no-such-pkg other-pkg (/nonexistent/a; b.so.1; /nonexistent/c not found)", skip.Message, StringComparison.Ordinal);
        Assert.EndsWith("apt-get install -y --no-install-recommends no-such-pkg other-pkg", skip.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("dash", skip.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StrictMode_FailsInsteadOfSkipping_WithTheSameReason()
    {
        (string, string)[] missing = [("libjemalloc2", "libjemalloc.so.2")];
        Exception skip = Requires.Outcome(missing, strict: false);
        Exception fail = Requires.Outcome(missing, strict: true);
        Assert.IsType<SkipException>(skip);
        Assert.IsType<Xunit.Sdk.XunitException>(fail);
        Assert.EndsWith(skip.Message, fail.Message, StringComparison.Ordinal);
        Assert.StartsWith(Requires.StrictVariable + "=1", fail.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownOrBuiltInEngines_NeedNoPackage()
    {
        Requires.Engines(["sim", "glibc", "nosuch"]);
    }
}
