using ScottPlot;

namespace Sprout.Reporting;

/// <summary>
/// Several runs (or run groups, drawn as mean ± std bands) side by side: compare.md, a self-contained compare.html and
/// charts/*.svg + *.png, with the look of <see cref="RunReport"/>.
/// </summary>
public static class RunComparison
{
    /// <summary>Markdown comparison file name.</summary>
    public const string MarkdownFile = "compare.md";

    /// <summary>HTML comparison file name.</summary>
    public const string HtmlFile = "compare.html";

    /// <summary>Most runs one comparison overlays (the palette has this many distinct colours).</summary>
    public const int MaxRuns = 10;

    /// <summary>
    /// Overlays the runs or run groups in <paramref name="runDirs"/>: loss and accuracy curves, widths over stages, a
    /// table of final figures and the config keys that differ. Writes into <paramref name="outDir"/> (created if needed).
    /// </summary>
    /// <param name="runDirs">Run folders or run groups, 1 to <see cref="MaxRuns"/>.</param>
    /// <param name="outDir">Where compare.md, compare.html and charts/ go.</param>
    /// <returns>The files written.</returns>
    /// <exception cref="ArgumentException">No runs, or more than <see cref="MaxRuns"/>.</exception>
    /// <exception cref="FormatException">A run file is malformed (the message names the file and line).</exception>
    /// <exception cref="IOException">A folder or file cannot be read or written.</exception>
    public static ReportFiles Write(IReadOnlyList<string> runDirs, string outDir)
    {
        ArgumentNullException.ThrowIfNull(runDirs);
        ArgumentException.ThrowIfNullOrWhiteSpace(outDir);
        if (runDirs.Count == 0) throw new ArgumentException("compare needs at least one run folder");
        if (runDirs.Count > MaxRuns) throw new ArgumentException($"compare overlays at most {MaxRuns} runs; got {runDirs.Count}");
        var sets = runDirs.Select(RunSet.Load).ToArray();
        UniqueNames(sets);
        string chartsDir = Path.Combine(outDir, RunReport.ChartsFolder);
        Directory.CreateDirectory(chartsDir);

        var doc = new ReportDocument("Comparison: " + string.Join(" vs ", sets.Select(s => s.Name)));
        doc.Paragraph("Runs compared: " + string.Join("; ", sets.Select(s =>
            s.IsGroup ? $"{s.Name} ({s.Dir}, group of {s.Members.Count} seeds)" : $"{s.Name} ({s.Dir})")) + ".");

        doc.Heading("Final figures");
        var rows = new List<string[]>();
        foreach (var s in sets)
        {
            var figs = s.Members.Select(FinalFigures.Of).ToArray();
            rows.Add(s.IsGroup ? FinalFigures.MeanRow($"{s.Name} ({s.Members.Count} seeds)", figs) : figs[0].Row(s.Name));
        }
        var (h, r, n) = FinalFigures.Transposed(rows);
        doc.Table(h, r, n);
        doc.Note("Figures of each run's last trained epoch; for a group, mean ± sample standard deviation over its seeds.");

        ConfigDifferences(doc, sets);

        var charts = new List<ReportChart>();
        void Add(Chart c) { var rc = RunReport.Save(c, chartsDir); charts.Add(rc); doc.Figure(rc); }
        var timelines = sets.Select(s => Timeline.Build(s.Members.Select(m => m.Metrics).ToArray())).ToArray();
        string groups = sets.Any(s => s.IsGroup) ? " A group is drawn as its mean with a ± one standard deviation band." : "";

        doc.Heading("Training curves");
        Add(Charts.Curves("compare-loss", "Loss", "Validation loss (solid) and training loss (dashed) of each run over its trained epochs, "
            + "counted across stages and phases; one colour per run." + groups, "loss",
            Overlay(sets, timelines, "val", r => r.ValLoss, "train", r => r.TrainLoss), markGrowth: false));
        if (timelines.Any(t => t.Any(r => r.ValAccuracy) || t.Any(r => r.TrainAccuracy)))
            Add(Charts.Curves("compare-accuracy", "Accuracy", "Validation accuracy (solid) and training accuracy (dashed) of each run; one colour per run."
                + groups, "accuracy (%)", Overlay(sets, timelines, "val", r => r.ValAccuracy, "train", r => r.TrainAccuracy),
                markGrowth: false, scale: 100));

        if (sets.Any(s => s.Layers.Count > 0 && s.Members.Any(m => m.Metrics.Rows.Select(r => r.Stage).Distinct().Count() > 1)))
        {
            doc.Heading("Growth");
            var series = new List<Charts.WidthSeries>();
            for (int i = 0; i < sets.Length; i++)
            {
                var layers = sets[i].Layers;
                for (int l = 0; l < layers.Count; l++)
                {
                    var (stages, mean, std) = GrowthSummary.StageWidths(sets[i], layers[l]);
                    series.Add(new Charts.WidthSeries($"{sets[i].Name} · {layers[l]}", stages, mean, std,
                        Charts.Palette[i % Charts.Palette.Length], Patterns[l % Patterns.Length], Markers[l % Markers.Length]));
                }
            }
            Add(Charts.Widths("compare-widths", "Width of each growable layer",
                "Neurons per growable layer at the start of every stage; one colour per run, one line style and marker per layer." + groups, series));
        }

        var paper = sets.SelectMany(s => s.Paper().Select(p => (s.Name, p))).ToArray();
        if (paper.Length > 0)
        {
            doc.Heading("Paper and ours");
            doc.Table(["run", "table", "setting", "metric", "paper", "ours", "ours − paper"],
                paper.Select(x => new[]
                {
                    x.Name, x.p.Table, x.p.Setting, x.p.Metric, Fmt.MeanStd(x.p.Paper, x.p.PaperStd, v => Fmt.Num(v, 3)),
                    Fmt.MeanStd(x.p.Ours, x.p.OursStd, v => Fmt.Num(v, 3)), Fmt.Signed(x.p.Ours - x.p.Paper),
                }), [false, false, false, false, true, true, true]);
        }

        Directory.CreateDirectory(outDir);
        string md = Path.Combine(outDir, MarkdownFile), html = Path.Combine(outDir, HtmlFile);
        File.WriteAllText(md, doc.ToMarkdown(outDir));
        File.WriteAllText(html, doc.ToHtml());
        return new ReportFiles(md, html, charts);
    }

