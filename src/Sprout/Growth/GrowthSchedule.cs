namespace Sprout.Growth;

/// <summary>
/// How many neurons each stage adds in total: an explicit list of per-stage totals, or <see cref="Percent"/>% of
/// the current total hidden width for <see cref="Stages"/> stages (at least one neuron per stage).
/// </summary>
/// <param name="Totals">Per-stage totals (wins when set).</param>
/// <param name="Percent">Growth per stage in % of the current total hidden width.</param>
/// <param name="Stages">Number of stages for the percentage form.</param>
public sealed record GrowthSchedule(IReadOnlyList<int>? Totals = null, double Percent = 0, int Stages = 0)
{
    /// <summary>A list of per-stage totals.</summary>
    public static GrowthSchedule FromTotals(params int[] totals) => new(totals);

    /// <summary>+p% of the current width for n stages.</summary>
    public static GrowthSchedule FromPercent(double percent, int stages) => new(null, percent, stages);

    /// <summary>Number of stages.</summary>
    public int Count => Totals?.Count ?? Stages;

    /// <summary>Checks the schedule (throws <see cref="ArgumentException"/>).</summary>
    public void Validate()
    {
        if (Totals is not null)
        {
            if (Totals.Any(t => t < 0)) throw new ArgumentException("stage totals must be ≥ 0");
            return;
        }
        if (Stages < 0) throw new ArgumentException("stage count must be ≥ 0");
        if (Stages > 0 && !(Percent > 0 && Percent <= 10000)) throw new ArgumentException($"growth percentage must be in (0, 10000], got {Percent}");
    }

    /// <summary>The total to add at <paramref name="stage"/> given the current total hidden width.</summary>
    public int TotalFor(int stage, int currentWidth)
    {
        if (stage < 0 || stage >= Count) throw new ArgumentOutOfRangeException(nameof(stage));
        if (Totals is not null) return Totals[stage];
        return Math.Max(1, (int)Math.Round(currentWidth * Percent / 100.0, MidpointRounding.AwayFromZero));
    }
}

/// <summary>
/// When a training phase ends: after <see cref="Epochs"/> epochs, or with <see cref="EarlyStopping"/> when the
/// validation loss has not improved for <see cref="Patience"/> epochs (best weights restored), at most
/// <see cref="MaxEpochs"/>.
/// </summary>
/// <param name="Epochs">Fixed epoch count (without early stopping).</param>
/// <param name="EarlyStopping">Stop on validation loss.</param>
/// <param name="Patience">Epochs without improvement before stopping.</param>
/// <param name="MaxEpochs">Upper bound with early stopping.</param>
public sealed record StageTraining(int Epochs = 5, bool EarlyStopping = false, int Patience = 5, int MaxEpochs = 100);
