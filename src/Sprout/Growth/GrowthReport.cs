namespace Sprout.Growth;

/// <summary>Diagnostics of one growable layer in one stage.</summary>
/// <param name="Site">Site name.</param>
/// <param name="Width">Width after insertion.</param>
/// <param name="Added">Neurons added this stage.</param>
/// <param name="NewInactiveAtInsertion">New neurons inactive on the training data right after insertion.</param>
/// <param name="NewInactiveAtEnd">New neurons inactive at the end of the stage.</param>
/// <param name="InactiveAtEnd">All inactive neurons of the layer at the end of the stage.</param>
/// <param name="NewCosineMean">Mean pairwise cosine of the new neurons' incoming weights right after insertion (NaN if &lt; 2).</param>
/// <param name="NewCosineMax">Largest such cosine.</param>
/// <param name="NewCosineHistogram">20-bin histogram of those cosines over [−1, 1].</param>
public sealed record LayerStageReport(string Site, int Width, int Added, int NewInactiveAtInsertion, int NewInactiveAtEnd,
    int InactiveAtEnd, double NewCosineMean, double NewCosineMax, int[] NewCosineHistogram);

/// <summary>One stage: distribute → extend → train.</summary>
/// <param name="Stage">Index (0-based).</param>
/// <param name="Total">Neurons added in total.</param>
/// <param name="WidthsBefore">Hidden widths before insertion.</param>
/// <param name="Allocation">Neurons per layer.</param>
/// <param name="Votes">The distributor's votes or scores per layer (null if none).</param>
/// <param name="TrainAccuracyBefore">Training accuracy right before insertion.</param>
/// <param name="TrainAccuracyAfterInsertion">Training accuracy right after insertion (extender done, before training).</param>
/// <param name="ValAccuracyBefore">Validation accuracy before insertion.</param>
/// <param name="ValAccuracyAfterInsertion">Validation accuracy right after insertion.</param>
/// <param name="MaxOutputChange">max |logit change| on the diagnostic batch, before vs right after insertion.</param>
/// <param name="Epochs">Epochs trained in the stage.</param>
/// <param name="TrainAccuracyEnd">Training accuracy at the end of the stage.</param>
/// <param name="ValAccuracyEnd">Validation accuracy at the end.</param>
/// <param name="ValLossEnd">Validation loss at the end.</param>
/// <param name="TestAccuracyEnd">Test accuracy at the end (NaN without a test set).</param>
/// <param name="Layers">Per-layer diagnostics.</param>
/// <param name="Extension">What the extender did per layer.</param>
/// <param name="Seconds">Wall time of the run when the stage ended (across resumes).</param>
/// <param name="GrowSeconds">Wall time of the stage's growth step (distribute + extend and the measurements around them).</param>
/// <param name="DistributeSeconds">Wall time of the distributor alone.</param>
/// <param name="ExtendSeconds">Wall time of the extender alone.</param>
public sealed record StageReport(int Stage, int Total, int[] WidthsBefore, int[] Allocation, IReadOnlyList<double>? Votes,
    double TrainAccuracyBefore, double TrainAccuracyAfterInsertion, double ValAccuracyBefore, double ValAccuracyAfterInsertion,
    double MaxOutputChange, int Epochs, double TrainAccuracyEnd, double ValAccuracyEnd, double ValLossEnd, double TestAccuracyEnd,
    IReadOnlyList<LayerStageReport> Layers, IReadOnlyList<SiteExtension> Extension, double Seconds, double GrowSeconds = double.NaN,
    double DistributeSeconds = double.NaN, double ExtendSeconds = double.NaN)
{
    /// <summary>Training loss right before insertion.</summary>
    public double TrainLossBefore { get; init; } = double.NaN;

    /// <summary>Training loss right after insertion (extender done, before training).</summary>
    public double TrainLossAfterInsertion { get; init; } = double.NaN;

    /// <summary>Training loss at the end of the stage.</summary>
    public double TrainLossEnd { get; init; } = double.NaN;

    /// <summary>Test loss at the end of the stage (NaN without a test set): the result of a reconstruction run.</summary>
    public double TestLossEnd { get; init; } = double.NaN;

    /// <summary>Hidden widths after insertion.</summary>
    public int[] WidthsAfter => WidthsBefore.Zip(Allocation, (a, b) => a + b).ToArray();
}

/// <summary>A whole growth run.</summary>
/// <param name="Config">The config it ran with.</param>
/// <param name="InitialEpochs">Epochs of the initial training.</param>
/// <param name="InitialValAccuracy">Validation accuracy after the initial training.</param>
/// <param name="InitialTestAccuracy">Test accuracy after the initial training (NaN without a test set).</param>
/// <param name="Stages">Per-stage reports.</param>
/// <param name="FinalWidths">Hidden widths at the end.</param>
/// <param name="FinalTestAccuracy">Test accuracy at the end (NaN without a test set).</param>
public sealed record GrowthRunReport(GrowthRunConfig Config, int InitialEpochs, double InitialValAccuracy, double InitialTestAccuracy,
    IReadOnlyList<StageReport> Stages, int[] FinalWidths, double FinalTestAccuracy)
{
    /// <summary>Validation loss after the initial training.</summary>
    public double InitialValLoss { get; init; } = double.NaN;

    /// <summary>Test loss after the initial training (NaN without a test set).</summary>
    public double InitialTestLoss { get; init; } = double.NaN;

    /// <summary>Test loss at the end (NaN without a test set, and in a report written before the end).</summary>
    public double FinalTestLoss { get; init; } = double.NaN;
}
