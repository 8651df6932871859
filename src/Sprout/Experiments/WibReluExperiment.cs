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

/// <summary>One epoch of a WIB-ReLU study run.</summary>
/// <param name="Epoch">Epoch (1-based).</param>
/// <param name="TrainLoss">Training loss accumulated during the epoch.</param>
/// <param name="TrainAccuracy">Training accuracy accumulated during the epoch (0..1).</param>
/// <param name="ValLoss">Validation loss after the epoch.</param>
/// <param name="ValAccuracy">Validation accuracy after the epoch (0..1).</param>
/// <param name="Seconds">Wall time of the run so far.</param>
public sealed record WibEpoch(int Epoch, double TrainLoss, double TrainAccuracy, double ValLoss, double ValAccuracy, double Seconds);

/// <summary>A run's record (<c>wib.json</c> in its run folder): its epochs and its activation statistics over the steps.</summary>
/// <param name="Epochs">Per epoch, in order.</param>
/// <param name="Activations">Per recorded step, in order.</param>
public sealed record WibRecord(IReadOnlyList<WibEpoch> Epochs, IReadOnlyList<ActivationStatsAt> Activations);

/// <summary>The runs of one (data set, network, arm) over the seeds.</summary>
/// <param name="Dataset">Data set.</param>
/// <param name="Model">Network (paper or code).</param>
/// <param name="Arm">Activation and initialisation.</param>
/// <param name="Records">One record per seed, in seed order (null where a run folder has none).</param>
public sealed record WibReluRuns(string Dataset, string Model, WibArm Arm, IReadOnlyList<WibRecord?> Records);

/// <summary>
/// Paper 004's study (WIB-ReLU): every (data set, network, arm, seed) is a run folder
/// <c>&lt;out&gt;/&lt;data set&gt;/&lt;network&gt;/&lt;activation&gt;-&lt;init&gt;/seed-&lt;n&gt;</c> written by a
/// <see cref="RunSession"/> (a training run without growth), so rerunning continues; beside its run files each folder
/// keeps <c>wib.json</c> (<see cref="WibRecord"/>): the epochs' losses and accuracies and, from an
/// <see cref="ActivationStatsRecorder"/> on the trainer, every activation layer's statistics over the steps.
/// </summary>
public static class WibReluExperiment
{
    /// <summary>The command of the experiment's run configs.</summary>
    public const string Command = "experiment wib-relu";

    /// <summary>The file of a run folder's record.</summary>
    public const string RecordFile = "wib.json";

    /// <summary>The run group of an arm.</summary>
    public static string GroupFolder(string outDir, string dataset, string model, WibArm arm)
    {
        ArgumentNullException.ThrowIfNull(arm);
        return Path.Combine(outDir, dataset, model, arm.Folder);
    }

    /// <summary>The network of an arm for a data set's channels, size and classes.</summary>
    public static SequentialConfig Network(string model, WibArm arm, int classes, int channels, int imageSize)
    {
        ArgumentNullException.ThrowIfNull(arm);
        if (!WibReluOptions.ModelNames.Contains(model)) throw new ArgumentException($"unknown model '{model}' (known: {string.Join(", ", WibReluOptions.ModelNames)})");
        return Models.WibCnn(WibReluOptions.Activation(arm.Activation), model == "paper", classes, channels, imageSize, WibReluOptions.Init(arm.Init));
    }

    /// <summary>
    /// The layers whose outputs are measured: every activation layer, named after the layer before it (conv1…,
    /// fc1…).
    /// </summary>
    public static (int[] Indices, string[] Names) MeasuredLayers(SequentialConfig network)
    {
        ArgumentNullException.ThrowIfNull(network);
        var idx = new List<int>();
        var names = new List<string>();
        int conv = 0, fc = 0;
        string last = "input";
        for (int i = 0; i < network.Layers.Count; i++)
        {
            switch (network.Layers[i])
            {
                case Conv2dConfig: last = "conv" + (++conv).ToString(CultureInfo.InvariantCulture); break;
                case LinearConfig: last = "fc" + (++fc).ToString(CultureInfo.InvariantCulture); break;
                case ActivationConfig:
                    idx.Add(i);
                    names.Add(last);
                    break;
            }
        }
        return (idx.ToArray(), names.ToArray());
    }

