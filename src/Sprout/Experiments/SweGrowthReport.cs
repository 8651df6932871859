using System.Globalization;
using System.Text;
using System.Text.Json;
using Sprout.Growth;
using Sprout.Reporting;
using Sprout.Runs;

namespace Sprout.Experiments;

/// <summary>One row of the results table: a (data set, part, method) over its seeds, with the paper's figure.</summary>
/// <param name="Dataset">Data set.</param>
/// <param name="Part">Part.</param>
/// <param name="Method">Method.</param>
/// <param name="Available">False when the method could not run here.</param>
/// <param name="Seeds">Finished seeds.</param>
/// <param name="Mean">Mean result (test loss ×1e-4, or test accuracy %).</param>
/// <param name="Std">Its sample std (0 for one seed).</param>
/// <param name="PaperColumn">The paper's column this method stands for (null when none).</param>
/// <param name="Paper">The paper's mean (NaN when none).</param>
/// <param name="PaperStd">The paper's ± (NaN when none).</param>
/// <param name="FinalWidths">Final hidden widths of seed 0.</param>
public sealed record SweGrowthRow(string Dataset, string Part, string Method, bool Available, int Seeds, double Mean, double Std,
    string? PaperColumn, double Paper, double PaperStd, int[]? FinalWidths);

/// <summary>
/// The report of the paper-000 growth experiments: the results table with the paper's Tables 2 and 3 beside ours,
/// per-stage curves with ± std bands (ScottPlot, PNG and SVG: Figures 2 and 3), the distributor's allocation per stage,
/// and the protocol choices; results.md and results.json in the output folder, and the paper's figure in each method's
/// run group report.json.
/// </summary>
public static class SweGrowthReport
{
    /// <summary>Paper 000 Table 2: final test loss ×1e-4, (mean, std) per data set and column.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, (double Mean, double Std)>> Table2 { get; } =
        new Dictionary<string, IReadOnlyDictionary<string, (double, double)>>
        {
            ["mnist"] = new Dictionary<string, (double, double)> { ["Baseline"] = (590, 26), ["Kaiming"] = (509, 18), ["Firefly"] = (491, 14), ["SWE"] = (424, 18) },
            ["fashion-mnist"] = new Dictionary<string, (double, double)> { ["Baseline"] = (515, 20), ["Kaiming"] = (493, 3), ["Firefly"] = (484, 7), ["SWE"] = (438, 2) },
        };

    /// <summary>Paper 000 Table 3(a): final test accuracy %, one hidden layer.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, (double Mean, double Std)>> Table3OneHidden { get; } =
        new Dictionary<string, IReadOnlyDictionary<string, (double, double)>>
        {
            ["mnist"] = new Dictionary<string, (double, double)> { ["Baseline"] = (97.54, 0.17), ["Firefly"] = (96.80, 0.23), ["SWE"] = (97.62, 0.12) },
            ["fashion-mnist"] = new Dictionary<string, (double, double)> { ["Baseline"] = (85.78, 0.12), ["Firefly"] = (83.79, 0.28), ["SWE"] = (84.81, 0.51) },
            ["cifar10"] = new Dictionary<string, (double, double)> { ["Baseline"] = (82.06, 0.17), ["Firefly"] = (82.68, 0.43), ["SWE"] = (83.72, 0.13) },
            ["cifar100"] = new Dictionary<string, (double, double)> { ["Baseline"] = (53.87, 0.42), ["Firefly"] = (55.78, 0.57), ["SWE"] = (59.57, 0.23) },
        };

    /// <summary>Paper 000 Table 3(b): final test accuracy %, three hidden layers.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, (double Mean, double Std)>> Table3ThreeHidden { get; } =
        new Dictionary<string, IReadOnlyDictionary<string, (double, double)>>
        {
            ["mnist"] = new Dictionary<string, (double, double)> { ["Baseline"] = (97.97, 0.23), ["Firefly"] = (97.88, 0.17), ["SWE+RAS"] = (97.93, 0.25), ["SWE+SVoD"] = (98.10, 0.27) },
            ["fashion-mnist"] = new Dictionary<string, (double, double)> { ["Baseline"] = (86.35, 0.15), ["Firefly"] = (85.45, 0.11), ["SWE+RAS"] = (85.36, 0.49), ["SWE+SVoD"] = (85.66, 0.29) },
            ["cifar10"] = new Dictionary<string, (double, double)> { ["Baseline"] = (82.20, 0.27), ["Firefly"] = (83.21, 0.60), ["SWE+RAS"] = (82.46, 0.36), ["SWE+SVoD"] = (83.32, 0.39) },
            ["cifar100"] = new Dictionary<string, (double, double)> { ["Baseline"] = (49.60, 0.57), ["Firefly"] = (55.20, 0.27), ["SWE+RAS"] = (56.11, 0.25), ["SWE+SVoD"] = (56.36, 0.60) },
        };

