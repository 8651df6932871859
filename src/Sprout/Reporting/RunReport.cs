using System.Globalization;
using ScottPlot;
using Sprout.Runs;

namespace Sprout.Reporting;

/// <summary>
/// The report of a run folder or of a run group (one run folder per seed): report.md, a self-contained
/// report.html and charts/*.svg + *.png made with ScottPlot. What each chart shows is described in docs/runs.md.
/// </summary>
public static class RunReport
{
    /// <summary>Markdown report file name.</summary>
    public const string MarkdownFile = "report.md";

    /// <summary>HTML report file name.</summary>
    public const string HtmlFile = "report.html";

    /// <summary>Folder of the chart files, beside the reports.</summary>
    public const string ChartsFolder = "charts";

    /// <summary>
    /// Writes the report of <paramref name="runOrGroupDir"/> into <paramref name="outDir"/> (default: the folder itself).
    /// </summary>
    /// <param name="runOrGroupDir">A run folder (it has metrics.csv) or a run group (its subfolders are run folders).</param>
    /// <param name="outDir">Where report.md, report.html and charts/ go; created if needed.</param>
    /// <returns>The files written.</returns>
    /// <exception cref="FormatException">A run file is malformed (the message names the file and line).</exception>
    /// <exception cref="IOException">The folder or a file cannot be read or written.</exception>
    public static ReportFiles Write(string runOrGroupDir, string? outDir = null)
    {
        var set = RunSet.Load(runOrGroupDir);
        outDir ??= runOrGroupDir;
        string chartsDir = Path.Combine(outDir, ChartsFolder);
        Directory.CreateDirectory(chartsDir);

        var doc = new ReportDocument(set.IsGroup ? $"Report: {set.Name} ({set.Members.Count} seeds)" : $"Report: {set.Name}");
        doc.Paragraph(Describe(set));

        doc.Heading("Summary");
        Summary(doc, set);

        var paper = set.Paper();
        if (paper.Count > 0)
        {
            doc.Heading("Paper and ours");
            PaperTable(doc, paper);
        }

        var charts = new List<ReportChart>();
        void Add(Chart c) { var rc = Save(c, chartsDir); charts.Add(rc); doc.Figure(rc); }

        doc.Heading("Training curves");
        var timeline = Timeline.Build(set.Members.Select(m => m.Metrics).ToArray());
        var labels = GrowthSummary.Labels(set);
        string seeds = set.IsGroup ? $" — mean ± std over {set.Members.Count} seeds" : "";
        string marks = set.HasEvents
            ? " Dashed vertical lines are growth steps (G1 +n: the first step, n neurons added over all layers); every other stage is shaded."
            : " The run did not grow.";
        if (timeline.Keys.Count == 0)
            doc.Note("metrics.csv has no rows yet: no curves to draw.");
        else
        {
            Add(Charts.Curves("loss", "Loss" + seeds, "Training loss (mean over each epoch) and validation loss (after each epoch) "
                + "over every trained epoch, in order across stages and phases." + marks + Band(set), "loss",
                [new Curve("train loss", timeline, r => r.TrainLoss, Charts.Palette[0], LinePattern.Solid),
                 new Curve("validation loss", timeline, r => r.ValLoss, Charts.Palette[1], LinePattern.Solid)],
                markGrowth: true, growthLabels: labels));
            if (timeline.Any(r => r.TrainAccuracy) || timeline.Any(r => r.ValAccuracy))
                Add(Charts.Curves("accuracy", "Accuracy" + seeds, "Training and validation accuracy over every trained epoch." + marks + Band(set),
                    "accuracy (%)",
                    [new Curve("train accuracy", timeline, r => r.TrainAccuracy, Charts.Palette[0], LinePattern.Solid),
                     new Curve("validation accuracy", timeline, r => r.ValAccuracy, Charts.Palette[1], LinePattern.Solid)],
                    markGrowth: true, scale: 100, growthLabels: labels));
            else
                doc.Note("No accuracy: the run's loss has no classes.");
        }

        if (set.HasEvents)
        {
            doc.Heading("Growth");
            GrowthCharts(set, Add);
            doc.Heading("Growth steps", 3);
            var (h, rows, num) = set.IsGroup ? GrowthSummary.GroupEventTable(set) : GrowthSummary.EventTable(set.Members[0]);
            doc.Table(h, rows, num);
        }

        Config(doc, set);

        string md = Path.Combine(outDir, MarkdownFile), html = Path.Combine(outDir, HtmlFile);
        File.WriteAllText(md, doc.ToMarkdown(outDir));
        File.WriteAllText(html, doc.ToHtml());
        return new ReportFiles(md, html, charts);
    }

