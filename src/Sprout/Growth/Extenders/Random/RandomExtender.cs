using Sprout.Nn;
using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// Standard init in and out: incoming and bias U(±1/√fan_in), outgoing U(±1/√new consumer fan-in); or, with a
/// <see cref="NormalStd"/>, incoming and bias N(0, σ²).
/// </summary>
public sealed class RandomExtender : Extender
{
    /// <summary>
    /// Creates the extender; <paramref name="name"/> names it in reports and its random streams;
    /// <paramref name="normalStd"/> (null: PyTorch's default) draws incoming weights and bias from N(0, σ²).
    /// </summary>
    public RandomExtender(string name = "random", double? normalStd = null, bool normalOutgoing = false)
    {
        Name = name;
        NormalStd = normalStd;
        NormalOutgoing = normalOutgoing;
    }

    /// <summary>With <see cref="NormalStd"/>: the outgoing weights are N(0, σ²) too.</summary>
    public bool NormalOutgoing { get; }

    /// <summary>σ of the new neurons' N(0, σ²) incoming weights and bias; null = PyTorch's default U(±1/√fan_in).</summary>
    public double? NormalStd { get; }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <inheritdoc/>
    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng)
    {
        var site = ctx.Model.Sites[siteIndex];
        int old = site.Width;
        RandomInsert(site, count, rng, NormalStd, NormalOutgoing);
        return new SiteExtension(site.Name, old, count);
    }

    internal static void RandomInsert(GrowthSite site, int count, Rng rng, double? normalStd = null, bool normalOutgoing = false)
    {
        int first = site.Grow(count);
        if (normalStd is { } std)
        {
            var w = new float[site.FanIn];
            for (int j = first; j < first + count; j++)
            {
                rng.FillNormal(w, 0, std);
                site.SetIncoming(j, w);
                site.SetBias(j, (float)rng.Normal(0, std));
            }
        }
        else InitIncoming(site, first, count, InitScheme.PyTorchDefault, defaultBias: true, rng);
        int consumerFanIn = site.OutWeight.Length / site.OutWeight.Dim(0);
        double bound = 1.0 / Math.Sqrt(consumerFanIn);
        var o = new float[site.FanOut];
        for (int j = first; j < first + count; j++)
        {
            if (normalOutgoing && normalStd is { } so) rng.FillNormal(o, 0, so);
            else rng.FillUniform(o, -bound, bound);
            site.SetOutgoing(j, o);
        }
    }
}
