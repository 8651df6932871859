using System.Globalization;
using System.Text.Json;
using Sprout.Data;
using Sprout.Diagnostics;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Experiments;

/// <summary>Mean |cosine| between the neurons of every growable layer at one epoch's end.</summary>
/// <param name="Epoch">The epoch counted across the initial phase and every stage (1-based).</param>
/// <param name="MeanAbs">Per growable layer, bottom first.</param>
/// <param name="Parameters">The network's trainable parameters at that epoch.</param>
public sealed record LayerCosinesAt(int Epoch, double[] MeanAbs, long Parameters);

/// <summary>
/// A run's similarity record (<c>similarity.json</c> in its run folder): mean |cosine| per layer after every epoch and,
/// once finished, the pairwise-cosine histogram of layer 2 (Figure 6).
/// </summary>
/// <param name="Epochs">Per epoch, in order.</param>
/// <param name="Layer2Histogram">Pairs per bin over <see cref="SimilarityGrowthExperiment.HistogramBins"/> equal bins of
/// [−1, 1], of the second growable layer after training (null until the run finished).</param>
/// <param name="Layer2MeanAbs">Its mean |cosine| (NaN until finished).</param>
public sealed record SimilarityRecord(IReadOnlyList<LayerCosinesAt> Epochs, int[]? Layer2Histogram, double Layer2MeanAbs);

/// <summary>The runs of one (data set, model, arm) over the seeds, with their similarity records.</summary>
/// <param name="Dataset">Data set.</param>
/// <param name="Model">Model.</param>
/// <param name="Arm">The arm.</param>
/// <param name="Runs">One report per seed, in seed order.</param>
/// <param name="Similarity">One record per seed (null where the run folder has none).</param>
public sealed record SimilarityGrowthRuns(string Dataset, string Model, SimilarityArm Arm, IReadOnlyList<GrowthRunReport> Runs,
    IReadOnlyList<SimilarityRecord?> Similarity)
{
    /// <summary>The test set the runs were scored on (padded and scaled as they saw it), kept for the report's Grad-CAM
    /// grids (<see cref="SimilarityGrowthGradCam"/>); null when not kept.</summary>
    public InMemoryDataset? Test { get; init; }
}

/// <summary>
/// Paper 002's study (Sakai &amp; Hotta): VGG16 and MobileNetV1 grown from width 16 with Random, SSD and Firefly,
/// each plain and with the similarity regulariser (and its ablation arms). Every (data set, model, arm, seed) is a run
/// folder <c>&lt;out&gt;/&lt;data set&gt;/&lt;model&gt;/&lt;arm&gt;/seed-&lt;n&gt;</c> written by a <see cref="RunSession"/>,
/// so rerunning continues; beside its run files each folder keeps <c>similarity.json</c> (<see cref="SimilarityRecord"/>).
/// </summary>
public static class SimilarityGrowthExperiment
{
    /// <summary>The command of the experiment's run configs.</summary>
    public const string Command = "experiment similarity-growth";

    /// <summary>The file of a run folder's similarity record.</summary>
    public const string RecordFile = "similarity.json";

    /// <summary>Bins of the layer-2 histogram over [−1, 1].</summary>
    public const int HistogramBins = 40;

    /// <summary>The run group of an arm.</summary>
    public static string GroupFolder(string outDir, string dataset, string model, SimilarityArm arm)
    {
        ArgumentNullException.ThrowIfNull(arm);
        return Path.Combine(outDir, dataset, model, arm.Folder);
    }

    /// <summary>The extender and distributor presets of a method.</summary>
    public static (string Extender, string Distributor) Presets(string method) => method switch
    {
        "random" => ("random", "ras"),
        "ssd" => ("ssd", "ssd"),
        "ssd-fast" => ("ssd-fast", "ssd-fast"),
        "firefly" => ("firefly", "firefly"),
        _ => throw new ArgumentException($"unknown method '{method}' (known: {string.Join(", ", SimilarityGrowthOptions.MethodNames)})"),
    };

    /// <summary>The network of a model name at the options' width for a data set's channels and classes.</summary>
    public static SequentialConfig Network(string model, int width, int classes, int channels) => model switch
    {
        "vgg16" => Models.Vgg16(width, uniform: true, classes, channels),
        "mobilenetv1" => Models.MobileNetV1(width, uniform: true, classes, channels),
        _ => throw new ArgumentException($"unknown model '{model}' (known: {string.Join(", ", SimilarityGrowthOptions.ModelNames)})"),
    };

