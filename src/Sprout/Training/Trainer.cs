using System.Diagnostics;
using Sprout.Autograd;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;

namespace Sprout.Training;

/// <summary>What a learning-rate schedule counts.</summary>
public enum ScheduleUnit
{
    /// <summary>Finished epochs (<see cref="Trainer.Epoch"/>); the rate is set at the start of each epoch.</summary>
    Epoch,
    /// <summary>Steps taken (<see cref="Trainer.GlobalStep"/>); the rate is set before each step.</summary>
    Step,
}

/// <summary>
/// The one training loop: step, epoch and evaluation of a model with a <see cref="Training.Loss"/>, any
/// <see cref="Optim.Optimizer"/> (or an <see cref="IStepRule"/>), an optional parameter subset (everything else
/// frozen while the trainer runs), learning-rate schedule, gradient clipping and callbacks. A step: zero gradients,
/// forward, loss, divergence check (before backward, so a non-finite loss leaves the weights untouched), backward,
/// clip, update, callbacks — inside one <see cref="TensorScope"/>, on batches gathered into reused buffers, so a warm
/// step allocates nothing.
/// </summary>
public sealed class Trainer
{
    private readonly Optimizer? _optimizer;
    private readonly IStepRule? _rule;
    private ITrainingCallback[] _callbacks = [];
    private IReadOnlyCollection<Tensor>? _trainable;
    private IReadOnlyList<Tensor>? _trainableList, _modelParameters;
    private FreezeScope? _freeze;
    private int _batch = -1;
    private GradientReducer? _reducer;
    private BatchStatisticsSync? _normSync;

    /// <summary>
    /// A trainer of <paramref name="model"/> updated by <paramref name="optimizer"/> (null: evaluation and gradient
    /// passes only) on <paramref name="loss"/> (default cross-entropy).
    /// </summary>
    public Trainer(Module model, Optimizer? optimizer = null, Loss? loss = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        _optimizer = optimizer;
        Loss = loss ?? Loss.CrossEntropy;
        BaseLearningRate = optimizer?.LearningRate ?? double.NaN;
    }

    /// <summary>A trainer whose updates are <paramref name="stepRule"/>'s instead of an optimizer's.</summary>
    public Trainer(Module model, IStepRule stepRule, Loss? loss = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        _rule = stepRule ?? throw new ArgumentNullException(nameof(stepRule));
        Loss = loss ?? Loss.CrossEntropy;
        BaseLearningRate = double.NaN;
    }

    /// <summary>The model trained.</summary>
    public Module Model { get; }

    /// <summary>The optimizer (null with a step rule or for an evaluation-only trainer).</summary>
    public Optimizer? Optimizer => _optimizer;

    /// <summary>The step rule used instead of an optimizer, or null.</summary>
    public IStepRule? StepRule => _rule;

    /// <summary>The objective.</summary>
    public Loss Loss { get; }

    /// <summary>What this trainer trains, for messages (e.g. "stage 2 training").</summary>
    public string Name { get; set; } = "training";

    /// <summary>Learning-rate schedule applied to the optimizer (factor of <see cref="BaseLearningRate"/>), or null.</summary>
    public LrSchedule? Schedule { get; set; }

    /// <summary>
    /// Training-time augmentation of each training batch (null: none). Evaluation never augments. Batch k of epoch
    /// <see cref="Epoch"/> always gets the same transforms, so a resumed epoch repeats them.
    /// </summary>
    public BatchAugmenter? Augmentation { get; set; }

    /// <summary>Whether <see cref="Schedule"/> counts epochs (default) or steps.</summary>
    public ScheduleUnit ScheduleUnit { get; set; } = ScheduleUnit.Epoch;

    /// <summary>The rate the schedule scales (the optimizer's rate when the trainer was made).</summary>
    public double BaseLearningRate { get; set; }

    /// <summary>When set, gradients are scaled to this joint L2 norm at most before each update (PyTorch clip_grad_norm_).</summary>
    public double? ClipNorm { get; set; }