    private static readonly LinePattern[] Patterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];

    private static readonly MarkerShape[] Markers =
        [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond];

    private static List<Curve> Overlay(RunSet[] sets, Timeline[] timelines, string solidName, Func<Sprout.Runs.MetricsRow, double> solid,
        string dashedName, Func<Sprout.Runs.MetricsRow, double> dashed)
    {
        var curves = new List<Curve>();
        for (int i = 0; i < sets.Length; i++)
        {
            var c = Charts.Palette[i % Charts.Palette.Length];
            curves.Add(new Curve($"{sets[i].Name} · {solidName}", timelines[i], solid, c, LinePattern.Solid));
            curves.Add(new Curve($"{sets[i].Name} · {dashedName}", timelines[i], dashed, c, LinePattern.Dashed));
        }
        return curves;
    }

    /// <summary>Names that tell the runs apart: the folder name, prefixed with its parent's where two are alike.</summary>
    private static void UniqueNames(RunSet[] sets)
    {
        foreach (var g in sets.GroupBy(s => s.Name).Where(g => g.Count() > 1))
            foreach (var s in g)
            {
                string parent = Path.GetFileName(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(s.Dir))) ?? "");
                s.Name = parent.Length > 0 ? parent + "/" + s.Name : s.Name;
            }
        var seen = new Dictionary<string, int>();
        foreach (var s in sets)
        {
            int n = seen.GetValueOrDefault(s.Name);
            seen[s.Name] = n + 1;
            if (n > 0) s.Name += $" #{n + 1}";
        }
    }

    private static void ConfigDifferences(ReportDocument doc, RunSet[] sets)
    {
        var configs = sets.Select(s => ConfigDiff.Flatten(s.GroupConfig is not null
            ? System.Text.Json.Nodes.JsonNode.Parse(s.GroupConfig) : s.Members[0].ConfigNode)).ToArray();
        if (sets.Length < 2) return;
        var diff = ConfigDiff.DifferingPaths(configs);
        doc.Heading("Config differences");
        if (diff.Count == 0) { doc.Note("The configs are identical."); return; }
        const int max = 40;
        doc.Table(["setting", .. sets.Select(s => s.Name)],
            diff.Take(max).Select(p => new[] { p }.Concat(configs.Select(c => c.TryGetValue(p, out var v) ? Short(v) : Fmt.Missing)).ToArray()));
        doc.Note((diff.Count > max ? $"The first {max} of {diff.Count} settings that differ" : "Every setting that differs")
            + " between the runs' config.json (a group's first seed stands for the group).");
    }

    private static string Short(string s) => s.Length <= 60 ? s : s[..57] + "…";
}
