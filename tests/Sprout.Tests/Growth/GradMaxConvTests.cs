using MathNet.Numerics.LinearAlgebra;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

/// <summary>GradMax on conv sites: conv → conv (stride, max-pool between), conv → Flatten → Linear, and through a depthwise conv.</summary>
[Collection("Workers")]
public class GradMaxConvTests
{
    // conv1 → BN → ReLU → conv2 (stride 2) → BN → ReLU → max-pool → conv3 → BN → ReLU → avg-pool → Flatten → Linear
    internal static SequentialConfig SmallConvNet() => new([
        new Conv2dConfig(2, 3, 3, 1, 1, Bias: false), new BatchNormConfig(3), ActivationConfig.Relu,
        new Conv2dConfig(3, 4, 3, 2, 1, Bias: false), new BatchNormConfig(4), ActivationConfig.Relu,
        new PoolConfig(PoolKind.Max, 2),
        new Conv2dConfig(4, 3, 3, 1, 1), new BatchNormConfig(3), ActivationConfig.Relu,
        new PoolConfig(PoolKind.Average, 2),
        new FlattenConfig(), new LinearConfig(3, 3)]);

    /// <summary>A small depthwise-separable (MobileNet-style) net for 3×8×8 inputs: 3 sites, 2 through a depthwise conv.</summary>
    internal static SequentialConfig DepthwiseNet() => new([
        new Conv2dConfig(3, 6, 3, 1, 1, Bias: false), new BatchNormConfig(6), new ActivationConfig(ActivationKind.Swish),
        new Conv2dConfig(6, 6, 3, 2, 1, Groups: 6, Bias: false), new BatchNormConfig(6), new ActivationConfig(ActivationKind.Swish),
        new Conv2dConfig(6, 8, 1, 1, 0, Bias: false), new BatchNormConfig(8), ActivationConfig.Relu,
        new Conv2dConfig(8, 8, 3, 1, 1, Groups: 8), new BatchNormConfig(8), ActivationConfig.Relu,
        new Conv2dConfig(8, 5, 1, 1, 0, Bias: false), new BatchNormConfig(5), ActivationConfig.Relu,
        new PoolConfig(PoolKind.Max, 2), new FlattenConfig(), new LinearConfig(5 * 2 * 2, 3)]);

    /// <summary>Random images labelled by a teacher network of the same shape (argmax of its logits).</summary>
    internal static InMemoryDataset TeacherData(SequentialConfig cfg, int n, int[] shape, ulong seed)
    {
        var rng = new Rng(seed);
        int f = shape.Aggregate(1, (a, b) => a * b);
        var x = new float[n * f];
        rng.FillUniform(x, -1, 1);
        var teacher = new GrowableModel((Sequential)cfg.Build(rng.Fork("teacher")));
        var logits = teacher.Logits(new Tensor((float[])x.Clone(), [n, .. shape]));
        int classes = logits.Length / n;
        var y = new int[n];
        for (int i = 0; i < n; i++)
            for (int c = 1; c < classes; c++)
                if (logits[i * classes + c] > logits[i * classes + y[i]]) y[i] = c;
        return new InMemoryDataset(x, y, f, shape);
    }

