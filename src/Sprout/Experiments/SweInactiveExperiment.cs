using System.Diagnostics;
using Sprout.Diagnostics;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Experiments;

/// <summary>Scale of the Table 1 experiment.</summary>
public enum ExperimentScale
{
    /// <summary>Short: a training subset, fixed pre-training epochs, few seeds (≤ 10 minutes on 2 cores).</summary>
    Quick,
    /// <summary>The paper's protocol: full training set, training to convergence, 5 seeds.</summary>
    Paper,
}

/// <summary>Settings of the Table 1 experiment (paper 000 §3.1).</summary>
/// <param name="Datasets">Data set names.</param>
/// <param name="Widths">Initial hidden widths (each doubled).</param>
/// <param name="Extenders">Extender names.</param>
/// <param name="Seeds">Number of seeds (0, 1, …).</param>
/// <param name="TrainSamples">Training samples used (0 = all), a stratified random subset.</param>
/// <param name="Pretrain">Training of the initial net ("to convergence").</param>
/// <param name="ValidationFraction">Share of the training samples held out for early stopping.</param>
/// <param name="PostEpochs">Epochs after doubling (paper: 5).</param>
/// <param name="BatchSize">Mini-batch size.</param>
/// <param name="LearningRate">Adam learning rate (paper: 1e-3).</param>
/// <param name="Scale">Which preset these settings came from.</param>
public sealed record SweInactiveOptions(
    IReadOnlyList<string> Datasets,
    IReadOnlyList<int> Widths,
    IReadOnlyList<string> Extenders,
    int Seeds,
    int TrainSamples,
    StageTraining Pretrain,
    double ValidationFraction,
    int PostEpochs,
    int BatchSize,
    double LearningRate,
    ExperimentScale Scale)
{
    /// <summary>All six extenders.</summary>
    public static IReadOnlyList<string> AllExtenders { get; } = ["swe", "swe-reference", "swe-plus", "swe-plus-frozen", "random", "kaiming", "frobenius"];

    /// <summary>
    /// Quick: the full training set (10% held out for validation), 2 seeds, pre-training for at most 20 epochs with
    /// early stopping (patience 3), then doubling and 5 epochs as in the paper.
    /// </summary>
    public static SweInactiveOptions Quick(IReadOnlyList<string> datasets, int seeds = 2) =>
        new(datasets, [20, 40, 60], AllExtenders, seeds, 0, new StageTraining(0, true, 3, 20), 0.1, 5, 100, 1e-3, ExperimentScale.Quick);

    /// <summary>
    /// Paper: all 60,000 training samples (10% held out), 5 seeds, pre-training to convergence (early stopping on
    /// validation loss, patience 5, at most 100 epochs, best weights), doubling, 5 epochs.
    /// </summary>
    public static SweInactiveOptions Paper(IReadOnlyList<string> datasets, int seeds = 5) =>
        new(datasets, [20, 40, 60], AllExtenders, seeds, 0, new StageTraining(0, true, 5, 100), 0.1, 5, 100, 1e-3, ExperimentScale.Paper);

    /// <summary>One sentence saying exactly what this scale runs.</summary>
    public string Describe() =>
        $"{(Scale == ExperimentScale.Quick ? "quick" : "paper")} scale: {(TrainSamples > 0 ? $"{TrainSamples} training samples (stratified subset)" : "the full training set")}, " +
        $"{ValidationFraction:P0} of them held out for early stopping; one-hidden-layer ReLU MLPs of widths {string.Join("/", Widths)} pre-trained with Adam lr {LearningRate} batch {BatchSize} " +
        $"until validation loss stops improving (patience {Pretrain.Patience}, at most {Pretrain.MaxEpochs} epochs, best weights kept); " +
        $"each doubled by every extender, then {PostEpochs} epochs with a fresh Adam; inactive = zero ReLU output on every training sample; {Seeds} seed(s).";
}

