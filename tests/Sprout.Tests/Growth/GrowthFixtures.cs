using Sprout.Training;
using Sprout.Data;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;

namespace Sprout.Tests.Growth;

internal static class GrowthFixtures
{
    public static GrowableModel Mlp(ulong seed, params int[] widths) =>
        new((Sequential)SequentialConfig.Mlp(widths, ActivationConfig.Relu).Build(new Rng(seed)));

    public static InMemoryDataset Spirals(int n, ulong seed)
    {
        var (x, y) = Synthetic.TwoSpirals(n, new Rng(seed));
        return new InMemoryDataset(x, y, 2);
    }

    /// <summary>Random features in [−1, 1] with labels from a fixed random linear rule.</summary>
    public static InMemoryDataset Random(int n, int features, int classes, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new float[n * features];
        rng.FillUniform(x, -1, 1);
        var w = new float[classes * features];
        rng.FillNormal(w, 0, 1);
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            double bv = double.NegativeInfinity;
            for (int c = 0; c < classes; c++)
            {
                double s = 0;
                for (int k = 0; k < features; k++) s += w[c * features + k] * x[i * features + k];
                if (s > bv) { bv = s; best = c; }
            }
            y[i] = best;
        }
        return new InMemoryDataset(x, y, features);
    }

    public static float[][] Weights(GrowableModel m) => m.CopyWeights();

    public static void AssertBitIdentical(float[][] a, float[][] b)
    {
        Xunit.Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++)
        {
            Xunit.Assert.Equal(a[i].Length, b[i].Length);
            for (int k = 0; k < a[i].Length; k++)
                Xunit.Assert.True(BitConverter.SingleToInt32Bits(a[i][k]) == BitConverter.SingleToInt32Bits(b[i][k]),
                    $"tensor {i} entry {k}: {a[i][k]:R} vs {b[i][k]:R}");
        }
    }

    /// <summary>max |a − b| relative to max |a| (the reference outputs must not all be zero).</summary>
    public static double RelativeMaxDiff(float[] a, float[] b)
    {
        Xunit.Assert.Equal(a.Length, b.Length);
        double d = 0, m = 0;
        for (int i = 0; i < a.Length; i++)
        {
            d = Math.Max(d, Math.Abs(a[i] - b[i]));
            m = Math.Max(m, Math.Abs(a[i]));
        }
        Xunit.Assert.True(m > 0, "the reference outputs are all zero");
        return d / m;
    }

    /// <summary>A neuron's incoming weights, copied.</summary>
    public static float[] Incoming(Sprout.Growth.GrowthSite site, int neuron)
    {
        var w = new float[site.FanIn];
        site.GetIncoming(neuron, w);
        return w;
    }

    /// <summary>A neuron's outgoing weights (consumer order), copied.</summary>
    public static float[] Outgoing(Sprout.Growth.GrowthSite site, int neuron)
    {
        var o = new float[site.FanOut];
        site.GetOutgoing(neuron, o);
        return o;
    }

    /// <summary>
    /// <see cref="ConvGrowthTests.Backbone"/> with random BatchNorm γ ∈ [0.5, 1.5], β ∈ [−0.5, 0.5] and running statistics
    /// from one train-mode pass over a batch <c>X</c> [8, 3, 8, 8] (so copying a neuron's BatchNorm state matters); the
    /// model is left in eval mode.
    /// </summary>
    public static (GrowableModel Model, Sprout.Tensors.Tensor X) BackboneWithNormState(ulong seed, ulong rngSeed)
    {
        var m = ConvGrowthTests.Backbone(seed);
        var rng = new Sprout.Tensors.Rng(rngSeed);
        foreach (var bn in m.Module.Layers.OfType<Sprout.Nn.BatchNorm>())
        {
            rng.FillUniform(bn.Gamma!.Span, 0.5, 1.5);
            rng.FillUniform(bn.Beta!.Span, -0.5, 0.5);
        }
        var x = Sprout.Tensors.Tensor.Uniform(rng, -1, 1, 8, 3, 8, 8);
        m.Module.Train();
        using (Sprout.Tensors.TensorScope.Begin()) m.Forward(x);
        m.Module.Eval();
        return (m, x);
    }

    /// <summary>
    /// A small depthwise-separable net (<see cref="GradMaxConvTests.DepthwiseNet"/>) with teacher data, and growth counts
    /// of 2 at its first site whose width a depthwise conv is tied to (0 elsewhere).
    /// </summary>
    public static (GrowableModel Model, InMemoryDataset Data, int[] Counts) DepthwiseSite()
    {
        var cfg = GradMaxConvTests.DepthwiseNet();
        var data = GradMaxConvTests.TeacherData(cfg, 8, [3, 8, 8], 4);
        var m = new GrowableModel((Sprout.Nn.Sequential)cfg.Build(new Sprout.Tensors.Rng(5)));
        var counts = new int[m.Sites.Count];
        counts[Enumerable.Range(0, m.Sites.Count).First(k => m.Sites[k].Tied.Count > 0)] = 2;
        return (m, data, counts);
    }
}
