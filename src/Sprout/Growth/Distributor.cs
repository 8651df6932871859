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
