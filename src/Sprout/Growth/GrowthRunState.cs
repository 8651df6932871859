using Sprout.Diagnostics;

namespace Sprout.Growth;

/// <summary>Where a growth run is: which part of paper 000's Algorithm 1 runs next.</summary>
public enum GrowthPhase
{
    /// <summary>Training the initial network.</summary>
    Initial,

    /// <summary>The growth step of stage <see cref="GrowthRunState.Stage"/> (distribute → extend) comes next.</summary>
    Grow,

    /// <summary>Training after the growth step of stage <see cref="GrowthRunState.Stage"/>.</summary>
    Stage,

    /// <summary>The run has finished.</summary>
    Done,
}

/// <summary>
/// What a stage measured between its growth step and its training, kept in the run state so a run resumed during the
/// stage's training reports exactly what an uninterrupted one does.
/// </summary>
/// <param name="Total">Neurons added in total.</param>
/// <param name="WidthsBefore">Widths before the growth step.</param>
/// <param name="Allocation">Neurons per growable layer.</param>
/// <param name="Votes">The distributor's votes or scores per layer (null if none).</param>
/// <param name="TrainAccuracyBefore">Training accuracy right before the growth step.</param>
/// <param name="TrainAccuracyAfter">Training accuracy right after it.</param>
/// <param name="ValAccuracyBefore">Validation accuracy right before it.</param>
/// <param name="ValAccuracyAfter">Validation accuracy right after it.</param>
/// <param name="MaxOutputChange">max |output change| on the diagnostic batch across the growth step.</param>
/// <param name="InactiveAtInsertion">New neurons per layer inactive on the training data right after insertion.</param>
/// <param name="Cosines">Cosines among each layer's new neurons right after insertion.</param>
/// <param name="Extension">What the extender did per layer.</param>
/// <param name="GrowSeconds">Wall time of the growth step.</param>
/// <param name="DistributeSeconds">Wall time of the distributor's allocation alone.</param>
/// <param name="ExtendSeconds">Wall time of the extender alone (the method's own cost, without the runner's measurements around it).</param>
/// <param name="WeightSums">Each growable layer's incoming weight sum ΣW right before the growth step, the constant
/// ΣW_previous of similarity-guided growth (null when <see cref="GrowthRunConfig.Similarity"/> is off; not written then).</param>
/// <param name="TrainLossBefore">Training loss right before the growth step.</param>
/// <param name="TrainLossAfter">Training loss right after it.</param>
public sealed record PendingStage(int Total, int[] WidthsBefore, int[] Allocation, IReadOnlyList<double>? Votes,
    double TrainAccuracyBefore, double TrainAccuracyAfter, double ValAccuracyBefore, double ValAccuracyAfter,
    double MaxOutputChange, int[] InactiveAtInsertion, IReadOnlyList<CosineSummary> Cosines,
    IReadOnlyList<SiteExtension> Extension, double GrowSeconds,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    IReadOnlyList<double>? WeightSums = null, double DistributeSeconds = double.NaN, double ExtendSeconds = double.NaN,
    double TrainLossBefore = double.NaN, double TrainLossAfter = double.NaN);

/// <summary>The scalar part of an early-stopping state (the best weights travel as tensors beside it).</summary>
/// <param name="BestLoss">Best validation loss so far in the phase.</param>
/// <param name="BestEpoch">Its epoch (0-based, −1 before the first).</param>
/// <param name="Epochs">Epochs seen.</param>
/// <param name="EpochsSinceBest">Epochs since the best one.</param>
/// <param name="Entries">Names of the snapshot's tensors and whether each is a buffer (null when there is no snapshot).</param>
public sealed record EarlyStoppingPosition(double BestLoss, int BestEpoch, int Epochs, int EpochsSinceBest,
    IReadOnlyList<SnapshotName>? Entries);

/// <summary>A tensor of a best-weights snapshot.</summary>
/// <param name="Name">Parameter or buffer name in the module.</param>
/// <param name="IsBuffer">Whether it is a buffer (e.g. BatchNorm running statistics).</param>
public sealed record SnapshotName(string Name, bool IsBuffer);

/// <summary>
/// The position and bookkeeping of a growth run at a point where it can be checkpointed (JSON in the checkpoint's
/// "run/state" metadata). With the model, the optimizer state, the shuffle stream and the early-stopping snapshot it
/// is everything a resumed run needs to continue bit for bit.
/// </summary>
/// <param name="Phase">What runs next.</param>
/// <param name="Stage">Growth stage (0-based) the phase belongs to (0 during the initial training).</param>
/// <param name="EpochsDone">Epochs finished in the current training phase.</param>
/// <param name="NextBatch">Batch to continue at within the interrupted epoch (0 at an epoch boundary).</param>
/// <param name="PartialLossSum">Summed loss of the interrupted epoch's finished batches.</param>
/// <param name="PartialCorrect">Correct predictions in them.</param>
/// <param name="PartialSamples">Samples in them.</param>
/// <param name="InitialEpochs">Epochs of the initial training (once it ended).</param>
/// <param name="InitialValAccuracy">Validation accuracy after the initial training.</param>
/// <param name="InitialTestAccuracy">Test accuracy after the initial training.</param>
/// <param name="Stages">Finished stages.</param>
/// <param name="Pending">Measurements of the current stage's growth step (during its training).</param>
/// <param name="EarlyStopping">Early-stopping state of the current phase (null without early stopping or before its first epoch).</param>
/// <param name="Seconds">Wall time so far, across resumes.</param>
public sealed record GrowthRunState(GrowthPhase Phase, int Stage, int EpochsDone, int NextBatch,
    double PartialLossSum, long PartialCorrect, int PartialSamples,
    int InitialEpochs, double InitialValAccuracy, double InitialTestAccuracy,
    IReadOnlyList<StageReport> Stages, PendingStage? Pending, EarlyStoppingPosition? EarlyStopping, double Seconds)
{
    /// <summary>Validation loss after the initial training (NaN before it ended).</summary>
    public double InitialValLoss { get; init; } = double.NaN;

    /// <summary>Test loss after the initial training (NaN without a test set).</summary>
    public double InitialTestLoss { get; init; } = double.NaN;

    /// <summary>The state of a run that has not started.</summary>
    public static GrowthRunState Start { get; } =
        new(GrowthPhase.Initial, 0, 0, 0, 0, 0, 0, 0, double.NaN, double.NaN, [], null, null, 0);

    /// <summary>
    /// Where the run is, for messages: "stage 2 training, epoch 3, batch 120" inside an epoch, "stage 2 training, after
    /// epoch 3" at an epoch's end, "the growth step of stage 3"; with the schedule's <paramref name="stages"/>, the
    /// position after the last stage is "the end of the run".
    /// </summary>
    public string Describe(int? stages = null) => Phase switch
    {
        GrowthPhase.Initial => "initial training" + InPhase(),
        GrowthPhase.Grow => Stage >= stages ? "the end of the run (its final evaluation)" : $"the growth step of stage {Stage + 1}",
        GrowthPhase.Stage => $"stage {Stage + 1} training" + InPhase(),
        _ => "the end",
    };

    private string InPhase() =>
        NextBatch > 0 ? $", epoch {EpochsDone + 1}, batch {NextBatch}" : EpochsDone > 0 ? $", after epoch {EpochsDone}" : ", epoch 1";
}
