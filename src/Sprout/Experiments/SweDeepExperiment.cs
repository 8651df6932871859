using System.Globalization;
using Sprout.Growth;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Experiments;

/// <summary>Settings of the deep-growth measurement (paper 000 §3.3, three hidden layers, SVoD allocation).</summary>
/// <param name="Dataset">Data set name.</param>
/// <param name="Extenders">Extenders compared.</param>
/// <param name="Distributor">Distributor used by all.</param>
/// <param name="Seeds">Seeds (0, 1, …).</param>
/// <param name="TrainSamples">Training samples (0 = all).</param>
/// <param name="InitialWidth">Start width of each of the three hidden layers.</param>
/// <param name="Schedule">Growth schedule.</param>
/// <param name="Initial">Initial training.</param>
/// <param name="Stage">Training per stage.</param>
/// <param name="Scale">Preset it came from.</param>
/// <param name="WeightDecay">Decoupled weight decay (AdamW) of all training; 0 = Adam.</param>
/// <param name="OptimizerOnGrowth">What the training optimizer's state does when parameters grow.</param>
public sealed record SweDeepOptions(string Dataset, IReadOnlyList<string> Extenders, string Distributor, int Seeds, int TrainSamples,
    int InitialWidth, GrowthSchedule Schedule, StageTraining Initial, StageTraining Stage, ExperimentScale Scale, double WeightDecay = 0,
    Optim.GrowthStatePolicy OptimizerOnGrowth = Optim.GrowthStatePolicy.Keep)
{
    /// <summary>Quick: 12,000 samples, 2 seeds, 7 stages of +30%, early stopping (patience 3, ≤ 15 epochs) per stage.</summary>
    public static SweDeepOptions Quick(string dataset, int seeds = 2) => new(dataset, ["swe-reference", "swe", "swe-plus", "swe-plus-frozen", "swe-plus-shrink", "kaiming"], "svod", seeds, 12000, 10,
        GrowthSchedule.FromPercent(30, 7), new StageTraining(0, true, 3, 15), new StageTraining(0, true, 3, 15), ExperimentScale.Quick);

    /// <summary>Paper: all samples, 5 seeds, 7 stages of +30%, early stopping (patience 5, ≤ 100 epochs).</summary>
    public static SweDeepOptions Paper(string dataset, int seeds = 5) => new(dataset, ["swe-reference", "swe", "swe-plus", "swe-plus-frozen", "swe-plus-shrink", "kaiming"], "svod", seeds, 0, 10,
        GrowthSchedule.FromPercent(30, 7), new StageTraining(0, true, 5, 100), new StageTraining(0, true, 5, 100), ExperimentScale.Paper);

    /// <summary>What the run does, in one sentence.</summary>
    public string Describe() =>
        $"{(Scale == ExperimentScale.Quick ? "quick" : "paper")} scale: {Dataset}, {(TrainSamples > 0 ? $"{TrainSamples} training samples" : "all training samples")} (10% held out), " +
        $"MLP 3×{InitialWidth} hidden ReLU, {Schedule.Count} stages of +{Schedule.Percent}% allocated by {Distributor}, early stopping per stage " +
        $"(patience {Stage.Patience}, ≤ {Stage.MaxEpochs} epochs), {(WeightDecay > 0 ? $"AdamW (decoupled weight decay {WeightDecay.ToString(System.Globalization.CultureInfo.InvariantCulture)})" : "Adam")} lr 1e-3 batch 100, {Seeds} seed(s).";
}

/// <summary>Summary of one extender over seeds.</summary>
/// <param name="Extender">Extender.</param>
/// <param name="MaxNewInactiveAtInsertionPct">Worst % of a layer's new neurons inactive right after insertion (any stage, layer, seed).</param>
/// <param name="MaxNewInactiveAtEndPct">Worst % inactive at the end of a stage.</param>
/// <param name="MeanAccChangeAtInsertion">Mean change of training accuracy (points) from before to right after insertion.</param>
/// <param name="WorstAccChangeAtInsertion">Most negative such change.</param>
/// <param name="MeanNewCosine">Mean pairwise cosine of new neurons (layers with ≥ 2 new).</param>
/// <param name="FinalTestMean">Final test accuracy mean (%).</param>
/// <param name="FinalTestStd">Its std.</param>
/// <param name="FinalWidths">Final widths of seed 0.</param>
public sealed record SweDeepSummary(string Extender, double MaxNewInactiveAtInsertionPct, double MaxNewInactiveAtEndPct,
    double MeanAccChangeAtInsertion, double WorstAccChangeAtInsertion, double MeanNewCosine, double FinalTestMean, double FinalTestStd, int[] FinalWidths);

/// <summary>
/// Grows a three-hidden-layer MLP with each extender and measures the improved-SWE goals. Every (extender, seed) is a
/// run folder <c>&lt;out&gt;/&lt;extender&gt;/seed-&lt;n&gt;/</c> written by a <see cref="RunSession"/>, so each extender's
/// folder is a run group (<c>sprout report &lt;out&gt;/swe-plus</c> draws mean ± std bands over the seeds, <c>sprout
/// compare &lt;out&gt;/swe-plus &lt;out&gt;/swe</c> overlays extenders), and every run resumes with <c>sprout resume</c>.
/// </summary>
public static class SweDeepExperiment
{
    /// <summary>The <c>command</c> of the experiment's run configs.</summary>
    public const string Command = "experiment swe-deep";

