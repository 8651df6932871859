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

    /// <summary>Most stages of a schedule: 10,000.</summary>
    public const int MaxStages = 10_000;

    /// <summary>Most neurons a schedule may grow the total hidden width to: 2²⁴.</summary>
    public const int MaxGrownWidth = 1 << 24;

    /// <summary>Checks the schedule (throws <see cref="ArgumentException"/>).</summary>
    public void Validate()
    {
        if (Totals is not null)
        {
            if (Totals.Count > MaxStages) throw new ArgumentException($"schedule: {Totals.Count} stage totals, more than the limit of {MaxStages:N0} stages");
            if (Totals.Any(t => t < 0)) throw new ArgumentException("stage totals must be ≥ 0");
            if (Totals.Sum(t => (long)t) > MaxGrownWidth) throw new ArgumentException($"schedule: the stage totals add up to more than the limit of {MaxGrownWidth:N0} neurons");
            return;
        }
        if (Stages < 0) throw new ArgumentException("stage count must be ≥ 0");
        if (Stages > MaxStages) throw new ArgumentException($"schedule: {Stages} stages is more than the limit of {MaxStages:N0}");
        if (Stages > 0 && !(Percent > 0 && Percent <= 10000)) throw new ArgumentException($"growth percentage must be in (0, 10000], got {Percent}");
    }

    /// <summary>
    /// Checks that growing a network of <paramref name="hiddenWidth"/> hidden neurons through every stage stays within
    /// <see cref="MaxGrownWidth"/> (throws <see cref="ArgumentException"/> naming the stage that would pass it).
    /// </summary>
    public void ValidateGrowth(long hiddenWidth)
    {
        Validate();
        long w = hiddenWidth;
        for (int s = 0; s < Count; s++)
        {
            w += Totals is not null ? Totals[s] : Math.Max(1, (long)Math.Round(w * Percent / 100.0, MidpointRounding.AwayFromZero));
            if (w > MaxGrownWidth)
                throw new ArgumentException($"schedule: stage {s + 1} of {Count} grows the hidden width from {hiddenWidth:N0} to more than the limit of {MaxGrownWidth:N0} neurons");
        }
    }

    /// <summary>The total to add at <paramref name="stage"/> given the current total hidden width.</summary>
    public int TotalFor(int stage, int currentWidth)
    {
        if (stage < 0 || stage >= Count) throw new ArgumentOutOfRangeException(nameof(stage));
        if (Totals is not null) return Totals[stage];
        double total = Math.Round(currentWidth * Percent / 100.0, MidpointRounding.AwayFromZero);
        if (!(total <= MaxGrownWidth))
            throw new ArgumentException($"stage {stage + 1}: +{Percent}% of {currentWidth:N0} neurons is more than the limit of {MaxGrownWidth:N0}");
        return Math.Max(1, (int)total);
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
public sealed record StageTraining(int Epochs = 5, bool EarlyStopping = false, int Patience = 5, int MaxEpochs = 100)
{
    /// <summary>Most epochs of one phase: 1,000,000.</summary>
    public const int MaxEpochCount = 1_000_000;

    /// <summary>Checks the counts; <paramref name="field"/> names this phase in the message.</summary>
    public void Validate(string field)
    {
        if (Epochs < 0 || Epochs > MaxEpochCount) throw new ArgumentException($"{field}.epochs must be in 0..{MaxEpochCount:N0}, got {Epochs}");
        if (Patience < 1 || Patience > MaxEpochCount) throw new ArgumentException($"{field}.patience must be in 1..{MaxEpochCount:N0}, got {Patience}");
        if (MaxEpochs < 1 || MaxEpochs > MaxEpochCount) throw new ArgumentException($"{field}.maxEpochs must be in 1..{MaxEpochCount:N0}, got {MaxEpochs}");
    }
}