    /// <summary>The paper's column a method stands for in a part, or null (our variants).</summary>
    public static string? PaperColumn(GrowthTask task, int hiddenLayers, SweMethod method)
    {
        ArgumentNullException.ThrowIfNull(method);
        if (method.IsBaseline) return "Baseline";
        if (method.Extender == "firefly" && method.Distributor == "firefly") return "Firefly";
        if (task == GrowthTask.Reconstruction && method.Extender == "kaiming") return "Kaiming";
        if (method.Extender != "swe") return null;
        if (hiddenLayers == 1) return "SWE";
        return method.Distributor switch { "ras" => "SWE+RAS", "svod" => "SWE+SVoD", _ => null };
    }

    /// <summary>Where the paper gives a part's figures.</summary>
    public static string PaperTable(GrowthTask task, int hiddenLayers) =>
        task == GrowthTask.Reconstruction ? "000 Table 2" : hiddenLayers == 1 ? "000 Table 3(a)" : "000 Table 3(b)";

    private static (double Mean, double Std)? PaperValue(GrowthTask task, int hiddenLayers, string dataset, string? column)
    {
        if (column is null) return null;
        var table = task == GrowthTask.Reconstruction ? Table2 : hiddenLayers == 1 ? Table3OneHidden : Table3ThreeHidden;
        if (task == GrowthTask.Reconstruction && hiddenLayers != 1) return null;
        return table.TryGetValue(dataset, out var row) && row.TryGetValue(column, out var v) ? v : null;
    }

    /// <summary>The table's unit: test loss is reported ×1e-4 (as Table 2), accuracy in %.</summary>
    public static double Shown(GrowthTask task, double result) => task == GrowthTask.Reconstruction ? result * 1e4 : result;

