namespace Sprout.Growth;

/// <summary>User-given counts per layer every stage (the stage total is ignored).</summary>
public sealed class FixedDistributor : Distributor
{
    private readonly int[] _counts;

    /// <summary>Creates the distributor; <paramref name="name"/> names it in reports.</summary>
    public FixedDistributor(IReadOnlyList<int> counts, string name = "fixed")
    {
        Name = name;
        ArgumentNullException.ThrowIfNull(counts);
        if (counts.Any(c => c < 0)) throw new ArgumentException("fixed counts must be ≥ 0");
        _counts = counts.ToArray();
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <inheritdoc/>
    public override int[] Allocate(GrowthContext ctx, int total)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (_counts.Length != ctx.Model.Sites.Count)
            throw new ArgumentException($"fixed distributor has {_counts.Length} counts for {ctx.Model.Sites.Count} growable layers");
        return (int[])_counts.Clone();
    }
}