/// <summary>One (data set, width, extender, seed) measurement.</summary>
/// <param name="Dataset">Data set.</param>
/// <param name="Width">Initial width.</param>
/// <param name="Extender">Extender.</param>
/// <param name="Seed">Seed.</param>
/// <param name="PretrainEpochs">Epochs of pre-training.</param>
/// <param name="NewInactiveAtInsertionPct">% of new neurons inactive right after insertion.</param>
/// <param name="NewInactivePct">% of new neurons inactive after the post-growth epochs (Table 1's figure).</param>
/// <param name="OldInactivePct">% of old neurons inactive after the post-growth epochs.</param>
/// <param name="TrainAccBefore">Training accuracy before growth.</param>
/// <param name="TrainAccAfterInsertion">Training accuracy right after insertion.</param>
/// <param name="TestAccBefore">Test accuracy before growth.</param>
/// <param name="TestAccEnd">Test accuracy after the post-growth epochs.</param>
/// <param name="NewCosineMean">Mean pairwise cosine of the new neurons' incoming weights right after insertion.</param>
/// <param name="MaxOutputChange">max |logit change| on 1000 training samples at insertion.</param>
/// <param name="Seconds">Wall time of extension + post-training.</param>
public sealed record SweInactiveRow(string Dataset, int Width, string Extender, int Seed, int PretrainEpochs,
    double NewInactiveAtInsertionPct, double NewInactivePct, double OldInactivePct, double TrainAccBefore, double TrainAccAfterInsertion,
    double TestAccBefore, double TestAccEnd, double NewCosineMean, double MaxOutputChange, double Seconds);

/// <summary>
/// Paper 000, Table 1: one-hidden-layer nets of 20/40/60 neurons trained to convergence on MNIST and
/// Fashion-MNIST, doubled by each extender, trained 5 more epochs; % of the new neurons that are inactive.
/// </summary>
public static class SweInactiveExperiment
{
    /// <summary>
    /// Paper 000, Table 1 ("Inactive neurons (%) among newly added, after only 5 training epochs"), columns
    /// Random, Frobenius, Firefly, SWE, rows 20→40, 40→80, 60→120.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, double[]>> PaperTable1 { get; } =
        new Dictionary<string, IReadOnlyDictionary<string, double[]>>
        {
            ["mnist"] = new Dictionary<string, double[]>
            {
                ["random"] = [81.7, 93.2, 92.8],
                ["frobenius"] = [90.0, 90.0, 93.3],
                ["firefly"] = [6.7, 65.8, 83.3],
                ["swe"] = [0.0, 0.0, 0.0],
            },
            ["fashion-mnist"] = new Dictionary<string, double[]>
            {
                ["random"] = [43.3, 46.7, 52.2],
                ["frobenius"] = [40.0, 47.5, 55.6],
                ["firefly"] = [23.3, 38.3, 42.8],
                ["swe"] = [0.0, 0.0, 0.0],
            },
        };

    /// <summary>Widths of the paper's Table 1 rows.</summary>
    public static IReadOnlyList<int> PaperWidths { get; } = [20, 40, 60];

    /// <summary>Runs every (data set, seed, width): pre-train once, then apply each extender to a copy.</summary>
    public static List<SweInactiveRow> Run(SweInactiveOptions o, Func<string, (InMemoryDataset Train, InMemoryDataset Test)> load, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(load);
        foreach (var e in o.Extenders) Extender.Create(e);   // validate names before the long part
        var rows = new List<SweInactiveRow>();
        foreach (var ds in o.Datasets)
        {
            var (fullTrain, test) = load(ds);
            for (int seed = 0; seed < o.Seeds; seed++)
            {
                var rng = new Rng((ulong)seed).Fork(ds);
                var (train, val) = Runs.RunData.TrainValidation(fullTrain, o.TrainSamples, o.ValidationFraction, rng.Fork("split"));
                foreach (int width in o.Widths)
                    rows.AddRange(RunOne(ds, seed, width, train, val, test, o, rng.Fork("width", width), log));
            }
        }
        return rows;
    }