    /// <summary>The fully resolved config of one (data set, model, arm, seed) run.</summary>
    public static RunConfig RunConfigFor(SimilarityGrowthOptions o, string dataset, string model, SimilarityArm arm, int seed, int classes)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(arm);
        var spec = DataCatalog.Get(dataset);
        int[] shape = [spec.Channels, spec.Height + 2 * o.Pad, spec.Width + 2 * o.Pad];
        var (ext, dist) = Presets(arm.Method);
        var phase = new StageTraining(o.EpochsPerStage);
        var growth = new GrowthRunConfig([], GrowthSchedule.FromPercent(o.Percent, o.Stages), GrowthMethods.Extender(ext), GrowthMethods.Distributor(dist),
            phase, phase, o.BatchSize, o.LearningRate, (ulong)seed, Model: Network(model, o.WidthOf(model), classes, spec.Channels), InputShape: shape,
            WeightDecay: o.WeightDecay, Similarity: arm.Similarity, Optimizer: TrainingOptimizer.Sgd, Momentum: o.Momentum,
            Augmentation: o.Augment ? AugmentationConfig.CropAndFlip : null,
            LearningRateSchedule: new LrScheduleConfig(LrScheduleKind.Cosine, o.TotalEpochs));
        string name = $"sim-{dataset}-{model}-{arm.Folder}-seed-{seed.ToString(CultureInfo.InvariantCulture)}";
        if (name.Length > 64) name = name[..64];
        return new RunConfig(Command, name, dataset, growth, o.TrainSamples, o.ValidationFraction, Kernels.Workers.Threads, InputScaling.Standardize, o.Pad);
    }

    /// <summary>
    /// Runs every (data set, model, method's arm, seed) in its run folder under <paramref name="outDir"/> (finished runs
    /// are read back, interrupted ones continue), seeds outermost so a partial experiment has every arm on the first
    /// seeds. <paramref name="load"/> gives a data set's training and test sets padded by <paramref name="o"/>'s Pad.
    /// </summary>
    public static IReadOnlyList<SimilarityGrowthRuns> Run(SimilarityGrowthOptions o, Func<string, int, (InMemoryDataset Train, InMemoryDataset Test)> load,
        string outDir, Action<string>? log = null, StopSignal? stop = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(load);
        ArgumentNullException.ThrowIfNull(outDir);
        o.Validate();
        var result = new List<SimilarityGrowthRuns>();
        foreach (var ds in o.Datasets)
        {
            var (full, test) = load(ds, o.Pad);
            if (o.TestSamples > 0 && o.TestSamples < test.Count) test = test.Subset(InMemoryDataset.Identity(o.TestSamples));
            int classes = ExperimentRuns.Classes(full);
            var runs = new Dictionary<(string, string), (List<GrowthRunReport> Reports, List<SimilarityRecord?> Records)>();
            for (int seed = 0; seed < o.Seeds; seed++)
            {
                var (train, val) = RunData.TrainValidation(full, o.TrainSamples, o.ValidationFraction, new Rng((ulong)seed).Fork("split"));
                foreach (var model in o.Models)
                    foreach (var method in o.Methods)
                        foreach (var arm in o.Arms(method))
                        {
                            var cfg = RunConfigFor(o, ds, model, arm, seed, classes);
                            string dir = ExperimentRuns.SeedFolder(GroupFolder(outDir, ds, model, arm), seed);
                            var rep = ExperimentRuns.Run(cfg, dir, train, val, test, log, stop, configure: r => Record(r, dir, o.EpochsPerStage));
                            if (rep is null) continue;   // another rank's run (sharing)
                            if (!runs.TryGetValue((model, arm.Folder), out var lists)) runs[(model, arm.Folder)] = lists = ([], []);
                            lists.Reports.Add(rep);
                            lists.Records.Add(ReadRecord(dir));
                        }
            }
            foreach (var model in o.Models)
                foreach (var method in o.Methods)
                    foreach (var arm in o.Arms(method))
                    {
                        var l = runs.TryGetValue((model, arm.Folder), out var x) ? x : ([], []);
                        result.Add(new SimilarityGrowthRuns(ds, model, arm, l.Reports, l.Records) { Test = test });
                    }
        }
        return result;
    }

    /// <summary>The similarity record of a run folder, or null when it has none (or an unreadable one).</summary>
    public static SimilarityRecord? ReadRecord(string runDir)
    {
        string path = Path.Combine(runDir, RecordFile);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<SimilarityRecord>(File.ReadAllText(path), GrowthRunConfig.JsonOptions); }
        catch (JsonException) { return null; }
    }

    /// <summary>Mean |cosine| of every growable layer of a model, bottom first.</summary>
    public static double[] LayerMeanAbs(GrowableModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Sites.Select(s => WeightSimilarity.Cosines(s.InWeight, 0, s.Width, 1).MeanAbs).ToArray();
    }

    // Hooks a runner so that every epoch end records the layers' mean |cosine| and the end of the run layer 2's
    // histogram, in the run folder's similarity.json (an epoch repeated by a resume replaces its entry).
    private static void Record(RunSession session, string dir, int epochsPerPhase)
    {
        var runner = session.Runner;
        var had = ReadRecord(dir);
        var epochs = new SortedDictionary<int, LayerCosinesAt>((had?.Epochs ?? []).ToDictionary(e => e.Epoch));
        void Save(int[]? hist, double meanAbs) =>
            RunSession.WriteAtomically(Path.Combine(dir, RecordFile),
                JsonSerializer.Serialize(new SimilarityRecord(epochs.Values.ToList(), hist, meanAbs), GrowthRunConfig.JsonOptions));
        session.EpochEnded = e =>
        {
            if (runner.Model is not { } m) return;
            int epoch = e.Stage * epochsPerPhase + e.Epoch;
            epochs[epoch] = new LayerCosinesAt(epoch, LayerMeanAbs(m), e.Parameters);
            Save(null, double.NaN);
        };
        session.RunFinished = _ =>
        {
            if (runner.Model is not { } m || m.Sites.Count < 2) { Save(null, double.NaN); return; }
            var site = m.Sites[1];
            var c = WeightSimilarity.Cosines(site.InWeight, 0, site.Width, HistogramBins);
            Save(c.Histogram, c.MeanAbs);
        };
    }

    /// <summary>Wall time of a finished run in seconds (at the end of its last stage; NaN without stages).</summary>
    public static double Seconds(GrowthRunReport run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return run.Stages.Count > 0 ? run.Stages[^1].Seconds : double.NaN;
    }
}