    /// <summary>The rows of the results table.</summary>
    public static IReadOnlyList<SweGrowthRow> Rows(SweGrowthOptions o, IReadOnlyList<SweGrowthRuns> runs)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(runs);
        var rows = new List<SweGrowthRow>();
        foreach (var r in runs)
        {
            var part = o.Parts.First(p => p.Name == r.Part);
            var m = SweMethod.Parse(r.Method, part.HiddenLayers);
            var (mean, std) = SweInactiveExperiment.MeanStd(r.Runs.Select(x => Shown(o.Task, SweGrowthExperiment.Result(o.Task, x))));
            string? col = PaperColumn(o.Task, part.HiddenLayers, m);
            var paper = PaperValue(o.Task, part.HiddenLayers, r.Dataset, col);
            rows.Add(new SweGrowthRow(r.Dataset, r.Part, r.Method, r.Available, r.Runs.Count, mean, std, paper is null ? null : col,
                paper?.Mean ?? double.NaN, paper?.Std ?? double.NaN, r.Runs.Count > 0 ? r.Runs[0].FinalWidths : null));
        }
        return rows;
    }

    /// <summary>
    /// Writes results.md, results.json and the stage charts (charts/&lt;data set&gt;-&lt;part&gt;.png/.svg) into
    /// <paramref name="outDir"/>, and the paper's figure beside ours into each method's run group report.json.
    /// Returns the Markdown.
    /// </summary>
    public static string Write(SweGrowthOptions o, IReadOnlyList<SweGrowthRuns> runs, string outDir, string experiment, double minutes)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(runs);
        var rows = Rows(o, runs);
        var charts = new List<string>();
        foreach (var ds in o.Datasets)
            foreach (var part in o.Parts)
            {
                var sel = runs.Where(r => r.Dataset == ds && r.Part == part.Name && r.Runs.Count > 0).ToList();
                if (sel.Count == 0) continue;
                var series = sel.Select(r => new StageSeries(r.Method,
                    r.Runs.Select(x => SweGrowthExperiment.PerStage(o.Task, x, o.Stages).Select(v => Shown(o.Task, v)).ToArray()).ToArray(),
                    Flat: r.Method == SweMethod.BaselineName)).ToList();
                bool recon = o.Task == GrowthTask.Reconstruction;
                var (png, _) = StageChart.Write(Path.Combine(outDir, "charts"), $"{ds}-{part.Name}",
                    $"{ds}, {part.Name.Replace('-', ' ')}: test {(recon ? "loss" : "accuracy")} per stage",
                    recon ? "test loss (MSE ×1e-4)" : "test accuracy (%)", series);
                charts.Add(Path.GetRelativePath(outDir, png));
            }
        foreach (var row in rows.Where(r => r.Seeds > 0 && r.PaperColumn is not null))
        {
            var part = o.Parts.First(p => p.Name == row.Part);
            string metric = o.Task == GrowthTask.Reconstruction ? "final test loss ×1e-4" : "final test accuracy %";
            RunFiles.WritePaper(SweGrowthExperiment.GroupFolder(outDir, row.Dataset, row.Part, row.Method),
                [new PaperNumber(PaperTable(o.Task, part.HiddenLayers), $"{row.Dataset}, {row.Part}, {row.PaperColumn} (ours: {row.Method})", metric,
                    row.Paper, row.PaperStd, row.Mean, row.Seeds > 1 ? row.Std : double.NaN)]);
        }
        string md = Markdown(o, runs, rows, charts, experiment, minutes);
        var doc = new
        {
            experiment,
            description = o.Describe(),
            choices = o.Choices().ToDictionary(c => c.Choice, c => c.Value),
            minutes,
            rows,
            allocations = Allocations(o, runs).Select(a => new { dataset = a.Dataset, part = a.Part, method = a.Method, perStage = a.PerStage }),
            charts,
        };
        RunSession.WriteAtomically(Path.Combine(outDir, "results.json"), JsonSerializer.Serialize(doc, GrowthRunConfig.JsonOptions));
        RunSession.WriteAtomically(Path.Combine(outDir, "results.md"), md);
        return md;
    }

    /// <summary>Per (data set, part, method) of a deeper part: the mean allocation per layer at every stage over the seeds.</summary>
    public static IReadOnlyList<(string Dataset, string Part, string Method, IReadOnlyList<double[]> PerStage)> Allocations(SweGrowthOptions o, IReadOnlyList<SweGrowthRuns> runs)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(runs);
        var list = new List<(string, string, string, IReadOnlyList<double[]>)>();
        foreach (var r in runs)
        {
            var part = o.Parts.First(p => p.Name == r.Part);
            if (part.HiddenLayers < 2 || r.Runs.Count == 0 || r.Method == SweMethod.BaselineName) continue;
            var per = new List<double[]>();
            for (int s = 0; s < o.Stages; s++)
            {
                var at = r.Runs.Where(x => s < x.Stages.Count).Select(x => x.Stages[s].Allocation).ToList();
                if (at.Count == 0) break;
                per.Add(Enumerable.Range(0, at[0].Length).Select(k => at.Average(a => (double)a[k])).ToArray());
            }
            list.Add((r.Dataset, r.Part, r.Method, per));
        }
        return list;
    }

    private static string Markdown(SweGrowthOptions o, IReadOnlyList<SweGrowthRuns> runs, IReadOnlyList<SweGrowthRow> rows, IReadOnlyList<string> charts,
        string experiment, double minutes)
    {
        var ci = CultureInfo.InvariantCulture;
        bool recon = o.Task == GrowthTask.Reconstruction;
        string F(double m, double s, int seeds) => double.IsNaN(m) ? "–" : recon ? string.Format(ci, "{0:0} ± {1:0}", m, s) : string.Format(ci, "{0:0.00} ± {1:0.00}", m, s);
        var sb = new StringBuilder();
        sb.AppendLine(recon
            ? "# Growing a one-hidden-layer autoencoder (paper 000, §3.2: Table 2, Figure 2)"
            : "# Growing classifiers with one and three hidden layers (paper 000, §3.3: Table 3, Figure 3)").AppendLine();
        sb.AppendLine($"`sprout {experiment}` — {minutes.ToString("0.0", ci)} min.").AppendLine();
        sb.AppendLine("## Protocol (every choice the paper leaves open, with the option that sets it)").AppendLine();
        sb.AppendLine("| choice | value |").AppendLine("|---|---|");
        foreach (var (c, v) in o.Choices()) sb.AppendLine($"| {c} | {v} |");
        sb.AppendLine();
        sb.AppendLine(recon
            ? "## Final test loss ×1e-4 (ours: mean ± std over seeds; paper: Table 2)"
            : "## Final test accuracy % (ours: mean ± std over seeds; paper: Table 3)").AppendLine();
        sb.AppendLine("| data | network | method | seeds | ours | paper column | paper | final widths (seed 0) |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            string ours = !r.Available ? "not available (its presets are not registered)" : r.Seeds == 0 ? "–" : F(r.Mean, r.Std, r.Seeds);
            string paper = double.IsNaN(r.Paper) ? "–" : F(r.Paper, r.PaperStd, 5);
            sb.AppendLine($"| {r.Dataset} | {r.Part} | {r.Method} | {r.Seeds} | {ours} | {r.PaperColumn ?? "–"} | {paper} | {(r.FinalWidths is null ? "–" : string.Join("/", r.FinalWidths))} |");
        }
        sb.AppendLine();
        if (!recon)
        {
            sb.AppendLine("A higher accuracy is better; the static baseline is the final width trained from scratch.").AppendLine();
        }
        else sb.AppendLine("A lower loss is better; the static baseline is the final width trained from scratch.").AppendLine();
        if (charts.Count > 0)
        {
            sb.AppendLine($"## Test {(recon ? "loss" : "accuracy")} per stage (mean ± std band over seeds; dashed: the static baseline's final value)").AppendLine();
            foreach (var c in charts) sb.AppendLine($"![{Path.GetFileNameWithoutExtension(c)}]({c.Replace('\\', '/')})");
            sb.AppendLine();
            sb.AppendLine($"| data | network | method | {string.Join(" | ", Enumerable.Range(0, o.Stages + 1).Select(s => "stage " + s.ToString(ci)))} |");
            sb.AppendLine("|---|---|---|" + string.Concat(Enumerable.Repeat("---|", o.Stages + 1)));
            foreach (var r in runs.Where(x => x.Runs.Count > 0))
            {
                var per = r.Runs.Select(x => SweGrowthExperiment.PerStage(o.Task, x, o.Stages)).ToList();
                var cells = Enumerable.Range(0, o.Stages + 1).Select(s =>
                {
                    var (m, _) = SweInactiveExperiment.MeanStd(per.Select(p => Shown(o.Task, p[s])).Where(double.IsFinite));
                    return double.IsNaN(m) ? "–" : m.ToString(recon ? "0" : "0.00", ci);
                });
                sb.AppendLine($"| {r.Dataset} | {r.Part} | {r.Method} | {string.Join(" | ", cells)} |");
            }
            sb.AppendLine();
        }
        var alloc = Allocations(o, runs);
        if (alloc.Count > 0)
        {
            sb.AppendLine("## Allocation per stage (neurons added to each hidden layer, bottom first; mean over seeds)").AppendLine();
            sb.AppendLine($"| data | network | method | {string.Join(" | ", Enumerable.Range(1, o.Stages).Select(s => "stage " + s.ToString(ci)))} |");
            sb.AppendLine("|---|---|---|" + string.Concat(Enumerable.Repeat("---|", o.Stages)));
            foreach (var (ds, part, method, per) in alloc)
                sb.AppendLine($"| {ds} | {part} | {method} | {string.Join(" | ", Enumerable.Range(0, o.Stages).Select(s => s < per.Count ? string.Join("/", per[s].Select(v => v.ToString("0.#", ci))) : "–"))} |");
            sb.AppendLine();
        }
        sb.AppendLine("Each method's seeds are a run group (`<out>/<data set>/<network>/<method>/seed-<n>`): `sprout report` on it draws its epoch curves, `sprout compare` overlays methods.");
        return sb.ToString();
    }
}