    /// <summary>Gives the BatchNorms non-trivial running statistics and affine parameters.</summary>
    internal static void Warm(GrowableModel m, InMemoryDataset data, ulong seed)
    {
        var rng = new Rng(seed);
        m.Module.Train();
        for (int k = 0; k < 3; k++)
            using (TensorScope.Begin()) m.Forward(data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count).X);
        foreach (var bn in m.Module.Layers.OfType<BatchNorm>())
        {
            rng.FillUniform(bn.Gamma!.Span, 0.5f, 1.5f);
            rng.FillUniform(bn.Beta!.Span, -0.2f, 0.2f);
        }
        m.Module.Eval();
    }

    /// <summary>
    /// G by brute force through the real network: for each unit outgoing vector e_r of channel <paramref name="c"/>
    /// (zero incoming), one backward pass of the mean loss over all of <paramref name="data"/> in eval mode; row r is the
    /// gradient of the channel's incoming weights. [FanOut, FanIn].
    /// </summary>
    internal static double[,] BruteForce(GrowableModel m, int s, int c, InMemoryDataset data)
    {
        var site = m.Sites[s];
        var g = new double[site.FanOut, site.FanIn];
        var saved = new float[site.FanOut];
        site.GetOutgoing(c, saved);
        var o = new float[site.FanOut];
        var trainer = new Trainer(m.Module);
        m.Module.Eval();
        for (int r = 0; r < site.FanOut; r++)
        {
            Array.Clear(o);
            o[r] = 1;
            site.SetOutgoing(c, o);
            trainer.Backward(data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count));
            var gw = site.InWeight.Grad!.Span.Slice(c * site.FanIn, site.FanIn);
            for (int f = 0; f < site.FanIn; f++) g[r, f] = gw[f];
        }
        site.SetOutgoing(c, saved);
        m.Module.ZeroGrad();
        return g;
    }

    internal static void AssertClose(double[,] expected, double[] actual, double rel)
    {
        int rows = expected.GetLength(0), cols = expected.GetLength(1);
        double max = 0;
        foreach (double v in expected) max = Math.Max(max, Math.Abs(v));
        Assert.True(max > 1e-6, "the brute-force gradient is zero: the test would prove nothing");
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                Assert.True(Math.Abs(expected[i, j] - actual[i * cols + j]) <= rel * max,
                    $"G[{i},{j}]: brute force {expected[i, j]:G6}, gradmax {actual[i * cols + j]:G6} (max {max:G4})");
    }

    internal static double[] Outgoing(GrowthSite site, int neuron)
    {
        var o = new float[site.FanOut];
        site.GetOutgoing(neuron, o);
        return o.Select(v => (double)v).ToArray();
    }

    [Theory]
    [InlineData(0)]   // conv → BN → ReLU → conv with stride 2
    [InlineData(1)]   // conv → BN → ReLU → max-pool → conv
    [InlineData(2)]   // conv → BN → ReLU → avg-pool → Flatten → Linear
    public void ConvGradientEqualsTheBruteForceIncomingGradientPerUnitOutgoingVector(int s)
    {
        var cfg = SmallConvNet();
        var data = TeacherData(cfg, 24, [2, 8, 8], 11);
        var m = new GrowableModel((Sequential)cfg.Build(new Rng(12)));
        Warm(m, data, 13);
        m.UseReluOne(s);
        int c = m.Sites[s].Grow(2);
        var g = GradMaxExtender.ConvAuxiliaryGradient(m, s, c, data, 1, data.Count, new Rng(14));
        AssertClose(BruteForce(m, s, c, data), g, 1e-4);
        // the second new channel sees the same map
        AssertClose(BruteForce(m, s, c + 1, data), GradMaxExtender.ConvAuxiliaryGradient(m, s, c + 1, data, 1, data.Count, new Rng(14)), 1e-4);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void OutgoingWeightsAreTheTopSingularVectorsOfThePlainSvdOfTheBruteForceGradient(int s)
    {
        var cfg = SmallConvNet();
        var data = TeacherData(cfg, 24, [2, 8, 8], 21);
        var m = new GrowableModel((Sequential)cfg.Build(new Rng(22)));
        Warm(m, data, 23);
        int old = m.Sites[s].Width;
        var counts = new int[m.Sites.Count];
        counts[s] = 2;
        var ext = (GradMaxExtender)new GradMaxConfig(Scale: 0.5, Batches: 1, BatchSize: 1000).Build();
        ext.Extend(new GrowthContext(m, data, new Rng(24)), counts);
        Assert.Equal(1, ext.Passes);
        var site = m.Sites[s];
        // the brute force sees the grown network: the other new channel has zero incoming weights, so it does not matter
        var bf = BruteForce(m, s, old, data);
        var svd = Matrix<double>.Build.DenseOfArray(bf).Svd(computeVectors: true);
        Assert.True(svd.S[0] > svd.S[1] * 1.01 && svd.S[1] > svd.S[2] * 1.01, "distinct singular values");
        for (int k = 0; k < 2; k++)
        {
            var o = Outgoing(site, old + k);
            double dot = 0, n2 = 0;
            for (int i = 0; i < o.Length; i++) { dot += o[i] * svd.U[i, k]; n2 += o[i] * o[i]; }
            Assert.Equal(0.5, Math.Sqrt(n2), 5);
            Assert.True(Math.Abs(Math.Abs(dot) - 0.5) < 1e-4, $"channel {k}: |⟨o, u_{k}⟩| = {Math.Abs(dot)}, expected 0.5");
            var w = new float[site.FanIn];
            site.GetIncoming(old + k, w);
            Assert.All(w, v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void NewChannelsGetALargerIncomingGradientThanRandomUnitOutgoingWeights()
    {
        var cfg = SmallConvNet();
        var data = TeacherData(cfg, 32, [2, 8, 8], 31);
        var m = new GrowableModel((Sequential)cfg.Build(new Rng(32)));
        Warm(m, data, 33);
        const int s = 1, count = 2;
        int old = m.Sites[s].Width;
        new GradMaxConfig(Scale: 1, Batches: 1, BatchSize: 1000).Build().Extend(new GrowthContext(m, data, new Rng(34)), [0, count, 0]);
        var site = m.Sites[s];
        double GradNorm()
        {
            m.Module.Eval();
            new Trainer(m.Module).Backward(data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count));
            var gw = site.InWeight.Grad!.Span.Slice(old * site.FanIn, count * site.FanIn);
            double n2 = 0;
            foreach (float v in gw) n2 += (double)v * v;
            m.Module.ZeroGrad();
            return Math.Sqrt(n2);
        }
        double gradmax = GradNorm();
        Assert.True(gradmax > 1e-6);
        var rng = new Rng(35);
        var o = new float[site.FanOut];
        for (int trial = 0; trial < 20; trial++)
        {
            for (int k = 0; k < count; k++)
            {
                rng.FillNormal(o, 0, 1);
                float n = MathF.Sqrt(o.Sum(v => v * v));
                for (int i = 0; i < o.Length; i++) o[i] /= n;
                site.SetOutgoing(old + k, o);
            }
            double random = GradNorm();
            Assert.True(gradmax > random, $"trial {trial}: gradmax {gradmax} ≤ random {random}");
        }
    }

    [Fact]
    public void TheNetworkFunctionIsUnchangedAtInsertion()
    {
        var cfg = SmallConvNet();
        var data = TeacherData(cfg, 32, [2, 8, 8], 41);
        var m = new GrowableModel((Sequential)cfg.Build(new Rng(42)));
        Warm(m, data, 43);
        var b = data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count).X;
        var x = new Tensor(b.ToArray(), b.ShapeArray());    // a copy: the batch buffer is reused by the next gather
        var before = m.Logits(x);
        var ext = (GradMaxExtender)Extender.Create("gradmax");
        ext.Extend(new GrowthContext(m, data, new Rng(44)), [2, 3, 1]);
        Assert.Equal([5, 7, 4], m.Widths());
        Assert.All(m.Module.Layers.OfType<Activation>(), a => Assert.Equal(ActivationKind.ReluOne, a.Config.Kind));
        var after = m.Logits(x);
        for (int i = 0; i < before.Length; i++) Assert.True(Math.Abs(before[i] - after[i]) <= 1e-6 * (1 + Math.Abs(before[i])), $"{before[i]} vs {after[i]}");
        Assert.Equal(3, ext.Passes);  // one batch per grown site (the data fits in one batch of 128)
    }

    [Fact]
    public void SameSeedGivesBitIdenticalGrowth()
    {
        float[][] Run()
        {
            var cfg = SmallConvNet();
            var data = TeacherData(cfg, 40, [2, 8, 8], 51);
            var m = new GrowableModel((Sequential)cfg.Build(new Rng(52)));
            new GradMaxConfig(Batches: 2, BatchSize: 16, Epsilon: 1e-3).Build().Extend(new GrowthContext(m, data, new Rng(53)), [1, 2, 1]);
            return m.CopyWeights();
        }
        GrowthFixtures.AssertBitIdentical(Run(), Run());
    }

    [Fact]
    public void GradMaxThroughADepthwiseConvMatchesTheBruteForceGradient()
    {
        // conv → BN → swish → depthwise (stride 2) → BN → swish → pointwise; pointwise → BN → ReLU → depthwise → BN → ReLU
        // → pointwise (ReLU → ReluOne); pointwise → BN → ReLU → max-pool → Flatten → Linear
        var cfg = DepthwiseNet();
        var data = TeacherData(cfg, 16, [3, 8, 8], 61);
        var m = new GrowableModel((Sequential)cfg.Build(new Rng(62)));
        Warm(m, data, 63);
        for (int s = 0; s < 3; s++) m.UseReluOne(s);   // with a plain ReLU the zero channel gets no gradient at all
        Assert.Equal(5, m.Sites[0].Tied.Count);         // depthwise filter + the BatchNorm's γ, β, mean, variance
        Assert.Equal(6, m.Sites[1].Tied.Count);         // and the depthwise bias
        Assert.Empty(m.Sites[2].Tied);
        for (int s = 0; s < 3; s++)
        {
            int c = m.Sites[s].Grow(1);
            var g = GradMaxExtender.ConvAuxiliaryGradient(m, s, c, data, 1, data.Count, new Rng(64));
            var bf = BruteForce(m, s, c, data);
            AssertClose(bf, g, 1e-4);
        }
    }

    [Fact]
    public void InTrainModeTheZeroChannelLeavesBatchNormAtBetaAndGetsAnAmplifiedCentredGradient()
    {
        // what happens to a zero-incoming channel behind a BatchNorm in train mode: batch mean 0 and variance 0, so its
        // normalised output is 0 and the BatchNorm gives β = 0 (the function is unchanged in train mode too); its
        // gradient is γ/√ε·(g − mean g) instead of γ/√(1+ε)·g in eval mode, so the first training steps see it amplified.
        var cfg = SmallConvNet();
        var data = TeacherData(cfg, 32, [2, 8, 8], 71);
        var m = new GrowableModel((Sequential)cfg.Build(new Rng(72)));
        Warm(m, data, 73);
        var b = data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count);
        var x = new Tensor(b.X.ToArray(), b.X.ShapeArray());
        float[] TrainOutputs()
        {
            m.Module.Train();
            using (TensorScope.Begin())
            using (Sprout.Autograd.Graph.NoGrad())
                return m.Forward(x).ToArray();
        }
        var before = TrainOutputs();
        new GradMaxConfig(Batches: 1, BatchSize: 1000).Build().Extend(new GrowthContext(m, data, new Rng(74)), [0, 1, 0]);
        var after = TrainOutputs();
        for (int i = 0; i < before.Length; i++) Assert.True(Math.Abs(before[i] - after[i]) <= 1e-5 * (1 + Math.Abs(before[i])));
        // the new channel's running variance moved from 1 toward its batch variance 0 (momentum 0.1; the extender itself
        // ran in eval mode, so only the one train-mode pass above moved it)
        var bn1 = m.Module.Layers.OfType<BatchNorm>().ElementAt(1);
        Assert.Equal(0.9f, bn1.RunningVar.Span[4], 5);
        bn1.RunningVar.Span[4] = 1f;
        double Norm(bool train)
        {
            m.Module.Train(train);
            var trainer = new Trainer(m.Module);
            trainer.Backward(data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count));
            var site = m.Sites[1];
            var gw = site.InWeight.Grad!.Span.Slice(4 * site.FanIn, site.FanIn);
            double n2 = 0;
            foreach (float v in gw) n2 += (double)v * v;
            m.Module.ZeroGrad();
            return Math.Sqrt(n2);
        }
        double eval = Norm(false), train = Norm(true);
        Assert.True(eval > 0 && train > 20 * eval, $"train-mode gradient {train} vs eval-mode {eval}");
    }
}
