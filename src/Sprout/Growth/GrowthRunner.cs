using System.Diagnostics;
using System.Text.Json;
using Sprout.Autograd;
using Sprout.Diagnostics;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Growth;

/// <summary>One trained epoch of the model being grown, as the runner reports it (a row of metrics.csv).</summary>
/// <param name="Stage">Growth steps done before this epoch (0 = the initial network).</param>
/// <param name="Phase">"initial" or "stage".</param>
/// <param name="Epoch">Epoch within the phase, from 1.</param>
/// <param name="Widths">Width of every growable layer.</param>
/// <param name="Parameters">Parameter count.</param>
/// <param name="Train">Training statistics accumulated over the epoch.</param>
/// <param name="Validation">Validation statistics after the epoch.</param>
/// <param name="LearningRate">The optimizer's learning rate.</param>
/// <param name="Seconds">Wall time of the run so far, across resumes.</param>
public sealed record GrowthEpoch(int Stage, string Phase, int Epoch, int[] Widths, long Parameters, EpochStats Train,
    EpochStats Validation, double LearningRate, double Seconds);

/// <summary>
/// Runs paper 000's Algorithm 1: initial training, then per stage distribute → extend → train, with per-stage
/// diagnostics. One seed drives everything, so the same config and data give an identical run. The run is a state
/// machine (<see cref="GrowthRunState"/>): at every epoch end and stage boundary it calls <see cref="SafePoint"/>,
/// where <see cref="Capture"/> gives a checkpoint that <see cref="Run"/> continues from bit for bit.
/// </summary>
public sealed class GrowthRunner
{
    private GrowthRunState _state = GrowthRunState.Start;
    private Optimizer? _opt;
    private Rng? _shuffle;
    private BatchAugmenter? _augmenter;
    private RngState? _epochStart;          // shuffle state before the running epoch's permutation (mid-epoch stops)
    private EarlyStopping? _es;
    private long _clock;
    private double _secondsBefore;

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

    /// <summary>Where the run is.</summary>
    public GrowthRunState State => _state;

    /// <summary>
    /// Called after every finished stage with the report so far (final test accuracy NaN), so a caller can save
    /// partial results that survive a later failure.
    /// </summary>
    public Action<GrowthRunReport>? StageCompleted { get; set; }

    /// <summary>
    /// Called with the final report right before the run's last safe point, so a caller can save the result before a
    /// checkpoint marks the run finished (a run stopped between the two repeats only the final evaluation).
    /// </summary>
    public Action<GrowthRunReport>? Finished { get; set; }

    /// <summary>Called after every trained epoch of the model (initial and stage training).</summary>
    public Action<GrowthEpoch>? EpochCompleted { get; set; }

    /// <summary>
    /// Called where the run can be checkpointed: after every epoch, at every stage boundary, at the end, and when a stop
    /// request ends an epoch early. <see cref="Capture"/> is valid inside it.
    /// </summary>
    public Action<GrowthRunner>? SafePoint { get; set; }

    /// <summary>
    /// Extra callbacks attached to every training phase's trainer (e.g. a progress display), and to the growth methods'
    /// own trainers through <see cref="GrowthContext.Callbacks"/> (SWE's adjustment phase, SVoD's probe training).
    /// </summary>
    public IList<ITrainingCallback> Callbacks { get; } = new List<ITrainingCallback>();

    /// <summary>
    /// Set to stop at the next batch boundary (Ctrl+C): <see cref="Run"/> then throws <see cref="TrainingInterruptedException"/>.
    /// Replace it before <see cref="Run"/> to share one signal among several runs (e.g. the runs of an experiment).
    /// </summary>
    public StopSignal Stop { get; set; } = new();

    /// <summary>Progress lines (optional).</summary>
    public Action<string>? Log { get; set; }

