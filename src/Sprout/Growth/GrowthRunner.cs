using System.Diagnostics;
using Sprout.Diagnostics;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// Runs paper 000's Algorithm 1 on an MLP: initial training, then per stage distribute → extend → train, with
/// per-stage diagnostics. One seed drives everything, so the same config and data give an identical run.
/// </summary>
public sealed class GrowthRunner
{
    /// <summary>Creates a runner for a config.</summary>
    public GrowthRunner(GrowthRunConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
    }

    /// <summary>The config.</summary>
    public GrowthRunConfig Config { get; }

    /// <summary>The model being grown (set by <see cref="Run"/>).</summary>
    public GrowableModel? Model { get; private set; }

    /// <summary>
    /// Called after every finished stage with the report so far (final test accuracy NaN), so a caller can save
    /// partial results that survive a later failure.
    /// </summary>
    public Action<GrowthRunReport>? StageCompleted { get; set; }

    /// <summary>Progress lines (optional).</summary>
    public Action<string>? Log { get; set; }

    /// <summary>Trains and grows; <paramref name="test"/> may be null.</summary>
    public GrowthRunReport Run(GrowthData train, GrowthData validation, GrowthData? test = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        var c = Config;
        if (train.Features != c.InputSize) throw new ArgumentException($"data has {train.Features} features, the network's input is {c.InputSize}");
        if (c.InputShape is { Count: > 0 } shape)
        {
            // batches shaped for the network (e.g. [N, 1, 28, 28] for a conv net)
            train = train.WithShape(shape.ToArray());
            validation = validation.WithShape(shape.ToArray());
            test = test?.WithShape(shape.ToArray());
        }
        var rng = new Rng(c.Seed);
        var module = (Sequential)(c.Model ?? SequentialConfig.Mlp(c.Widths, ActivationConfig.Relu)).Build(rng.Fork("init"));
        var model = new GrowableModel(module);
        Model = model;
        var opt = c.WeightDecay > 0 ? new AdamW(model.Parameters(), c.LearningRate, weightDecay: c.WeightDecay) : new Adam(model.Parameters(), c.LearningRate);
        opt.OnGrowth = c.OptimizerOnGrowth;
        var shuffle = rng.Fork("shuffle");
        var extender = c.Extender.Build();
        var distributor = c.Distributor.Build();

        int initialEpochs = TrainPhase(model, opt, train, validation, c.InitialTraining ?? new StageTraining(10), shuffle, c.BatchSize);
        double initVal = validation.Trainer.Evaluate(module).Accuracy;
        double initTest = test is null ? double.NaN : test.Trainer.Evaluate(module).Accuracy;
        Log?.Invoke($"initial: {initialEpochs} epochs, widths [{string.Join(",", model.Widths())}], val {initVal:P2}");
        var (diagX, _) = train.Head(c.DiagnosticBatch);
        var diagBatch = new Tensor(diagX.ToArray(), diagX.ShapeArray());

        var stages = new List<StageReport>();
        for (int s = 0; s < c.Schedule.Count; s++)
        {
            long t0 = Stopwatch.GetTimestamp();
            var widths = model.Widths();
            int total = c.Schedule.TotalFor(s, widths.Sum());
            var ctx = new GrowthContext(model, train, rng.Fork("stage", s), s);
            var alloc = distributor.Allocate(ctx, total);
            var votes = distributor.LastVotes;
            double trBefore = train.Trainer.Evaluate(module).Accuracy;
            double vaBefore = validation.Trainer.Evaluate(module).Accuracy;
            var logitsBefore = model.Logits(diagBatch);
            var ext = extender.Extend(ctx, alloc);
            BufferPool.Trim(); // shapes changed: idle buffers of the old sizes would only hold memory
            if (c.OptimizerOnGrowth == GrowthStatePolicy.Reset) opt.ResetState();
            double change = FunctionChange.MaxAbsDifference(logitsBefore, model.Logits(diagBatch));
            double trAfter = train.Trainer.Evaluate(module).Accuracy;
            double vaAfter = validation.Trainer.Evaluate(module).Accuracy;
            var actIns = NeuronActivity.Measure(model, train);
            var cos = model.Sites.Select((site, k) => WeightSimilarity.Cosines(site, widths[k], alloc[k])).ToArray();

            int epochs = TrainPhase(model, opt, train, validation, c.StageTraining ?? new StageTraining(5), shuffle, c.BatchSize);
            var actEnd = NeuronActivity.Measure(model, train);
            double trEnd = train.Trainer.Evaluate(module).Accuracy;
            var vaEnd = validation.Trainer.Evaluate(module);
            double teEnd = test is null ? double.NaN : test.Trainer.Evaluate(module).Accuracy;
            var layers = model.Sites.Select((site, k) => new LayerStageReport(site.Name, site.Width, alloc[k],
                actIns[k].Inactive(widths[k], alloc[k]), actEnd[k].Inactive(widths[k], alloc[k]), actEnd[k].InactiveAll,
                cos[k].Mean, cos[k].Max, cos[k].Histogram)).ToArray();
            var rep = new StageReport(s, total, widths, alloc, votes, trBefore, trAfter, vaBefore, vaAfter, change, epochs,
                trEnd, vaEnd.Accuracy, vaEnd.Loss, teEnd, layers, ext, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            stages.Add(rep);
            StageCompleted?.Invoke(new GrowthRunReport(c, initialEpochs, initVal, initTest, stages.ToList(), model.Widths(), double.NaN));
            Log?.Invoke($"stage {s}: +{total} as [{string.Join(",", alloc)}] → [{string.Join(",", model.Widths())}], " +
                        $"train {trBefore:P2}→{trAfter:P2}, val end {vaEnd.Accuracy:P2}, new inactive [{string.Join(",", layers.Select(l => l.NewInactiveAtEnd))}]");
        }
        double final = test is null ? double.NaN : test.Trainer.Evaluate(module).Accuracy;
        return new GrowthRunReport(c, initialEpochs, initVal, initTest, stages, model.Widths(), final);
    }

    /// <summary>
    /// Trains for a fixed number of epochs, or with early stopping on validation loss (best weights restored).
    /// Returns the epochs run.
    /// </summary>
    public static int TrainPhase(GrowableModel model, Optimizer optimizer, GrowthData train, GrowthData validation,
        StageTraining training, Rng shuffle, int batchSize = 100)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(training);
        if (!training.EarlyStopping)
        {
            for (int e = 0; e < training.Epochs; e++)
                train.Trainer.TrainEpoch(model.Module, optimizer, shuffle.Permutation(train.Count), batchSize);
            return training.Epochs;
        }
        var es = new EarlyStopping(model.Module, training.Patience);
        int epochs = 0;
        while (epochs < training.MaxEpochs)
        {
            train.Trainer.TrainEpoch(model.Module, optimizer, shuffle.Permutation(train.Count), batchSize);
            epochs++;
            if (es.Update(validation.Trainer.Evaluate(model.Module).Loss)) break;
        }
        es.RestoreBest();
        return epochs;
    }
}
