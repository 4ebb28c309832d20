using PtReplay.Traces;

namespace PtReplay.Tests;

[Trait("Category", "Fast")]
public class SmokeTests
{
    [Fact]
    public void EventKindNames_MatchTheCNames()
    {
        Assert.Equal(10, EventKinds.Calls.Length);
        Assert.Equal("posix_memalign", EventKind.PosixMemalign.CName());
        Assert.True(EventKind.Realloc.TakesPointer());
        Assert.False(EventKind.Free.Allocates());
    }
}
