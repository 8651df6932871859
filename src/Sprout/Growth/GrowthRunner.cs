using System.Diagnostics;
using Sprout.Diagnostics;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;

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
    public GrowthRunReport Run(InMemoryDataset train, InMemoryDataset validation, InMemoryDataset? test = null)
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

        var eval = new Trainer(module);
        int initialEpochs = TrainPhase(model, opt, train, validation, c.InitialTraining ?? new StageTraining(10), shuffle, c.BatchSize);
        double initVal = eval.Evaluate(validation).Accuracy;
        double initTest = test is null ? double.NaN : eval.Evaluate(test).Accuracy;
        Log?.Invoke($"initial: {initialEpochs} epochs, widths [{string.Join(",", model.Widths())}], val {initVal:P2}");
        var diagBatch = train.Head(c.DiagnosticBatch).X;

        var stages = new List<StageReport>();
        for (int s = 0; s < c.Schedule.Count; s++)
        {
            long t0 = Stopwatch.GetTimestamp();
            var widths = model.Widths();
            int total = c.Schedule.TotalFor(s, widths.Sum());
            var ctx = new GrowthContext(model, train, rng.Fork("stage", s), s);
            var alloc = distributor.Allocate(ctx, total);
            var votes = distributor.LastVotes;
            double trBefore = eval.Evaluate(train).Accuracy;
            double vaBefore = eval.Evaluate(validation).Accuracy;
            var logitsBefore = model.Logits(diagBatch);
            var ext = extender.Extend(ctx, alloc);
            BufferPool.Trim(); // shapes changed: idle buffers of the old sizes would only hold memory
            if (c.OptimizerOnGrowth == GrowthStatePolicy.Reset) opt.ResetState();
            double change = FunctionChange.MaxAbsDifference(logitsBefore, model.Logits(diagBatch));
            double trAfter = eval.Evaluate(train).Accuracy;
            double vaAfter = eval.Evaluate(validation).Accuracy;
            var actIns = model.Activity(train);
            var cos = model.Sites.Select((_, k) => model.Cosines(k, widths[k], alloc[k])).ToArray();

            int epochs = TrainPhase(model, opt, train, validation, c.StageTraining ?? new StageTraining(5), shuffle, c.BatchSize);
            var actEnd = model.Activity(train);
            double trEnd = eval.Evaluate(train).Accuracy;
            var vaEnd = eval.Evaluate(validation);
            double teEnd = test is null ? double.NaN : eval.Evaluate(test).Accuracy;
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
        double final = test is null ? double.NaN : eval.Evaluate(test).Accuracy;
        return new GrowthRunReport(c, initialEpochs, initVal, initTest, stages, model.Widths(), final);
    }

    /// <summary>
    /// Trains for a fixed number of epochs, or with early stopping on validation loss (best weights restored), on the
    /// <see cref="Trainer"/>; <paramref name="callbacks"/> (e.g. a metrics sink) see every epoch. Returns the epochs run.
    /// </summary>
    public static int TrainPhase(GrowableModel model, Optimizer optimizer, InMemoryDataset train, InMemoryDataset validation,
        StageTraining training, Rng shuffle, int batchSize = 100, IEnumerable<ITrainingCallback>? callbacks = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(training);
        var trainer = new Trainer(model.Module, optimizer);
        if (!training.EarlyStopping)
        {
            foreach (var cb in callbacks ?? []) trainer.Add(cb);
            return trainer.Fit(train, shuffle, batchSize, training.Epochs);
        }
        trainer.Validation = validation;
        trainer.Add(new EarlyStopping(model.Module, training.Patience));
        foreach (var cb in callbacks ?? []) trainer.Add(cb);
        return trainer.Fit(train, shuffle, batchSize, training.MaxEpochs);
    }
}