    /// <summary>The gradient norm before clipping at the last update (NaN when clipping is off).</summary>
    public double LastGradNorm { get; private set; } = double.NaN;

    /// <summary>
    /// When set, only these parameters train: every other parameter of the model is frozen (RequiresGrad = false)
    /// while an epoch or step runs, or for the span of <see cref="Freeze"/>, and unfrozen afterwards.
    /// </summary>
    public IReadOnlyCollection<Tensor>? Trainable
    {
        get => _trainable;
        set
        {
            if (_freeze is not null) throw new InvalidOperationException("the trainable subset cannot change while it is in force");
            _trainable = value;
            _trainableList = null;
        }
    }

    /// <summary>Evaluated after every finished epoch (its result goes to <see cref="ITrainingCallback.OnEpochEnd"/>), or null.</summary>
    public InMemoryDataset? Validation { get; set; }

    /// <summary>Batch size of evaluation passes: the trainer's own (validation) and <see cref="Evaluate"/> by default.</summary>
    public int EvaluationBatchSize { get; set; } = 1000;

    /// <summary>
    /// Data-parallel training over the ranks of a job (null or one rank: this process alone). Every rank runs the same
    /// trainer on the same data and seed: <see cref="TrainEpoch"/> gives each rank its share of every global batch (rows
    /// split in rank order; the whole batch is augmented first, so each row gets the transform it would get in one
    /// process), each rank's gradient weighted by its share is summed over the ranks in rank order before the update
    /// (see <see cref="ICommunicator.AllReduceSum(Span{float})"/>), and every rank takes the same update: the models stay
    /// identical, and equal one process's training with the same global batch up to the order of the gradient sums.
    /// BatchNorm normalises with the global batch's statistics during a training step (synchronised: its statistics are
    /// summed over the ranks, see <see cref="BatchNorm.Sync"/>), so its running statistics stay the same on every rank;
    /// every batch must then give each rank at least one row (checked at the epoch's start). Dropout layers draw the
    /// global batch's mask and keep the rank's rows of it (<see cref="Dropout.Shard"/>), so each row gets the mask it
    /// gets in one process and every rank's dropout streams stay one process's (the same row rule applies). Anything
    /// else run in training mode outside <see cref="TrainEpoch"/> (growth measurements, probes) uses each process's own
    /// batch.
    /// A stop request on any rank stops every rank at the same batch; a non-finite loss on any rank stops every rank.
    /// <see cref="Evaluate"/> splits its batches over the ranks and adds their results in batch order (the same result as
    /// one process). <see cref="Step"/> and <see cref="Backward"/> stay local.
    /// </summary>
    public ICommunicator? Communicator { get; set; }

    /// <summary>The callbacks, in call order.</summary>
    public IReadOnlyList<ITrainingCallback> Callbacks => _callbacks;

    /// <summary>Adds a callback (called after those added before it). Returns this trainer.</summary>
    public Trainer Add(ITrainingCallback callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        _callbacks = [.. _callbacks, callback];
        return this;
    }

    /// <summary>Removes a callback; false if it was not there.</summary>
    public bool Remove(ITrainingCallback callback)
    {
        int i = Array.IndexOf(_callbacks, callback);
        if (i < 0) return false;
        _callbacks = [.. _callbacks[..i], .. _callbacks[(i + 1)..]];
        return true;
    }

    /// <summary>Epochs finished (the epoch counter of schedules and callbacks; set it when resuming).</summary>
    public int Epoch { get; set; }

    /// <summary>Batch of the current epoch to run next: 0 after a finished epoch, k after an interruption before batch k.</summary>
    public int NextBatch { get; private set; }

    /// <summary>Optimizer steps taken (set it when resuming a step-counted schedule).</summary>
    public long GlobalStep { get; set; }

    /// <summary>The current (or last) epoch's statistics so far; pass them back as <c>carried</c> to resume mid-epoch.</summary>
    public EpochStats Running { get; private set; }

