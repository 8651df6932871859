using System.Globalization;
using System.Text;
using System.Text.Json;
using Sprout.Growth;
using Sprout.Reporting;
using Sprout.Runs;

namespace Sprout.Experiments;

/// <summary>A figure of paper 002: test accuracy %, training time in seconds and N_best (null for a plain row).</summary>
/// <param name="Accuracy">Test accuracy %.</param>
/// <param name="Seconds">Training time (s) on the paper's GTX 1080 Ti.</param>
/// <param name="NBest">The chosen N (null for a plain row).</param>
public sealed record PaperFigure(double Accuracy, double Seconds, int? NBest);

/// <summary>One row of the results table: a (data set, model, arm) over its seeds, with the paper's figure.</summary>
/// <param name="Dataset">Data set.</param>
/// <param name="Model">Model.</param>
/// <param name="Arm">Arm name.</param>
/// <param name="Method">Growth method.</param>
/// <param name="Terms">Regulariser terms.</param>
/// <param name="N">N (0 plain).</param>
/// <param name="Lambda">λ (0 plain).</param>
/// <param name="Seeds">Finished seeds.</param>
/// <param name="Accuracy">Mean test accuracy %.</param>
/// <param name="AccuracyStd">Its sample std.</param>
/// <param name="Seconds">Mean wall time (s).</param>
/// <param name="Layer2MeanAbs">Mean over seeds of layer 2's mean |cosine| after training.</param>
/// <param name="StartParameters">Parameters of seed 0 after its first epoch (0 when unknown).</param>
/// <param name="Parameters">Final parameter count of seed 0 (0 when unknown).</param>
/// <param name="PaperTable">Where the paper's figure comes from (null when none).</param>
/// <param name="Paper">The paper's figure.</param>
public sealed record SimilarityGrowthRow(string Dataset, string Model, string Arm, string Method, SimilarityTerms Terms, int N, double Lambda,
    int Seeds, double Accuracy, double AccuracyStd, double Seconds, double Layer2MeanAbs, long StartParameters, long Parameters, string? PaperTable, PaperFigure? Paper);

/// <summary>
/// The report of paper 002's study: accuracy and wall time per arm beside Tables 1–2, the ablation beside Table 3,
/// the chosen N per method, Figure 6 (layer 2's cosine histogram after training, plain against regularised) and the
/// mean |cosine| per layer over training, and Grad-CAM grids of the two arms (Figures 4–5); results.md, results.json and
/// charts/ in the output folder.
/// </summary>
public static class SimilarityGrowthReport
{
    private static Dictionary<string, PaperFigure> T(params (string Key, double Acc, double Sec, int? N)[] rows) =>
        rows.ToDictionary(r => r.Key, r => new PaperFigure(r.Acc, r.Sec, r.N));

    /// <summary>Paper 002 Table 1 (CIFAR-10), keyed "method/model/plain|ours" (method random, ssd, firefly; model vgg16, mobilenetv1).</summary>
    public static IReadOnlyDictionary<string, PaperFigure> Table1 { get; } = T(
        ("random/vgg16/plain", 86.49, 3022, null), ("random/mobilenetv1/plain", 87.90, 1240, null),
        ("random/vgg16/ours", 86.85, 3090, 20), ("random/mobilenetv1/ours", 88.29, 1264, 20),
        ("ssd/vgg16/plain", 89.12, 6146, null), ("ssd/mobilenetv1/plain", 89.92, 3191, null),
        ("ssd/vgg16/ours", 90.08, 6176, 10), ("ssd/mobilenetv1/ours", 90.83, 3370, 10),
        ("firefly/vgg16/plain", 90.60, 3375, null), ("firefly/mobilenetv1/plain", 91.89, 1630, null),
        ("firefly/vgg16/ours", 91.70, 3409, 15), ("firefly/mobilenetv1/ours", 92.56, 1670, 15));

    /// <summary>Paper 002 Table 2 (CIFAR-100), keyed as <see cref="Table1"/>.</summary>
    public static IReadOnlyDictionary<string, PaperFigure> Table2 { get; } = T(
        ("random/vgg16/plain", 61.77, 6612, null), ("random/mobilenetv1/plain", 62.89, 2690, null),
        ("random/vgg16/ours", 62.09, 6680, 20), ("random/mobilenetv1/ours", 63.10, 2842, 20),
        ("ssd/vgg16/plain", 63.90, 13560, null), ("ssd/mobilenetv1/plain", 65.71, 7167, null),
        ("ssd/vgg16/ours", 64.52, 13790, 10), ("ssd/mobilenetv1/ours", 66.16, 7250, 10),
        ("firefly/vgg16/plain", 64.74, 5307, null), ("firefly/mobilenetv1/plain", 66.42, 3673, null),
        ("firefly/vgg16/ours", 65.55, 5360, 15), ("firefly/mobilenetv1/ours", 67.49, 3690, 15));

