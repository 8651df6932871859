using System.Globalization;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Experiments;

/// <summary>The runs of one (data set, part, method) over the seeds.</summary>
/// <param name="Dataset">Data set.</param>
/// <param name="Part">Part name.</param>
/// <param name="Method">Method name.</param>
/// <param name="Available">False when the method's presets are not registered (nothing ran).</param>
/// <param name="Runs">One report per seed, in seed order.</param>
public sealed record SweGrowthRuns(string Dataset, string Part, string Method, bool Available, IReadOnlyList<GrowthRunReport> Runs);

/// <summary>
/// Paper 000's growth experiments: §3.2 (reconstruction, Table 2, Figure 2) and §3.3 (classification, Table 3,
/// Figure 3). A network starting at 16 hidden neurons per layer grows 7 times by +30% of its width; each phase ends by
/// early stopping on validation loss (best weights restored); the static baseline trains the final width from scratch.
/// Every (data set, part, method, seed) is a run folder <c>&lt;out&gt;/&lt;data set&gt;/&lt;part&gt;/&lt;method&gt;/seed-&lt;n&gt;</c>
/// written by a <see cref="RunSession"/>, so each method's folder is a run group; rerunning continues.
/// </summary>
public static class SweGrowthExperiment
{
    /// <summary>The command of the reconstruction experiment's run configs.</summary>
    public const string ReconstructionCommand = "experiment swe-reconstruction";

    /// <summary>The command of the classification experiment's run configs.</summary>
    public const string ClassificationCommand = "experiment swe-classification";

    /// <summary>The run group of a method.</summary>
    public static string GroupFolder(string outDir, string dataset, string part, string method) => Path.Combine(outDir, dataset, part, method);

