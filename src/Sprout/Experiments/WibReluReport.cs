using System.Globalization;
using System.Text;
using System.Text.Json;
using Sprout.Diagnostics;
using Sprout.Growth;
using Sprout.Reporting;
using Sprout.Runs;

namespace Sprout.Experiments;

/// <summary>One row of the WIB-ReLU results: an arm's last epoch over its seeds (means; std over seeds).</summary>
/// <param name="Dataset">Data set.</param>
/// <param name="Model">Network.</param>
/// <param name="Activation">Activation.</param>
/// <param name="Init">Initialisation.</param>
/// <param name="Seeds">Seeds with a record.</param>
/// <param name="Epochs">Epochs of seed 0's record.</param>
/// <param name="TrainLoss">Training loss of the last epoch.</param>
/// <param name="ValLoss">Validation loss after the last epoch.</param>
/// <param name="TrainAccuracy">Training accuracy of the last epoch (0..1).</param>
/// <param name="ValAccuracy">Validation accuracy after the last epoch (0..1).</param>
/// <param name="ValAccuracyStd">Its std over seeds.</param>
/// <param name="BestValAccuracy">Best validation accuracy over the epochs.</param>
/// <param name="InitialStd">Seed 0: each measured layer's output std before the first step.</param>
/// <param name="InitialNearZero">Seed 0: the mean over conv layers of the near-zero-std share before the first step.</param>
/// <param name="FinalNearZero">Seed 0: the same at the last recorded step.</param>
/// <param name="PeakNearZero">Seed 0: the largest per-layer near-zero-std share over all recorded steps.</param>
public sealed record WibReluRow(string Dataset, string Model, string Activation, string Init, int Seeds, int Epochs, double TrainLoss, double ValLoss,
    double TrainAccuracy, double ValAccuracy, double ValAccuracyStd, double BestValAccuracy, double[] InitialStd, double InitialNearZero,
    double FinalNearZero, double PeakNearZero);

/// <summary>
/// The report of paper 004's study: the activations' final losses and accuracies beside the paper's Fashion-MNIST figures
/// (Figure 12), their curves (Figures 12–13), and the initialisation study — per-layer activation mean and std over the
/// steps (Figures 7, 9, 11) and the share of units with nearly zero std (Figures 8, 10); results.md, results.json and
/// charts/ in the output folder.
/// </summary>
public static class WibReluReport
{
    private static (double Mean, double Std) MeanStd(IEnumerable<double> xs) => SweInactiveExperiment.MeanStd(xs.Where(double.IsFinite));

    private static bool IsConv(LayerActivationStats l) => l.Layer.StartsWith("conv", StringComparison.Ordinal);

    /// <summary>The rows of the results table.</summary>
    public static IReadOnlyList<WibReluRow> Rows(IReadOnlyList<WibReluRuns> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        return runs.Select(r =>
        {
            var done = r.Records.Where(x => x is { Epochs.Count: > 0 }).Select(x => x!).ToList();
            double M(Func<WibEpoch, double> f) => MeanStd(done.Select(x => f(x.Epochs[^1]))).Mean;
            var (va, vs) = MeanStd(done.Select(x => x.Epochs[^1].ValAccuracy));
            var s0 = r.Records.Count > 0 ? r.Records[0] : null;
            var acts = s0?.Activations ?? [];
            double Conv(ActivationStatsAt? a) => a is null ? double.NaN : MeanStd(a.Layers.Where(IsConv).Select(l => l.NearZeroStdShare)).Mean;
            return new WibReluRow(r.Dataset, r.Model, r.Arm.Activation, r.Arm.Init, done.Count, s0?.Epochs.Count ?? 0,
                M(e => e.TrainLoss), M(e => e.ValLoss), M(e => e.TrainAccuracy), va, vs,
                MeanStd(done.Select(x => x.Epochs.Max(e => e.ValAccuracy))).Mean,
                acts.Count > 0 && acts[0].Step == 0 ? acts[0].Layers.Select(l => l.Std).ToArray() : [],
                acts.Count > 0 && acts[0].Step == 0 ? Conv(acts[0]) : double.NaN,
                acts.Count > 0 ? Conv(acts[^1]) : double.NaN,
                acts.SelectMany(a => a.Layers.Where(IsConv)).Select(l => l.NearZeroStdShare).DefaultIfEmpty(double.NaN).Max());
        }).ToList();
    }

