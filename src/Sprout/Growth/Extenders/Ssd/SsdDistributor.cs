namespace Sprout.Growth;

/// <summary>
/// The global rule of splitting steepest descent's reference code: measure every neuron's λ_min (exact) or Rayleigh
/// quotient (fast) in every growable layer, pool them, and give each layer as many of the stage's neurons as it has
/// among the <c>total</c> smallest values (ties: lower layer, then lower neuron first). The reference grows 0.35·N
/// neurons per step (N = all neurons of the growable layers): a schedule of 35 percent. A layer gets at most its width
/// per pass over the pool; when the total exceeds all widths the pool is walked again (the extender then splits in rounds).
/// <see cref="Distributor.LastVotes"/> holds each layer's smallest value. The measurements are kept for an
/// <see cref="SsdExtender"/> with the same settings in the same step, so ssd + ssd measures once.
/// </summary>
public sealed class SsdDistributor : Distributor
{
    /// <summary>Creates the distributor from a config (validated).</summary>
    public SsdDistributor(SsdDistributorConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        Name = config.Label;
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>The settings.</summary>
    public SsdDistributorConfig Config { get; }

    /// <summary>Forward + backward passes run by the last <see cref="Allocate"/> (see <see cref="SsdExtender.Passes"/>).</summary>
    public int Passes { get; private set; }

    /// <inheritdoc/>
    public override int[] Allocate(GrowthContext ctx, int total)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentOutOfRangeException.ThrowIfNegative(total);
        var sites = ctx.Model.Sites;
        var all = Enumerable.Range(0, sites.Count).ToArray();
        var measured = SsdExtender.Measure(ctx, all, Config.Settings, ctx.Rng.Fork($"distribute/{Name}/{ctx.Stage}"), out int passes);
        Passes = passes;
        var byScore = new List<(double Value, int Site, int Neuron)>();
        foreach (var (k, d) in measured)
            for (int i = 0; i < d.Values.Length; i++) byScore.Add((double.IsNaN(d.Values[i]) ? double.PositiveInfinity : d.Values[i], k, i));
        byScore.Sort();
        var counts = new int[sites.Count];
        for (int left = total; left > 0 && byScore.Count > 0;)
            foreach (var (_, k, _) in byScore)
            {
                if (left == 0) break;
                counts[k]++;
                left--;
            }
        LastVotes = measured.OrderBy(m => m.Site).Select(m => m.Directions.Values.Min()).ToArray();
        SsdMeasurements.Store(ctx, Config.Settings, measured.ToDictionary(m => m.Site, m => m.Directions));
        return counts;
    }
}
