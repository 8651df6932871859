using System.Globalization;
using Sprout.Growth;
using Sprout.Optim;
using Sprout.Runs;
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
/// <param name="Scaling">How pixels become inputs (default: standardised; the paper does not say).</param>
/// <param name="Optimizer">The optimizer of the pre-training and of the post-growth epochs (default: Adam, the paper's).</param>
/// <param name="WeightDecay">Weight decay of the optimizer (default 0; see <see cref="GrowthRunConfig.WeightDecay"/>).</param>
/// <param name="Momentum">SGD momentum (only with <paramref name="Optimizer"/> = SGD; default 0).</param>
/// <param name="NewInitStd">null (default): random and frobenius initialise new neurons as PyTorch does
/// (U(±1/√fan_in)); σ: their incoming weights and bias are N(0, σ²) (<see cref="RandomConfig.NormalStd"/>).</param>
/// <param name="NewInitOutgoing">With <paramref name="NewInitStd"/>: their outgoing weights are N(0, σ²) too (default false).</param>
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
    ExperimentScale Scale,
    InputScaling Scaling = InputScaling.Standardize,
    TrainingOptimizer Optimizer = TrainingOptimizer.Adam,
    double WeightDecay = 0,
    double Momentum = 0,
    double? NewInitStd = null,
    bool NewInitOutgoing = false)
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
    public string Describe()
    {
        string opt = Optimizer switch
        {
            TrainingOptimizer.Sgd => $"SGD{(Momentum > 0 ? $" (momentum {Momentum})" : "")}",
            TrainingOptimizer.AdamL2 => "Adam",
            _ => WeightDecay > 0 ? "AdamW" : "Adam",
        } + (WeightDecay > 0 ? $" with {(Optimizer == TrainingOptimizer.Adam ? "decoupled" : "L2")} weight decay {WeightDecay}" : "");
        string pre = Pretrain.EarlyStopping
            ? $"until validation loss stops improving (patience {Pretrain.Patience}, at most {Pretrain.MaxEpochs} epochs, best weights kept)"
            : $"for {Pretrain.Epochs} epochs (no early stopping)";
        string scaling = Scaling switch { InputScaling.Raw => "; raw pixels 0..255 as inputs", InputScaling.Unit => "; pixels / 255 in [0, 1] as inputs", _ => "" };
        string init = NewInitStd is { } s ? $"; random/frobenius new neurons' incoming weights{(NewInitOutgoing ? ", bias and outgoing weights" : " and bias")} N(0, {s}²)" : "";
        return $"{(Scale == ExperimentScale.Quick ? "quick" : "paper")} scale: {(TrainSamples > 0 ? $"{TrainSamples} training samples (stratified subset)" : "the full training set")}, " +
            $"{ValidationFraction:P0} of them held out for early stopping{scaling}; one-hidden-layer ReLU MLPs of widths {string.Join("/", Widths)} pre-trained with {opt} lr {LearningRate} batch {BatchSize} " +
            $"{pre}; each doubled by every extender{init}, then {PostEpochs} epochs with a fresh {opt}; inactive = zero ReLU output on every training sample; {Seeds} seed(s).";
    }

    /// <summary>Names of <see cref="WithProtocol"/>'s protocols: default (this record's settings) and raw-sgd.</summary>
    public static IReadOnlyList<string> Protocols { get; } = ["default", "raw-sgd"];

    /// <summary>
    /// A named protocol over these settings. "default": unchanged. "raw-sgd": raw pixels 0..255, plain SGD with lr
    /// 0.01 for the pre-training and the epochs after doubling, the only protocol found that reproduces the magnitude
    /// of paper 000's Table 1 on MNIST (80–95% of random/frobenius new neurons inactive) — by breaking the training:
    /// the pre-trained nets reach 11–39% test accuracy and ~97% of their own neurons are dead (see docs/growth.md,
    /// "Table 1, explained").
    /// </summary>
    public SweInactiveOptions WithProtocol(string protocol) => protocol switch
    {
        "default" => this,
        "raw-sgd" => this with { Scaling = InputScaling.Raw, Optimizer = TrainingOptimizer.Sgd, LearningRate = 0.01, Momentum = 0 },
        _ => throw new ArgumentException($"unknown swe-inactive protocol '{protocol}' (known: {string.Join(", ", Protocols)})"),
    };

    /// <summary>Checks the settings that <see cref="GrowthRunConfig.Validate"/> does not; throws <see cref="ArgumentException"/>.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Scaling)) throw new ArgumentException($"unknown input scaling {(int)Scaling}");
        if (NewInitStd is { } s && !(s > 0 && s <= RandomConfig.MaxNormalStd))
            throw new ArgumentException($"new-neuron init std must be in (0, {RandomConfig.MaxNormalStd}], got {s}");
    }
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
/// <param name="Seconds">Wall time of the run (its pre-training included), as its run folder records it.</param>
public sealed record SweInactiveRow(string Dataset, int Width, string Extender, int Seed, int PretrainEpochs,
    double NewInactiveAtInsertionPct, double NewInactivePct, double OldInactivePct, double TrainAccBefore, double TrainAccAfterInsertion,
    double TestAccBefore, double TestAccEnd, double NewCosineMean, double MaxOutputChange, double Seconds);

