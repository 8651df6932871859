namespace Sprout.Growth;

/// <summary>
/// Firefly's global selection as a distributor: trains and scores the candidates of every site (see
/// <see cref="FireflyExtender"/>), takes the stage total's most negative scores over all sites, allocates each site its
/// winners' count and leaves the <see cref="FireflyPlan"/> (winners with their trained weights) in
/// <see cref="GrowthContext.Plan"/>, where the firefly extender commits it. With another extender the allocation is
/// used as any other. New-neuron candidates per site: candidatesPerLayer, or ⌈poolFactor · total / sites⌉. The model
/// is left exactly as it was.
/// </summary>
public sealed class FireflyDistributor : Distributor
{
    /// <summary>Creates the distributor; <paramref name="name"/> names it in reports and its random streams.</summary>
    public FireflyDistributor(FireflyOptions? options = null, string name = "firefly")
    {
        Options = options ?? FireflyOptions.Paper;
        Options.Validate(name);
        Name = name;
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>Its settings.</summary>
    public FireflyOptions Options { get; }

    /// <summary>The plan of the last <see cref="Allocate"/> call.</summary>
    public FireflyPlan? LastPlan { get; private set; }

    /// <summary>Forward + backward passes the last <see cref="Allocate"/> call ran.</summary>
    public int Passes { get; private set; }

    /// <inheritdoc/>
    public override int[] Allocate(GrowthContext ctx, int total)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentOutOfRangeException.ThrowIfNegative(total);
        int sites = ctx.Model.Sites.Count;
        if (total == 0)
        {
            LastPlan = null;
            Passes = 0;
            LastVotes = new double[sites];
            return new int[sites];
        }
        int k = Options.NewCandidates((double)total / sites);
        var plan = FireflyPlan.Build(ctx, Enumerable.Repeat(k, sites).ToArray(), Options, Name);
        plan.SelectGlobal(total, Name);
        LastPlan = plan;
        Passes = plan.Passes;
        ctx.Plan = plan;
        var counts = plan.Counts();
        LastVotes = counts.Select(c => (double)c).ToArray();
        return counts;
    }
}