    /// <summary>
    /// The fully resolved config of one (extender, seed) run: MLP <paramref name="features"/>-w-w-w-<paramref name="classes"/>,
    /// the experiment's schedule, training and distributor, seed <paramref name="seed"/>, split as <see cref="RunData.TrainValidation"/>
    /// does with the seed's "split" stream; <c>sprout resume</c> on its folder reruns it to the same result.
    /// </summary>
    public static RunConfig RunConfigFor(SweDeepOptions o, string extender, int seed, int features, int classes)
    {
        ArgumentNullException.ThrowIfNull(o);
        var growth = new GrowthRunConfig([features, o.InitialWidth, o.InitialWidth, o.InitialWidth, classes], o.Schedule,
            GrowthMethods.Extender(extender), GrowthMethods.Distributor(o.Distributor),
            o.Initial, o.Stage, Seed: (ulong)seed, WeightDecay: o.WeightDecay, OptimizerOnGrowth: o.OptimizerOnGrowth);
        return new RunConfig(Command, $"swe-deep-{extender}-seed-{seed.ToString(CultureInfo.InvariantCulture)}", o.Dataset, growth,
            o.TrainSamples, ValidationFraction, Kernels.Workers.Threads);
    }

    /// <summary>Share of the training samples held out for validation (early stopping).</summary>
    public const double ValidationFraction = 0.1;

    /// <summary>The run group of an extender: <c>&lt;out&gt;/&lt;extender&gt;</c>.</summary>
    public static string GroupFolder(string outDir, string extender) => Path.Combine(outDir, extender);

    /// <summary>
    /// Runs all (extender, seed) growth runs, each in its run folder under <paramref name="outDir"/> (a run already
    /// there, from an interrupted earlier call, is continued); returns the reports grouped by extender.
    /// <paramref name="stop"/> stops the running run at its next safe point (<see cref="TrainingInterruptedException"/>).
    /// </summary>
    public static Dictionary<string, List<GrowthRunReport>> Run(SweDeepOptions o, InMemoryDataset full, InMemoryDataset test, string outDir,
        Action<string>? log = null, StopSignal? stop = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(full);
        ArgumentNullException.ThrowIfNull(outDir);
        int classes = ExperimentRuns.Classes(full);
        var result = new Dictionary<string, List<GrowthRunReport>>();
        for (int seed = 0; seed < o.Seeds; seed++)
        {
            // the split a run folder's config makes (RunData.TrainValidation with the seed's "split" stream)
            var (train, val) = RunData.TrainValidation(full, o.TrainSamples, ValidationFraction, new Rng((ulong)seed).Fork("split"));
            foreach (var e in o.Extenders)
            {
                var cfg = RunConfigFor(o, e, seed, full.Features, classes);
                string dir = ExperimentRuns.SeedFolder(GroupFolder(outDir, e), seed);
                var rep = ExperimentRuns.Run(cfg, dir, train, val, test, log, stop);
                if (rep is null) continue;   // another rank's run (sharing)
                if (!result.TryGetValue(e, out var list)) result[e] = list = new List<GrowthRunReport>();
                list.Add(rep);
            }
        }
        return result;
    }

    /// <summary>Per-extender summary.</summary>
    public static List<SweDeepSummary> Summarise(Dictionary<string, List<GrowthRunReport>> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var list = new List<SweDeepSummary>();
        foreach (var (e, reps) in runs)
        {
            var layers = reps.SelectMany(r => r.Stages).SelectMany(s => s.Layers).Where(l => l.Added > 0).ToList();
            var stages = reps.SelectMany(r => r.Stages).ToList();
            var cos = layers.Where(l => !double.IsNaN(l.NewCosineMean)).Select(l => l.NewCosineMean).ToList();
            var (m, sd) = SweInactiveExperiment.MeanStd(reps.Select(r => 100 * r.FinalTestAccuracy));
            list.Add(new SweDeepSummary(e,
                layers.Count == 0 ? 0 : layers.Max(l => 100.0 * l.NewInactiveAtInsertion / l.Added),
                layers.Count == 0 ? 0 : layers.Max(l => 100.0 * l.NewInactiveAtEnd / l.Added),
                stages.Average(s => 100 * (s.TrainAccuracyAfterInsertion - s.TrainAccuracyBefore)),
                stages.Min(s => 100 * (s.TrainAccuracyAfterInsertion - s.TrainAccuracyBefore)),
                cos.Count == 0 ? double.NaN : cos.Average(), m, sd, reps[0].FinalWidths));
        }
        return list;
    }

    /// <summary>Markdown table of the summaries.</summary>
    public static string Markdown(SweDeepOptions o, IReadOnlyList<SweDeepSummary> rows)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(rows);
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine("# Growing a three-hidden-layer MLP: improved-SWE goals").AppendLine().AppendLine(o.Describe()).AppendLine();
        sb.AppendLine("| extender | worst % new inactive at insertion (any layer/stage) | worst % new inactive at stage end | mean Δ train acc at insertion (pts) | worst Δ train acc at insertion (pts) | mean cosine of new neurons | final test acc % | final widths (seed 0) |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
            sb.AppendLine(string.Format(ci, "| {0} | {1:0.0} | {2:0.0} | {3:+0.00;-0.00} | {4:+0.00;-0.00} | {5:0.00} | {6:0.00} ± {7:0.00} | {8} |", r.Extender,
                r.MaxNewInactiveAtInsertionPct, r.MaxNewInactiveAtEndPct, r.MeanAccChangeAtInsertion, r.WorstAccChangeAtInsertion, r.MeanNewCosine,
                r.FinalTestMean, r.FinalTestStd, string.Join("/", r.FinalWidths)));
        return sb.ToString();
    }
}
