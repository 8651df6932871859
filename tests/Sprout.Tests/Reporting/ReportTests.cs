using System.Xml.Linq;
using Sprout.Reporting;
using Sprout.Runs;
using Xunit;

namespace Sprout.Tests.Reporting;

/// <summary>
/// A folder for one test's runs and reports, deleted afterwards; with SPROUT_KEEP_REPORTS=DIR it is kept under DIR
/// (to look at the reports, e.g. in a browser).
/// </summary>
internal sealed class ReportDir : IDisposable
{
    private readonly bool _keep;

    public ReportDir(string name)
    {
        string? keep = Environment.GetEnvironmentVariable("SPROUT_KEEP_REPORTS");
        _keep = !string.IsNullOrEmpty(keep);
        Path = _keep ? System.IO.Path.Combine(keep!, name) : Directory.CreateTempSubdirectory("sprout-report-test-").FullName;
        if (_keep && Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        if (_keep) return;
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

public class ReportTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    /// <summary>What a chart file holds: drawn shapes inside the data area, filled bands, legend texts.</summary>
    private sealed record SvgContent(int DataShapes, int Bands, IReadOnlyList<string> Texts);

    private static SvgContent ReadSvg(string path, string? bandColor = null)
    {
        var doc = XDocument.Load(path); // throws unless the file is well-formed XML
        Assert.Equal(Svg + "svg", doc.Root!.Name);
        // ScottPlot draws every plottable clipped to the data area: count the shapes inside clipped groups.
        int shapes = doc.Descendants(Svg + "g").Where(g => g.Attribute("clip-path") is not null)
            .SelectMany(g => g.Descendants()).Count(e => e.Name == Svg + "path" || e.Name == Svg + "rect" || e.Name == Svg + "polyline");
        int bands = bandColor is null ? 0 : doc.Descendants(Svg + "path").Count(p =>
            string.Equals((string?)p.Attribute("fill"), bandColor, StringComparison.OrdinalIgnoreCase) && p.Attribute("fill-opacity") is not null);
        var texts = doc.Descendants(Svg + "text").Select(t => t.Value.Trim()).ToArray();
        return new SvgContent(shapes, bands, texts);
    }

    /// <summary>Segments (L commands) of the longest path drawn in <paramref name="color"/> inside the data area.</summary>
    private static int LongestStroke(string path, string color) =>
        XDocument.Load(path).Descendants(Svg + "g").Where(g => g.Attribute("clip-path") is not null)
            .SelectMany(g => g.Descendants(Svg + "path"))
            .Where(p => string.Equals((string?)p.Attribute("stroke"), color, StringComparison.OrdinalIgnoreCase))
            .Select(p => ((string?)p.Attribute("d") ?? "").Count(c => c == 'L')).DefaultIfEmpty(0).Max();

    private static void AssertPng(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 5000, $"{path}: only {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        int w = (bytes[16] << 24) | (bytes[17] << 16) | (bytes[18] << 8) | bytes[19];
        int h = (bytes[20] << 24) | (bytes[21] << 16) | (bytes[22] << 8) | bytes[23];
        Assert.True(w >= 600 && h >= 300, $"{path}: {w}×{h}");
    }

    /// <summary>Every chart: SVG well-formed with shapes in its data area and every series in its legend; PNG valid.</summary>
    private static void AssertCharts(ReportFiles files, params string[] expected)
    {
        Assert.Equal(expected, files.Charts.Select(c => c.Name));
        foreach (var c in files.Charts)
        {
            Assert.True(File.Exists(c.Svg) && File.Exists(c.Png), c.Name);
            var svg = ReadSvg(c.Svg);
            Assert.NotEmpty(c.Series);
            Assert.True(svg.DataShapes >= c.Series.Count + 1, $"{c.Name}: {svg.DataShapes} shapes for {c.Series.Count} series");
            foreach (var s in c.Series) Assert.Contains(svg.Texts, t => t.StartsWith(s, StringComparison.Ordinal));
            Assert.Contains(c.Title, svg.Texts);
            AssertPng(c.Png);
        }
        string html = File.ReadAllText(files.Html);
        Assert.Equal(files.Charts.Count, CountOf(html, "<svg "));
        foreach (var c in files.Charts) Assert.Contains($"<figure id=\"chart-{c.Name}\">", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("<img", html); // self-contained: nothing to load
        string md = File.ReadAllText(files.Markdown);
        foreach (var c in files.Charts) Assert.Contains($"](charts/{c.Name}.png)", md);
        // Inline SVGs must not share ids (the first clip path of a page would clip every chart).
        var ids = System.Text.RegularExpressions.Regex.Matches(html, "\\bid=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(ids.Length, ids.Distinct().Count());
    }

    private static int CountOf(string s, string part)
    {
        int n = 0;
        for (int i = s.IndexOf(part, StringComparison.Ordinal); i >= 0; i = s.IndexOf(part, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }

    [Fact]
    public void ARunReportHasEveryChartAndThePaperTable()
    {
        using var dir = new ReportDir("single");
        string run = RunFixtures.WriteRun(dir.Sub("run"), new FixtureOptions { Paper = true });
        var files = RunReport.Write(run);
        AssertCharts(files, "loss", "accuracy", "widths", "inactivity", "cosine-fc1", "cosine-fc2");

        var byName = files.Charts.ToDictionary(c => c.Name);
        Assert.Equal(["train loss", "validation loss"], byName["loss"].Series);
        Assert.Equal(["fc1", "fc2"], byName["widths"].Series);
        Assert.Equal(["fc1 · at insertion", "fc1 · at stage end", "fc2 · at insertion", "fc2 · at stage end"], byName["inactivity"].Series);
        // One histogram per growth step, labelled with its number of pairs (n new neurons: n(n−1)/2 pairs).
        var added = GrowthEvent.ReadAll(Path.Combine(run, RunFiles.Events)).Where(e => e.Layer == "fc1").Select(e => e.Added).ToArray();
        Assert.Equal(added.Select((n, i) => $"G{i + 1} ({n * (n - 1) / 2} pair{(n == 2 ? "" : "s")})"), byName["cosine-fc1"].Series);
        // Growth steps are marked (labels G1 +n … at the top of the loss chart) and explained in the legend.
        var loss = ReadSvg(byName["loss"].Svg);
        Assert.Equal(3, loss.Texts.Count(t => t.StartsWith("G", StringComparison.Ordinal) && t.Contains('+')));
        Assert.Contains("growth step", loss.Texts);
        Assert.Contains("phase change", loss.Texts);
        Assert.Equal(0, ReadSvg(byName["loss"].Svg, "#1F77B4").Bands);
        // The training loss is one polyline through every epoch (22 = 6 initial + 3 × (4 + adjust epochs)).
        int epochs = MetricsTable.Read(Path.Combine(run, RunFiles.Metrics)).Rows.Count;
        Assert.Equal(epochs - 1, LongestStroke(byName["loss"].Svg, "#1F77B4"));
        Assert.Equal(epochs - 1, LongestStroke(byName["loss"].Svg, "#FF7F0E"));

        string html = File.ReadAllText(files.Html);
        Assert.Contains("ours − paper", html);
        Assert.Contains("MNIST, 2 hidden, SWE", html);
        Assert.Contains("96.1 ± 0.2", html);
        Assert.Contains("&quot;extender&quot;", html); // the config
        string md = File.ReadAllText(files.Markdown);
        Assert.Contains("| 000 Table 3 | MNIST, 2 hidden, SWE | test accuracy % | 96.1 ± 0.2 | 95.3 | −0.8 |", md);
        // Final figures: 784-16-16-10 grown to the widths in the last row.
        var last = MetricsTable.Read(Path.Combine(run, RunFiles.Metrics)).Rows[^1];
        Assert.Contains($"| final widths | fc1 {last.Widths[0]} · fc2 {last.Widths[1]} |", md);
        Assert.Contains($"| growth steps | 3 |", md);
    }

    [Fact]
    public void AGroupReportDrawsMeanAndStdBands()
    {
        using var dir = new ReportDir("group");
        string group = RunFixtures.WriteGroup(dir.Sub("mlp-swe"), 3, new FixtureOptions { Paper = true });
        var files = RunReport.Write(group);
        AssertCharts(files, "loss", "accuracy", "widths", "inactivity", "cosine-fc1", "cosine-fc2");
        var loss = files.Charts.Single(c => c.Name == "loss");
        Assert.Equal(["train loss", "validation loss"], loss.Series);
        var svg = ReadSvg(loss.Svg, "#1F77B4");
        Assert.True(svg.Bands >= 1, "no ± std band of the training loss");
        Assert.True(ReadSvg(loss.Svg, "#FF7F0E").Bands >= 1, "no ± std band of the validation loss");

        string md = File.ReadAllText(files.Markdown);
        Assert.Contains("| figure | seed-1 | seed-2 | seed-3 | mean ± std |", md);
        Assert.Contains("| growth steps | 3 | 3 | 3 | 3 ± 0 |", md);
        // The members' paper figures are averaged: ours = mean of 95.3, 95.5, 95.7.
        Assert.Contains("| 000 Table 3 | MNIST, 2 hidden, SWE | test accuracy % | 96.1 ± 0.2 | 95.5 ± 0.2 | −0.6 |", md);
        Assert.Contains("the seeds' configs differ in seed", md);
    }

    [Fact]
    public void AComparisonOverlaysEveryRun()
    {
        using var dir = new ReportDir("compare");
        string a = RunFixtures.WriteRun(dir.Sub("swe"), new FixtureOptions { Seed = 1 });
        string b = RunFixtures.WriteRun(dir.Sub("swe-long"), new FixtureOptions { Seed = 2, Stages = 5, AdjustPhase = false });
        string g = RunFixtures.WriteGroup(dir.Sub("swe-seeds"), 3, new FixtureOptions());
        var files = RunComparison.Write([a, b, g], dir.Sub("out"));
        AssertCharts(files, "compare-loss", "compare-accuracy", "compare-widths");
        var loss = files.Charts[0];
        Assert.Equal(6, loss.Series.Count); // train and validation of each of the 3
        foreach (var name in (string[])["swe", "swe-long", "swe-seeds"])
            Assert.Contains(name + " · val", loss.Series);
        Assert.Equal(2 * 2 + 2, files.Charts[2].Series.Count); // two layers per run
        Assert.True(ReadSvg(loss.Svg, "#2CA02C").Bands >= 1, "the group has no band");
        Assert.Equal(0, ReadSvg(loss.Svg, "#1F77B4").Bands);
        string md = File.ReadAllText(files.Markdown);
        Assert.Contains("| figure | swe | swe-long | swe-seeds (3 seeds) |", md);
        Assert.Contains("| growth steps | 3 | 5 | 3 ± 0 |", md);
        Assert.Contains("## Config differences", md);
        Assert.Contains("| growth.stages | 3 | 5 | 3 |", md);
        Assert.EndsWith("compare.html", files.Html);
    }

    [Fact]
    public void ManyShortStagesKeepTheChartsReadable()
    {
        using var dir = new ReportDir("many-stages");
        string run = RunFixtures.WriteRun(dir.Sub("run"), new FixtureOptions { Stages = 16, StageEpochs = 1, InitialEpochs = 3, AdjustPhase = false });
        var files = RunReport.Write(run);
        AssertCharts(files, "loss", "accuracy", "widths", "inactivity", "cosine-fc1", "cosine-fc2");
        // 16 growth steps one epoch apart: every step gets its line, but labels are thinned so they do not overlap.
        var labels = ReadSvg(files.Charts[0].Svg).Texts.Where(t => t.StartsWith('G') && t.Contains('+')).ToArray();
        Assert.InRange(labels.Length, 6, 12);
        Assert.Contains("G1 +", labels[0]);
        // The cosine histograms show 10 of the 16 steps, the first and the last among them.
        var cos = files.Charts.Single(c => c.Name == "cosine-fc1").Series;
        Assert.Equal(10, cos.Count);
        Assert.StartsWith("G1 (", cos[0]);
        Assert.StartsWith("G16 (", cos[^1]);
    }

    [Fact]
    public void ARunWithoutGrowthStillGetsLossAndAccuracy()
    {
        using var dir = new ReportDir("plain");
        string run = RunFixtures.WriteRun(dir.Sub("run"), new FixtureOptions { Stages = 0, InitialEpochs = 10 });
        var files = RunReport.Write(run);
        AssertCharts(files, "loss", "accuracy");
        var loss = ReadSvg(files.Charts[0].Svg);
        Assert.DoesNotContain("growth step", loss.Texts);
        Assert.DoesNotContain("## Growth", File.ReadAllText(files.Markdown));
    }

    [Fact]
    public void ARunThatHasNotFinishedAnEpochGetsAReportWithoutCharts()
    {
        using var dir = new ReportDir("no-epochs");
        string run = RunFixtures.WriteRun(dir.Sub("run"), new FixtureOptions { Stages = 0 });
        File.WriteAllText(Path.Combine(run, RunFiles.Metrics), MetricsTable.Header(RunFixtures.Layers) + "\n");
        var files = RunReport.Write(run);
        Assert.Empty(files.Charts);
        Assert.Contains("metrics.csv has no rows yet", File.ReadAllText(files.Html));
        Assert.Contains("| epochs | 0 |", File.ReadAllText(files.Markdown));

        // In a group, a seed without metrics.csv yet is left out, and the report says so.
        string group = RunFixtures.WriteGroup(dir.Sub("group"), 3, new FixtureOptions());
        File.Delete(Path.Combine(group, "seed-3", RunFiles.Metrics));
        var g = RunReport.Write(group);
        Assert.Contains("Left out (no metrics.csv yet): seed-3.", File.ReadAllText(g.Markdown));
        Assert.Contains("| figure | seed-1 | seed-2 | mean ± std |", File.ReadAllText(g.Markdown));
        // A run folder without metrics is named as such.
        File.Delete(Path.Combine(run, RunFiles.Metrics));
        Assert.Contains("no metrics.csv", Assert.Throws<FileNotFoundException>(() => RunReport.Write(run)).Message);
    }

    [Fact]
    public void MissingValuesDoNotBreakACurve()
    {
        using var dir = new ReportDir("nan");
        string gaps = RunFixtures.WriteRun(dir.Sub("gaps"), new FixtureOptions { WithNaN = true });
        var files = RunReport.Write(gaps);
        AssertCharts(files, "loss", "accuracy", "widths", "inactivity", "cosine-fc1", "cosine-fc2");
        Assert.Equal(["train loss", "validation loss"], files.Charts[0].Series);
        Assert.DoesNotContain("NaN", File.ReadAllText(files.Charts[0].Svg));
        int epochs = MetricsTable.Read(Path.Combine(gaps, RunFiles.Metrics)).Rows.Count;
        Assert.Equal(epochs - 1, LongestStroke(files.Charts[0].Svg, "#1F77B4")); // training loss: whole
        // Validation is missing at rows 3, 4 and 6: its line has the pieces 1–2 and 7–end (row 5 is a lone point).
        Assert.Equal(1 + (epochs - 7), LongestStroke(files.Charts[0].Svg, "#FF7F0E"));

        string noVal = RunFixtures.WriteRun(dir.Sub("no-validation"), new FixtureOptions { NoValidation = true, Stages = 1 });
        var f2 = RunReport.Write(noVal);
        Assert.Equal(["train loss"], f2.Charts.Single(c => c.Name == "loss").Series);
        Assert.Equal(["train accuracy"], f2.Charts.Single(c => c.Name == "accuracy").Series);
        Assert.Contains("| val loss | — |", File.ReadAllText(f2.Markdown));
    }

    [Fact]
    public void AMalformedMetricsFileGivesOneLineNamingTheLine()
    {
        using var dir = new ReportDir("bad");
        string run = RunFixtures.WriteRun(dir.Sub("run"), new FixtureOptions());
        string metrics = Path.Combine(run, RunFiles.Metrics);
        var lines = File.ReadAllLines(metrics);
        lines[2] = lines[2].Replace(",initial,", ",initial,x", StringComparison.Ordinal);
        File.WriteAllLines(metrics, lines);
        var e = Assert.Throws<FormatException>(() => RunReport.Write(run));
        Assert.Contains("metrics.csv:3", e.Message);
        Assert.DoesNotContain('\n', e.Message);

        lines[2] = string.Join(',', lines[2].Split(',')[..5]); // truncated row
        File.WriteAllLines(metrics, lines);
        Assert.Contains("metrics.csv:3", Assert.Throws<FormatException>(() => RunReport.Write(run)).Message);

        File.WriteAllText(metrics, "");
        Assert.Contains("empty", Assert.Throws<FormatException>(() => RunReport.Write(run)).Message);
        Assert.False(File.Exists(Path.Combine(run, RunReport.HtmlFile)));
    }

    [Fact]
    public async Task OtherBadRunFilesGiveOneLine()
    {
        using var dir = new ReportDir("bad-other");
        string run = RunFixtures.WriteRun(dir.Sub("run"), new FixtureOptions { Paper = true });
        string events = Path.Combine(run, RunFiles.Events);
        var ev = File.ReadAllLines(events);
        File.WriteAllLines(events, [ev[0], ev[1][..(ev[1].Length / 2)]]);
        Assert.Contains("events.jsonl:2", Assert.Throws<FormatException>(() => RunReport.Write(run)).Message);
        File.WriteAllLines(events, ev);

        string report = Path.Combine(run, RunFiles.Report);
        File.WriteAllText(report, "{\"paper\": [{\"table\": 3}]}");
        Assert.Contains("report.json", Assert.Throws<FormatException>(() => RunReport.Write(run)).Message);
        File.WriteAllText(report, "{not json");
        Assert.Contains("report.json: not JSON", Assert.Throws<FormatException>(() => RunReport.Write(run)).Message);
        File.Delete(report);

        if (OperatingSystem.IsLinux())
        {
            // A link to an endless device is refused without reading it.
            string metrics = Path.Combine(run, RunFiles.Metrics);
            File.Delete(metrics);
            File.CreateSymbolicLink(metrics, "/dev/zero");
            Assert.Contains("metrics.csv", Assert.Throws<FormatException>(() => RunReport.Write(run)).Message);
            // A FIFO is refused without being opened (opening it would wait for a writer forever).
            File.Delete(metrics);
            Assert.Equal(0, MkFifo(metrics, Convert.ToUInt32("644", 8)));
            var write = Task.Run(() => RunReport.Write(run), TestContext.Current.CancellationToken);
            var first = await Task.WhenAny(write, Task.Delay(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken));
            Assert.True(first == write, "reading a FIFO hung");
            Assert.Contains("metrics.csv: empty (or not a regular file)", (await Assert.ThrowsAsync<FormatException>(() => write)).Message);
            File.Delete(metrics);
        }

        Assert.Contains("neither a run folder", Assert.Throws<FormatException>(() => RunReport.Write(dir.Sub("run/charts"))).Message);
        Assert.Throws<DirectoryNotFoundException>(() => RunReport.Write(dir.Sub("nowhere")));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int MkFifo(string path, uint mode);

    [Fact]
    public void SeedsAreAlignedByStagePhaseAndEpoch()
    {
        static MetricsTable T(params (int Stage, string Phase, int Epoch, double Loss)[] rows) =>
            new(["fc1"], rows.Select(r => new MetricsRow(r.Stage, r.Phase, r.Epoch, [4], 10, r.Loss, 0.5, double.NaN, double.NaN, 1e-3, 1)).ToArray());
        var a = T((0, "initial", 1, 1.0), (0, "initial", 2, 0.8), (1, "stage", 1, 0.6), (1, "stage", 2, 0.5));
        var b = T((0, "initial", 1, 3.0), (0, "initial", 2, 1.2), (1, "adjust", 1, 0.9), (1, "stage", 1, 0.8), (1, "stage", 2, 0.7), (1, "stage", 3, 0.4));
        var t = Timeline.Build([a, b]);
        Assert.Equal([new EpochKey(0, "initial", 1), new EpochKey(0, "initial", 2), new EpochKey(1, "adjust", 1),
            new EpochKey(1, "stage", 1), new EpochKey(1, "stage", 2), new EpochKey(1, "stage", 3)], t.Keys);
        var (mean, std) = t.Series(r => r.TrainLoss);
        Assert.Equal([2.0, 1.0, 0.9, 0.7, 0.6, 0.4], mean.Select(m => Math.Round(m, 10)));
        Assert.Equal(Math.Sqrt(2), std[0], 12);
        Assert.True(double.IsNaN(std[2]) && double.IsNaN(std[5])); // one seed only
        Assert.Equal([new Boundary(2.5, 1, true, "adjust"), new Boundary(3.5, 1, false, "stage")], t.Boundaries);
        Assert.False(t.Any(r => r.ValLoss));
    }
}