    /// <summary>
    /// Data-parallel run over the ranks of a job (null or one rank: this process alone). Every rank runs the same
    /// runner on the same data: each training epoch splits every global batch over the ranks (<see cref="Trainer.Communicator"/>),
    /// evaluations split their batches, and the growth steps (distributor and extender) run identically on every rank
    /// from the identical model, data and seed, so every rank's model stays identical through growth (their
    /// training-mode passes draw the same dropout masks on every rank, so the dropout streams stay identical too, and
    /// rank 0's checkpoint is every rank's). Stop requests are agreed over the ranks at every check. Files are the
    /// caller's: only rank 0 should write them.
    /// </summary>
    public ICommunicator? Communicator { get; set; }

    // a stop request on any rank, agreed by all (the same answer on every rank, so they all stop at the same point)
    private bool Stopping => Communicator.IsParallel() ? Communicator!.Any(Stop.IsRequested) && Requested() : Stop.IsRequested;

    private bool Requested()
    {
        Stop.Request();
        return true;
    }

    private double Seconds => _secondsBefore + Stopwatch.GetElapsedTime(_clock).TotalSeconds;

    // Batch size of every measurement pass (evaluation, activity, logits): the training batch, so the passes reuse the
    // training step's pooled buffers instead of first-touching a second, larger set (on a conv net a 1,000-image batch
    // is gigabytes of fresh pages, ~10 µs each here). Evaluation mode: the batch size changes no statistic beyond rounding.
    private int MeasureBatch => Config.BatchSize;