    /// <summary>
    /// The fully resolved config of one (data set, part, method, seed) run. A growing method: the MLP (or, on CIFAR, the
    /// paper's conv backbone with the MLP head, only the head growing) at the start width, the schedule and the method's
    /// presets. The baseline: the final total width (split evenly over the hidden layers) trained from scratch with
    /// no growth stage, its initial training set by <see cref="SweGrowthOptions.Budget"/>.
    /// </summary>
    public static RunConfig RunConfigFor(SweGrowthOptions o, string dataset, SwePart part, SweMethod method, int seed, int features, int classes)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(part);
        ArgumentNullException.ThrowIfNull(method);
        int w = SweGrowthOptions.WidthOn(dataset, part);
        int[] hidden = Enumerable.Repeat(w, part.HiddenLayers).ToArray();
        var stage = new StageTraining(0, true, o.Patience, o.MaxEpochs);
        var initial = stage;
        var schedule = GrowthSchedule.FromPercent(o.Percent, o.Stages);
        if (method.IsBaseline)
        {
            int total = o.FinalWidth(w * part.HiddenLayers);
            hidden = Enumerable.Range(0, part.HiddenLayers).Select(k => total / part.HiddenLayers + (k < total % part.HiddenLayers ? 1 : 0)).ToArray();
            schedule = GrowthSchedule.FromTotals();
            initial = o.Budget == BaselineBudget.Total ? stage with { MaxEpochs = (o.Stages + 1) * o.MaxEpochs } : stage;
        }
        bool recon = o.Task == GrowthTask.Reconstruction;
        int outputs = recon ? features : classes;
        SequentialConfig? model = null;
        IReadOnlyList<int>? shape = null;
        bool cifar = dataset.StartsWith("cifar", StringComparison.Ordinal);
        if (cifar)
        {
            var spec = Data.DataCatalog.Get(dataset);
            model = Models.SweBackbone(classes, hidden, spec.Channels, spec.Height);
            shape = [spec.Channels, spec.Height, spec.Width];
        }
        else if (recon && o.Output == OutputActivation.Sigmoid)
        {
            var mlp = SequentialConfig.Mlp([features, .. hidden, outputs], ActivationConfig.Relu);
            model = new SequentialConfig([.. mlp.Layers, new ActivationConfig(ActivationKind.Sigmoid)]);
        }
        var growth = new GrowthRunConfig([features, .. hidden, outputs], schedule,
            method.IsBaseline ? GrowthMethods.Extender("kaiming") : GrowthMethods.Extender(method.Extender!),
            method.IsBaseline ? GrowthMethods.Distributor("ras") : GrowthMethods.Distributor(method.Distributor!),
            initial, stage, o.BatchSize, o.LearningRate, (ulong)seed, Model: model, InputShape: shape, WeightDecay: o.WeightDecay,
            Task: o.Task, LinearOnly: cifar, Optimizer: o.Optimizer,
            LastStageTraining: !method.IsBaseline && o.LastStagePatience != o.Patience ? stage with { Patience = o.LastStagePatience } : null);
        string kind = recon ? "recon" : "class";
        string name = $"{kind}-{dataset}-{part.HiddenLayers}h-{method.SafeName}-seed-{seed.ToString(CultureInfo.InvariantCulture)}";
        return new RunConfig(recon ? ReconstructionCommand : ClassificationCommand, name, dataset, growth, o.TrainSamples,
            o.ValidationFraction, Kernels.Workers.Threads, o.Scaling);
    }

    /// <summary>
    /// Runs every (data set, part, method, seed) in its run folder under <paramref name="outDir"/> (runs there already are
    /// continued or read back), seeds outermost within a data set so a partial experiment has every method on the first
    /// seeds. <paramref name="load"/> gives a data set's training and test sets with the options' input scaling.
    /// Methods not available are listed and skipped. Returns one entry per (data set, part, method).
    /// </summary>
    public static IReadOnlyList<SweGrowthRuns> Run(SweGrowthOptions o, Func<string, InputScaling, (InMemoryDataset Train, InMemoryDataset Test)> load,
        string outDir, Action<string>? log = null, StopSignal? stop = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(load);
        ArgumentNullException.ThrowIfNull(outDir);
        o.Validate();
        var result = new List<SweGrowthRuns>();
        foreach (var ds in o.Datasets)
        {
            var (full, test) = load(ds, o.Scaling);
            int classes = ExperimentRuns.Classes(full);
            var runs = new Dictionary<(string, string), List<GrowthRunReport>>();
            for (int seed = 0; seed < o.Seeds; seed++)
            {
                var (train, val) = RunData.TrainValidation(full, o.TrainSamples, o.ValidationFraction, new Rng((ulong)seed).Fork("split"));
                foreach (var part in o.Parts)
                    foreach (var name in part.Methods)
                    {
                        var m = SweMethod.Parse(name, part.HiddenLayers);
                        if (!m.IsAvailable)
                        {
                            if (seed == 0) log?.Invoke($"{ds}/{part.Name}/{m.Name}: not available (extender '{m.Extender}' or distributor '{m.Distributor}' is not registered); skipped");
                            continue;
                        }
                        var cfg = RunConfigFor(o, ds, part, m, seed, full.Features, classes);
                        string dir = ExperimentRuns.SeedFolder(GroupFolder(outDir, ds, part.Name, m.Name), seed);
                        var rep = ExperimentRuns.Run(cfg, dir, train, val, test, log, stop);
                        if (rep is null) continue;   // another rank's run (sharing)
                        if (!runs.TryGetValue((part.Name, m.Name), out var list)) runs[(part.Name, m.Name)] = list = [];
                        list.Add(rep);
                    }
            }
            foreach (var part in o.Parts)
                foreach (var name in part.Methods)
                {
                    var m = SweMethod.Parse(name, part.HiddenLayers);
                    result.Add(new SweGrowthRuns(ds, part.Name, m.Name, m.IsAvailable, runs.TryGetValue((part.Name, m.Name), out var l) ? l : []));
                }
        }
        return result;
    }

    /// <summary>The result of a finished run: test loss (reconstruction) or test accuracy in % (classification).</summary>
    public static double Result(GrowthTask task, GrowthRunReport run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return task == GrowthTask.Reconstruction ? run.FinalTestLoss : 100 * run.FinalTestAccuracy;
    }

    /// <summary>
    /// The result after each stage (index 0 = after the initial training, s = after stage s); a static baseline, which
    /// has no stages, gives its final value at every stage.
    /// </summary>
    public static double[] PerStage(GrowthTask task, GrowthRunReport run, int stages)
    {
        ArgumentNullException.ThrowIfNull(run);
        bool recon = task == GrowthTask.Reconstruction;
        var v = new double[stages + 1];
        if (run.Stages.Count == 0 && run.Config.Schedule.Count == 0)
        {
            Array.Fill(v, Result(task, run));
            return v;
        }
        v[0] = recon ? run.InitialTestLoss : 100 * run.InitialTestAccuracy;
        for (int s = 1; s <= stages; s++)
            v[s] = s <= run.Stages.Count ? recon ? run.Stages[s - 1].TestLossEnd : 100 * run.Stages[s - 1].TestAccuracyEnd : double.NaN;
        return v;
    }
}