    /// <summary>Set (e.g. by early stopping) to end <see cref="Fit"/> after the current epoch; cleared when Fit starts.</summary>
    public bool ShouldStop { get; set; }

    /// <summary>The stop signal checked at every batch boundary (share one across the trainers of a run).</summary>
    public StopSignal Stop { get; set; } = new();

    /// <summary>Requests a stop at the next batch boundary (e.g. on Ctrl+C); see <see cref="Stop"/>.</summary>
    public void RequestStop() => Stop.Request();

    /// <summary>Whether a stop was requested.</summary>
    public bool StopRequested => Stop.IsRequested;

    /// <summary>
    /// When set, each step records its phases into it ("zero grad", "forward i:layers" per fused layer of a
    /// <see cref="Sequential"/>, "forward loss", "backward (graph walk)", "optimizer") and the backward rules report to
    /// it through <see cref="Graph.Profile"/>. Off (null) for normal training.
    /// </summary>
    public IOpProfiler? Profile { get; set; }

    /// <summary>
    /// Freezes every parameter outside <see cref="Trainable"/> until disposed (steps inside do not freeze again).
    /// Without a subset, or inside another freeze, it does nothing.
    /// </summary>
    public IDisposable Freeze() => BeginFreeze() ? new FreezeRelease(this) : NoRelease.Instance;

    /// <summary>One optimizer step on <paramref name="batch"/> (model mode unchanged). Returns the batch loss.</summary>
    public float Step(Batch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        RequireUpdater();
        bool freeze = BeginFreeze();
        try
        {
            if (Schedule is not null && ScheduleUnit == ScheduleUnit.Step) ApplySchedule((int)GlobalStep);
            _batch = -1;
            float l;
            int correct = 0;
            using (TensorScope.Begin())
            {
                l = Run(batch, update: true, out var output);
                if (_callbacks.Length != 0 && Loss.HasAccuracy) correct = Loss.CountCorrect(output, batch);
            }
            GlobalStep++;
            if (_callbacks.Length != 0)
            {
                var running = new EpochStats((double)l * batch.Rows, correct, batch.Rows, Loss.HasAccuracy);
                var info = new StepEnd(Epoch, -1, 0, l, batch.Rows, running, GlobalStep);
                foreach (var c in _callbacks) c.OnStepEnd(this, info);
            }
            return l;
        }
        finally
        {
            if (freeze) EndFreeze();
        }
    }

    /// <summary>
    /// A gradient-only pass: zero gradients, forward, loss, divergence check, backward — no update. The parameters'
    /// gradients hold the batch's gradient afterwards. Returns the batch loss.
    /// </summary>
    public float Backward(Batch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        bool freeze = BeginFreeze();
        try
        {
            _batch = -1;
            using (TensorScope.Begin()) return Run(batch, update: false, out _);
        }
        finally
        {
            if (freeze) EndFreeze();
        }
    }

