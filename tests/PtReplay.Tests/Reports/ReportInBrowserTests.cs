using System.Text.Json;
using System.Text.RegularExpressions;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PuppeteerSharp;

namespace PtReplay.Tests.Reports;

/// <summary>
/// The HTML report opened in a real browser (Debian's chromium, headless, driven over the DevTools protocol by
/// PuppeteerSharp): the page loads without a console error, an uncaught script error or a failed request; every image
/// (each plot is an embedded SVG) decodes to a picture of its stated size; each workload has its section with the
/// trace, summary, over-time and latency parts (and the findings where the replay ran with --explain); and every link
/// of the contents lands on an element of the page.
/// </summary>
public sealed partial class ReportInBrowserTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-browser-");

    public void Dispose() => _dir.Dispose();

    [SkippableFact]
    public async Task Report_RendersInChromium_WithoutErrors_AndEveryImageDecodes()
    {
        string chromium = Requires.Package("chromium", "/usr/bin/chromium");
        string sqlite = RepoFiles.SampleTraces.First(t => t.EndsWith("sqlite.trace", StringComparison.Ordinal));
        string python = RepoFiles.SampleTraces.First(t => t.EndsWith("python.trace", StringComparison.Ordinal));
        string sqliteOut = Path.Combine(_dir.Path, "replay-sqlite"), pythonOut = Path.Combine(_dir.Path, "replay-python");
        var r1 = CliRunner.Run("replay", sqlite, "--out", sqliteOut, "--engine", "sim,glibc", "--explain", "--sample-every", "500");
        Assert.True(r1.ExitCode == 0, r1.Stderr);
        var r2 = CliRunner.Run("replay", python, "--out", pythonOut, "--engine", "sim", "--sample-every", "2000");
        Assert.True(r2.ExitCode == 0, r2.Stderr);
        string html = _dir.File("report.html");
        var report = CliRunner.Run("report", sqliteOut, pythonOut, "-o", html);
        Assert.True(report.ExitCode == 0, report.Stderr);
        int imagesInFile = ImageTag().Count(File.ReadAllText(html));
        Assert.True(imagesInFile >= 20, $"only {imagesInFile} images in the page");

        var problems = new List<string>();
        await using IBrowser browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            Headless = true,
            ExecutablePath = chromium,
            // Root in a container has no user namespace for chromium's sandbox; the page is our own file.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            Timeout = 120_000,
        });
        await using IPage page = await browser.NewPageAsync();
        page.Console += (_, e) =>
        {
            if (e.Message.Type is ConsoleType.Error or ConsoleType.Warning)
            {
                problems.Add($"console {e.Message.Type}: {e.Message.Text}");
            }
        };
        page.PageError += (_, e) => problems.Add($"page error: {e.Message}");
        page.RequestFailed += (_, e) => problems.Add($"request failed: {e.Request.Url}");
        await page.GoToAsync(new Uri(html).AbsoluteUri, new NavigationOptions { WaitUntil = [WaitUntilNavigation.Load], Timeout = 120_000 });

        // Every image decoded (complete, with a natural size equal to the width and height the page gives it).
        JsonElement images = await page.EvaluateFunctionAsync<JsonElement>(
            "() => Array.from(document.images).map(i => ({ alt: i.alt, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight, " +
            "ww: Number(i.getAttribute('width')), hh: Number(i.getAttribute('height')) }))");
        Assert.Equal(imagesInFile, images.GetArrayLength());
        foreach (JsonElement image in images.EnumerateArray())
        {
            string alt = image.GetProperty("alt").GetString() ?? "";
            Assert.True(image.GetProperty("complete").GetBoolean() && image.GetProperty("w").GetInt32() > 0, $"image '{alt}' did not decode");
            Assert.True(image.GetProperty("w").GetInt32() == image.GetProperty("ww").GetInt32() && image.GetProperty("h").GetInt32() == image.GetProperty("hh").GetInt32(),
                $"image '{alt}' decoded at {image.GetProperty("w")}x{image.GetProperty("h")}, the page says {image.GetProperty("ww")}x{image.GetProperty("hh")}");
        }

        // Each workload's section, with its parts, as the browser parsed the page.
        JsonElement sections = await page.EvaluateFunctionAsync<JsonElement>(
            "() => Array.from(document.querySelectorAll('section[id]')).map(s => ({ name: s.querySelector('h2')?.textContent, " +
            "parts: Array.from(s.querySelectorAll('h3')).map(h => h.textContent) }))");
        var byName = sections.EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("parts").EnumerateArray().Select(p => p.GetString()!).ToList());
        foreach (string workload in new[] { "sqlite", "python" })
        {
            Assert.True(byName.TryGetValue(workload, out List<string>? parts), $"no section for {workload}: {string.Join(", ", byName.Keys)}");
            foreach (string part in new[] { "Trace", "Summary", "Over time", "Latency per call" })
            {
                Assert.True(parts!.Contains(part), $"{workload}: no '{part}' in [{string.Join(", ", parts)}]");
            }
        }

        Assert.Contains("Findings (the model's heap)", byName["sqlite"]);
        Assert.DoesNotContain("Findings (the model's heap)", byName["python"]);

        // Every in-page link (the contents, the overview) lands on an element, and ids are unique.
        JsonElement links = await page.EvaluateFunctionAsync<JsonElement>(
            "() => ({ dangling: Array.from(document.querySelectorAll('a[href^=\"#\"]')).map(a => a.getAttribute('href').slice(1))" +
            ".filter(id => document.querySelectorAll('[id=\"' + id + '\"]').length !== 1), " +
            "links: document.querySelectorAll('a[href^=\"#\"]').length })");
        Assert.True(links.GetProperty("links").GetInt32() >= 4, "the contents and the overview should link to both workloads");
        Assert.Empty(links.GetProperty("dangling").EnumerateArray());
        Assert.Empty(problems);
    }

    [GeneratedRegex("<img\\s")]
    private static partial Regex ImageTag();
}
