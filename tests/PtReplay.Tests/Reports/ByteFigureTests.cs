using PtReplay.Reports.Html;

namespace PtReplay.Tests.Reports;

/// <summary>
/// Byte counts in terminal text (explain, info --sites) read with three significant digits in the unit that keeps
/// them under 1000; the expected strings are worked out by hand from the byte counts.
/// </summary>
public class ByteFigureTests
{
    [Theory]
    [InlineData(0UL, "0 B")]
    [InlineData(1023UL, "1023 B")]
    [InlineData(1024UL, "1 KiB")]
    [InlineData(1536UL, "1.5 KiB")]
    [InlineData(12_800UL, "12.5 KiB")]
    [InlineData(9_776_742UL, "9.32 MiB")]              // 9.3238... MiB: the old format printed "9547.6 KiB"
    [InlineData(1_048_000UL, "0.999 MiB")]             // 1023.4 KiB: four digits in KiB, so MiB (0.99945)
    [InlineData(1_048_575UL, "1 MiB")]                 // 0.999999 MiB rounds to 1
    [InlineData(1_022_976UL, "999 KiB")]
    [InlineData(615_514_112UL, "587 MiB")]
    [InlineData(1_288_490_189UL, "1.2 GiB")]
    public void Bytes_ThreeSignificantDigits_InTheUnitBelow1024(ulong bytes, string expected) =>
        Assert.Equal(expected, Figures.Bytes(bytes));
}
