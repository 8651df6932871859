using System.Globalization;
using System.Text.Json;
using Sprout.Data;
using Sprout.Diagnostics;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Experiments;

/// <summary>One epoch of a paper-003 run: the augmented training statistics and the accuracy on every evaluation fold.</summary>
/// <param name="Epoch">Epoch (1-based).</param>
/// <param name="TrainLoss">Training loss accumulated during the epoch (on augmented images).</param>
/// <param name="TrainAccuracy">Training accuracy accumulated during the epoch (0..1).</param>
/// <param name="ValLoss">Loss on the clean held-out fold after the epoch.</param>
/// <param name="Accuracy">Accuracy (0..1) on each evaluation fold (<see cref="FcnTranslationOptions.EvalNames"/>) after the epoch.</param>
/// <param name="Seconds">Wall time of the run so far.</param>
public sealed record FcnEpoch(int Epoch, double TrainLoss, double TrainAccuracy, double ValLoss, IReadOnlyDictionary<string, double> Accuracy, double Seconds);

/// <summary>The first FCN layer's filter distances after an epoch (0 = at initialisation).</summary>
/// <param name="Epoch">Epochs trained.</param>
/// <param name="Distances">One entry per radius.</param>
public sealed record FilterDistanceAt(int Epoch, IReadOnlyList<FilterDistanceStats> Distances);

/// <summary>A run's record (<c>fcn.json</c> in its run folder).</summary>
/// <param name="Epochs">Per epoch, in order.</param>
/// <param name="Distances">Filter distances at initialisation and after every epoch (FCN runs only).</param>
public sealed record FcnRecord(IReadOnlyList<FcnEpoch> Epochs, IReadOnlyList<FilterDistanceAt> Distances)
{
    /// <summary>The epoch whose weights the run kept: the first with the lowest held-out loss under early stopping,
    /// else the last.</summary>
    public FcnEpoch? Kept(bool earlyStopping) => Epochs.Count == 0 ? null
        : earlyStopping ? Epochs.Aggregate((best, e) => e.ValLoss < best.ValLoss ? e : best) : Epochs[^1];
}

/// <summary>The folds of one (data set, run) of the study.</summary>
/// <param name="Dataset">Data set.</param>
/// <param name="Run">The run.</param>
/// <param name="Folds">The fold indices run, in order.</param>
/// <param name="Records">One record per fold (null where a folder has none).</param>
public sealed record FcnTranslationRuns(string Dataset, FcnRun Run, IReadOnlyList<int> Folds, IReadOnlyList<FcnRecord?> Records);

/// <summary>
/// Paper 003's study (Free Convolutional Networks): every (data set, study, network, level, fold) is a run folder
/// <c>&lt;out&gt;/&lt;data set&gt;/&lt;study&gt;/&lt;network&gt;/&lt;level&gt;/fold-&lt;k&gt;</c> written by a
/// <see cref="RunSession"/> (training without growth; the augmentation in its config), so rerunning continues. Trainer
/// callbacks evaluate the held-out fold's transformed copies after every epoch (<see cref="EvaluationSets"/>) and measure
/// the first locally connected layer's filter distances; both go to <c>fcn.json</c> (<see cref="FcnRecord"/>).
/// </summary>
public static class FcnTranslationExperiment
{
    /// <summary>The command of the experiment's run configs.</summary>
    public const string Command = "experiment fcn-translation";

    /// <summary>The file of a run folder's record.</summary>
    public const string RecordFile = "fcn.json";