    private static string Band(RunSet set) => set.IsGroup
        ? " Lines are the mean over the seeds at each (stage, phase, epoch); the band is ± one standard deviation "
          + "(it breaks where only one seed trained that epoch, e.g. when seeds stopped a stage at different epochs)." : "";

    internal static string Describe(RunSet set)
    {
        var ev = set.Members.SelectMany(m => m.Events).ToArray();
        string method = ev.Length == 0 ? "no growth"
            : "grown with " + string.Join(", ", ev.Select(e => $"{e.Extender} / {e.Distributor}").Distinct()) + " (extender / distributor)";
        string layers = set.Layers.Count == 0 ? "no growable layers" : "growable layers " + string.Join(", ", set.Layers);
        string where = set.IsGroup
            ? $"Run group {set.Dir}: seeds {string.Join(", ", set.Members.Select(m => m.Name))}."
            : $"Run folder {set.Dir}.";
        string skipped = set.Skipped.Count == 0 ? ""
            : $" Left out (no metrics.csv yet): {string.Join(", ", set.Skipped)}.";
        return $"{where} {Cap(method)}; {layers}.{skipped}";
    }

    private static string Cap(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    private static void Summary(ReportDocument doc, RunSet set)
    {
        var figs = set.Members.Select(FinalFigures.Of).ToArray();
        if (!set.IsGroup)
        {
            var row = figs[0].Row(set.Name);
            doc.Table(["figure", "value"], FinalFigures.Header.Skip(1).Zip(row.Skip(1), (h, v) => new[] { h, v }), [false, true]);
            doc.Note("Final figures are those of the last trained epoch; test accuracy comes from report.json when the run measured it.");
            return;
        }
        var rows = set.Members.Zip(figs, (m, f) => f.Row(m.Name)).ToList();
        rows.Add(FinalFigures.MeanRow("mean ± std", figs));
        var (h, r, n) = FinalFigures.Transposed(rows);
        doc.Table(h, r, n);
        doc.Note("One column per seed (its last trained epoch); the last column is the mean ± sample standard deviation over the seeds.");
    }

    internal static void PaperTable(ReportDocument doc, IReadOnlyList<PaperNumber> paper)
    {
        doc.Table(["table", "setting", "metric", "paper", "ours", "ours − paper"],
            paper.Select(p => new[]
            {
                p.Table, p.Setting, p.Metric, Fmt.MeanStd(p.Paper, p.PaperStd, x => Fmt.Num(x, 3)),
                Fmt.MeanStd(p.Ours, p.OursStd, x => Fmt.Num(x, 3)), Fmt.Signed(p.Ours - p.Paper),
            }), [false, false, false, true, true, true]);
        doc.Note("The paper's published figures beside ours (mean ± std over our seeds where there are several).");
    }

    private static void GrowthCharts(RunSet set, Action<Chart> add)
    {
        string seeds = set.IsGroup ? $" — mean over {set.Members.Count} seeds" : "";
        var layers = set.Layers;
        var widths = layers.Select((l, i) =>
        {
            var (stages, mean, std) = GrowthSummary.StageWidths(set, l);
            return new Charts.WidthSeries(l, stages, mean, std, Charts.Palette[i % Charts.Palette.Length], LinePattern.Solid, Markers[i % Markers.Length]);
        }).ToArray();
        add(Charts.Widths("widths", "Width of each growable layer" + seeds,
            "Neurons in each growable layer at the start of every stage (stage 0 is the initial network; stage k follows growth step Gk)."
            + (set.IsGroup ? " Where seeds differ, the band is ± one standard deviation." : ""), widths));

        var bars = new List<Charts.BarSeries>();
        for (int i = 0; i < layers.Count; i++)
        {
            var c = Charts.Palette[i % Charts.Palette.Length];
            bars.Add(new Charts.BarSeries($"{layers[i]} · at insertion", GrowthSummary.Inactive(set, layers[i], false), c.WithAlpha(0.45)));
            bars.Add(new Charts.BarSeries($"{layers[i]} · at stage end", GrowthSummary.Inactive(set, layers[i], true), c));
        }
        if (bars.Any(b => b.Values.Any(v => double.IsFinite(v.Value))))
            add(Charts.GroupedBars("inactivity", "Inactive new neurons per growth step" + seeds,
                "Share of the neurons each growth step added that are inactive (zero activation on all training data) right after "
                + "insertion (light) and at the end of the stage's training (dark), per layer."
                + (set.IsGroup ? " Error bars: ± one standard deviation over the seeds." : ""),
                "inactive (% of the neurons added)", bars));

        foreach (var layer in layers)
        {
            var cos = GrowthSummary.Cosines(set, layer);
            if (cos.Count == 0) continue;
            var shown = Thin(cos, 10);
            add(Charts.Histograms("cosine-" + SafeName(layer), $"Cosine similarity among new neurons of {layer}" + seeds,
                $"Histogram of the pairwise cosine between the incoming weight vectors of the neurons each growth step added to {layer}, "
                + "right after insertion (share of pairs per bin). Mass near 1: the new neurons are near copies of each other; near 0: they point in unrelated directions."
                + (shown.Count < cos.Count ? $" {shown.Count} of {cos.Count} steps shown, evenly spaced." : ""),
                "cosine similarity", "share of pairs (%)",
                shown.Select(c => new Charts.HistogramSeries(
                    $"G{c.Stage.ToString(CultureInfo.InvariantCulture)} ({Fmt.Num(c.Pairs, 0)} pair{(c.Pairs == 1 ? "" : "s")})", -1, 1, c.Share)).ToArray()));
        }
    }

    private static readonly MarkerShape[] Markers =
        [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond, MarkerShape.FilledTriangleDown];

    private static IReadOnlyList<T> Thin<T>(IReadOnlyList<T> items, int max) =>
        items.Count <= max ? items
            : Enumerable.Range(0, max).Select(i => items[(int)Math.Round(i * (items.Count - 1) / (double)(max - 1))]).Distinct().ToArray();

    /// <summary>A layer name made safe as a file name.</summary>
    internal static string SafeName(string s)
    {
        var chars = s.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray();
        var r = new string(chars).Trim('.');
        return r.Length == 0 ? "layer" : r.Length > 60 ? r[..60] : r;
    }

    private static void Config(ReportDocument doc, RunSet set)
    {
        doc.Heading("Config");
        if (set.GroupConfig is not null) doc.Code(set.GroupConfig, "json");
        else if (set.Members[0].Config is { } c)
        {
            if (set.IsGroup)
            {
                var diff = ConfigDiff.DifferingPaths(set.Members.Select(m => ConfigDiff.Flatten(m.ConfigNode)).ToArray());
                doc.Note($"The config of {set.Members[0].Name}; " + (diff.Count == 0 ? "the seeds' configs are identical."
                    : $"the seeds' configs differ in {string.Join(", ", diff.Take(8))}{(diff.Count > 8 ? $" and {diff.Count - 8} more" : "")}."));
            }
            doc.Code(c, "json");
        }
        else doc.Note("The run has no config.json.");
    }

    /// <summary>Saves a chart as SVG and PNG under <paramref name="chartsDir"/>.</summary>
    internal static ReportChart Save(Chart c, string chartsDir)
    {
        string svg = Path.Combine(chartsDir, c.Name + ".svg"), png = Path.Combine(chartsDir, c.Name + ".png");
        SvgFile.Save(c.Plot, svg, Charts.Width, Charts.Height);
        c.Plot.SavePng(png, Charts.Width, Charts.Height);
        c.Plot.Dispose();
        return new ReportChart(c.Name, c.Title, c.Caption, svg, png, c.Series);
    }
}
