using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>What <see cref="SsdExtender"/> did at one site.</summary>
/// <param name="Site">Site name.</param>
/// <param name="Added">Neurons added (= split: each split adds one copy).</param>
/// <param name="Negative">How many of the splits had a negative λ_min (Rayleigh quotient for the fast variant) — the paper's splits; the rest filled the count with the smallest non-negative ones.</param>
/// <param name="Rounds">Splitting rounds (more than one when more neurons were asked for than the site had).</param>
/// <param name="SmallestValue">The smallest λ_min over the site's neurons in the first round.</param>
/// <param name="LargestSplitValue">The largest λ_min among the neurons split (in any round).</param>
public sealed record SsdSiteResult(string Site, int Added, int Negative, int Rounds, double SmallestValue, double LargestSplitValue);

/// <summary>
/// Splitting steepest descent (Liu et al. 2019, "Splitting Steepest Descent for Growing Neural Architectures"; fast
/// variant: Wang et al. 2019): each neuron i of a site has a splitting matrix S_i (see <see cref="SplittingMatrices"/>);
/// splitting it into two copies with incoming weights θ_i ± ε·v and half its outgoing weights each changes the loss by
/// ε²·vᵀS_i v/2 to second order, so the neurons with the most negative λ_min(S_i) are split along their unit eigenvector
/// v_min: parent += ε·v_min, copy −= ε·v_min (incoming weights only), the copy inherits the bias and BatchNorm γ, β and
/// running statistics, and parent and copy get half the parent's outgoing weights (<see cref="GrowthSite.Split"/>).
/// <para>
/// Every growing site is measured before any is split (<see cref="Extender.BeginExtend(GrowthContext, IReadOnlyList{int})"/>),
/// then the sites are split top first as in the reference code — splitting a site changes its consumer, which is the
/// next site's producer, so the measured directions of the sites below stay valid. Exact variant: splitting matrices
/// from <see cref="SsdConfig.Batches"/> batches and their smallest eigenpairs (MathNet); fast variant: the Rayleigh
/// quotient minimised by RMSprop (<see cref="SplittingMatrices.Fast"/>).
/// </para>
/// <para>
/// Selection: the count neurons with the smallest λ_min (ties: lower index first). The paper splits only λ_min &lt; 0;
/// when fewer than count are negative the count is filled with the smallest non-negative ones (to second order they raise
/// the loss the least), and <see cref="LastSites"/> reports how many were negative. A count above the site's width is
/// met in rounds: each round splits at most every current neuron once, and rounds after the first measure the grown
/// site again (more passes).
/// </para>
/// <para>
/// After the <see cref="SsdDistributor"/> with the same measurement settings in the same growth step (weights
/// unchanged), the extender takes the distributor's measurements instead of measuring again.
/// </para>
/// </summary>
public sealed class SsdExtender : Extender
{
    private readonly Dictionary<int, SplittingDirections> _measured = new();
    private readonly List<SsdSiteResult> _sites = new();

    /// <summary>Creates the extender from a config (validated).</summary>
    public SsdExtender(SsdConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        Name = config.Label;
    }

    /// <summary>Creates the extender with default settings of a variant.</summary>
    public SsdExtender(SsdVariant variant = SsdVariant.Exact) : this(new SsdConfig(variant))
    {
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>The settings.</summary>
    public SsdConfig Config { get; }

    /// <summary>Sites are split top first (the reference's order; see the class remarks).</summary>
    protected override bool TopFirst => true;

    /// <summary>
    /// Forward + backward passes run by the last <see cref="Extender.Extend"/> call. Exact: per growing site, one per batch
    /// per chunk of neurons (one chunk unless the site's matrices exceed <see cref="SplittingMatrices.MaxMatrixBytes"/>);
    /// fast: (epochs + 1) × batches for all growing sites together. Rounds after the first add their own.
    /// </summary>
    public int Passes { get; private set; }

    /// <summary>What the last <see cref="Extender.Extend"/> call did per grown site, in the order the sites were split (top first).</summary>
    public IReadOnlyList<SsdSiteResult> LastSites => _sites;

    /// <inheritdoc/>
    protected override void BeginExtend(GrowthContext ctx, IReadOnlyList<int> counts)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(counts);
        Passes = 0;
        _measured.Clear();
        _sites.Clear();
        var sites = Enumerable.Range(0, counts.Count).Where(k => counts[k] > 0).ToArray();
        if (sites.Length == 0) return;
        if (SsdMeasurements.Find(ctx, Config) is { } shared)
        {
            foreach (int k in sites) _measured[k] = shared[k];
            return;
        }
        foreach (var (k, d) in Measure(ctx, sites, ctx.Rng.Fork($"extend/{Name}/{ctx.Stage}/measure")))
            _measured[k] = d;
    }