    /// <summary>The run folder of one fold.</summary>
    public static string FoldFolder(string outDir, string dataset, FcnRun run, int fold)
    {
        ArgumentNullException.ThrowIfNull(run);
        return Path.Combine(outDir, dataset, run.Folder, "fold-" + fold.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>The fully resolved config of one run at one fold.</summary>
    public static RunConfig RunConfigFor(FcnTranslationOptions o, string dataset, FcnRun run, int fold, int classes)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(run);
        var spec = DataCatalog.Get(dataset);
        var phase = o.Patience > 0 ? new StageTraining(0, true, o.PatienceOn(dataset), o.EpochsOn(dataset)) : new StageTraining(o.EpochsOn(dataset));
        var growth = new GrowthRunConfig([], GrowthSchedule.FromTotals(), GrowthMethods.Extender("kaiming"), GrowthMethods.Distributor("ras"),
            phase, phase, o.BatchOn(dataset), o.LrOn(dataset), (ulong)o.Seed, Model: o.NetworkOf(run, dataset, classes),
            InputShape: [spec.Channels, spec.Height, spec.Width], Augmentation: o.AugmentationOf(run));
        string name = $"fcn-{dataset}-{FcnRun.StudyName(run.Study)}-{run.Architecture}-{run.LevelName}-fold-{fold.ToString(CultureInfo.InvariantCulture)}";
        return new RunConfig(Command, name, dataset, growth, o.PoolSamples, 1.0 / o.Folds, Kernels.Workers.Threads, InputScaling.Unit);
    }

    /// <summary>The training and test sets merged into one pool (bytes stay bytes when both share their scaling).</summary>
    public static InMemoryDataset Merge(InMemoryDataset a, InMemoryDataset b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Features != b.Features) throw new ArgumentException($"{a.Features} and {b.Features} features cannot be merged");
        var labels = a.Labels is { } la && b.Labels is { } lb ? [.. la, .. lb] : (int[]?)null;
        if (a.Pixels is { } pa && b.Pixels is { } pb && a.Scale!.AsSpan().SequenceEqual(b.Scale) && a.Shift!.AsSpan().SequenceEqual(b.Shift))
            return new InMemoryDataset([.. pa, .. pb], labels, a.Features, a.Scale!, a.Shift!);
        return new InMemoryDataset([.. a.X, .. b.X], labels, a.Features);
    }

    /// <summary>
    /// The k folds of the samples labelled <paramref name="labels"/> (<see cref="Splits.KFold"/> without shuffle, as the
    /// authors'), over a stratified subset of <see cref="FcnTranslationOptions.PoolSamples"/> when set: the pool's indices
    /// and the folds over them.
    /// </summary>
    public static (int[] Pool, Fold[] Folds) Folds(FcnTranslationOptions o, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(labels);
        int[] pool = InMemoryDataset.Identity(labels.Length);
        if (o.PoolSamples > 0 && o.PoolSamples < labels.Length)
            pool = Splits.Stratified(labels, labels.Max() + 1, 1.0 - (double)o.PoolSamples / labels.Length, new Rng((ulong)o.Seed).Fork("pool")).Train;
        return (pool, Splits.KFold(pool.Length, o.Folds));
    }