    /// <summary>
    /// Trains and grows; <paramref name="test"/> may be null. With <paramref name="resume"/> (a checkpoint from
    /// <see cref="Capture"/> of a run of the same config) the run continues where that checkpoint was taken.
    /// </summary>
    public GrowthRunReport Run(InMemoryDataset train, InMemoryDataset validation, InMemoryDataset? test = null, CheckpointFile? resume = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        var c = Config;
        if (train.Features != c.InputSize) throw new ArgumentException($"data has {train.Features} features, the network's input is {c.InputSize}");
        if (c.Task == GrowthTask.Reconstruction)
        {
            // an autoencoder: every sample is its own target (the growth methods' own trainers see it too: Loss.For)
            train = train.HasTargets ? train : train.WithInputAsTarget();
            validation = validation.HasTargets ? validation : validation.WithInputAsTarget();
            test = test is null || test.HasTargets ? test : test.WithInputAsTarget();
        }
        if (c.InputShape is { Count: > 0 } shape)
        {
            // batches shaped for the network (e.g. [N, 1, 28, 28] for a conv net)
            train = train.WithShape(shape.ToArray());
            validation = validation.WithShape(shape.ToArray());
            test = test?.WithShape(shape.ToArray());
        }
        _clock = Stopwatch.GetTimestamp();
        var rng = new Rng(c.Seed);
        var module = resume is null
            ? (Sequential)(c.Model ?? SequentialConfig.Mlp(c.Widths, ActivationConfig.Relu)).Build(rng.Fork("init"))
            : resume.BuildModule(ModulePrefix) as Sequential ?? throw resume.Fail("its model is not a sequential network");
        // a run without growth stages trains any network, locally connected layers included
        var model = new GrowableModel(module, c.LinearOnly, requireGrowable: c.Schedule.Count > 0);
        Model = model;
        Optimizer opt = c.Optimizer switch
        {
            TrainingOptimizer.Sgd => new Sgd(model.Parameters(), c.LearningRate, c.Momentum, weightDecay: c.WeightDecay),
            TrainingOptimizer.AdamL2 => new Adam(model.Parameters(), c.LearningRate, weightDecay: c.WeightDecay),
            _ => c.WeightDecay > 0 ? new AdamW(model.Parameters(), c.LearningRate, weightDecay: c.WeightDecay) : new Adam(model.Parameters(), c.LearningRate),
        };
        opt.OnGrowth = c.OptimizerOnGrowth;
        _opt = opt;
        _shuffle = rng.Fork("shuffle");
        _augmenter = c.Augmentation?.Build() is { } aug
            ? new BatchAugmenter(aug, new Data.ImageShape(c.InputShape![0], c.InputShape[1], c.InputShape[2]), rng.Fork("augment"))
            : null;
        _state = GrowthRunState.Start;
        if (resume is not null) Restore(resume, module);
        _secondsBefore = _state.Seconds;
        var extender = c.Extender.Build();
        var distributor = c.Distributor.Build();
        var eval = new Trainer(module, optimizer: null, TaskLoss) { EvaluationBatchSize = MeasureBatch, Communicator = Communicator };
        var diagBatch = train.Head(c.DiagnosticBatch).X;

        if (_state.Phase == GrowthPhase.Initial)
        {
            int initialEpochs = TrainResumable(model, train, validation, c.InitialTraining ?? new StageTraining(10), "initial", 0);
            var initVal = eval.Evaluate(validation);
            EpochStats? initTest = test is null ? null : eval.Evaluate(test);
            Log?.Invoke($"initial: {initialEpochs} epochs, widths [{string.Join(",", model.Widths())}], val {Measure(initVal)}");
            Advance(_state with
            {
                Phase = GrowthPhase.Grow, Stage = 0, InitialEpochs = initialEpochs, InitialValAccuracy = initVal.Accuracy,
                InitialTestAccuracy = initTest?.Accuracy ?? double.NaN, InitialValLoss = initVal.Loss, InitialTestLoss = initTest?.Loss ?? double.NaN,
            });
        }

        while (_state.Phase != GrowthPhase.Done && _state.Stage < c.Schedule.Count)
        {
            int s = _state.Stage;
            if (_state.Phase == GrowthPhase.Grow)
            {
                // a stop that came at the stage boundary ends the run there, before the growth step starts
                if (Stopping) Interrupt("before");
                var pending = GrowthStep(model, eval, extender, distributor, train, validation, diagBatch, s);
                if (Stopping)
                    throw new TrainingInterruptedException($"stopped during {_state.Describe(Config.Schedule.Count)}; a resumed run repeats it", saved: false);
                Advance(_state with { Phase = GrowthPhase.Stage, Pending = pending });
            }
            var p = _state.Pending ?? throw new InvalidOperationException("stage training without its growth step's measurements");
            int epochs = TrainResumable(model, train, validation, c.StageTrainingFor(s), "stage", s + 1, p.WeightSums);
            // one pass over the training set gives both the activity and the training accuracy
            var actEnd = model.Activity(train, TaskLoss, out var trEnd, MeasureBatch);
            var vaEnd = eval.Evaluate(validation);
            EpochStats? teEnd = test is null ? null : eval.Evaluate(test);
            var widths = p.WidthsBefore;
            var layers = model.Sites.Select((site, k) => new LayerStageReport(site.Name, site.Width, p.Allocation[k],
                p.InactiveAtInsertion[k], actEnd[k].Inactive(widths[k], p.Allocation[k]), actEnd[k].InactiveAll,
                p.Cosines[k].Mean, p.Cosines[k].Max, p.Cosines[k].Histogram)).ToArray();
            var rep = new StageReport(s, p.Total, widths, p.Allocation, p.Votes, p.TrainAccuracyBefore, p.TrainAccuracyAfter,
                p.ValAccuracyBefore, p.ValAccuracyAfter, p.MaxOutputChange, epochs, trEnd.Accuracy, vaEnd.Accuracy, vaEnd.Loss, teEnd?.Accuracy ?? double.NaN, layers,
                p.Extension, Seconds, p.GrowSeconds, p.DistributeSeconds, p.ExtendSeconds)
            {
                TrainLossBefore = p.TrainLossBefore, TrainLossAfterInsertion = p.TrainLossAfter, TrainLossEnd = trEnd.Loss,
                TestLossEnd = teEnd?.Loss ?? double.NaN,
            };
            var stages = _state.Stages.Append(rep).ToList();
            _state = _state with { Phase = GrowthPhase.Grow, Stage = s + 1, Pending = null, Stages = stages };
            StageCompleted?.Invoke(Report(model, double.NaN));
            Log?.Invoke($"stage {s + 1}: +{p.Total} as [{string.Join(",", p.Allocation)}] → [{string.Join(",", model.Widths())}], " +
                        $"train {Measure(p.TrainAccuracyBefore, p.TrainLossBefore)}→{Measure(p.TrainAccuracyAfter, p.TrainLossAfter)}, val end {Measure(vaEnd)}, new inactive [{string.Join(",", layers.Select(l => l.NewInactiveAtEnd))}]");
            Advance(_state);
        }
        EpochStats? final = test is null ? null : eval.Evaluate(test);
        var report = Report(model, final?.Accuracy ?? double.NaN) with { FinalTestLoss = final?.Loss ?? double.NaN };
        Finished?.Invoke(report);
        Advance(_state with { Phase = GrowthPhase.Done });
        return report;
    }

