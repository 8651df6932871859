using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class SsdTests
{
    private static GrowableModel Mlp(ulong seed, ActivationKind kind, params int[] widths) =>
        new((Sequential)SequentialConfig.Mlp(widths, new ActivationConfig(kind)).Build(new Rng(seed)));

    // all samples in one batch, in their order
    private static SplittingData All(InMemoryDataset data) => new(data, InMemoryDataset.Identity(data.Count), data.Count, 1);

    // A conv net with BatchNorm and a smooth activation: conv(2→3, 3×3) BN tanh, conv(3→4, 3×3) BN swish, flatten, Linear.
    private static GrowableModel SmoothConv(ulong seed)
    {
        var cfg = new SequentialConfig([
            new Conv2dConfig(2, 3, 3, 1, 1, Bias: false), new BatchNormConfig(3), new ActivationConfig(ActivationKind.Tanh),
            new Conv2dConfig(3, 4, 3, 1, 1, Bias: false), new BatchNormConfig(4), new ActivationConfig(ActivationKind.Swish),
            new FlattenConfig(), new LinearConfig(4 * 4 * 4, 3)]);
        var m = new GrowableModel((Sequential)cfg.Build(new Rng(seed)));
        RandomiseNorms(m, new Rng(seed + 100));
        return m;
    }

    private static void RandomiseNorms(GrowableModel m, Rng rng)
    {
        foreach (var bn in m.Module.Layers.OfType<BatchNorm>())
        {
            rng.FillUniform(bn.Gamma!.Span, 0.5, 1.5);
            rng.FillUniform(bn.Beta!.Span, -0.5, 0.5);
            rng.FillUniform(bn.RunningMean.Span, -0.2, 0.2);
            rng.FillUniform(bn.RunningVar.Span, 0.5, 2);
        }
    }

    private static InMemoryDataset Images(int n, int c, int size, int classes, ulong seed)
    {
        var rng = new Rng(seed);
        var xs = new float[n * c * size * size];
        rng.FillUniform(xs, -1, 1);
        return new InMemoryDataset(xs, Enumerable.Range(0, n).Select(i => i % classes).ToArray(), c * size * size, [c, size, size]);
    }

    private static double MeanCrossEntropy(float[] logits, int[] labels, int classes)
    {
        double sum = 0;
        for (int r = 0; r < labels.Length; r++)
        {
            double max = double.NegativeInfinity;
            for (int k = 0; k < classes; k++) max = Math.Max(max, logits[r * classes + k]);
            double z = 0;
            for (int k = 0; k < classes; k++) z += Math.Exp(logits[r * classes + k] - max);
            sum += Math.Log(z) + max - logits[r * classes + labels[r]];
        }
        return sum / labels.Length;
    }

    private static double QuadraticForm(double[] s, double[] v)
    {
        int d = v.Length;
        double q = 0;
        for (int a = 0; a < d; a++)
            for (int b = 0; b < d; b++) q += v[a] * s[a * d + b] * v[b];
        return q;
    }

    // ------------------------------------------------------------------ function preservation

    [Fact]
    public void AZeroOffsetSplitKeepsAnMlpsOutputs()
    {
        var m = GrowthFixtures.Mlp(3, 6, 8, 8, 3);
        var data = GrowthFixtures.Random(200, 6, 3, 4);
        var x = Tensor.Uniform(new Rng(5), -1, 1, 40, 6);
        var before = m.Logits(x);
        var ext = (SsdExtender)new SsdConfig(Epsilon: 0, Batches: 2, BatchSize: 50).Build();
        ext.Extend(new GrowthContext(m, data, new Rng(6)), [3, 2]);
        Assert.Equal([11, 10], m.Widths());
        Assert.True(GrowthFixtures.RelativeMaxDiff(before, m.Logits(x)) < 1e-5);
    }

    [Theory]
    [InlineData(SsdVariant.Exact)]
    [InlineData(SsdVariant.Fast)]
    public void AZeroOffsetSplitKeepsAConvNetWithBatchNormsOutputs(SsdVariant variant)
    {
        var m = ConvGrowthTests.Backbone(5);
        RandomiseNorms(m, new Rng(6));
        var data = Images(48, 3, 8, 3, 7);
        var x = Tensor.Uniform(new Rng(8), -1, 1, 8, 3, 8, 8);
        var before = m.Logits(x);
        var ext = (SsdExtender)new SsdConfig(variant, Epsilon: 0, Batches: 2, BatchSize: 24, Epochs: 2).Build();
        ext.Extend(new GrowthContext(m, data, new Rng(9)), [2, 1, 3, 2]);
        Assert.Equal([6, 5, 9, 7], m.Widths());
        Assert.True(GrowthFixtures.RelativeMaxDiff(before, m.Logits(x)) < 1e-5);
        // the copies carry their parent's BatchNorm state
        var norm = m.Sites[2].Norm!;
        for (int j = 6; j < 9; j++)
            Assert.Contains(Enumerable.Range(0, 6), p => norm.Gamma![p] == norm.Gamma[j] && norm.RunningVar![p] == norm.RunningVar[j]
                                                         && GrowthFixtures.Incoming(m.Sites[2], p).SequenceEqual(GrowthFixtures.Incoming(m.Sites[2], j)));
    }

    [Fact]
    public void ANonZeroOffsetMovesParentAndCopyAlongTheMinimalEigenvector()
    {
        var m = Mlp(11, ActivationKind.Tanh, 4, 6, 3);
        var data = GrowthFixtures.Random(64, 4, 3, 12);
        var (dirs, _) = SplittingMatrices.Exact(m, 0, All(data), SsdEigenSolver.Full, new Rng(1));
        var parents = SsdExtender.Select(dirs.Values, 2);
        var w = parents.Select(p => GrowthFixtures.Incoming(m.Sites[0], p)).ToArray();
        new SsdConfig(Epsilon: 0.01, Batches: 1, BatchSize: 64).Build().Extend(new GrowthContext(m, data, new Rng(2)), [2]);
        for (int k = 0; k < 2; k++)
        {
            int p = parents[k];
            var parent = GrowthFixtures.Incoming(m.Sites[0], p);
            var copy = GrowthFixtures.Incoming(m.Sites[0], 6 + k);
            for (int t = 0; t < 4; t++)
            {
                Assert.Equal(w[k][t] + 0.01 * dirs.Directions[p * 4 + t], parent[t], 5);
                Assert.Equal(w[k][t] - 0.01 * dirs.Directions[p * 4 + t], copy[t], 5);
            }
        }
    }

    // ------------------------------------------------------------------ the splitting matrix

    // Loss in double of an MLP (tanh hidden layers, mean cross-entropy) whose neuron `neuron` of hidden layer `layer` is
    // split into two copies with incoming weights θ ± t·v and half the outgoing weights each.
    private static double SplitLoss(GrowableModel m, InMemoryDataset data, int layer, int neuron, double[] v, double t)
    {
        var linears = m.Module.Layers.OfType<Linear>().ToArray();
        var batch = data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count);
        var x = batch.X.ToArray();
        int n = data.Count, classes = linears[^1].Weight.Dim(0);
        double loss = 0;
        for (int r = 0; r < n; r++)
        {
            double[] h = x.AsSpan(r * data.Features, data.Features).ToArray().Select(f => (double)f).ToArray();
            for (int l = 0; l < linears.Length; l++)
            {
                var wt = linears[l].Weight.Span;
                var b = linears[l].Bias!.Span;
                int outs = linears[l].Weight.Dim(0), ins = h.Length;
                var z = new double[outs];
                for (int o = 0; o < outs; o++)
                {
                    double s = b[o];
                    for (int i = 0; i < ins; i++) s += wt[o * ins + i] * h[i];
                    z[o] = s;
                }
                if (l == linears.Length - 1) { h = z; break; }
                var a = z.Select(Math.Tanh).ToArray();
                if (l == layer)
                {
                    double vx = 0;
                    for (int i = 0; i < ins; i++) vx += v[i] * h[i];
                    a[neuron] = 0.5 * Math.Tanh(z[neuron] + t * vx) + 0.5 * Math.Tanh(z[neuron] - t * vx);
                }
                h = a;
            }
            double max = h.Max(), sum = h.Sum(q => Math.Exp(q - max));
            loss += Math.Log(sum) + max - h[batch.Labels[r]];
        }
        return loss / n;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void TheSplittingMatrixIsTheSecondDerivativeOfTheLossAlongASplit(int layer)
    {
        // d²/dt² L(θ_i ± t·v, outgoing halved) at t = 0 = vᵀ S_i v; off-diagonal entries by polarisation
        var m = Mlp(21, ActivationKind.Tanh, 3, 5, 4, 3);
        // larger weights so that tanh is in its curved range
        foreach (var p in m.Parameters()) foreach (ref float w in p.Span) w *= 2.5f;
        var data = GrowthFixtures.Random(40, 3, 3, 22);
        var s = SplittingMatrices.Compute(m, layer, All(data));
        int d = m.Sites[layer].FanIn;
        var rng = new Rng(23);
        const double h = 1e-3;
        for (int neuron = 0; neuron < 3; neuron++)
        {
            double l0 = SplitLoss(m, data, layer, neuron, new double[d], 0);
            var dirs = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, d).Select(_ => rng.Uniform(-1, 1)).ToArray()).ToArray();
            double Fd(double[] v) => (SplitLoss(m, data, layer, neuron, v, h) - 2 * l0 + SplitLoss(m, data, layer, neuron, v, -h)) / (h * h);
            foreach (var v in dirs)
            {
                double exact = QuadraticForm(s[neuron], v), fd = Fd(v);
                Assert.True(Math.Abs(exact - fd) <= 1e-4 * Math.Abs(fd) + 1e-6, $"layer {layer} neuron {neuron}: vᵀSv {exact} vs finite difference {fd}");
            }
            // uᵀSv = (q(u+v) − q(u−v))/4
            var (u, w2) = (dirs[0], dirs[1]);
            double uv = 0;
            for (int a = 0; a < d; a++)
                for (int b = 0; b < d; b++) uv += u[a] * s[neuron][a * d + b] * w2[b];
            double fdUv = (Fd(u.Zip(w2, (p, q) => p + q).ToArray()) - Fd(u.Zip(w2, (p, q) => p - q).ToArray())) / 4;
            Assert.True(Math.Abs(uv - fdUv) <= 1e-4 * Math.Abs(fdUv) + 1e-6, $"uᵀSv {uv} vs {fdUv}");
        }
    }

    [Fact]
    public void TheSplittingMatrixOfAConvChannelWithBatchNormMatchesAFiniteDifferenceOfTheSplitLoss()
    {
        // conv sites (im2col rows, BatchNorm factor c², tanh and swish second derivatives) against the real split in float:
        // Richardson extrapolation of 2(L(t) − L(0))/t² over t and 2t
        var data = Images(24, 2, 4, 3, 31);
        var batch = data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count);
        for (int site = 0; site < 2; site++)
        {
            var s = SplittingMatrices.Compute(SmoothConv(30), site, All(data));
            int d = SmoothConv(30).Sites[site].FanIn;
            var rng = new Rng(32);
            for (int neuron = 0; neuron < 2; neuron++)
            {
                var v = Enumerable.Range(0, d).Select(_ => rng.Uniform(-1, 1)).ToArray();
                double norm = Math.Sqrt(v.Sum(q => q * q));
                for (int i = 0; i < d; i++) v[i] /= norm;
                double Loss(double t)
                {
                    var m = SmoothConv(30);
                    if (t != 0) m.Sites[site].Split([neuron], v.Select(q => (float)(t * q)).ToArray());
                    return MeanCrossEntropy(m.Logits(batch.X), batch.Labels, 3);
                }
                double l0 = Loss(0);
                const double t1 = 0.05;
                double d1 = 2 * (Loss(t1) - l0) / (t1 * t1), d2 = 2 * (Loss(2 * t1) - l0) / (4 * t1 * t1);
                double fd = (4 * d1 - d2) / 3, exact = QuadraticForm(s[neuron], v);
                Assert.True(Math.Abs(exact - fd) <= 0.03 * Math.Abs(exact) + 2e-3, $"site {site} neuron {neuron}: vᵀSv {exact} vs finite difference {fd}");
            }
        }
    }

    [Fact]
    public void ReluUsesTheReferencesSmoothedSecondDerivativeAndSmoothActivationsTheExactOne()
    {
        static double Fd(Func<double, double> f, double z) => (f(z + 1e-4) - 2 * f(z) + f(z - 1e-4)) / 1e-8;
        static double Sig(double z) => 1 / (1 + Math.Exp(-z));
        foreach (double z in new[] { -1.7, -0.3, 0.0, 0.4, 2.2 })
        {
            Assert.Equal(Fd(Math.Tanh, z), SplittingMatrices.SecondDerivative(ActivationKind.Tanh, z), 5);
            Assert.Equal(Fd(Sig, z), SplittingMatrices.SecondDerivative(ActivationKind.Sigmoid, z), 5);
            Assert.Equal(Fd(q => q * Sig(q), z), SplittingMatrices.SecondDerivative(ActivationKind.Swish, z), 5);
            // ReLU ≈ softplus(3z)/3, whose second derivative is 3·s(1−s), s = sigmoid(3z)
            Assert.Equal(Fd(q => Math.Log(1 + Math.Exp(3 * q)) / 3, z), SplittingMatrices.SecondDerivative(ActivationKind.Relu, z), 5);
        }
    }

    [Theory]
    [InlineData(ActivationKind.Relu)]
    [InlineData(ActivationKind.LeakyRelu)]
    [InlineData(ActivationKind.Elu)]
    [InlineData(ActivationKind.Sigmoid)]
    [InlineData(ActivationKind.Tanh)]
    [InlineData(ActivationKind.Swish)]
    [InlineData(ActivationKind.Identity)]
    public void TheVectorisedSecondDerivativeFollowsTheScalarDefinition(ActivationKind kind)
    {
        var z = new float[37];
        new Rng(3).FillUniform(z, -4, 4);
        var d = new float[z.Length];
        SplittingMatrices.SecondDerivatives(kind, 0.2, 1.5, z, d);
        for (int i = 0; i < z.Length; i++)
            Assert.True(Math.Abs(d[i] - SplittingMatrices.SecondDerivative(kind, z[i], 0.2, 1.5)) < 1e-6, $"{kind} at {z[i]}: {d[i]}");
    }

    // ------------------------------------------------------------------ through a depthwise conv (MobileNet blocks)

    // conv(2→3, 3×3) BN σ₁, depthwise(3, 3×3, stride) BN σ₂, pointwise(3→2) tanh, flatten, Linear(→3) on 2×5×5 inputs; BatchNorms
    // with non-trivial statistics and larger weights, so both activations are in their curved range
    private static GrowableModel DepthwiseNet(ulong seed, int stride, ActivationKind first, ActivationKind second)
    {
        int o = (5 + 2 - 3) / stride + 1;
        var cfg = new SequentialConfig([
            new Conv2dConfig(2, 3, 3, 1, 1), new BatchNormConfig(3), new ActivationConfig(first),
            new Conv2dConfig(3, 3, 3, stride, 1, Groups: 3), new BatchNormConfig(3), new ActivationConfig(second),
            new Conv2dConfig(3, 2, 1, 1, 0), new ActivationConfig(ActivationKind.Tanh),
            new FlattenConfig(), new LinearConfig(2 * o * o, 3)]);
        var m = new GrowableModel((Sequential)cfg.Build(new Rng(seed)));
        foreach (var p in m.Parameters()) foreach (ref float w in p.Span) w *= 1.5f;
        RandomiseNorms(m, new Rng(seed + 100));
        return m;
    }

    // one sample through layers [from, to] of a Sequential in double (eval mode: BatchNorm with running statistics);
    // `weight` replaces layer `replaced`'s weight
    private static (double[] X, int[] Shape) ForwardDouble(Sequential net, int from, int to, double[] x, int[] shape, int replaced = -1, double[]? weight = null)
    {
        for (int l = from; l <= to; l++)
        {
            switch (net.Layers[l])
            {
                case Conv2d c:
                    {
                        var w = l == replaced ? weight! : c.Weight.ToArray().Select(f => (double)f).ToArray();
                        int cin = shape[0], h = shape[1], wd = shape[2], cout = c.Weight.Dim(0), k = c.Config.Kernel, s = c.Config.Stride, pad = c.Config.Padding;
                        int groups = c.Groups, cg = cin / groups, og = cout / groups;
                        int oh = (h + 2 * pad - k) / s + 1, ow = (wd + 2 * pad - k) / s + 1;
                        var y = new double[cout * oh * ow];
                        for (int co = 0; co < cout; co++)
                            for (int oy = 0; oy < oh; oy++)
                                for (int ox = 0; ox < ow; ox++)
                                {
                                    double acc = c.Bias is null ? 0 : c.Bias.Span[co];
                                    for (int ci = 0; ci < cg; ci++)
                                        for (int ky = 0; ky < k; ky++)
                                            for (int kx = 0; kx < k; kx++)
                                            {
                                                int iy = oy * s - pad + ky, ix = ox * s - pad + kx;
                                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                                acc += w[((co * cg + ci) * k + ky) * k + kx] * x[((co / og * cg + ci) * h + iy) * wd + ix];
                                            }
                                    y[(co * oh + oy) * ow + ox] = acc;
                                }
                        (x, shape) = (y, [cout, oh, ow]);
                        break;
                    }
                case BatchNorm b:
                    {
                        int per = x.Length / shape[0];
                        var y = new double[x.Length];
                        for (int ch = 0; ch < shape[0]; ch++)
                        {
                            double a = b.Gamma!.Span[ch] / Math.Sqrt(b.RunningVar.Span[ch] + (double)b.Config.Eps);
                            for (int i = 0; i < per; i++) y[ch * per + i] = a * (x[ch * per + i] - b.RunningMean.Span[ch]) + b.Beta!.Span[ch];
                        }
                        x = y;
                        break;
                    }
                case Activation a:
                    x = x.Select(z => a.Config.Kind switch
                    {
                        ActivationKind.Tanh => Math.Tanh(z),
                        ActivationKind.Sigmoid => 1 / (1 + Math.Exp(-z)),
                        ActivationKind.Swish => z / (1 + Math.Exp(-z)),
                        ActivationKind.Identity => z,
                        _ => throw new NotSupportedException(a.Config.Kind.ToString()),
                    }).ToArray();
                    break;
                case Flatten:
                    shape = [x.Length];
                    break;
                case Linear lin:
                    {
                        int outs = lin.Weight.Dim(0), ins = x.Length;
                        var y = new double[outs];
                        for (int o = 0; o < outs; o++)
                        {
                            double acc = lin.Bias!.Span[o];
                            for (int i = 0; i < ins; i++) acc += lin.Weight.Span[o * ins + i] * x[i];
                            y[o] = acc;
                        }
                        (x, shape) = (y, [outs]);
                        break;
                    }
                default:
                    throw new NotSupportedException(net.Layers[l].ToString());
            }
        }
        return (x, shape);
    }

    // mean cross-entropy in double after splitting channel `neuron` of site 0 (producer layer 0, σ₂ at layer 5) into two
    // copies with incoming weights θ ± t·v, sharing the depthwise filter and BatchNorm and each with half the outgoing
    // weights: the consumer sees ½(g(θ + tv) + g(θ − tv)) in that channel
    private static double DepthwiseSplitLoss(GrowableModel m, InMemoryDataset data, int neuron, double[] v, double t)
    {
        var net = m.Module;
        var conv = (Conv2d)net.Layers[0];
        int d = v.Length;
        var plus = conv.Weight.ToArray().Select(f => (double)f).ToArray();
        var minus = (double[])plus.Clone();
        for (int i = 0; i < d; i++)
        {
            plus[neuron * d + i] += t * v[i];
            minus[neuron * d + i] -= t * v[i];
        }
        var batch = data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count);
        var xs = batch.X.ToArray();
        double loss = 0;
        for (int r = 0; r < data.Count; r++)
        {
            var x = xs.AsSpan(r * data.Features, data.Features).ToArray().Select(f => (double)f).ToArray();
            var (gp, shape) = ForwardDouble(net, 0, 5, x, data.SampleShape, 0, plus);
            var (gm, _) = ForwardDouble(net, 0, 5, x, data.SampleShape, 0, minus);
            int per = gp.Length / shape[0];
            for (int i = neuron * per; i < (neuron + 1) * per; i++) gp[i] = 0.5 * (gp[i] + gm[i]);
            var (logits, _) = ForwardDouble(net, 6, net.Layers.Count - 1, gp, shape);
            double max = logits.Max(), sum = logits.Sum(q => Math.Exp(q - max));
            loss += Math.Log(sum) + max - logits[batch.Labels[r]];
        }
        return loss / data.Count;
    }

    [Theory]
    [InlineData(2, ActivationKind.Tanh, ActivationKind.Swish)]
    [InlineData(1, ActivationKind.Swish, ActivationKind.Tanh)]
    [InlineData(2, ActivationKind.Sigmoid, ActivationKind.Sigmoid)]
    [InlineData(2, ActivationKind.Tanh, ActivationKind.Identity)]   // no second activation: the usual formula, β through the depthwise conv
    public void ThroughADepthwiseConvTheSplittingMatrixIsTheSecondDerivativeOfTheLossAlongASplit(int stride, ActivationKind first, ActivationKind second)
    {
        // both terms: σ₁'' at the producer's positions with the gradient at σ₁'s output, and σ₂'' at the depthwise conv's
        // positions with the filter over the σ₁'-weighted patches; against a double-precision finite difference
        var m = DepthwiseNet(111, stride, first, second);
        Assert.NotEmpty(m.Sites[0].Tied);
        var data = Images(12, 2, 5, 3, 112);
        var s = SplittingMatrices.Compute(m, 0, All(data));
        int d = m.Sites[0].FanIn;
        var rng = new Rng(113);
        const double h = 1e-3;
        for (int neuron = 0; neuron < 3; neuron++)
        {
            double l0 = DepthwiseSplitLoss(m, data, neuron, new double[d], 0);
            double Fd(double[] v) => (DepthwiseSplitLoss(m, data, neuron, v, h) - 2 * l0 + DepthwiseSplitLoss(m, data, neuron, v, -h)) / (h * h);
            var dirs = Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, d).Select(_ => rng.Uniform(-1, 1)).ToArray()).ToArray();
            foreach (var v in dirs)
            {
                double exact = QuadraticForm(s[neuron], v), fd = Fd(v);
                Assert.True(Math.Abs(exact - fd) <= 1e-4 * Math.Abs(fd) + 1e-6, $"neuron {neuron}: vᵀSv {exact} vs finite difference {fd}");
            }
            // and the most negative direction, where the two terms matter most
            var (_, vmin) = SymmetricEigen.FullMin(s[neuron], d);
            double emin = QuadraticForm(s[neuron], vmin), fmin = Fd(vmin);
            Assert.True(Math.Abs(emin - fmin) <= 1e-4 * Math.Abs(fmin) + 1e-6, $"neuron {neuron}: λ_min {emin} vs finite difference {fmin}");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(1)]
    public void ThroughADepthwiseConvTheFastVariantScoresItsDirectionByTheExactQuadraticForm(int stride)
    {
        // the fast variant never forms S: its S·v goes through the depthwise conv and back (the same two terms); its score
        // is vᵀSv/vᵀv of the exact matrix for the same v, and minimising it approaches λ_min
        var m = DepthwiseNet(131, stride, ActivationKind.Swish, ActivationKind.Tanh);
        var data = Images(12, 2, 5, 3, 132);
        var s = SplittingMatrices.Compute(m, 0, All(data));
        int d = m.Sites[0].FanIn;
        foreach (int epochs in new[] { 2, 400 })
        {
            var (fast, _) = SplittingMatrices.Fast(m, [0], data, batches: 1, batchSize: data.Count, epochs: epochs, learningRate: 1e-2, new Rng(133));
            for (int i = 0; i < 3; i++)
            {
                var v = fast[0].Directions.AsSpan(i * d, d).ToArray().Select(f => (double)f).ToArray();
                double vv = v.Sum(q => q * q), exact = QuadraticForm(s[i], v) / vv;
                Assert.True(Math.Abs(fast[0].Values[i] - exact) <= 1e-5 * Math.Abs(exact) + 1e-7, $"neuron {i}: fast {fast[0].Values[i]} vs exact {exact}");
                if (epochs < 400) continue;
                var (lmin, _) = SymmetricEigen.FullMin(s[i], d);
                double lmax = -SymmetricEigen.FullMin(s[i].Select(q => -q).ToArray(), d).Value;
                Assert.True(exact >= lmin - 1e-6 * (lmax - lmin));
                Assert.True(exact - lmin <= 0.02 * (lmax - lmin), $"neuron {i}: Rayleigh quotient {exact}, λ_min {lmin}, λ_max {lmax}");
            }
        }
    }

    [Fact]
    public void TheFirstDerivativeIsTheOneTheBackwardPassUses()
    {
        foreach (var kind in new[] { ActivationKind.Relu, ActivationKind.ReluOne, ActivationKind.LeakyRelu, ActivationKind.Elu, ActivationKind.Sigmoid,
                     ActivationKind.Tanh, ActivationKind.Swish, ActivationKind.Identity })
        {
            var z = new float[41];
            new Rng(7).FillUniform(z, -3, 3);
            z[0] = 0;
            var layer = new Activation(new ActivationConfig(kind, Slope: 0.2f, Alpha: 1.5f));
            var x = new Tensor((float[])z.Clone(), z.Length);
            x.RequiresGrad = true;
            Sprout.Autograd.Ops.Sum(layer.Forward(x)).Backward();
            var d = new float[z.Length];
            SplittingMatrices.FirstDerivatives(kind, 0.2, 1.5, z, d);
            for (int i = 0; i < z.Length; i++)
            {
                Assert.True(Math.Abs(d[i] - x.Grad!.Span[i]) < 1e-5, $"{kind} at {z[i]}: {d[i]} vs autograd {x.Grad!.Span[i]}");
                Assert.True(Math.Abs(d[i] - SplittingMatrices.FirstDerivative(kind, z[i], 0.2, 1.5)) < 1e-6);
            }
        }
    }

    // MobileNetV1 at width 4 on 32×32×3 inputs with warmed BatchNorms (running statistics of the data, random γ, β)
    private static (GrowableModel Model, InMemoryDataset Data) MobileNet(ulong seed, int samples = 8)
    {
        var cfg = Models.MobileNetV1(4);
        var data = GradMaxConvTests.TeacherData(cfg, samples, [3, 32, 32], seed);
        var m = new GrowableModel((Sequential)cfg.Build(new Rng(seed + 1)));
        GradMaxConvTests.Warm(m, data, seed + 2);
        return (m, data);
    }

    [Theory]
    [InlineData(SsdVariant.Exact)]
    [InlineData(SsdVariant.Fast)]
    public void AZeroOffsetSplitKeepsMobileNetV1sOutputsAndCopiesTheDepthwiseFilter(SsdVariant variant)
    {
        var (m, data) = MobileNet(141);
        var x = data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count).X;
        var input = new Tensor(x.ToArray(), x.ShapeArray());
        var before = m.Logits(input);
        var counts = m.Sites.Select((_, k) => k % 2 == 0 ? 2 : 1).ToArray();
        var ext = (SsdExtender)new SsdConfig(variant, Epsilon: 0, Batches: 1, BatchSize: 8, Epochs: 2).Build();
        ext.Extend(new GrowthContext(m, data, new Rng(142)), counts);
        Assert.Equal(counts.Select(c => 4 + c), m.Widths());
        Assert.True(GrowthFixtures.RelativeMaxDiff(before, m.Logits(input)) < 1e-5);
        // each copy holds its parent's incoming weights, depthwise filter and BatchNorms
        foreach (int k in new[] { 0, 5 })
        {
            var site = m.Sites[k];
            Assert.NotEmpty(site.Tied);
            for (int j = 4; j < site.Width; j++)
            {
                int parent = Enumerable.Range(0, 4).First(p => GrowthFixtures.Incoming(site, p).SequenceEqual(GrowthFixtures.Incoming(site, j)));
                foreach (var t in site.Tied)
                {
                    int per = t.Tensor.Length / site.Width;
                    Assert.Equal(t.Tensor.ToArray().AsSpan(parent * per, per).ToArray(), t.Tensor.ToArray().AsSpan(j * per, per).ToArray());
                }
                Assert.Equal(site.Norm!.Gamma![parent], site.Norm.Gamma[j]);
            }
        }
    }

    [Fact]
    public void ANonZeroOffsetSplitOnADepthwiseSiteMovesParentAndCopyAlongTheMinimalEigenvector()
    {
        var (m, data, counts) = GrowthFixtures.DepthwiseSite();
        int k = Array.FindIndex(counts, c => c > 0);
        var (dirs, _) = SplittingMatrices.Exact(m, k, All(data), SsdEigenSolver.Full, new Rng(1));
        var parents = SsdExtender.Select(dirs.Values, counts[k]);
        var site = m.Sites[k];
        int d = site.FanIn, width = site.Width;
        var w = parents.Select(p => GrowthFixtures.Incoming(site, p)).ToArray();
        new SsdConfig(Epsilon: 0.01, Batches: 1, BatchSize: data.Count).Build().Extend(new GrowthContext(m, data, new Rng(2)), counts);
        for (int j = 0; j < parents.Length; j++)
            for (int t = 0; t < d; t++)
            {
                Assert.Equal(w[j][t] + 0.01 * dirs.Directions[parents[j] * d + t], GrowthFixtures.Incoming(site, parents[j])[t], 5);
                Assert.Equal(w[j][t] - 0.01 * dirs.Directions[parents[j] * d + t], GrowthFixtures.Incoming(site, width + j)[t], 5);
            }
    }

    [Theory]
    [InlineData(SsdVariant.Exact)]
    [InlineData(SsdVariant.Fast)]
    public void EverySiteOfADepthwiseSeparableNetWithRelusSplitsAndKeepsItsOutputsAtZeroOffset(SsdVariant variant)
    {
        // GradMaxConvTests.DepthwiseNet: swish around the first depthwise conv, ReLU (smoothed σ'') around the second
        var (m, data, _) = GrowthFixtures.DepthwiseSite();
        GradMaxConvTests.Warm(m, data, 161);
        var x = data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count).X;
        var input = new Tensor(x.ToArray(), x.ShapeArray());
        var before = m.Logits(input);
        var widths = m.Widths();
        var ext = (SsdExtender)new SsdConfig(variant, Epsilon: 0, Batches: 1, BatchSize: data.Count, Epochs: 2).Build();
        ext.Extend(new GrowthContext(m, data, new Rng(162)), [2, 2, 2]);
        Assert.Equal(widths.Select(w => w + 2), m.Widths());
        Assert.All(ext.LastSites, r => Assert.True(double.IsFinite(r.SmallestValue) && r.SmallestValue != 0, $"{r.Site}: {r.SmallestValue}"));
        Assert.True(GrowthFixtures.RelativeMaxDiff(before, m.Logits(input)) < 1e-5);
    }

    [Fact]
    public void APoolingLayerBetweenTheActivationAndTheDepthwiseConvIsRejectedWithTheReasonAndTheModelIsLeftAlone()
    {
        var cfg = new SequentialConfig([
            new Conv2dConfig(2, 3, 3, 1, 1), new BatchNormConfig(3), new ActivationConfig(ActivationKind.Tanh), new PoolConfig(PoolKind.Max, 2),
            new Conv2dConfig(3, 3, 3, 1, 1, Groups: 3), new BatchNormConfig(3), new ActivationConfig(ActivationKind.Tanh),
            new Conv2dConfig(3, 2, 1, 1, 0), new ActivationConfig(ActivationKind.Tanh), new FlattenConfig(), new LinearConfig(2 * 2 * 2, 3)]);
        var m = new GrowableModel((Sequential)cfg.Build(new Rng(1)));
        var widths = m.Widths();
        var e = Assert.Throws<ArgumentException>(() => Extender.Create("ssd").Extend(new GrowthContext(m, Images(8, 2, 4, 3, 2), new Rng(1)), [1, 0]));
        Assert.StartsWith("ssd: site conv1: layer 3", e.Message);
        Assert.Contains("depthwise", e.Message);
        Assert.Equal(widths, m.Widths());
    }

    [Theory]
    [InlineData("ssd", "ras")]
    [InlineData("ssd-fast", "ras")]
    [InlineData("ssd", "ssd")]
    public void AGrowthRunGrowsMobileNetV1BySplitting(string preset, string distributor)
    {
        var model = Models.MobileNetV1(4);
        var train = GradMaxConvTests.TeacherData(model, 32, [3, 32, 32], 151);
        var val = GradMaxConvTests.TeacherData(model, 16, [3, 32, 32], 152);
        var ext = preset == "ssd" ? new SsdConfig(BatchSize: 16) : new SsdConfig(SsdVariant.Fast, BatchSize: 16, Epochs: 2) { Name = preset };
        DistributorConfig dist = distributor == "ssd" ? new SsdDistributorConfig(BatchSize: 16) : GrowthMethods.Distributor(distributor);
        var cfg = new GrowthRunConfig([], GrowthSchedule.FromTotals(6, 6), ext, dist,
            new StageTraining(1), new StageTraining(1), BatchSize: 16, LearningRate: 0.01, Seed: 5, DiagnosticBatch: 16,
            Model: model, InputShape: [3, 32, 32]);
        var runner = new GrowthRunner(cfg);
        var report = runner.Run(train, val, null);
        Assert.Equal(14 * 4 + 12, report.FinalWidths.Sum());
        Assert.All(report.Stages, s => Assert.Equal(s.Allocation.Sum(), s.Extension.Sum(e => e.Added)));
        Assert.All(report.Stages, s => Assert.True(s.MaxOutputChange < 0.5, $"output change {s.MaxOutputChange}"));
        // the depthwise convs grew with their producers
        Assert.All(runner.Model!.Sites.Where(site => site.Tied.Count > 0), site => Assert.Equal(site.Width, site.Tied[0].Tensor.Dim(0)));
    }

    // ------------------------------------------------------------------ eigen solvers and the fast variant

    [Fact]
    public void LanczosFindsTheSameSmallestEigenpairAsTheFullDecomposition()
    {
        const int n = 300;
        var rng = new Rng(41);
        // X diag(g) Xᵀ with mixed signs, like a splitting matrix, and a null space
        var x = new double[n * 200];
        for (int i = 0; i < x.Length; i++) x[i] = rng.Uniform(-1, 1);
        var g = Enumerable.Range(0, 200).Select(_ => rng.Uniform(-1, 0.6)).ToArray();
        var s = new double[n * n];
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
            {
                double acc = 0;
                for (int r = 0; r < 200; r++) acc += x[a * 200 + r] * g[r] * x[b * 200 + r];
                s[a * n + b] = acc;
            }
        var (lf, vf) = SymmetricEigen.FullMin(s, n);
        var (ll, vl) = SymmetricEigen.LanczosMin(s, n, new Rng(42));
        Assert.True(Math.Abs(lf - ll) <= 1e-8 * Math.Abs(lf), $"{lf} vs {ll}");
        Assert.True(Math.Abs(Math.Abs(vf.Zip(vl, (p, q) => p * q).Sum()) - 1) < 1e-6);
        Assert.True(Math.Abs(QuadraticForm(s, vf) - lf) < 1e-8 * Math.Abs(lf));
    }

    [Fact]
    public void TheFastVariantsRayleighQuotientApproachesTheExactSmallestEigenvalue()
    {
        var m = Mlp(51, ActivationKind.Tanh, 4, 6, 3);
        foreach (var p in m.Parameters()) foreach (ref float w in p.Span) w *= 2f;
        var data = GrowthFixtures.Random(64, 4, 3, 52);
        var s = SplittingMatrices.Compute(m, 0, All(data));
        var (fast, passes) = SplittingMatrices.Fast(m, [0], data, batches: 1, batchSize: 64, epochs: 1500, learningRate: 1e-2, new Rng(53));
        Assert.Equal(1501, passes);
        for (int i = 0; i < 6; i++)
        {
            var (lmin, _) = SymmetricEigen.FullMin(s[i], 4);
            double lmax = -SymmetricEigen.FullMin(s[i].Select(q => -q).ToArray(), 4).Value;
            double rq = fast[0].Values[i];
            var v = fast[0].Directions.AsSpan(i * 4, 4).ToArray().Select(f => (double)f).ToArray();
            Assert.Equal(1, Math.Sqrt(v.Sum(q => q * q)), 5);
            Assert.Equal(QuadraticForm(s[i], v), rq, 6);             // the score is the Rayleigh quotient of the direction
            Assert.True(rq >= lmin - 1e-7 * (lmax - lmin));           // …which a Rayleigh quotient cannot undercut
            Assert.True(rq - lmin <= 0.01 * (lmax - lmin), $"neuron {i}: Rayleigh quotient {rq}, λ_min {lmin}, λ_max {lmax}");
        }
    }

    // ------------------------------------------------------------------ selection, rounds, cost, determinism

    [Fact]
    public void SelectionTakesTheMostNegativeFirstThenTheSmallestOthers()
    {
        Assert.Equal([3, 1, 2], SsdExtender.Select([0.3, -1, -0.2, -5, 0], 3));
        Assert.Equal([3, 1, 2, 4, 0], SsdExtender.Select([0.3, -1, -0.2, -5, 0], 5));
        Assert.Equal([1, 2, 0], SsdExtender.Select([0.5, -1, -1, double.NaN], 3));   // ties by index, NaN last
        Assert.Throws<ArgumentOutOfRangeException>(() => SsdExtender.Select([1.0], 2));
    }

    [Theory]
    [InlineData(SsdVariant.Exact)]
    [InlineData(SsdVariant.Fast)]
    public void TheExtenderSplitsTheNeuronsWithTheSmallestValuesAndReportsHowManyWereNegative(SsdVariant variant)
    {
        var m = Mlp(61, ActivationKind.Tanh, 4, 8, 3);
        foreach (var p in m.Parameters()) foreach (ref float w in p.Span) w *= 2f;
        var data = GrowthFixtures.Random(80, 4, 3, 62);
        var s = SplittingMatrices.Compute(m, 0, All(data));
        var lmin = s.Select(si => SymmetricEigen.FullMin(si, 4).Value).ToArray();
        var expected = SsdExtender.Select(lmin, 3);
        var w0 = expected.Select(p => GrowthFixtures.Incoming(m.Sites[0], p)).ToArray();
        var ext = (SsdExtender)new SsdConfig(variant, Epsilon: 0, Batches: 1, BatchSize: 80, Epochs: 1500, LearningRate: 1e-2).Build();
        ext.Extend(new GrowthContext(m, data, new Rng(63)), [3]);
        for (int k = 0; k < 3; k++) Assert.Equal(w0[k], GrowthFixtures.Incoming(m.Sites[0], 8 + k));
        var r = Assert.Single(ext.LastSites);
        Assert.Equal(expected.Count(p => lmin[p] < 0), r.Negative);
        Assert.Equal(1, r.Rounds);
        Assert.Equal(lmin.Min(), r.SmallestValue, variant == SsdVariant.Exact ? 6 : 2);
    }

    [Fact]
    public void MoreNeuronsThanTheWidthAreSplitInRounds()
    {
        var m = GrowthFixtures.Mlp(71, 5, 3, 4);
        var data = GrowthFixtures.Random(60, 5, 4, 72);
        var x = Tensor.Uniform(new Rng(73), -1, 1, 20, 5);
        var before = m.Logits(x);
        var ext = (SsdExtender)new SsdConfig(Epsilon: 0, Batches: 2, BatchSize: 30).Build();
        ext.Extend(new GrowthContext(m, data, new Rng(74)), [8]);   // 3 → 6 → 11
        Assert.Equal(11, m.Sites[0].Width);
        Assert.Equal(2, ext.LastSites[0].Rounds);
        Assert.Equal(4, ext.Passes);                                 // two measurements of two batches
        Assert.True(GrowthFixtures.RelativeMaxDiff(before, m.Logits(x)) < 1e-5);
    }

    [Fact]
    public void PassesAreCountedPerBatchSiteAndEpoch()
    {
        var data = GrowthFixtures.Random(200, 6, 3, 82);
        var exact = (SsdExtender)new SsdConfig(Batches: 3, BatchSize: 20).Build();
        exact.Extend(new GrowthContext(GrowthFixtures.Mlp(81, 6, 8, 8, 3), data, new Rng(1)), [2, 2]);
        Assert.Equal(6, exact.Passes);                               // 3 batches per site
        var fast = (SsdExtender)new SsdConfig(SsdVariant.Fast, Batches: 3, BatchSize: 20, Epochs: 2).Build();
        fast.Extend(new GrowthContext(GrowthFixtures.Mlp(81, 6, 8, 8, 3), data, new Rng(1)), [2, 2]);
        Assert.Equal(9, fast.Passes);                                // (2 epochs + scoring) × 3 batches, both sites at once
        // batches 0 = a tenth of an epoch: ⌈200/20⌉/10 = 1
        var auto = (SsdExtender)new SsdConfig(BatchSize: 20).Build();
        auto.Extend(new GrowthContext(GrowthFixtures.Mlp(81, 6, 8, 8, 3), data, new Rng(1)), [0, 2]);
        Assert.Equal(1, auto.Passes);
    }

    [Theory]
    [InlineData("ssd")]
    [InlineData("ssd-fast")]
    public void TheSameSeedSplitsIdentically(string preset)
    {
        var cfg = preset == "ssd" ? new SsdConfig(Batches: 2, BatchSize: 40) : new SsdConfig(SsdVariant.Fast, Batches: 2, BatchSize: 40, Epochs: 3);
        float[][] Run(ulong seed)
        {
            var m = ConvGrowthTests.Backbone(3);
            cfg.Build().Extend(new GrowthContext(m, Images(120, 3, 8, 3, 91), new Rng(seed)), [2, 2, 2, 2]);
            return m.CopyWeights();
        }
        GrowthFixtures.AssertBitIdentical(Run(5), Run(5));
        Assert.NotEqual(Run(5)[0], Run(6)[0]);   // other batches (and start directions): other splits
    }

    [Fact]
    public void ASiteWithoutANonlinearityIsRejectedWithTheReason()
    {
        var m = Mlp(1, ActivationKind.Identity, 3, 4, 2);
        var e = Assert.Throws<ArgumentException>(() => Extender.Create("ssd").Extend(new GrowthContext(m, GrowthFixtures.Random(20, 3, 2, 2), new Rng(1)), [1]));
        Assert.Contains("no nonlinear activation", e.Message);
    }

    [Fact]
    public void ConfigRoundTripsThroughJsonAndRejectsBadSettings()
    {
        var c = new SsdConfig(SsdVariant.Fast, Epsilon: 0.02, Batches: 5, BatchSize: 64, Epochs: 3, LearningRate: 0.01, Solver: SsdEigenSolver.Lanczos);
        Assert.Equal(c, ExtenderConfig.FromJson(c.ToJson()));
        Assert.Contains("\"variant\": \"Fast\"", c.ToJson());
        Assert.Equal(new SsdConfig(), ExtenderConfig.FromJson("\"ssd\""));
        Assert.Equal(new SsdConfig(SsdVariant.Fast) { Name = "ssd-fast" }, ExtenderConfig.FromJson("\"ssd-fast\""));
        Assert.Equal(SsdVariant.Fast, Assert.IsType<SsdExtender>(Extender.Create("ssd-fast")).Config.Variant);
        Assert.Contains("ssd", Extender.Names);
        Assert.Throws<ArgumentException>(() => new SsdConfig(Epsilon: -0.1).Build());
        Assert.Throws<ArgumentException>(() => new SsdConfig(Epsilon: double.NaN).Build());
        Assert.Throws<ArgumentException>(() => new SsdConfig(Batches: -1).Build());
        Assert.Throws<ArgumentException>(() => new SsdConfig(BatchSize: 0).Build());
        Assert.Throws<ArgumentException>(() => new SsdConfig(Epochs: 0).Build());
        Assert.Throws<ArgumentException>(() => new SsdConfig(LearningRate: 0).Build());
        Assert.Throws<ArgumentException>(() => new SsdConfig((SsdVariant)7).Build());
        Assert.Throws<System.Text.Json.JsonException>(() => ExtenderConfig.FromJson("{\"type\": \"ssd\", \"variant\": \"Slow\"}"));
    }

    // ------------------------------------------------------------------ the global distributor

    [Fact]
    public void TheDistributorGivesEachLayerItsShareOfTheGloballySmallestValuesAndTheExtenderReusesThem()
    {
        var m = Mlp(101, ActivationKind.Tanh, 4, 6, 5, 3);
        foreach (var p in m.Parameters()) foreach (ref float w in p.Span) w *= 2f;
        var data = GrowthFixtures.Random(60, 4, 3, 102);
        var lmin = Enumerable.Range(0, 2).Select(k =>
            SplittingMatrices.Compute(m, k, All(data)).Select(si => SymmetricEigen.FullMin(si, m.Sites[k].FanIn).Value).ToArray()).ToArray();
        var pooled = lmin.SelectMany((v, k) => v.Select(x => (x, k))).OrderBy(t => t.x).Take(4).ToArray();
        var dist = (SsdDistributor)new SsdDistributorConfig(Batches: 1, BatchSize: 60).Build();
        var ctx = new GrowthContext(m, data, new Rng(103));
        var counts = dist.Allocate(ctx, 4);
        Assert.Equal([pooled.Count(t => t.k == 0), pooled.Count(t => t.k == 1)], counts);
        Assert.Equal(2, dist.Passes);
        Assert.Equal(lmin[0].Min(), dist.LastVotes![0], 5);
        // more than all widths: the pool is walked again
        Assert.Equal(13, dist.Allocate(ctx, 13).Sum());
        dist.Allocate(ctx, 4);
        var ext = (SsdExtender)new SsdConfig(Batches: 1, BatchSize: 60).Build();
        ext.Extend(ctx, counts);
        Assert.Equal(0, ext.Passes);                                  // measured once, by the distributor
        Assert.Equal([6 + counts[0], 5 + counts[1]], m.Widths());
        // other settings, or changed weights: the extender measures itself
        var other = (SsdExtender)new SsdConfig(Batches: 1, BatchSize: 30).Build();
        other.Extend(ctx, [1, 0]);
        Assert.Equal(1, other.Passes);
        Assert.Equal(new SsdDistributorConfig(SsdVariant.Fast, Epochs: 3), DistributorConfig.FromJson(new SsdDistributorConfig(SsdVariant.Fast, Epochs: 3).ToJson()));
        Assert.IsType<SsdDistributor>(Distributor.Create("ssd-fast"));
        Assert.Throws<ArgumentException>(() => new SsdDistributorConfig(BatchSize: 0).Build());
    }

    // ------------------------------------------------------------------ end to end

    [Theory]
    [InlineData("ssd", "ras")]
    [InlineData("ssd-fast", "ras")]
    [InlineData("ssd", "ssd")]
    public void AGrowthRunGrowsAnMlpBySplitting(string preset, string distributor)
    {
        var ext = preset == "ssd" ? new SsdConfig(BatchSize: 50) : new SsdConfig(SsdVariant.Fast, BatchSize: 50, Epochs: 2) { Name = preset };
        DistributorConfig dist = distributor == "ssd" ? new SsdDistributorConfig(BatchSize: 50) : GrowthMethods.Distributor(distributor);
        var cfg = new GrowthRunConfig([2, 6, 6, 2], GrowthSchedule.FromTotals(4, 4), ext, dist,
            new StageTraining(2), new StageTraining(1), BatchSize: 50, LearningRate: 0.01, Seed: 3, DiagnosticBatch: 100);
        var runner = new GrowthRunner(cfg);
        var report = runner.Run(GrowthFixtures.Spirals(400, 1), GrowthFixtures.Spirals(100, 2), null);
        Assert.Equal(12 + 8, report.FinalWidths.Sum());
        Assert.All(report.Stages, s => Assert.True(s.MaxOutputChange < 0.5, $"output change {s.MaxOutputChange}"));
        Assert.All(report.Stages, s => Assert.Equal(s.Allocation.Sum(), s.Extension.Sum(e => e.Added)));
    }

    [Fact]
    public void AGrowthRunGrowsAConvNetBySplitting()
    {
        var cfg = new GrowthRunConfig([], GrowthSchedule.FromTotals(3, 3), new SsdConfig(BatchSize: 16), GrowthMethods.Distributor("ras"),
            new StageTraining(1), new StageTraining(1), BatchSize: 16, LearningRate: 0.01, Seed: 4, DiagnosticBatch: 32,
            Model: new SequentialConfig([
                new Conv2dConfig(2, 4, 3, 1, 1, Bias: false), new BatchNormConfig(4), ActivationConfig.Relu, new PoolConfig(PoolKind.Max, 2),
                new Conv2dConfig(4, 4, 3, 1, 1, Bias: false), new BatchNormConfig(4), ActivationConfig.Relu,
                new FlattenConfig(), new LinearConfig(4 * 2 * 2, 3)]),
            InputShape: [2, 4, 4]);
        var report = new GrowthRunner(cfg).Run(Images(96, 2, 4, 3, 5), Images(32, 2, 4, 3, 6), null);
        Assert.Equal(8 + 6, report.FinalWidths.Sum());
        Assert.All(report.Stages, s => Assert.True(s.MaxOutputChange < 0.5, $"output change {s.MaxOutputChange}"));
    }
}
