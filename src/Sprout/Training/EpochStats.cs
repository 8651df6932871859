namespace Sprout.Training;

/// <summary>
/// Loss and accuracy accumulated over an epoch, part of one, or an evaluation pass. Sums are kept (not means), so a
/// resumed epoch that starts from the stats carried so far ends with exactly the figures of an uninterrupted one.
/// </summary>
/// <param name="LossSum">Σ over batches of (mean batch loss · rows).</param>
/// <param name="Correct">Samples whose arg-max equals the label (0 when the loss has no accuracy).</param>
/// <param name="Samples">Samples seen.</param>
/// <param name="HasAccuracy">Whether accuracy is meaningful for the loss (class labels).</param>
public readonly record struct EpochStats(double LossSum, long Correct, int Samples, bool HasAccuracy = true)
{
    /// <summary>Mean loss per sample.</summary>
    public double Loss => LossSum / Math.Max(1, Samples);

    /// <summary>Fraction correct (0..1); NaN when the loss has no accuracy.</summary>
    public double Accuracy => HasAccuracy ? (double)Correct / Math.Max(1, Samples) : double.NaN;
}
