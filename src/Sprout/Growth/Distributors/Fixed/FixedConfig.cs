namespace Sprout.Growth;

/// <summary>
/// The fixed distributor (<see cref="FixedDistributor"/>) as a config: JSON <c>{"type": "fixed", "counts": [2, 1]}</c>,
/// the neurons each growable layer gets every stage. The "fixed" preset has no counts, so a run must give them.
/// </summary>
/// <param name="Counts">Neurons per growable layer and stage, bottom layer first.</param>
public sealed record FixedConfig(IReadOnlyList<int>? Counts = null) : DistributorConfig
{
    /// <summary>Neurons per growable layer and stage (empty in the preset).</summary>
    public IReadOnlyList<int> Counts { get; init; } = Counts ?? [];

    /// <summary>Upper bound on one layer's count per stage (a larger one is a typo, not a plan).</summary>
    public const int MaxCount = 1 << 20;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (Counts is null || Counts.Count == 0)
            throw new ArgumentException("the fixed distributor needs per-layer counts, e.g. {\"type\": \"fixed\", \"counts\": [2, 1]}");
        if (Counts.Count > MaxCount) throw new ArgumentException($"the fixed distributor has {Counts.Count} counts");
        if (Counts.Any(c => c is < 0 or > MaxCount)) throw new ArgumentException($"fixed counts must be in 0…{MaxCount}");
    }

    /// <inheritdoc/>
    protected override Distributor Create() => new FixedDistributor(Counts, Label);

    /// <summary>Equal when the name and the counts (element by element) are equal.</summary>
    public bool Equals(FixedConfig? other) =>
        other is not null && base.Equals(other) && Counts.SequenceEqual(other.Counts);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(base.GetHashCode());
        foreach (int c in Counts) h.Add(c);
        return h.ToHashCode();
    }
}