    private GrowthRunReport Report(GrowableModel model, double finalTest) =>
        new(Config, _state.InitialEpochs, _state.InitialValAccuracy, _state.InitialTestAccuracy, _state.Stages.ToList(), model.Widths(), finalTest)
        {
            InitialValLoss = _state.InitialValLoss, InitialTestLoss = _state.InitialTestLoss,
        };

    /// <summary>The run's objective: cross-entropy for classification, MSE for reconstruction.</summary>
    public Loss TaskLoss => Config.Task == GrowthTask.Reconstruction ? Loss.Mse : Loss.CrossEntropy;

    // a result for a log line: accuracy where it means something, else the loss
    private static string Measure(in EpochStats s) => Measure(s.Accuracy, s.Loss);

    private static string Measure(double accuracy, double loss) =>
        double.IsNaN(accuracy) ? "loss " + loss.ToString("G4", System.Globalization.CultureInfo.InvariantCulture) : accuracy.ToString("P2", System.Globalization.CultureInfo.InvariantCulture);

    // A new position at a stage boundary: no phase in progress, so a checkpoint here carries no early-stopping state.
    private void Advance(GrowthRunState next)
    {
        _state = next with { EpochsDone = 0, NextBatch = 0, PartialLossSum = 0, PartialCorrect = 0, PartialSamples = 0, EarlyStopping = null };
        _es = null;
        _epochStart = null;
        SafePoint?.Invoke(this);
    }

    // distribute → extend, with the measurements around it
    private PendingStage GrowthStep(GrowableModel model, Trainer eval, Extender extender, Distributor distributor,
        InMemoryDataset train, InMemoryDataset validation, Tensor diagBatch, int s)
    {
        var c = Config;
        long t0 = Stopwatch.GetTimestamp();
        var widths = model.Widths();
        int total = c.Schedule.TotalFor(s, widths.Sum());
        var ctx = new GrowthContext(model, train, new Rng(c.Seed).Fork("stage", s), s) { Stop = Stop, Callbacks = Callbacks.ToArray() };
        Log?.Invoke($"stage {s + 1}: growth step, +{total} neurons ({c.Distributor.Label} distributes, {c.Extender.Label} extends)…");
        long td = Stopwatch.GetTimestamp();
        var alloc = distributor.Allocate(ctx, total);
        double distributeSeconds = Stopwatch.GetElapsedTime(td).TotalSeconds;
        var votes = distributor.LastVotes;
        var trBefore = eval.Evaluate(train);
        double vaBefore = eval.Evaluate(validation).Accuracy;
        var logitsBefore = model.Logits(diagBatch, MeasureBatch);
        // ΣW_previous of similarity-guided growth: each layer's weight sum right before the growth step
        var sums = c.Similarity is { IsActive: true } ? model.Sites.Select(site => SimilarityRegularizer.WeightSum(site.InWeight)).ToArray() : null;
        long te = Stopwatch.GetTimestamp();
        var ext = extender.Extend(ctx, alloc);
        double extendSeconds = Stopwatch.GetElapsedTime(te).TotalSeconds;
        // shapes changed: idle buffers of the old sizes would only hold memory; collect them now (a compacting full
        // collection, once per growth step) rather than when the GC next feels the need, which on a large machine can be
        // gigabytes later
        BufferPool.Trim();
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        if (c.OptimizerOnGrowth == GrowthStatePolicy.Reset) _opt!.ResetState();
        double change = FunctionChange.MaxAbsDifference(logitsBefore, model.Logits(diagBatch, MeasureBatch));
        var actIns = model.Activity(train, TaskLoss, out var trAfter, MeasureBatch);
        double vaAfter = eval.Evaluate(validation).Accuracy;
        var inactive = model.Sites.Select((_, k) => actIns[k].Inactive(widths[k], alloc[k])).ToArray();
        var cos = model.Sites.Select((_, k) => model.Cosines(k, widths[k], alloc[k])).ToArray();
        return new PendingStage(total, widths, alloc, votes?.ToArray(), trBefore.Accuracy, trAfter.Accuracy, vaBefore, vaAfter, change, inactive, cos,
            ext.ToArray(), Stopwatch.GetElapsedTime(t0).TotalSeconds, sums, distributeSeconds, extendSeconds, trBefore.Loss, trAfter.Loss);
    }