    /// <summary>Paper 002 Table 3 (CIFAR-10; its times are Table 1's VGG16 ones), keyed "method/none|sum|cosine|both".</summary>
    public static IReadOnlyDictionary<string, PaperFigure> Table3 { get; } = T(
        ("random/none", 86.49, 3022, null), ("random/sum", 86.49, 3030, 20), ("random/cosine", 86.67, 3077, 20), ("random/both", 86.85, 3090, 20),
        ("ssd/none", 89.12, 6146, null), ("ssd/sum", 89.12, 6149, 10), ("ssd/cosine", 89.58, 6171, 10), ("ssd/both", 90.08, 6176, 10),
        ("firefly/none", 90.60, 3375, null), ("firefly/sum", 91.60, 3379, 15), ("firefly/cosine", 91.51, 3402, 15), ("firefly/both", 91.70, 3409, 15));

    /// <summary>The paper's method a method stands for (ssd-fast for SSD).</summary>
    public static string PaperMethod(string method) => method == "ssd-fast" ? "ssd" : method;

    /// <summary>The paper's figure for an arm on a data set (CIFAR-100: Table 2; any other data set: Table 1, CIFAR-10),
    /// and the table's name; null for an ablation arm (see <see cref="Table3"/>).</summary>
    public static (string Table, PaperFigure Figure)? PaperFor(string dataset, string model, SimilarityArm arm)
    {
        ArgumentNullException.ThrowIfNull(arm);
        if (arm.Terms is SimilarityTerms.Cosine or SimilarityTerms.Sum) return null;
        bool c100 = dataset == "cifar100";
        var table = c100 ? Table2 : Table1;
        string key = $"{PaperMethod(arm.Method)}/{model}/{(arm.Terms == SimilarityTerms.None ? "plain" : "ours")}";
        return table.TryGetValue(key, out var f) ? (c100 ? "002 Table 2 (CIFAR-100)" : "002 Table 1 (CIFAR-10)", f) : null;
    }

    private static (double Mean, double Std) MeanStd(IEnumerable<double> xs) => SweInactiveExperiment.MeanStd(xs.Where(double.IsFinite));

    /// <summary>The rows of the results table.</summary>
    public static IReadOnlyList<SimilarityGrowthRow> Rows(IReadOnlyList<SimilarityGrowthRuns> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        return runs.Select(r =>
        {
            var (acc, std) = MeanStd(r.Runs.Select(x => 100 * x.FinalTestAccuracy));
            var (sec, _) = MeanStd(r.Runs.Select(SimilarityGrowthExperiment.Seconds));
            var (cos, _) = MeanStd(r.Similarity.Select(s => s?.Layer2MeanAbs ?? double.NaN));
            var paper = PaperFor(r.Dataset, r.Model, r.Arm);
            return new SimilarityGrowthRow(r.Dataset, r.Model, r.Arm.Name, r.Arm.Method, r.Arm.Terms, r.Arm.N, r.Arm.Lambda, r.Runs.Count,
                acc, std, sec, cos, r.Similarity.Count > 0 && r.Similarity[0] is { Epochs.Count: > 0 } rec ? rec.Epochs[0].Parameters : 0,
                r.Similarity.Count > 0 && r.Similarity[0] is { Epochs.Count: > 0 } rec2 ? rec2.Epochs[^1].Parameters : 0, paper?.Table, paper?.Figure);
        }).ToList();
    }

    /// <summary>Per (data set, model, method): the N of the regularised (both-terms) arm with the best mean accuracy, or null.</summary>
    public static IReadOnlyList<(string Dataset, string Model, string Method, int N, double Lambda, double Accuracy)> ChosenN(IReadOnlyList<SimilarityGrowthRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return rows.Where(r => r.Terms == SimilarityTerms.Both && r.Seeds > 0 && double.IsFinite(r.Accuracy))
            .GroupBy(r => (r.Dataset, r.Model, r.Method))
            .Select(g => g.OrderByDescending(r => r.Accuracy).ThenBy(r => r.N).First())
            .Select(r => (r.Dataset, r.Model, r.Method, r.N, r.Lambda, r.Accuracy)).ToList();
    }