    /// <summary>The fully resolved config of one (data set, network, arm, seed) run: fixed epochs, no growth.</summary>
    public static RunConfig RunConfigFor(WibReluOptions o, string dataset, string model, WibArm arm, int seed, int classes)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(arm);
        var spec = DataCatalog.Get(dataset);
        var phase = new StageTraining(o.Epochs);
        var growth = new GrowthRunConfig([], GrowthSchedule.FromTotals(), GrowthMethods.Extender("kaiming"), GrowthMethods.Distributor("ras"),
            phase, phase, o.BatchSize, o.LearningRate, (ulong)seed, Model: Network(model, arm, classes, spec.Channels, spec.Height),
            InputShape: [spec.Channels, spec.Height, spec.Width]);
        string name = $"wib-{dataset}-{model}-{arm.Folder}-seed-{seed.ToString(CultureInfo.InvariantCulture)}";
        if (name.Length > 64) name = name[..64];
        return new RunConfig(Command, name, dataset, growth, o.TrainSamples, 0.1, Kernels.Workers.Threads, InputScaling.Standardize);
    }

    /// <summary>
    /// Runs every (data set, network, arm, seed) in its run folder under <paramref name="outDir"/> (finished runs are
    /// read back, interrupted ones continue), seeds outermost. <paramref name="load"/> gives a data set's training and test
    /// sets standardised with the training statistics; the (first <see cref="WibReluOptions.TestSamples"/>) test samples
    /// are the validation set.
    /// </summary>
    public static IReadOnlyList<WibReluRuns> Run(WibReluOptions o, Func<string, (InMemoryDataset Train, InMemoryDataset Test)> load, string outDir,
        Action<string>? log = null, StopSignal? stop = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(load);
        ArgumentNullException.ThrowIfNull(outDir);
        o.Validate();
        var result = new List<WibReluRuns>();
        var arms = o.Arms();
        foreach (var ds in o.Datasets)
        {
            var spec = DataCatalog.Get(ds);
            var (full, test) = load(ds);
            int classes = ExperimentRuns.Classes(full);
            var train = full;
            if (o.TrainSamples > 0 && o.TrainSamples < full.Count)
                train = full.Subset(Splits.Stratified(full.Labels!, classes, 1.0 - (double)o.TrainSamples / full.Count, new Rng(0).Fork("subset")).Train);
            var val = o.TestSamples > 0 && o.TestSamples < test.Count ? test.Subset(InMemoryDataset.Identity(o.TestSamples)) : test;
            int probeRows = Math.Min(o.ProbeSamples, train.Count);
            var probe = new Tensor(train.Head(probeRows).X.ToArray(), probeRows, spec.Channels, spec.Height, spec.Width);
            var records = new Dictionary<(string, string), List<WibRecord?>>();
            for (int seed = 0; seed < o.Seeds; seed++)
                foreach (var model in o.Models)
                    foreach (var arm in arms)
                    {
                        var cfg = RunConfigFor(o, ds, model, arm, seed, classes);
                        string dir = ExperimentRuns.SeedFolder(GroupFolder(outDir, ds, model, arm), seed);
                        var (layers, names) = MeasuredLayers(cfg.Growth.Model!);
                        ExperimentRuns.Run(cfg, dir, train, val, null, log, stop, configure: s => Record(s, dir, o, probe, layers, names));
                        if (!records.TryGetValue((model, arm.Folder), out var list)) records[(model, arm.Folder)] = list = [];
                        list.Add(ReadRecord(dir));
                    }
            foreach (var model in o.Models)
                foreach (var arm in arms)
                    result.Add(new WibReluRuns(ds, model, arm, records.TryGetValue((model, arm.Folder), out var l) ? l : []));
        }
        return result;
    }

    /// <summary>The record of a run folder, or null when it has none (or an unreadable one).</summary>
    public static WibRecord? ReadRecord(string runDir)
    {
        string path = Path.Combine(runDir, RecordFile);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<WibRecord>(SafeFile.ReadAllText(path, 256L << 20, p => new IOException(p)), GrowthRunConfig.JsonOptions); }
        catch (Exception e) when (e is JsonException or IOException) { return null; }
    }

    // Hooks a run: an activation-statistics recorder on its trainer (continuing what the folder recorded before), and the
    // record written after every epoch and at every checkpoint (an epoch or step repeated by a resume replaces its entry).
    private static void Record(RunSession session, string dir, WibReluOptions o, Tensor probe, int[] layers, string[] names)
    {
        var had = ReadRecord(dir);
        var epochs = new SortedDictionary<int, WibEpoch>((had?.Epochs ?? []).ToDictionary(e => e.Epoch));
        var recorder = new ActivationStatsRecorder(probe, layers, names, o.StatsEveryStepUntil, o.StatsThenEvery, o.NearZeroStd);
        if (had is not null) recorder.Load(had.Activations);
        session.Runner.Callbacks.Add(recorder);
        void Save() => RunSession.WriteAtomically(Path.Combine(dir, RecordFile),
            JsonSerializer.Serialize(new WibRecord(epochs.Values.ToList(), recorder.Records), GrowthRunConfig.JsonOptions));
        session.EpochEnded = e =>
        {
            epochs[e.Epoch] = new WibEpoch(e.Epoch, e.Train.Loss, e.Train.Accuracy, e.Validation.Loss, e.Validation.Accuracy, e.Seconds);
            Save();
        };
        session.CheckpointSaved = _ => Save();
    }
}