    /// <inheritdoc/>
    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng)
    {
        var site = ctx.Model.Sites[siteIndex];
        int old = site.Width, remaining = count, rounds = 0, negative = 0;
        double smallest = double.NaN, largest = double.NegativeInfinity;
        while (remaining > 0)
        {
            var dirs = rounds == 0 && _measured.Remove(siteIndex, out var m)
                ? m
                : Measure(ctx, [siteIndex], rng.Fork("round", rounds))[0].Directions;
            int width = site.Width, d = site.FanIn, n = Math.Min(remaining, width);
            var parents = Select(dirs.Values, n);
            if (rounds == 0) smallest = dirs.Values.Min();
            var deltas = new float[n * d];
            float eps = (float)Config.Epsilon;
            for (int k = 0; k < n; k++)
            {
                int p = parents[k];
                if (dirs.Values[p] < 0) negative++;
                largest = Math.Max(largest, dirs.Values[p]);
                for (int t = 0; t < d; t++) deltas[k * d + t] = eps * dirs.Directions[p * d + t];
            }
            site.Split(parents, deltas);
            remaining -= n;
            rounds++;
        }
        _sites.Add(new SsdSiteResult(site.Name, count, negative, rounds, smallest, largest));
        return new SiteExtension(site.Name, old, count);
    }

    /// <summary>
    /// The <paramref name="count"/> neurons to split: the smallest <paramref name="values"/> (λ_min or Rayleigh quotient),
    /// ties broken by the lower index; count ≤ values.Length.
    /// </summary>
    public static int[] Select(IReadOnlyList<double> values, int count)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (count < 0 || count > values.Count) throw new ArgumentOutOfRangeException(nameof(count), $"{count} splits of {values.Count} neurons");
        var idx = Enumerable.Range(0, values.Count).ToArray();
        // NaN (a degenerate matrix) sorts last
        Array.Sort(idx, (a, b) =>
        {
            int c = Key(values[a]).CompareTo(Key(values[b]));
            return c != 0 ? c : a.CompareTo(b);
        });
        return idx[..count];

        static double Key(double v) => double.IsNaN(v) ? double.PositiveInfinity : v;
    }

    private List<(int Site, SplittingDirections Directions)> Measure(GrowthContext ctx, int[] sites, Rng rng)
    {
        var result = Measure(ctx, sites, Config, rng, out int passes);
        Passes += passes;
        return result;
    }

    /// <summary>Measures the splitting directions of <paramref name="sites"/> with the measurement settings of <paramref name="c"/>.</summary>
    internal static List<(int Site, SplittingDirections Directions)> Measure(GrowthContext ctx, int[] sites, SsdConfig c, Rng rng, out int passes)
    {
        var result = new List<(int, SplittingDirections)>();
        passes = 0;
        if (c.Variant == SsdVariant.Fast)
        {
            var (dirs, p) = SplittingMatrices.Fast(ctx.Model, sites, ctx.Train, c.Batches, c.BatchSize, c.Epochs, c.LearningRate, rng, ctx.Stop);
            passes += p;
            for (int j = 0; j < sites.Length; j++) result.Add((sites[j], dirs[j]));
            return result;
        }
        var data = SplittingData.Draw(ctx.Train, c.Batches, c.BatchSize, rng.Fork("batches"));
        foreach (int k in sites)
        {
            var (dirs, p) = SplittingMatrices.Exact(ctx.Model, k, data, c.Solver, rng.Fork("solver", k), ctx.Stop);
            passes += p;
            result.Add((k, dirs));
        }
        return result;
    }
}