    // Trains one phase from where the state says it is (epoch, batch, early stopping); returns the epochs run. With
    // weight sums (a stage under similarity-guided growth) its first steps carry the similarity regulariser.
    private int TrainResumable(GrowableModel model, InMemoryDataset train, InMemoryDataset validation, StageTraining training,
        string phase, int stage, IReadOnlyList<double>? weightSums = null)
    {
        var module = model.Module;
        Trainer? self = null;
        var loss = Config.Similarity is { IsActive: true } sim && weightSums is not null
            ? SimilarityLoss(model, sim, weightSums, (train.Count + Config.BatchSize - 1) / Config.BatchSize, () => self!, TaskLoss)
            : TaskLoss;
        // the trainer counts this phase's epochs; the learning-rate schedule and the augmentation streams count the run's
        int runEpochs = _state.Phase == GrowthPhase.Initial ? 0 : _state.InitialEpochs + _state.Stages.Sum(st => st.Epochs);
        if (_augmenter is not null) _augmenter.EpochOffset = runEpochs;
        var trainer = new Trainer(module, _opt, loss)
        {
            Stop = Stop, Validation = validation, EvaluationBatchSize = MeasureBatch, Name = Where(phase, stage), Epoch = _state.EpochsDone, Augmentation = _augmenter,
            Communicator = Communicator,
            // from the config's rate, not the optimizer's current (scheduled) one
            Schedule = Config.LearningRateSchedule?.Build() is { } lr ? new OffsetLr(runEpochs, lr) : null, BaseLearningRate = Config.LearningRate,
        };
        self = trainer;
        EarlyStopping? es = null;
        if (training.EarlyStopping)
        {
            es = new EarlyStopping(module, training.Patience) { RestoreBestWeights = false };
            if (_es is not null) es.Restore(_es.State);   // resumed mid-phase
            trainer.Add(es);
        }
        _es = es;
        var last = new LastEpoch();
        trainer.Add(last);
        foreach (var cb in Callbacks) trainer.Add(cb);
        int max = training.EarlyStopping ? training.MaxEpochs : training.Epochs;
        while (_state.EpochsDone < max && !(es?.Stopped ?? false))
        {
            if (Stopping) Interrupt();
            _epochStart = _shuffle!.GetState();
            var order = _shuffle.Permutation(train.Count);
            var carried = new EpochStats(_state.PartialLossSum, _state.PartialCorrect, _state.PartialSamples, trainer.Loss.HasAccuracy);
            int before = trainer.Epoch;
            var stats = trainer.TrainEpoch(train, order, Config.BatchSize, _state.NextBatch, carried);
            if (trainer.Epoch == before)
            {
                // stopped inside the epoch: the checkpoint continues at the next batch of the same permutation
                _state = _state with { NextBatch = trainer.NextBatch, PartialLossSum = stats.LossSum, PartialCorrect = stats.Correct, PartialSamples = stats.Samples };
                Interrupt();
            }
            _state = _state with { EpochsDone = _state.EpochsDone + 1, NextBatch = 0, PartialLossSum = 0, PartialCorrect = 0, PartialSamples = 0 };
            _epochStart = null;
            EpochCompleted?.Invoke(new GrowthEpoch(stage, phase, _state.EpochsDone, model.Widths(), module.ParameterCount(), stats,
                last.Validation, _opt!.LearningRate, Seconds));
            SafePoint?.Invoke(this);
            if (Stopping) throw new TrainingInterruptedException($"stopped after {Where(phase, stage)} epoch {_state.EpochsDone}", saved: SafePoint is not null);
        }
        if (es is not null) es.RestoreBest();
        return _state.EpochsDone;
    }