    /// <summary>
    /// One pass over the samples in <paramref name="order"/> (e.g. a seeded permutation), one update per batch, from
    /// batch <paramref name="startBatch"/> on (resuming an interrupted epoch: same order, the batch index
    /// <see cref="NextBatch"/> and the <see cref="Running"/> stats it had, as <paramref name="carried"/>). Stops early,
    /// with <see cref="NextBatch"/> set, when a stop is requested. Returns the epoch's statistics (carried ones
    /// included). Throws <see cref="TrainingDivergedException"/> on a non-finite loss.
    /// </summary>
    public EpochStats TrainEpoch(InMemoryDataset data, ReadOnlySpan<int> order, int batchSize, int startBatch = 0,
        EpochStats carried = default, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize <= 0) throw new ArgumentException("batch size must be positive");
        RequireUpdater();
        int batches = dropLast ? order.Length / batchSize : (order.Length + batchSize - 1) / batchSize;
        if (startBatch < 0 || startBatch > batches) throw new ArgumentOutOfRangeException(nameof(startBatch), $"batch {startBatch} outside the epoch's {batches}");
        long t0 = Stopwatch.GetTimestamp();
        bool acc = Loss.HasAccuracy;
        double lossSum = carried.LossSum;
        long correct = carried.Correct;
        int seen = carried.Samples;
        var callbacks = _callbacks;
        Model.Train();
        bool freeze = BeginFreeze();
        try
        {
            if (Schedule is not null && ScheduleUnit == ScheduleUnit.Epoch) ApplySchedule(Epoch);
            NextBatch = startBatch;
            Running = new EpochStats(lossSum, correct, seen, acc);
            foreach (var c in callbacks) c.OnEpochStart(this);
            var comm = Communicator.IsParallel() ? Communicator : null;
            if (comm is not null)
            {
                (_reducer ??= new GradientReducer()).Refresh(Model);
                if (_reducer.HasNorms || _reducer.HasDropouts)
                    RequireRowsPerRank(comm, order.Length, batchSize, startBatch, batches, _reducer.HasNorms, _reducer.HasDropouts);
            }
            for (int k = startBatch; k < batches; k++)
            {
                if (comm is null && Stop.IsRequested) return Running;
                int start = k * batchSize;
                int rows = Math.Min(batchSize, order.Length - start);
                if (Schedule is not null && ScheduleUnit == ScheduleUnit.Step) ApplySchedule((int)GlobalStep);
                _batch = k;
                float l;
                if (comm is not null)
                {
                    // this rank's share of the global batch; a stop on any rank ends every rank here, before the step
                    using (TensorScope.Begin())
                        if (!RunShard(comm, data, order, start, rows, k, ref lossSum, ref correct, out l)) return Running;
                }
                else
                {
                    var b = data.Gather(order, start, rows);
                    Augmentation?.Apply(b, data, Epoch, k);
                    using (TensorScope.Begin())
                    {
                        l = Run(b, update: true, out var output);
                        lossSum += (double)l * rows;
                        if (acc) correct += Loss.CountCorrect(output, b);
                    }
                }
                seen += rows;
                GlobalStep++;
                NextBatch = k + 1;
                Running = new EpochStats(lossSum, correct, seen, acc);
                if (callbacks.Length != 0)
                {
                    var info = new StepEnd(Epoch, k, batches, l, rows, Running, GlobalStep);
                    foreach (var c in callbacks) c.OnStepEnd(this, info);
                }
            }
        }
        finally
        {
            _batch = -1;
            if (freeze) EndFreeze();
        }
        var train = Running;
        Epoch++;
        NextBatch = 0;
        EpochStats? validation = Validation is null ? null : Evaluate(Validation);
        if (callbacks.Length != 0)
        {
            var end = new EpochEnd(Epoch - 1, train, validation, _optimizer?.LearningRate ?? double.NaN, Stopwatch.GetElapsedTime(t0).TotalSeconds);
            foreach (var c in callbacks) c.OnEpochEnd(this, end);
        }
        return train;
    }

    /// <summary>
    /// Trains up to <paramref name="epochs"/> epochs, each over a fresh permutation drawn from
    /// <paramref name="shuffle"/>; ends early when a callback sets <see cref="ShouldStop"/> (e.g. early stopping) or a
    /// stop is requested. Calls <see cref="ITrainingCallback.OnTrainEnd"/> at the end. Returns the epochs finished.
    /// </summary>
    public int Fit(InMemoryDataset train, Rng shuffle, int batchSize, int epochs)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(shuffle);
        ShouldStop = false;
        int done = 0;
        bool interrupted = false;
        while (done < epochs)
        {
            if (Stop.IsRequested) { interrupted = true; break; }
            TrainEpoch(train, shuffle.Permutation(train.Count), batchSize);
            if (NextBatch != 0) { interrupted = true; break; }   // stopped mid-epoch
            done++;
            if (ShouldStop) break;
        }
        foreach (var c in _callbacks) c.OnTrainEnd(this, interrupted);
        return done;
    }

    /// <summary>Loss and accuracy over all samples in storage order, in evaluation mode, without recording gradients,
    /// <paramref name="batchSize"/> samples at a time (default: <see cref="EvaluationBatchSize"/>).</summary>
    public EpochStats Evaluate(InMemoryDataset data, int? batchSize = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        int bs = batchSize ?? EvaluationBatchSize;
        if (bs <= 0) throw new ArgumentException("batch size must be positive");
        bool wasTraining = Model.IsTraining;
        bool acc = Loss.HasAccuracy;
        double lossSum = 0;
        long correct = 0;
        var order = data.IdentityOrder;
        if (Communicator.IsParallel()) return EvaluateShared(Communicator!, data, bs);
        Model.Eval();
        try
        {
            using (Graph.NoGrad())
            {
                for (int start = 0; start < data.Count; start += bs)
                {
                    int rows = Math.Min(bs, data.Count - start);
                    var b = data.Gather(order, start, rows);
                    using (TensorScope.Begin())
                    {
                        var output = Model.Forward(b.X);
                        lossSum += (double)Loss.Compute(output, b).Item() * rows;
                        if (acc) correct += Loss.CountCorrect(output, b);
                    }
                }
            }
        }
        finally
        {
            Model.Train(wasTraining);
        }
        return new EpochStats(lossSum, correct, data.Count, acc);
    }

    // Evaluate over the ranks: batch j (the same batches as one process) on rank j mod size; each batch's loss sum and
    // correct count go to its own slot (zeros elsewhere, so the reduction is exact), added in batch order afterwards:
    // bit for bit one process's result.
    private EpochStats EvaluateShared(ICommunicator comm, InMemoryDataset data, int bs)
    {
        bool wasTraining = Model.IsTraining;
        bool acc = Loss.HasAccuracy;
        int batches = (data.Count + bs - 1) / bs;
        var slots = new double[2 * batches];
        var order = data.IdentityOrder;
        Model.Eval();
        try
        {
            using (Graph.NoGrad())
            {
                for (int j = comm.Rank; j < batches; j += comm.Size)
                {
                    int start = j * bs, rows = Math.Min(bs, data.Count - start);
                    var b = data.Gather(order, start, rows);
                    using (TensorScope.Begin())
                    {
                        var output = Model.Forward(b.X);
                        slots[2 * j] = (double)Loss.Compute(output, b).Item() * rows;
                        if (acc) slots[2 * j + 1] = Loss.CountCorrect(output, b);
                    }
                }
            }
        }
        finally
        {
            Model.Train(wasTraining);
        }
        comm.AllReduceSum(slots);
        double lossSum = 0;
        long correct = 0;
        for (int j = 0; j < batches; j++)
        {
            lossSum += slots[2 * j];
            correct += (long)slots[2 * j + 1];
        }
        return new EpochStats(lossSum, correct, data.Count, acc);
    }

    // One data-parallel step of global batch k (rows order[start..start+rows)): this rank's share forward, the loss sums,
    // correct counts and stop requests of all ranks added (a stop on any rank: false, nothing updated; a non-finite
    // global loss: every rank throws, before backward), backward, gradients summed over the ranks, update.
    private bool RunShard(ICommunicator comm, InMemoryDataset data, ReadOnlySpan<int> order, int start, int rows, int k,
        ref double lossSum, ref long correct, out float loss)
    {
        var (lo, count) = GradientReducer.Share(rows, comm.Rank, comm.Size);
        Batch? b = null;
        if (Augmentation is null) b = count > 0 ? data.Gather(order, start + lo, count) : null;
        else
        {
            // the whole batch is augmented (row r's transform depends on r), then this rank's rows copied out
            var local = count > 0 && count < rows ? data.Gather(order, start + lo, count) : null;
            var full = data.Gather(order, start, rows);
            Augmentation.Apply(full, data, Epoch, k);
            if (local is not null) full.X.Span.Slice(lo * data.Features, count * data.Features).CopyTo(local.X.Span);
            b = count == 0 ? null : local ?? full;
        }
        ZeroGrad();
        Tensor? objective = null;
        Span<double> stats = stackalloc double[3];
        stats.Clear();
        float weight = (float)((double)count / rows);
        // BatchNorm layers normalise with the global batch's statistics for this step's forward and backward only (a
        // collective per layer each way; every rank has rows here, see RequireRowsPerRank), then their own batch again
        if (_normSync?.Communicator != comm) _normSync = new BatchStatisticsSync(comm);
        _normSync.Weight = weight;
        _reducer!.Synchronise(_normSync);
        if (_reducer.HasNorms) _reducer.SaveStatistics();
        // dropout layers draw the global batch's mask and keep this rank's rows of it: one process's mask and stream
        _reducer.Place(BatchShard.Of(lo, count, rows));
        _reducer.SaveStreams();
        try
        {
            if (b is not null)
            {
                var output = Model.Forward(b.X);
                objective = Loss.Compute(output, b);
                stats[0] = (double)objective.Item() * count;
                if (Loss.HasAccuracy) stats[1] = Loss.CountCorrect(output, b);
            }
            stats[2] = Stop.IsRequested ? 1 : 0;
            comm.AllReduceSum(stats);
            loss = (float)(stats[0] / rows);
            if (stats[2] > 0)
            {
                // stopped before this batch, as one process stops: the forward pass's running-statistics update undone
                if (_reducer.HasNorms) _reducer.RestoreStatistics();
                _reducer.RestoreStreams();
                Stop.Request();
                return false;
            }
            if (!double.IsFinite(stats[0])) throw Diverged(float.IsFinite(loss) ? float.NaN : loss);
            objective?.Backward();
        }
        finally
        {
            _reducer.Synchronise(null);
            _reducer.Place(default);
        }
        _reducer.Reduce(comm, ClipParameters(), weight);
        Update();
        lossSum += stats[0];
        correct += (long)stats[1];
        return true;
    }

    // Synchronised BatchNorm needs every rank in every step's collectives, and dropout every rank's stream to move by
    // the global batch's draws, but a rank without rows has no forward pass: a batch with fewer rows than ranks is
    // refused before the epoch's first step, the same on every rank (the one short batch can only be the last)
    private static void RequireRowsPerRank(ICommunicator comm, int samples, int batchSize, int startBatch, int batches, bool norms, bool dropouts)
    {
        if (startBatch >= batches) return;
        int last = batches - 1, rows = Math.Min(batchSize, samples - last * batchSize);
        if (rows >= comm.Size) return;
        string layers = norms && dropouts ? "BatchNorm and dropout" : norms ? "BatchNorm" : "dropout";
        throw new NotSupportedException($"data-parallel training of a network with {layers} needs at least one row per process in every batch: " +
                                        (batchSize < comm.Size ? $"batches of {batchSize} row(s)" : $"the epoch's last batch has {rows} row(s)") +
                                        $" for {comm.Size} processes (change the batch size or the number of training samples, or use fewer processes)");
    }

    // zero grad → forward → loss → divergence check → backward → (clip, update); inside the caller's scope
    private float Run(Batch batch, bool update, out Tensor output)
    {
        if (Profile is not null) return RunProfiled(batch, update, out output);
        ZeroGrad();
        output = Model.Forward(batch.X);
        var loss = Loss.Compute(output, batch);
        float l = loss.Item();
        if (!float.IsFinite(l)) throw Diverged(l);
        loss.Backward();
        if (update) Update();
        return l;
    }

    private float RunProfiled(Batch batch, bool update, out Tensor output)
    {
        var profile = Profile!;
        var saved = Graph.Profile;
        Graph.Profile = profile;
        try
        {
            long t0 = Stopwatch.GetTimestamp();
            ZeroGrad();
            profile.Add("zero grad", Stopwatch.GetTimestamp() - t0);
            if (Model is Sequential seq)
            {
                var layers = seq.Layers;
                var h = batch.X;
                for (int i = 0; i < layers.Count;)
                {
                    t0 = Stopwatch.GetTimestamp();
                    h = seq.Step(i, h, out int next);
                    long ticks = Stopwatch.GetTimestamp() - t0; // the entry's name is built outside the timed span
                    string name = string.Join("+", layers.Skip(i).Take(next - i).Select(m => m.ToString()));
                    profile.Add($"forward {i}:{name}", ticks);
                    i = next;
                }
                output = h;
            }
            else
            {
                t0 = Stopwatch.GetTimestamp();
                output = Model.Forward(batch.X);
                profile.Add("forward", Stopwatch.GetTimestamp() - t0);
            }
            t0 = Stopwatch.GetTimestamp();
            var loss = Loss.Compute(output, batch);
            profile.Add("forward loss", Stopwatch.GetTimestamp() - t0);
            float l = loss.Item();
            if (!float.IsFinite(l)) throw Diverged(l);
            t0 = Stopwatch.GetTimestamp();
            loss.Backward();
            profile.Add("backward (graph walk)", Stopwatch.GetTimestamp() - t0);
            if (update)
            {
                t0 = Stopwatch.GetTimestamp();
                Update();
                profile.Add("optimizer", Stopwatch.GetTimestamp() - t0);
            }
            return l;
        }
        finally
        {
            Graph.Profile = saved;
        }
    }

    private void ZeroGrad()
    {
        if (_rule is not null) _rule.ZeroGrad();
        else if (_optimizer is not null) _optimizer.ZeroGrad();
        else Model.ZeroGrad();
    }

    private void Update()
    {
        if (ClipNorm is double max) LastGradNorm = GradClip.ClipByNorm(ClipParameters(), max);
        if (_rule is not null) _rule.Step();
        else _optimizer!.Step();
    }

    // the parameters whose gradients are clipped: the trainable subset, else those the optimizer or rule updates
    private IReadOnlyList<Tensor> ClipParameters()
    {
        if (_trainable is not null) return _trainableList ??= _trainable as IReadOnlyList<Tensor> ?? _trainable.ToArray();
        if (_rule is not null) return _rule.Parameters;
        if (_optimizer is not null) return _optimizer.Parameters;
        return _modelParameters ??= Model.Parameters().ToArray();
    }

    private void ApplySchedule(int t)
    {
        if (_optimizer is null) throw new InvalidOperationException("a learning-rate schedule needs an optimizer");
        Schedule!.Apply(_optimizer, BaseLearningRate, t);
    }

    private void RequireUpdater()
    {
        if (_optimizer is null && _rule is null)
            throw new InvalidOperationException("this trainer has no optimizer or step rule: it can only evaluate and compute gradients");
    }

    private TrainingDivergedException Diverged(float loss) => new(_batch >= 0
        ? $"loss became {loss} in {Name} at batch {_batch} of epoch {Epoch} (try a lower learning rate)"
        : $"loss became {loss} in {Name} after {GlobalStep} steps (try a lower learning rate)");

    private bool BeginFreeze()
    {
        if (_trainable is null || _freeze is not null) return false;
        _freeze = FreezeScope.AllBut(Model, _trainable);
        return true;
    }

    private void EndFreeze()
    {
        _freeze?.Dispose();
        _freeze = null;
    }

    private sealed class FreezeRelease(Trainer trainer) : IDisposable
    {
        private Trainer? _trainer = trainer;

        public void Dispose()
        {
            _trainer?.EndFreeze();
            _trainer = null;
        }
    }

    private sealed class NoRelease : IDisposable
    {
        public static readonly NoRelease Instance = new();

        public void Dispose()
        {
        }
    }
}