    /// <summary>Writes results.md, results.json and charts/ (Figure 6, the cosine curves and the Grad-CAM grids of
/// <see cref="SimilarityGrowthGradCam"/>, read from the run folders under <paramref name="outDir"/>) into
/// <paramref name="outDir"/>; returns the Markdown.</summary>
    public static string Write(SimilarityGrowthOptions o, IReadOnlyList<SimilarityGrowthRuns> runs, string outDir, double minutes)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(runs);
        var rows = Rows(runs);
        var charts = new List<(string Title, string Path)>();
        string chartDir = Path.Combine(outDir, "charts");
        foreach (var g in runs.GroupBy(r => (r.Dataset, r.Model, r.Arm.Method)))
        {
            var plain = g.FirstOrDefault(r => r.Arm.Terms == SimilarityTerms.None);
            var reg = g.FirstOrDefault(r => r.Arm.Terms == SimilarityTerms.Both);
            var hist = new[] { plain, reg }.Where(r => r is not null && r.Similarity.Count > 0 && r.Similarity[0]?.Layer2Histogram is not null)
                .Select(r => new CosineHistogram($"{r!.Arm.Name} (mean |cos| {r.Similarity[0]!.Layer2MeanAbs.ToString("0.000", CultureInfo.InvariantCulture)})",
                    r.Similarity[0]!.Layer2Histogram!.Select(v => (double)v).ToArray())).ToList();
            string stem = $"{g.Key.Dataset}-{g.Key.Model}-{g.Key.Method}";
            if (hist.Count > 0)
                charts.Add(($"Figure 6: {g.Key.Model} layer 2 cosines after training, {g.Key.Method} ({g.Key.Dataset}, seed 0)",
                    SimilarityCharts.WriteHistograms(chartDir, stem + "-layer2-cosines", $"{g.Key.Model} layer 2, {g.Key.Method}: pairwise cosines after training (seed 0)", hist)));
            var lines = new List<EpochLine>();
            foreach (var r in new[] { plain, reg })
            {
                if (r is null || r.Similarity.Count == 0 || r.Similarity[0] is not { Epochs.Count: > 0 } rec) continue;
                int layers = rec.Epochs[0].MeanAbs.Length;
                // every layer would crowd the chart: layers 1, 2, the middle one and the last
                var picked = new[] { 0, 1, layers / 2, layers - 1 }.Where(k => k < layers).Distinct().ToList();
                foreach (int k in picked)
                    lines.Add(new EpochLine($"{(r.Arm.Terms == SimilarityTerms.None ? r.Arm.Method : r.Arm.Method + "+sim")}, layer {k + 1}",
                        rec.Epochs.Select(e => (double)e.Epoch).ToArray(), rec.Epochs.Select(e => k < e.MeanAbs.Length ? e.MeanAbs[k] : double.NaN).ToArray(),
                        Dashed: r.Arm.Terms == SimilarityTerms.None, Colour: picked.IndexOf(k)));
            }
            if (lines.Count > 0)
                charts.Add(($"mean |cos| per layer over training: {g.Key.Model}, {g.Key.Method} ({g.Key.Dataset}, seed 0; dashed: plain)",
                    SimilarityCharts.WriteLines(chartDir, stem + "-cosine-over-training", $"{g.Key.Model}, {g.Key.Method}: mean |cos| between a layer's neurons", "mean |cos|", lines)));
        }
        var gradCam = SimilarityGrowthGradCam.Compute(runs, outDir)
            .Select(g => (Grid: g, Png: SimilarityGrowthGradCam.Save(g, chartDir) is { } f ? Path.GetRelativePath(outDir, f.Png) : null)).ToList();
        string md = Markdown(o, runs, rows, charts.Select(c => (c.Title, Path.GetRelativePath(outDir, c.Path))).ToList(), gradCam, minutes);
        var doc = new
        {
            experiment = Sprout.Experiments.SimilarityGrowthExperiment.Command,
            description = o.Describe(),
            choices = o.Choices().ToDictionary(c => c.Choice, c => c.Value),
            minutes,
            rows,
            chosenN = ChosenN(rows).Select(c => new { dataset = c.Dataset, model = c.Model, method = c.Method, n = c.N, lambda = c.Lambda, accuracy = c.Accuracy }),
            layerCosines = runs.Where(r => r.Similarity.Count > 0 && r.Similarity[0] is not null)
                .Select(r => new { dataset = r.Dataset, model = r.Model, arm = r.Arm.Name, seed0 = r.Similarity[0] }),
            charts = charts.Select(c => Path.GetRelativePath(outDir, c.Path)).Concat(gradCam.Where(g => g.Png is not null).Select(g => g.Png!)),
            gradCam = gradCam.Select(g => new
            {
                dataset = g.Grid.Dataset, model = g.Grid.Model, method = g.Grid.Method, arms = g.Grid.Arms.Select(a => a.Name), png = g.Png,
                layer = g.Grid.Layer, layerName = g.Grid.LayerName, images = g.Grid.Images, labels = g.Grid.Labels,
                scores = g.Grid.Columns.Select(c => c.Maps.Select(m => m.Score)), note = g.Grid.Note,
            }),
        };
        Directory.CreateDirectory(outDir);
        RunSession.WriteAtomically(Path.Combine(outDir, "results.json"), JsonSerializer.Serialize(doc, GrowthRunConfig.JsonOptions));
        RunSession.WriteAtomically(Path.Combine(outDir, "results.md"), md);
        return md;
    }

    private static string Markdown(SimilarityGrowthOptions o, IReadOnlyList<SimilarityGrowthRuns> runs, IReadOnlyList<SimilarityGrowthRow> rows,
        IReadOnlyList<(string Title, string Path)> charts, IReadOnlyList<(SimilarityGradCamGrid Grid, string? Png)> gradCam, double minutes)
    {
        var ci = CultureInfo.InvariantCulture;
        string Acc(double m, double s, int n) => double.IsNaN(m) ? "–" : n > 1 ? string.Format(ci, "{0:0.00} ± {1:0.00}", m, s) : m.ToString("0.00", ci);
        string Num(double v, string f) => double.IsFinite(v) ? v.ToString(f, ci) : "–";
        var sb = new StringBuilder();
        sb.AppendLine("# Similarity-guided growth of VGG16 and MobileNetV1 (paper 002, Sakai & Hotta: Tables 1–3, Figures 4–6)").AppendLine();
        sb.AppendLine($"`sprout {SimilarityGrowthExperiment.Command}` — {minutes.ToString("0.0", ci)} min.").AppendLine();
        if (o.Scale == ExperimentScale.Quick)
            sb.AppendLine($"**Quick scale.** Not the paper's protocol: {string.Join(", ", o.Datasets)} instead of CIFAR, {(o.TrainSamples > 0 ? o.TrainSamples.ToString(ci) : "all")} training samples, " +
                          $"{o.Stages} growth steps every {o.EpochsPerStage} epochs ({o.TotalEpochs} in all) instead of 4 every 50 (250), {o.Seeds} seed(s). " +
                          "The paper's figures are CIFAR-10's (Table 1) and are shown for orientation only: the absolute accuracies and the times (a GPU) are not comparable; " +
                          "what can be compared is the sign of the regulariser's effect and of the cosine shift.").AppendLine();
        sb.AppendLine("## Protocol (with the option that sets each choice)").AppendLine();
        sb.AppendLine("| choice | value |").AppendLine("|---|---|");
        foreach (var (c, v) in o.Choices()) sb.AppendLine($"| {c} | {v} |");
        sb.AppendLine();
        sb.AppendLine("## Test accuracy and wall time (ours: mean ± std over seeds, 2 cores CPU; paper: Tables 1–2, GTX 1080 Ti)").AppendLine();
        sb.AppendLine("| data | model | arm | seeds | accuracy % | wall time s | parameters M (start → end) | layer-2 mean \\|cos\\| | paper table | paper accuracy % | paper time s | paper N_best |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows.Where(r => r.Terms is SimilarityTerms.None or SimilarityTerms.Both))
            sb.AppendLine($"| {r.Dataset} | {r.Model} | {r.Arm} | {r.Seeds} | {Acc(r.Accuracy, r.AccuracyStd, r.Seeds)} | {Num(r.Seconds, "0")} | {(r.Parameters > 0 ? $"{(r.StartParameters / 1e6).ToString("0.0000", ci)} → {(r.Parameters / 1e6).ToString("0.0000", ci)}" : "–")} | {Num(r.Layer2MeanAbs, "0.000")} | " +
                          $"{r.PaperTable ?? "–"} | {(r.Paper is null ? "–" : r.Paper.Accuracy.ToString("0.00", ci))} | {(r.Paper is null ? "–" : r.Paper.Seconds.ToString("0", ci))} | {r.Paper?.NBest?.ToString(ci) ?? "–"} |");
        sb.AppendLine();
        var chosen = ChosenN(rows);
        if (chosen.Count > 0)
        {
            sb.AppendLine("## Chosen N (the regularised arm with the best mean accuracy among the N and λ run; paper: N_best from 1..30)").AppendLine();
            sb.AppendLine("| data | model | method | N | λ | accuracy % | paper N_best |").AppendLine("|---|---|---|---|---|---|---|");
            foreach (var c in chosen)
                sb.AppendLine($"| {c.Dataset} | {c.Model} | {c.Method} | {c.N} | {c.Lambda.ToString(ci)} | {c.Accuracy.ToString("0.00", ci)} | {SimilarityGrowthOptions.PaperN(PaperMethod(c.Method))} |");
            sb.AppendLine();
        }
        if (o.Ablation)
        {
            sb.AppendLine("## Ablation (Proposed1 = mean |cos| term, Proposed2 = weight-sum term; paper: Table 3, CIFAR-10, VGG16)").AppendLine();
            sb.AppendLine("| data | model | method | Proposed1 | Proposed2 | seeds | accuracy % | wall time s | paper accuracy % | paper time s |");
            sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
            var firstN = rows.Where(r => r.Terms == SimilarityTerms.Both).GroupBy(r => (r.Dataset, r.Model, r.Method)).ToDictionary(g => g.Key, g => g.First().Arm);
            foreach (var r in rows.Where(r => r.Terms != SimilarityTerms.Both || firstN.GetValueOrDefault((r.Dataset, r.Model, r.Method)) == r.Arm))
            {
                string key = r.Terms switch { SimilarityTerms.None => "none", SimilarityTerms.Both => "both", SimilarityTerms.Cosine => "cosine", _ => "sum" };
                Table3.TryGetValue($"{PaperMethod(r.Method)}/{key}", out var p);
                bool cos = r.Terms is SimilarityTerms.Both or SimilarityTerms.Cosine, sum = r.Terms is SimilarityTerms.Both or SimilarityTerms.Sum;
                sb.AppendLine($"| {r.Dataset} | {r.Model} | {r.Method} | {(cos ? "○" : "×")} | {(sum ? "○" : "×")} | {r.Seeds} | {Acc(r.Accuracy, r.AccuracyStd, r.Seeds)} | {Num(r.Seconds, "0")} | " +
                              $"{(p is null ? "–" : p.Accuracy.ToString("0.00", ci))} | {(p is null ? "–" : p.Seconds.ToString("0", ci))} |");
            }
            sb.AppendLine();
        }
        if (charts.Count > 0)
        {
            sb.AppendLine("## Figure 6 and the cosines over training").AppendLine();
            sb.AppendLine("Histogram: pairwise cosine similarity of the incoming weights (rows of W reshaped to [C_out, C_in·k·k]) of the second growable " +
                          "layer after training, plain arm against the first regularised arm, seed 0; the red frame marks [−0.5, 0.5] as in the paper. " +
                          "Curves: mean |cos| among all neurons of layers 1, 2, the middle and the last growable layer at every epoch's end (the run folders' similarity.json).").AppendLine();
            foreach (var (title, path) in charts) sb.AppendLine($"**{title}**").AppendLine().AppendLine($"![{title}]({path.Replace('\\', '/')})").AppendLine();
        }
        if (gradCam.Count > 0)
        {
            sb.AppendLine("## Grad-CAM (Figures 4–5)").AppendLine();
            sb.AppendLine("Grad-CAM of seed 0's final model of the plain arm and of the first regularised arm, at the default layer — the output of the last " +
                          "conv block (its index in each title) — for each image's true class; rows: the first " +
                          $"{SimilarityGrowthGradCam.Rows} test images of different classes (in test-set order), the same images in every column. Each map is scaled to [0, 1] per image and laid over " +
                          "the input (Turbo colours, red = strongest evidence).").AppendLine();
            foreach (var (g, png) in gradCam)
            {
                if (png is null)
                {
                    sb.AppendLine($"Grad-CAM of {g.Dataset} {g.Model} {g.Method} skipped: {g.Note ?? "nothing to draw"}.").AppendLine();
                    continue;
                }
                string title = $"Grad-CAM: {g.Model}, {string.Join(" vs ", g.Arms.Select(a => a.Name))} ({g.Dataset}, seed 0; {g.LayerName}, true class)";
                sb.AppendLine($"**{title}**").AppendLine().AppendLine($"![{title}]({png.Replace('\\', '/')})").AppendLine();
            }
        }
        sb.AppendLine("Each arm's seeds are a run group (`<out>/<data set>/<model>/<arm>/seed-<n>`): `sprout report` on it draws its epoch curves, `sprout compare` overlays arms.");
        return sb.ToString();
    }
}
