using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// Net2WiderNet (Chen et al. 2016): every new neuron j copies an existing neuron g(j) — incoming weights, bias and,
/// when a BatchNorm follows the producer, γ, β and the running statistics, and a depthwise conv's filter (with its
/// BatchNorm) between producer and consumer (<see cref="GrowthSite.Tied"/>) — and every old neuron i's outgoing weights
/// (on the original and on each of its copies) are divided by its copy count r_i = 1 + (copies of i). Without noise
/// the network computes the same function (to float rounding); optional noise on the copies' incoming weights breaks
/// the symmetry. No forward or backward pass.
/// </summary>
public sealed class Net2NetExtender : Extender
{
    /// <summary>Creates the extender (see <see cref="Net2NetConfig"/> for the settings); <paramref name="name"/> names it in reports and its random streams.</summary>
    public Net2NetExtender(double noise = 0, bool randomMapping = true, string name = "net2net")
    {
        if (!(noise >= 0 && double.IsFinite(noise))) throw new ArgumentOutOfRangeException(nameof(noise), "noise must be a finite number ≥ 0");
        Noise = noise;
        RandomMapping = randomMapping;
        Name = name;
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>Noise std on the copies' incoming weights, as a fraction of the std of the layer's existing incoming weights.</summary>
    public double Noise { get; }

    /// <summary>Whether the copied neurons are drawn uniformly at random with replacement (else cyclically).</summary>
    public bool RandomMapping { get; }

    /// <inheritdoc/>
    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng)
    {
        var site = ctx.Model.Sites[siteIndex];
        int old = site.Width;
        Widen(site, Mapping(old, count, RandomMapping, rng), Noise, rng);
        return new SiteExtension(site.Name, old, count);
    }

    /// <summary>
    /// The mapping g for <paramref name="count"/> new neurons over <paramref name="width"/> existing ones: uniform
    /// draws with replacement from <paramref name="rng"/>, or 0, 1, …, width − 1, 0, 1, … when not random.
    /// </summary>
    public static int[] Mapping(int width, int count, bool random, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (width <= 0) throw new ArgumentException("net2net cannot widen a layer without neurons: there is nothing to copy");
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var g = new int[count];
        for (int k = 0; k < count; k++) g[k] = random ? rng.NextInt(width) : k % width;
        return g;
    }

    /// <summary>
    /// Appends one neuron per entry of <paramref name="sources"/>, new neuron k a copy of neuron sources[k] (incoming
    /// weights, bias, BatchNorm γ, β, running mean and variance), then divides the outgoing weights of every copied
    /// neuron and of all its copies by its copy count. With <paramref name="noise"/> &gt; 0 each copy's incoming
    /// weights get N(0, (noise·std)²) added, std being that of the old incoming weights (drawn from <paramref name="rng"/>).
    /// Returns the index of the first new neuron.
    /// </summary>
    public static int Widen(GrowthSite site, IReadOnlyList<int> sources, double noise, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(site);
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(rng);
        int old = site.Width;
        foreach (int s in sources)
            if ((uint)s >= (uint)old) throw new ArgumentOutOfRangeException(nameof(sources), $"site {site.Name}: source neuron {s} outside 0…{old - 1}");
        double std = noise > 0 ? Std(site.InWeight.Span) : 0;
        int first = site.Grow(sources.Count);
        if (sources.Count == 0) return first;

        // the copies: incoming weights (+ noise), bias, BatchNorm parameters and running statistics
        var w = new float[site.FanIn];
        var eps = new float[site.FanIn];
        var norm = site.Norm;
        for (int k = 0; k < sources.Count; k++)
        {
            int src = sources[k], j = first + k;
            site.GetIncoming(src, w);
            if (noise > 0 && std > 0)
            {
                rng.FillNormal(eps, 0, noise * std);
                for (int t = 0; t < w.Length; t++) w[t] += eps[t];
            }
            site.SetIncoming(j, w);
            site.SetBias(j, site.GetBias(src));
            if (norm is not null)
            {
                GrowthSite.CopyEntry(norm.Gamma, src, j);
                GrowthSite.CopyEntry(norm.Beta, src, j);
                GrowthSite.CopyEntry(norm.RunningMean, src, j);
                GrowthSite.CopyEntry(norm.RunningVar, src, j);
            }
            site.CopyTied(src, j);
        }

        // outgoing weights: neuron i and each of its copies carry 1/r_i of i's old outgoing weights
        var copies = new int[old];
        foreach (int s in sources) copies[s]++;
        var o = new float[site.FanOut];
        for (int i = 0; i < old; i++)
        {
            if (copies[i] == 0) continue;
            site.GetOutgoing(i, o);
            float r = 1 + copies[i];
            for (int t = 0; t < o.Length; t++) o[t] /= r;
            site.SetOutgoing(i, o);
        }
        for (int k = 0; k < sources.Count; k++)
        {
            site.GetOutgoing(sources[k], o);
            site.SetOutgoing(first + k, o);
        }
        return first;
    }

    private static double Std(ReadOnlySpan<float> w)
    {
        if (w.Length == 0) return 0;
        double mean = 0;
        foreach (float v in w) mean += v;
        mean /= w.Length;
        double ss = 0;
        foreach (float v in w) ss += (v - mean) * (v - mean);
        return Math.Sqrt(ss / w.Length);
    }
}