    // Cross-entropy plus, for the phase's first sim.Iterations optimizer steps, sim.Weight · Σ_layers of the similarity
    // regulariser. The step is derived from the trainer's position (epoch in the phase × batches per epoch + batch),
    // which the run state already saves, so a resumed run adds the term at exactly the same steps. Evaluation (no
    // gradients recorded) sees the task loss alone.
    private static Loss SimilarityLoss(GrowableModel model, SimilarityConfig sim, IReadOnlyList<double> weightSums, int batchesPerEpoch,
        Func<Trainer> trainer, Loss taskLoss)
    {
        if (weightSums.Count != model.Sites.Count)
            throw new InvalidOperationException($"{weightSums.Count} reference weight sums for {model.Sites.Count} growable layers");
        return Loss.Custom(taskLoss.Name + " + similarity", (output, batch) =>
        {
            var task = taskLoss.Compute(output, batch);
            if (!Graph.IsGradEnabled) return task;
            var t = trainer();
            if ((long)t.Epoch * batchesPerEpoch + t.NextBatch >= sim.Iterations) return task;
            Tensor? reg = null;
            for (int k = 0; k < model.Sites.Count; k++)
            {
                var r = SimilarityRegularizer.Compute(model.Sites[k].InWeight, weightSums[k], sim.UseCosine, sim.UseSumRatio, sim.Lambda, sim.Epsilon, sim.SumPenalty);
                reg = reg is null ? r : Ops.Add(reg, r);
            }
            return reg is null ? task : Ops.Add(task, Ops.MulScalar(reg, (float)sim.Weight));
        }, taskLoss.HasAccuracy ? (output, batch) => Loss.CountArgMaxMatches(output, batch.Labels) : null);
    }

    private void Interrupt(string where = "during")
    {
        SafePoint?.Invoke(this);
        throw new TrainingInterruptedException($"stopped {where} {_state.Describe(Config.Schedule.Count)}", saved: SafePoint is not null);
    }

    private static string Where(string phase, int stage) => phase == "initial" ? "initial training" : $"stage {stage} training";

    private sealed class LastEpoch : ITrainingCallback
    {
        public EpochStats Validation;

        public void OnEpochEnd(Trainer trainer, in EpochEnd epoch) => Validation = epoch.Validation ?? default;
    }

    private const string ModulePrefix = "model/", OptimizerPrefix = "optim/", EarlyStoppingPrefix = "es/";

    /// <summary>Checkpoint metadata key of the run state (JSON).</summary>
    public const string StateKey = "run/state";

    /// <summary>Checkpoint metadata key of the growth config (JSON).</summary>
    public const string ConfigKey = "run/growth-config";

    /// <summary>Checkpoint metadata key of the shuffle stream.</summary>
    public const string ShuffleKey = "rng/shuffle";

