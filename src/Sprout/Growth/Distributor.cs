using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>Decides how many of a stage's neurons each growable layer receives.</summary>
public abstract class Distributor
{
    /// <summary>Registry name.</summary>
    public abstract string Name { get; }

    /// <summary>Per-site counts summing to <paramref name="total"/> (the fixed distributor may differ, see its docs).</summary>
    public abstract int[] Allocate(GrowthContext ctx, int total);

    /// <summary>Per-site votes or scores behind the last allocation (null when the distributor has none).</summary>
    public IReadOnlyList<double>? LastVotes { get; protected set; }

    /// <summary>Names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["svod", "svod-topn", "ras", "fixed"];

    /// <summary>Builds a distributor by name.</summary>
    public static Distributor Create(string name, SvodOptions? svod = null, IReadOnlyList<int>? fixedCounts = null) => name switch
    {
        "svod" => new SteepestVotingDistributor(svod ?? SvodOptions.Paper, "svod"),
        "svod-topn" => new SteepestVotingDistributor(svod ?? SvodOptions.TopN, "svod-topn"),
        "ras" => new RandomAllocationDistributor(),
        "fixed" => new FixedDistributor(fixedCounts ?? throw new ArgumentException("the fixed distributor needs per-layer counts")),
        _ => throw new ArgumentException($"unknown distributor '{name}' (known: {string.Join(", ", Names)})"),
    };
}

/// <summary>RAS: the stage's total spread uniformly over the layers, the remainder to layers drawn at random.</summary>
public sealed class RandomAllocationDistributor : Distributor
{
    /// <inheritdoc/>
    public override string Name => "ras";

    /// <inheritdoc/>
    public override int[] Allocate(GrowthContext ctx, int total)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        int k = ctx.Model.Sites.Count;
        var counts = new int[k];
        for (int i = 0; i < k; i++) counts[i] = total / k;
        var perm = ctx.Rng.Fork($"ras/{ctx.Stage}").Permutation(k);
        for (int t = 0; t < total % k; t++) counts[perm[t]]++;
        return counts;
    }
}

/// <summary>User-given counts per layer every stage (the stage total is ignored).</summary>
public sealed class FixedDistributor : Distributor
{
    private readonly int[] _counts;

    /// <summary>Creates the distributor.</summary>
    public FixedDistributor(IReadOnlyList<int> counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (counts.Any(c => c < 0)) throw new ArgumentException("fixed counts must be ≥ 0");
        _counts = counts.ToArray();
    }

    /// <inheritdoc/>
    public override string Name => "fixed";

    /// <inheritdoc/>
    public override int[] Allocate(GrowthContext ctx, int total)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (_counts.Length != ctx.Model.Sites.Count)
            throw new ArgumentException($"fixed distributor has {_counts.Length} counts for {ctx.Model.Sites.Count} growable layers");
        return (int[])_counts.Clone();
    }
}