/// <summary>
/// Paper 000, Table 1: one-hidden-layer nets of 20/40/60 neurons trained to convergence on MNIST and
/// Fashion-MNIST, doubled by each extender, trained 5 more epochs; % of the new neurons that are inactive. Every
/// (data set, width, extender, seed) is a run folder written by a <see cref="RunSession"/> (pre-training, the doubling
/// as one growth step, the post-growth epochs), and the seeds of a (data set, width, extender) form a run group whose
/// report sets the paper's figure beside ours.
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

    /// <summary>The <c>command</c> of the experiment's run configs.</summary>
    public const string Command = "experiment swe-inactive";

    /// <summary>Where the paper's table is.</summary>
    public const string PaperTable = "000 Table 1";

    /// <summary>
    /// The fully resolved config of one (data set, width, extender, seed) run: MLP <paramref name="features"/>-w-<paramref name="classes"/>
    /// pre-trained as <see cref="SweInactiveOptions.Pretrain"/> says, one growth step adding w neurons (the fixed
    /// distributor), then <see cref="SweInactiveOptions.PostEpochs"/> epochs with the optimizer's state reset (a fresh
    /// Adam). The configs of one (data set, width, seed) differ only in the extender, so they share the pre-training bit
    /// for bit; rerunning one (<c>sprout resume</c> on its folder) reproduces the run.
    /// </summary>
    public static RunConfig RunConfigFor(SweInactiveOptions o, string dataset, int width, string extender, int seed, int features, int classes)
    {
        ArgumentNullException.ThrowIfNull(o);
        var ext = GrowthMethods.Extender(extender);
        if (o.NewInitStd is { } std)
            ext = ext switch
            {
                RandomConfig r => r with { NormalStd = std, NormalOutgoing = o.NewInitOutgoing },
                FrobeniusConfig f => f with { NormalStd = std, NormalOutgoing = o.NewInitOutgoing },
                _ => ext,
            };
        var growth = new GrowthRunConfig([features, width, classes], GrowthSchedule.FromTotals(width),
            ext, new FixedConfig([width]),
            InitialTraining: o.Pretrain, StageTraining: new StageTraining(o.PostEpochs), BatchSize: o.BatchSize, LearningRate: o.LearningRate,
            Seed: (ulong)seed, OptimizerOnGrowth: GrowthStatePolicy.Reset, DiagnosticBatch: DiagnosticSamples,
            Optimizer: o.Optimizer, Momentum: o.Momentum, WeightDecay: o.WeightDecay);
        return new RunConfig(Command, string.Create(CultureInfo.InvariantCulture, $"swe-inactive-{dataset}-w{width}-{extender}-seed-{seed}"),
            dataset, growth, o.TrainSamples, o.ValidationFraction, Kernels.Workers.Threads, o.Scaling);
    }

    /// <summary>Training samples on which the output change at insertion is measured.</summary>
    public const int DiagnosticSamples = 1000;

    /// <summary>The run group of one (data set, width, extender): <c>&lt;out&gt;/&lt;data set&gt;/w&lt;width&gt;/&lt;extender&gt;</c>.</summary>
    public static string GroupFolder(string outDir, string dataset, int width, string extender) =>
        Path.Combine(outDir, dataset, "w" + width.ToString(CultureInfo.InvariantCulture), extender);

    /// <summary>
    /// Runs every (data set, seed, width, extender) as a run folder under <paramref name="outDir"/>
    /// (<see cref="GroupFolder"/>/seed-&lt;n&gt;): the first extender's run pre-trains, and its run folder is branched
    /// (<see cref="RunSession.Branch"/>) into the other extenders' folders right after the pre-training, so each
    /// extender doubles a copy of the same pre-trained network. Each run's report.json and each group's get the paper's
    /// Table 1 figure beside ours (<see cref="PaperNumbers"/>). Runs already in <paramref name="outDir"/> (from an
    /// interrupted earlier call) are continued. <paramref name="stop"/> stops at the next safe point
    /// (<see cref="TrainingInterruptedException"/>).
    /// </summary>
    public static List<SweInactiveRow> Run(SweInactiveOptions o, Func<string, (InMemoryDataset Train, InMemoryDataset Test)> load, string outDir,
        Action<string>? log = null, StopSignal? stop = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(load);
        ArgumentNullException.ThrowIfNull(outDir);
        o.Validate();
        foreach (var e in o.Extenders) GrowthMethods.Extender(e);   // validate names before the long part
        var rows = new List<SweInactiveRow>();
        foreach (var ds in o.Datasets)
        {
            var (fullTrain, test) = load(ds);
            for (int seed = 0; seed < o.Seeds; seed++)
            {
                // the split a run folder's config makes (RunData.TrainValidation with the seed's "split" stream)
                var (train, val) = RunData.TrainValidation(fullTrain, o.TrainSamples, o.ValidationFraction, new Rng((ulong)seed).Fork("split"));
                foreach (int width in o.Widths)
                    RunWidth(o, ds, seed, width, ExperimentRuns.Classes(fullTrain), train, val, test, outDir, rows, log, stop);
            }
        }
        return rows;
    }

    // One (data set, seed, width): every extender's run, the later ones branched from the first one's pre-training.
    private static void RunWidth(SweInactiveOptions o, string ds, int seed, int width, int classes, InMemoryDataset train, InMemoryDataset val,
        InMemoryDataset test, string outDir, List<SweInactiveRow> rows, Action<string>? log, StopSignal? stop)
    {
        // one unit when shared over ranks: the later extenders branch from the first one's pre-training
        if (!ExperimentRuns.Mine()) return;
        using var group = ExperimentRuns.Group();
        var configs = o.Extenders.Select(e => RunConfigFor(o, ds, width, e, seed, train.Features, classes)).ToArray();
        var dirs = o.Extenders.Select(e => ExperimentRuns.SeedFolder(GroupFolder(outDir, ds, width, e), seed)).ToArray();
        for (int i = 0; i < configs.Length; i++)
        {
            int first = i;
            // right after the pre-training (the growth step of stage 1 is next), copy the run into the later extenders' folders
            void Branch(RunSession s)
            {
                if (s.Runner.State is not { Phase: GrowthPhase.Grow, Stage: 0 }) return;
                for (int j = first + 1; j < configs.Length; j++)
                    if (!RunFiles.IsRun(dirs[j])) s.Branch(configs[j], dirs[j]);
                var pre = s.Runner.State;
                log?.Invoke($"{ds} seed {seed} width {width}: pre-trained {pre.InitialEpochs} epochs, validation {pre.InitialValAccuracy:P2}, test {pre.InitialTestAccuracy:P2}");
            }
            var rep = ExperimentRuns.Run(configs[i], dirs[i], train, val, test, null, stop, Branch);
            if (rep is null) continue;   // failed (recorded by the sharing)
            var row = Row(ds, width, o.Extenders[i], seed, rep);
            rows.Add(row);
            RunFiles.WritePaper(dirs[i], PaperNumbers(ds, width, row.Extender, o.PostEpochs, row.NewInactivePct, double.NaN));
            // the group's figure: mean ± std over the seeds so far
            var seeds = rows.Where(r => r.Dataset == ds && r.Width == width && r.Extender == row.Extender).Select(r => r.NewInactivePct).ToArray();
            var (m, sd) = MeanStd(seeds);
            RunFiles.WritePaper(Path.GetDirectoryName(dirs[i])!, PaperNumbers(ds, width, row.Extender, o.PostEpochs, m, seeds.Length > 1 ? sd : double.NaN));
            log?.Invoke($"  {row.Extender,-15} new inactive {row.NewInactivePct,5:F1}% (at insertion {row.NewInactiveAtInsertionPct:F1}%), " +
                        $"train {row.TrainAccBefore:P2}→{row.TrainAccAfterInsertion:P2}, test end {row.TestAccEnd:P2}, cos {row.NewCosineMean:F2} ({dirs[i]})");
        }
    }

    /// <summary>The measurements of one run's report (one hidden layer, one growth step).</summary>
    public static SweInactiveRow Row(string dataset, int width, string extender, int seed, GrowthRunReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.Stages.Count != 1 || report.Stages[0].Layers.Count != 1)
            throw new ArgumentException($"a swe-inactive run grows one layer once; this one has {report.Stages.Count} stages");
        var st = report.Stages[0];
        var l = st.Layers[0];
        int added = Math.Max(1, l.Added);
        return new SweInactiveRow(dataset, width, extender, seed, report.InitialEpochs,
            100.0 * l.NewInactiveAtInsertion / added, 100.0 * l.NewInactiveAtEnd / added, 100.0 * (l.InactiveAtEnd - l.NewInactiveAtEnd) / Math.Max(1, width),
            st.TrainAccuracyBefore, st.TrainAccuracyAfterInsertion, report.InitialTestAccuracy, report.FinalTestAccuracy, l.NewCosineMean,
            st.MaxOutputChange, st.Seconds);
    }

    /// <summary>The paper's column an extender is compared with: its own, or SWE for the SWE variants (null: none).</summary>
    public static string? PaperColumn(string extender)
    {
        ArgumentNullException.ThrowIfNull(extender);
        return extender is "random" or "frobenius" or "firefly" or "swe" ? extender
            : extender.StartsWith("swe-", StringComparison.Ordinal) ? "swe" : null;
    }

    /// <summary>
    /// The paper's Table 1 figure for (data set, width, extender) beside ours (% of the new neurons inactive after the
    /// post-growth epochs); empty when the paper has no such figure (another width or data set, or an extender it did
    /// not run, e.g. kaiming). SWE variants are set beside the paper's SWE, and the setting says so.
    /// </summary>
    public static IReadOnlyList<PaperNumber> PaperNumbers(string dataset, int width, string extender, int postEpochs, double ours, double oursStd)
    {
        string? col = PaperColumn(extender);
        int pi = PaperWidths.ToList().IndexOf(width);
        if (col is null || pi < 0 || !PaperTable1.TryGetValue(dataset, out var table) || !table.TryGetValue(col, out var figures)) return [];
        string paperName = col switch { "swe" => "SWE", "random" => "Random", "frobenius" => "Frobenius", _ => "Firefly" };
        string method = col == extender ? paperName : $"ours {extender}, paper {paperName}";
        string data = dataset == "mnist" ? "MNIST" : dataset == "fashion-mnist" ? "Fashion-MNIST" : dataset;
        return [new PaperNumber(PaperTable, string.Create(CultureInfo.InvariantCulture, $"{data}, {width}→{2 * width} neurons, {method}"),
            string.Create(CultureInfo.InvariantCulture, $"new neurons inactive after {postEpochs} epochs (%)"), figures[pi], double.NaN, ours, oursStd)];
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