    /// <summary>
    /// The whole state at the current safe point: the model (architecture at its current widths, weights, buffers,
    /// RNG streams), the optimizer's state, the shuffle stream (as it was before the running epoch's permutation when the
    /// run stopped inside an epoch), the early-stopping state with its best weights, and the position and bookkeeping
    /// (<see cref="GrowthRunState"/>). Valid inside <see cref="SafePoint"/>.
    /// </summary>
    public CheckpointFile Capture()
    {
        var module = Model?.Module ?? throw new InvalidOperationException("the run has not started");
        var ck = new CheckpointFile();
        ck.AddModule(ModulePrefix, module);
        ck.AddOptimizer(OptimizerPrefix, _opt!, module);
        ck.AddRng(ShuffleKey, _epochStart is { } st ? Rng.FromState(st) : _shuffle!);
        EarlyStoppingPosition? esPos = null;
        if (_es is { } es)
        {
            var best = es.Best?.Entries;
            if (best is not null)
                foreach (var e in best) ck.Add(EarlyStoppingPrefix + e.Name, new CheckpointTensor(e.Shape, e.Data));
            esPos = new EarlyStoppingPosition(es.BestLoss, es.BestEpoch, es.Epochs, es.EpochsSinceBest,
                best?.Select(e => new SnapshotName(e.Name, e.IsBuffer)).ToArray());
        }
        ck.Metadata[StateKey] = JsonSerializer.Serialize(_state with { EarlyStopping = esPos, Seconds = Seconds }, GrowthRunConfig.JsonOptions);
        ck.Metadata[ConfigKey] = JsonSerializer.Serialize(Config, GrowthRunConfig.JsonOptions);
        return ck;
    }

    /// <summary>The run state stored in a checkpoint from <see cref="Capture"/>.</summary>
    public static GrowthRunState ReadState(CheckpointFile checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        try
        {
            return JsonSerializer.Deserialize<GrowthRunState>(checkpoint.GetMetadata(StateKey), GrowthRunConfig.JsonOptions)
                   ?? throw checkpoint.Fail("its run state is empty");
        }
        catch (JsonException e)
        {
            throw checkpoint.Fail($"its run state is not valid ({e.Message.ReplaceLineEndings(" ")})");
        }
    }

    /// <summary>
    /// Throws <see cref="CheckpointException"/> unless <paramref name="checkpoint"/> was captured by a run of this
    /// config: a checkpoint of another run (another network, schedule, method or seed) would continue that run under
    /// this one's name.
    /// </summary>
    public void CheckSameRun(CheckpointFile checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        GrowthRunConfig saved;
        try { saved = GrowthRunConfig.FromJson(checkpoint.GetMetadata(ConfigKey)); }
        catch (JsonException e) { throw checkpoint.Fail($"its growth config is not valid ({e.Message.ReplaceLineEndings(" ")})"); }
        if (saved.ToJson() != Config.ToJson()) throw checkpoint.Fail("it belongs to another run: its growth config differs from this run's");
    }

    private void Restore(CheckpointFile ck, Module module)
    {
        CheckSameRun(ck);
        var state = ReadState(ck);
        if (state.Stage < 0 || state.Stage > Config.Schedule.Count || state.EpochsDone < 0 || state.NextBatch < 0 || state.Stages is null
            || (state.Phase == GrowthPhase.Stage && state.Pending is null)
            || (state.Phase == GrowthPhase.Stage && Config.Similarity is { IsActive: true } && state.Pending?.WeightSums is null))
            throw ck.Fail("its run state does not fit this run's config");
        ck.LoadOptimizer(OptimizerPrefix, _opt!, module);
        ck.LoadRng(ShuffleKey, _shuffle!);
        _es = null;
        if (state.EarlyStopping is { } p)
        {
            var es = new EarlyStopping(module, 1);
            ParameterSnapshot? best = null;
            if (p.Entries is { } names)
                best = ParameterSnapshot.FromEntries(module, names.Select(n =>
                {
                    var t = ck.Get(EarlyStoppingPrefix + n.Name);
                    return new SnapshotEntry(n.Name, n.IsBuffer, t.Data, t.Shape);
                }));
            try { es.Restore(new EarlyStoppingState(p.BestLoss, p.BestEpoch, p.Epochs, p.EpochsSinceBest, best)); }
            catch (ArgumentException e) { throw ck.Fail(e.Message); }
            _es = es;
        }
        _state = state with { EarlyStopping = null };
    }
}