    /// <summary>Writes results.md, results.json and charts/ into <paramref name="outDir"/>; returns the Markdown.</summary>
    public static string Write(WibReluOptions o, IReadOnlyList<WibReluRuns> runs, string outDir, double minutes)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(runs);
        var rows = Rows(runs);
        string chartDir = Path.Combine(outDir, "charts");
        var charts = new List<(string Section, string Title, string Path)>();
        var comparison = o.Activations.Select(a => new WibArm(a, o.ComparisonInit)).ToHashSet();
        foreach (var g in runs.GroupBy(r => (r.Dataset, r.Model)))
        {
            string stem = $"{g.Key.Dataset}-{g.Key.Model}";
            string fig = g.Key.Dataset.StartsWith("cifar", StringComparison.Ordinal) ? "Figure 13" : "Figure 12";
            var arms = g.Where(r => comparison.Contains(r.Arm)).ToList();
            foreach (var (metric, label, f) in new (string, string, Func<WibEpoch, double>)[]
                     {
                         ("train-loss", "training loss", e => e.TrainLoss), ("val-loss", "validation loss", e => e.ValLoss),
                         ("train-accuracy", "training accuracy", e => e.TrainAccuracy), ("val-accuracy", "validation accuracy", e => e.ValAccuracy),
                     })
            {
                var lines = arms.Select(r => Curve(r.Arm.Activation, r.Records, f)).Where(l => l is not null).Select(l => l!).ToList();
                if (lines.Count == 0) continue;
                charts.Add(("curves", $"{fig}: {label}, {g.Key.Model} network ({g.Key.Dataset}, {o.ComparisonInit} init, mean over seeds)",
                    SimilarityCharts.WriteLines(chartDir, $"{stem}-{metric}", $"{g.Key.Dataset}, {g.Key.Model} network: {label}", "epoch", label, lines)));
            }
            foreach (var r in g.Where(r => o.InitStudyActivations.Contains(r.Arm.Activation) && o.Inits.Contains(r.Arm.Init)))
            {
                if (r.Records.Count == 0 || r.Records[0] is not { Activations.Count: > 0 } rec) continue;
                var acts = rec.Activations;
                var names = acts[0].Layers.Select(l => l.Layer).ToArray();
                var x = acts.Select(a => (double)a.Step).ToArray();
                EpochLine Line(int k, Func<LayerActivationStats, double> f) => new(names[k], x, acts.Select(a => k < a.Layers.Count ? f(a.Layers[k]) : double.NaN).ToArray());
                string armStem = $"{stem}-{r.Arm.Folder}";
                string who = $"{r.Arm.Activation}, {r.Arm.Init} init ({g.Key.Dataset}, {g.Key.Model} network, seed 0)";
                charts.Add(("stats", $"activation mean per layer over the steps: {who}",
                    SimilarityCharts.WriteLines(chartDir, armStem + "-act-mean", $"{r.Arm.Activation}, {r.Arm.Init} init: activation mean", "optimizer step",
                        "mean of the layer's output", Enumerable.Range(0, names.Length).Select(k => Line(k, l => l.Mean)).ToList())));
                charts.Add(("stats", $"activation std per layer over the steps: {who}",
                    SimilarityCharts.WriteLines(chartDir, armStem + "-act-std", $"{r.Arm.Activation}, {r.Arm.Init} init: activation std", "optimizer step",
                        "std of the layer's output", Enumerable.Range(0, names.Length).Select(k => Line(k, l => l.Std)).ToList())));
                var conv = Enumerable.Range(0, names.Length).Where(k => names[k].StartsWith("conv", StringComparison.Ordinal)).ToList();
                charts.Add(("zero", $"share of units with std < {o.NearZeroStd.ToString(CultureInfo.InvariantCulture)} per conv layer: {who}",
                    SimilarityCharts.WriteLines(chartDir, armStem + "-near-zero", $"{r.Arm.Activation}, {r.Arm.Init} init: units with nearly zero std", "optimizer step",
                        "share of units (%)", conv.Select(k => Line(k, l => 100 * l.NearZeroStdShare)).ToList())));
            }
        }
        string md = Markdown(o, rows, charts.Select(c => (c.Section, c.Title, Path.GetRelativePath(outDir, c.Path))).ToList(), minutes);
        var paper = WibReluOptions.PaperFashionMnist;
        var doc = new
        {
            experiment = WibReluExperiment.Command,
            description = o.Describe(),
            choices = o.Choices().ToDictionary(c => c.Choice, c => c.Value),
            minutes,
            rows,
            paper = new { dataset = "fashion-mnist", activation = "wib-relu", trainLoss = paper.TrainLoss, valLoss = paper.ValLoss, trainAccuracy = paper.TrainAccuracy, valAccuracy = paper.ValAccuracy },
            charts = charts.Select(c => Path.GetRelativePath(outDir, c.Path)),
        };
        Directory.CreateDirectory(outDir);
        RunSession.WriteAtomically(Path.Combine(outDir, "results.json"), JsonSerializer.Serialize(doc, GrowthRunConfig.JsonOptions));
        RunSession.WriteAtomically(Path.Combine(outDir, "results.md"), md);
        return md;
    }

    // the mean over seeds of a per-epoch value, over the epochs every seed has
    private static EpochLine? Curve(string label, IReadOnlyList<WibRecord?> records, Func<WibEpoch, double> f)
    {
        var done = records.Where(r => r is { Epochs.Count: > 0 }).Select(r => r!).ToList();
        if (done.Count == 0) return null;
        int n = done.Min(r => r.Epochs.Count);
        var x = Enumerable.Range(1, n).Select(e => (double)e).ToArray();
        var y = Enumerable.Range(0, n).Select(e => done.Average(r => f(r.Epochs[e]))).ToArray();
        return new EpochLine(label, x, y);
    }

    private static string Markdown(WibReluOptions o, IReadOnlyList<WibReluRow> rows, IReadOnlyList<(string Section, string Title, string Path)> charts, double minutes)
    {
        var ci = CultureInfo.InvariantCulture;
        string N(double v, string f = "0.000") => double.IsFinite(v) ? v.ToString(f, ci) : "–";
        string Pct(double v) => double.IsFinite(v) ? (100 * v).ToString("0.0", ci) : "–";
        var paper = WibReluOptions.PaperFashionMnist;
        var sb = new StringBuilder();
        sb.AppendLine("# WIB-ReLU and the initialisation study (paper 004, Olimov et al.: Figures 7–13)").AppendLine();
        sb.AppendLine($"`sprout {WibReluExperiment.Command}` — {minutes.ToString("0.0", ci)} min.").AppendLine();
        if (o.Scale == ExperimentScale.Quick)
        {
            var cuts = new List<string>();
            if (o.TrainSamples > 0) cuts.Add($"{o.TrainSamples.ToString("N0", ci)} training samples instead of all");
            if (o.TestSamples > 0) cuts.Add($"the first {o.TestSamples.ToString("N0", ci)} test samples instead of all");
            cuts.Add($"{o.Epochs} epoch(s) instead of 20");
            cuts.Add($"{o.Seeds} seed(s)");
            cuts.Add($"network(s) {string.Join(", ", o.Models)} only");
            sb.AppendLine($"**Quick scale.** Cut from the paper's protocol: {string.Join(", ", cuts)}. The paper's figures are after 20 epochs on all of Fashion-MNIST: " +
                          "compare the ordering of the activations, not the absolute numbers.").AppendLine();
        }
        sb.AppendLine("## Protocol (with the option that sets each choice)").AppendLine();
        sb.AppendLine("| choice | value |").AppendLine("|---|---|");
        foreach (var (c, v) in o.Choices()) sb.AppendLine($"| {c} | {v} |");
        sb.AppendLine();
        var comparison = o.Activations.Select(a => new WibArm(a, o.ComparisonInit)).ToHashSet();
        sb.AppendLine($"## Activations (Figures 12–13): last epoch, mean over seeds, {o.ComparisonInit} init").AppendLine();
        sb.AppendLine("| data | network | activation | seeds | epochs | train loss | val loss | train acc | val acc | best val acc | paper train loss | paper val loss | paper train acc | paper val acc |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows.Where(r => comparison.Contains(new WibArm(r.Activation, r.Init))))
        {
            bool p = r.Dataset == "fashion-mnist" && r.Activation is "wib-relu" or "wib-post";
            string va = r.Seeds > 1 ? $"{N(r.ValAccuracy, "0.0000")} ± {N(r.ValAccuracyStd, "0.0000")}" : N(r.ValAccuracy, "0.0000");
            sb.AppendLine($"| {r.Dataset} | {r.Model} | {r.Activation} | {r.Seeds} | {r.Epochs} | {N(r.TrainLoss)} | {N(r.ValLoss)} | {N(r.TrainAccuracy, "0.0000")} | {va} | {N(r.BestValAccuracy, "0.0000")} | " +
                          (p ? $"{N(paper.TrainLoss)} | {N(paper.ValLoss)} | {N(paper.TrainAccuracy)} | {N(paper.ValAccuracy)} |" : "– | – | – | – |"));
        }
        sb.AppendLine();
        sb.AppendLine("The paper reports numbers only for WIB-ReLU on Fashion-MNIST (Figure 12: train/val loss 0.133/0.318, accuracy 0.951/0.899, " +
                      "\"up to 20% lower loss and 5% higher accuracy\" than ReLU, LeakyReLU, PReLU and ELU), shown beside both readings of its μ " +
                      "(wib-relu: the pre-activation batch mean of the authors' code, which does not centre the outputs; wib-post: the post-ReLU batch mean of its text, which does); " +
                      "the other activations are on its curves only.").AppendLine();
        var study = rows.Where(r => o.InitStudyActivations.Contains(r.Activation) && o.Inits.Contains(r.Init)).ToList();
        if (study.Count > 0)
        {
            sb.AppendLine($"## Initialisation study (Figures 7–11): seed 0's activation statistics on the probe batch").AppendLine();
            sb.AppendLine($"Near-zero share: the share of a conv layer's units (channel × position) whose std over the probe batch is < {o.NearZeroStd.ToString(ci)}, averaged over the conv layers.").AppendLine();
            sb.AppendLine("| data | network | activation | init | output std per layer at step 0 | near-zero % at step 0 | near-zero % at the end | peak layer near-zero % | val acc |");
            sb.AppendLine("|---|---|---|---|---|---|---|---|---|");
            foreach (var r in study)
                sb.AppendLine($"| {r.Dataset} | {r.Model} | {r.Activation} | {r.Init} | {(r.InitialStd.Length == 0 ? "–" : string.Join(" / ", r.InitialStd.Select(v => N(v, "0.###"))))} | " +
                              $"{Pct(r.InitialNearZero)} | {Pct(r.FinalNearZero)} | {Pct(r.PeakNearZero)} | {N(r.ValAccuracy, "0.0000")} |");
            sb.AppendLine();
            sb.AppendLine("The paper: with PyTorch's default init the layers' std starts near 0 and 55–90% of the conv layers' activations have nearly zero std (Figure 8); " +
                          "gain √3 brings the first iterations' std close to 1 (Figure 9); WIB-ReLU keeps the means near 0 and lowers the near-zero share to 20–45% (Figures 10–11).").AppendLine();
        }
        foreach (var (section, heading) in new[] { ("curves", "Loss and accuracy curves (Figures 12–13)"), ("stats", "Activation mean and std over the steps (Figures 7, 9, 11)"), ("zero", "Units with nearly zero std (Figures 8, 10)") })
        {
            var list = charts.Where(c => c.Section == section).ToList();
            if (list.Count == 0) continue;
            sb.AppendLine($"## {heading}").AppendLine();
            foreach (var (_, title, path) in list) sb.AppendLine($"**{title}**").AppendLine().AppendLine($"![{title}]({path.Replace('\\', '/')})").AppendLine();
        }
        sb.AppendLine("Each arm's seeds are a run group (`<out>/<data set>/<network>/<activation>-<init>/seed-<n>`, with `wib.json` beside the run files): `sprout report` on it draws its epoch curves, `sprout compare` overlays arms.");
        return sb.ToString();
    }
}