    private static IEnumerable<SweInactiveRow> RunOne(string ds, int seed, int width, InMemoryDataset train, InMemoryDataset val, InMemoryDataset test,
        SweInactiveOptions o, Rng rng, Action<string>? log)
    {
        var module = (Sequential)SequentialConfig.Mlp([train.Features, width, 10], ActivationConfig.Relu).Build(rng.Fork("init"));
        var model = new GrowableModel(module);
        var opt = new Adam(model.Parameters(), o.LearningRate);
        int pre = GrowthRunner.TrainPhase(model, opt, train, val, o.Pretrain, rng.Fork("pretrain"), o.BatchSize);
        var snapshot = new ParameterSnapshot(module);
        var eval = new Trainer(module);
        double trBefore = eval.Evaluate(train).Accuracy;
        double teBefore = eval.Evaluate(test).Accuracy;
        var diag = train.Head(1000).X;
        var logitsBefore = model.Logits(diag);
        log?.Invoke($"{ds} seed {seed} width {width}: pre-trained {pre} epochs, train {trBefore:P2}, test {teBefore:P2}");
        var result = new List<SweInactiveRow>();
        foreach (var name in o.Extenders)
        {
            long t0 = Stopwatch.GetTimestamp();
            snapshot.Restore();
            var ext = Extender.Create(name);
            var ctx = new GrowthContext(model, train, rng.Fork("extend/" + name), 0);
            ext.Extend(ctx, [width]);
            double change = FunctionChange.MaxAbsDifference(logitsBefore, model.Logits(diag));
            double trAfter = eval.Evaluate(train).Accuracy;
            var cos = model.Cosines(0, width, width);
            var actIns = model.Activity(train)[0];
            var post = new Trainer(module, new Adam(model.Parameters(), o.LearningRate)) { Name = $"post-growth training ({name})" };
            post.Fit(train, rng.Fork("post/" + name), o.BatchSize, o.PostEpochs);
            var act = model.Activity(train)[0];
            double teEnd = eval.Evaluate(test).Accuracy;
            var row = new SweInactiveRow(ds, width, name, seed, pre,
                100.0 * actIns.Inactive(width, width) / width, 100.0 * act.Inactive(width, width) / width, 100.0 * act.Inactive(0, width) / width,
                trBefore, trAfter, teBefore, teEnd, cos.Mean, change, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            result.Add(row);
            log?.Invoke($"  {name,-14} new inactive {row.NewInactivePct,5:F1}% (at insertion {row.NewInactiveAtInsertionPct:F1}%), " +
                        $"train {trBefore:P2}→{trAfter:P2}, test end {teEnd:P2}, cos {cos.Mean:F2}, {row.Seconds:F1}s");
        }
        snapshot.Restore();
        return result;
    }

    /// <summary>mean ± sample std.</summary>
    public static (double Mean, double Std) MeanStd(IEnumerable<double> values)
    {
        var v = values.ToArray();
        if (v.Length == 0) return (double.NaN, double.NaN);
        double m = v.Average();
        double s = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1)) : 0;
        return (m, s);
    }

    /// <summary>The results as Markdown: Table 1 with the paper's figures beside ours, then accuracy around insertion.</summary>
    public static string Markdown(SweInactiveOptions o, IReadOnlyList<SweInactiveRow> rows)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(rows);
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        string F(double m, double s) => double.IsNaN(m) ? "–" : string.Format(ci, "{0:0.0} ± {1:0.0}", m, s);
        var sb = new System.Text.StringBuilder();
        sb.AppendLine("# Inactive new neurons after doubling (paper 000, Table 1)").AppendLine();
        sb.AppendLine(o.Describe()).AppendLine();
        sb.AppendLine("## % of new neurons inactive after " + o.PostEpochs.ToString(ci) + " epochs (ours: mean ± std over seeds; paper: Table 1)").AppendLine();
        sb.Append("| data | neurons | ").Append(string.Join(" | ", o.Extenders)).AppendLine(" | paper Random | paper Frobenius | paper Firefly | paper SWE |");
        sb.Append("|---|---|").Append(string.Concat(o.Extenders.Select(_ => "---|"))).AppendLine("---|---|---|---|");
        foreach (var ds in o.Datasets)
            foreach (int w in o.Widths)
            {
                sb.Append(ci, $"| {ds} | {w}→{2 * w} | ");
                foreach (var e in o.Extenders)
                {
                    var (m, s) = MeanStd(rows.Where(r => r.Dataset == ds && r.Width == w && r.Extender == e).Select(r => r.NewInactivePct));
                    sb.Append(F(m, s)).Append(" | ");
                }
                int pi = PaperWidths.ToList().IndexOf(w);
                foreach (var col in new[] { "random", "frobenius", "firefly", "swe" })
                    sb.Append(pi >= 0 && PaperTable1.TryGetValue(ds, out var t) ? t[col][pi].ToString("0.0", ci) : "–").Append(" | ");
                sb.Length -= 1;
                sb.AppendLine();
            }
        sb.AppendLine().AppendLine("## Around the insertion (mean over seeds and widths)").AppendLine();
        sb.AppendLine("| data | extender | new inactive at insertion % | train acc before % | train acc right after insertion % | test acc after 5 epochs % | new-neuron cosine | max logit change |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var ds in o.Datasets)
            foreach (var e in o.Extenders)
            {
                var r = rows.Where(x => x.Dataset == ds && x.Extender == e).ToList();
                if (r.Count == 0) continue;
                sb.AppendLine(string.Format(ci, "| {0} | {1} | {2:0.0} | {3:0.00} | {4:0.00} | {5:0.00} | {6:0.00} | {7:0.000} |", ds, e,
                    r.Average(x => x.NewInactiveAtInsertionPct), 100 * r.Average(x => x.TrainAccBefore), 100 * r.Average(x => x.TrainAccAfterInsertion),
                    100 * r.Average(x => x.TestAccEnd), r.Average(x => x.NewCosineMean), r.Average(x => x.MaxOutputChange)));
            }
        return sb.ToString();
    }
}