    /// <summary>
    /// The evaluation folds of a held-out fold shaped [C, H, W]: the fold itself (clean), then its copies translated,
    /// rotated, noised, edge-noised and quadrant-swapped (<see cref="FcnTranslationOptions.EvalNames"/>), each random
    /// transform drawn once from a stream of the seed, the transform and the fold.
    /// </summary>
    public static IReadOnlyList<(string Name, InMemoryDataset Data)> EvaluationFolds(FcnTranslationOptions o, InMemoryDataset heldOut, int fold)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(heldOut);
        var root = new Rng((ulong)o.Seed).Fork("evaluation").Fork("fold", fold);
        IAugmentation[] transforms =
        [
            new RandomTranslate(o.EvalTranslate), new RandomRotate(o.EvalRotate), new GaussianNoise(o.EvalNoise),
            new EdgeNoise(o.EvalEdgeNoise, AugmentationConfig.DefaultEdgeBorder), new QuadrantSwap(),
        ];
        var list = new List<(string, InMemoryDataset)> { (FcnTranslationOptions.EvalNames[0], heldOut) };
        for (int k = 0; k < transforms.Length; k++)
        {
            string name = FcnTranslationOptions.EvalNames[k + 1];
            list.Add((name, BatchAugmenter.Transform(heldOut, transforms[k], root.Fork(name))));
        }
        return list;
    }

    /// <summary>
    /// Runs every (data set, fold, run) in its folder under <paramref name="outDir"/> (finished runs are read back,
    /// interrupted ones continue), folds outermost so a partial study has every run on the first folds.
    /// <paramref name="load"/> gives a data set's training and test sets (pixels / 255), merged here into one pool.
    /// </summary>
    public static IReadOnlyList<FcnTranslationRuns> Run(FcnTranslationOptions o, Func<string, (InMemoryDataset Train, InMemoryDataset Test)> load, string outDir,
        Action<string>? log = null, StopSignal? stop = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(load);
        ArgumentNullException.ThrowIfNull(outDir);
        o.Validate();
        var result = new List<FcnTranslationRuns>();
        var runs = o.Runs();
        foreach (var ds in o.Datasets)
        {
            var spec = DataCatalog.Get(ds);
            int[] shape = [spec.Channels, spec.Height, spec.Width];
            var (train, test) = load(ds);
            var all = Merge(train, test);
            int classes = ExperimentRuns.Classes(all);
            var (pool, folds) = Folds(o, all.Labels!);
            var records = runs.ToDictionary(r => r, _ => new List<FcnRecord?>());
            foreach (int f in o.FoldsRun)
            {
                var fold = folds[f];
                var tr = all.Subset(fold.Train.Select(i => pool[i]).ToArray());
                var va = all.Subset(fold.Validation.Select(i => pool[i]).ToArray());
                var evals = EvaluationFolds(o, va.WithShape(shape), f);
                log?.Invoke($"{ds} fold {f}: {tr.Count:N0} training, {va.Count:N0} held out");
                foreach (var run in runs)
                {
                    var cfg = RunConfigFor(o, ds, run, f, classes);
                    string dir = FoldFolder(outDir, ds, run, f);
                    ExperimentRuns.Run(cfg, dir, tr, va, null, log, stop, configure: s => Record(s, dir, o, evals));
                    records[run].Add(ReadRecord(dir));
                }
            }
            foreach (var run in runs) result.Add(new FcnTranslationRuns(ds, run, o.FoldsRun, records[run]));
        }
        return result;
    }

    /// <summary>The record of a run folder, or null when it has none (or an unreadable one).</summary>
    public static FcnRecord? ReadRecord(string runDir)
    {
        string path = Path.Combine(runDir, RecordFile);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<FcnRecord>(SafeFile.ReadAllText(path, 256L << 20, p => new IOException(p)), GrowthRunConfig.JsonOptions); }
        catch (Exception e) when (e is JsonException or IOException) { return null; }
    }

    // Hooks a run: the evaluation folds and the filter distances as trainer callbacks, their results with the epoch's
    // statistics written to fcn.json after every epoch (an epoch repeated by a resume replaces its entry).
    private static void Record(RunSession session, string dir, FcnTranslationOptions o, IReadOnlyList<(string Name, InMemoryDataset Data)> evals)
    {
        var had = ReadRecord(dir);
        var epochs = new SortedDictionary<int, FcnEpoch>((had?.Epochs ?? []).ToDictionary(e => e.Epoch));
        var distances = new SortedDictionary<int, FilterDistanceAt>((had?.Distances ?? []).ToDictionary(d => d.Epoch));
        // the clean fold is the runner's validation set, evaluated by the trainer already
        var sets = new EvaluationSets(evals.Skip(1).ToList());
        var filters = new FilterDistances(o.Radii, distances);
        session.Runner.Callbacks.Add(sets);
        session.Runner.Callbacks.Add(filters);
        session.EpochEnded = e =>
        {
            var acc = new Dictionary<string, double> { [evals[0].Name] = e.Validation.Accuracy };
            foreach (var (name, stats) in sets.Last) acc[name] = stats.Accuracy;
            epochs[e.Epoch] = new FcnEpoch(e.Epoch, e.Train.Loss, e.Train.Accuracy, e.Validation.Loss, acc, e.Seconds);
            RunSession.WriteAtomically(Path.Combine(dir, RecordFile),
                JsonSerializer.Serialize(new FcnRecord(epochs.Values.ToList(), distances.Values.ToList()), GrowthRunConfig.JsonOptions));
        };
    }

    // The first locally connected layer's filter distances before the first step and after every epoch (none for a CNN).
    private sealed class FilterDistances(IReadOnlyList<int> radii, SortedDictionary<int, FilterDistanceAt> into) : ITrainingCallback
    {
        public void OnEpochStart(Trainer trainer)
        {
            if (trainer.Epoch == 0 && trainer.NextBatch == 0) Measure(trainer, 0);
        }

        public void OnEpochEnd(Trainer trainer, in EpochEnd epoch) => Measure(trainer, epoch.Epoch + 1);

        private void Measure(Trainer trainer, int epoch)
        {
            if (trainer.Model is not Sequential s || s.Layers.OfType<LocallyConnected2d>().FirstOrDefault() is not { } lc) return;
            into[epoch] = new FilterDistanceAt(epoch, radii.Select(r => FilterDistance.Measure(lc, r)).ToList());
        }
    }
}
