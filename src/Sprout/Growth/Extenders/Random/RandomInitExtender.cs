using Sprout.Nn;
using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// An extender whose new neurons start at random: incoming and bias U(±1/√fan_in) (PyTorch's default), outgoing
/// U(±1/√new consumer fan-in); or, with a <see cref="NormalStd"/>, incoming and bias N(0, σ²) (and the outgoing weights
/// too with <see cref="NormalOutgoing"/>). <see cref="RandomExtender"/> stops there; <see cref="FrobeniusExtender"/>
/// then rescales the layer.
/// </summary>
public abstract class RandomInitExtender : Extender
{
    /// <summary>Creates the extender; <paramref name="name"/> names it in reports and its random streams.</summary>
    protected RandomInitExtender(string name, double? normalStd, bool normalOutgoing)
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

    /// <summary>Appends <paramref name="count"/> neurons to <paramref name="site"/> with this extender's random init.</summary>
    protected void Insert(GrowthSite site, int count, Rng rng) => RandomInsert(site, count, rng, NormalStd, NormalOutgoing);

    private static void RandomInsert(GrowthSite site, int count, Rng rng, double? normalStd = null, bool normalOutgoing = false)
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
