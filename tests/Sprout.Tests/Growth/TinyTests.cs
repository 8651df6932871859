using MathNet.Numerics.LinearAlgebra;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class TinyTests
{
    private static double Loss(GrowableModel m, InMemoryDataset data) => new Trainer(m.Module).Evaluate(data).Loss;

    private static double Norm(ReadOnlySpan<double> v)
    {
        double s = 0;
        foreach (double x in v) s += x * x;
        return Math.Sqrt(s);
    }

    [Fact]
    public void StatisticsMatchAnExplicitComputationOnAOneHiddenLayerNet()
    {
        var m = GrowthFixtures.Mlp(3, 5, 4, 3);
        var data = GrowthFixtures.Random(60, 5, 3, 4);
        var st = TinyExtender.Statistics(m, 0, data, data.IdentityOrder.ToArray(), batches: 2, batchSize: 30);
        Assert.Equal(60, st.Rows);
        Assert.Equal(2, st.Batches);

        // a = (x, 1), b = (relu(W1·x + b1), 1), v = onehot(y) − softmax(z): the per-sample desired update
        var site = m.Sites[0];
        var w1 = site.InWeight.ToArray(); var b1 = site.InBias!.ToArray();
        var w2 = site.OutWeight.ToArray(); var b2 = site.OutBias!.ToArray();
        int n = data.Count, f = 5, h = 4, o = 3;
        var sa = new double[f + 1, f + 1]; var sb = new double[h + 1, h + 1];
        var mb = new double[h + 1, o]; var ma = new double[f + 1, o]; var p = new double[f + 1, h + 1];
        for (int s = 0; s < n; s++)
        {
            var a = new double[f + 1]; var b = new double[h + 1]; var z = new double[o]; var v = new double[o];
            for (int i = 0; i < f; i++) a[i] = data.X[s * f + i];
            a[f] = 1;
            for (int j = 0; j < h; j++)
            {
                double t = b1[j];
                for (int i = 0; i < f; i++) t += (double)w1[j * f + i] * a[i];
                b[j] = Math.Max(0, t);
            }
            b[h] = 1;
            for (int k = 0; k < o; k++)
            {
                z[k] = b2[k];
                for (int j = 0; j < h; j++) z[k] += (double)w2[k * h + j] * b[j];
            }
            double max = z.Max(), sum = z.Sum(t => Math.Exp(t - max));
            for (int k = 0; k < o; k++) v[k] = (data.Labels![s] == k ? 1 : 0) - Math.Exp(z[k] - max) / sum;
            for (int i = 0; i <= f; i++)
            {
                for (int j = 0; j <= f; j++) sa[i, j] += a[i] * a[j] / n;
                for (int k = 0; k < o; k++) ma[i, k] += a[i] * v[k] / n;
                for (int j = 0; j <= h; j++) p[i, j] += a[i] * b[j] / n;
            }
            for (int i = 0; i <= h; i++)
            {
                for (int j = 0; j <= h; j++) sb[i, j] += b[i] * b[j] / n;
                for (int k = 0; k < o; k++) mb[i, k] += b[i] * v[k] / n;
            }
        }
        void Same(double[,] want, Matrix<double> got)
        {
            Assert.Equal(want.GetLength(0), got.RowCount);
            Assert.Equal(want.GetLength(1), got.ColumnCount);
            for (int i = 0; i < got.RowCount; i++)
                for (int j = 0; j < got.ColumnCount; j++) Assert.Equal(want[i, j], got[i, j], 4);
        }
        Same(sa, st.InputCovariance);
        Same(sb, st.ConsumerCovariance);
        Same(mb, st.ConsumerMoment);
        Same(ma, st.InputMoment);
        Same(p, st.Cross);
    }

    [Fact]
    public void TheStatisticsPassesLeaveTheParametersTrainable()
    {
        // the passes switch the parameters' gradients off (only the consumer's output gradient is used) and back on
        var m = GrowthFixtures.Mlp(3, 5, 4, 3);
        var data = GrowthFixtures.Random(40, 5, 3, 4);
        var frozen = m.Parameters().First();
        frozen.RequiresGrad = false;   // a parameter frozen by the caller stays frozen
        TinyExtender.Statistics(m, 0, data, data.IdentityOrder.ToArray(), 2, 20);
        Assert.False(frozen.RequiresGrad);
        Assert.All(m.Parameters().Skip(1), p => Assert.True(p.RequiresGrad));
        var conv = LinearisedConvNet(52);
        var images = Images(20, 51);
        TinyExtender.ConvProblem(conv, 0, images, images.IdentityOrder.ToArray(), 1, 20, 1e-6);
        Assert.All(conv.Parameters(), p => Assert.True(p.RequiresGrad));
        // and a training step still moves every trainable weight
        var before = m.CopyWeights();
        new Trainer(m.Module, new Sprout.Optim.Sgd(m.Parameters().Where(p => p.RequiresGrad), 0.1)).Fit(data, new Rng(1), 20, 1);
        var after = m.CopyWeights();
        Assert.Equal(before[0], after[0]);
        for (int i = 1; i < before.Length; i++) Assert.NotEqual(before[i], after[i]);
    }

    [Fact]
    public void OptimalDeltaIsTheLeastSquaresSolution()
    {
        var rng = new Rng(5);
        var bx = new float[40 * 4];
        var vx = new float[40 * 3];
        rng.FillNormal(bx, 0, 1);
        rng.FillNormal(vx, 0, 1);
        var b = Matrix<double>.Build.Dense(40, 4, (i, j) => bx[i * 4 + j]);
        var v = Matrix<double>.Build.Dense(40, 3, (i, j) => vx[i * 3 + j]);
        var delta = TinyExtender.OptimalDelta(b.TransposeThisAndMultiply(b) / 40, b.TransposeThisAndMultiply(v) / 40, 1e-12);
        var ls = b.QR().Solve(v);   // argmin ‖b·δ − v‖ by QR, another route
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++) Assert.Equal(ls[i, j], delta[i, j], 9);
        // the residual is orthogonal to b: what the layer cannot express
        var r = v - b * delta;
        Assert.True((b.TransposeThisAndMultiply(r)).FrobeniusNorm() < 1e-9);
    }

    [Theory]
    [InlineData(4, 3)]   // the [O, O] side (Linear sites)
    [InlineData(3, 5)]   // the [D′, D′] side (conv sites: many outgoing entries per neuron)
    public void NewNeuronsAreTheTopSingularDirectionsOfTheWhitenedMoment(int dim, int outs)
    {
        var rng = new Rng(8);
        var ax = new float[50 * dim];
        rng.FillNormal(ax, 0, 1);
        var a = Matrix<double>.Build.Dense(50, dim, (i, j) => ax[i * dim + j] * (j + 1));
        var s = a.TransposeThisAndMultiply(a) / 50;
        var nm = Matrix<double>.Build.Dense(dim, outs, (i, j) => Math.Sin(i + 2 * j + 1));
        var tn = TinyExtender.NewNeurons(s, nm, 2, 1e-12, 0);
        Assert.Equal(2, tn.Count);
        // reference: SVD of S^{-1/2}·N with S^{-1/2} from the eigendecomposition (gromo's route)
        var evd = s.Evd(Symmetricity.Symmetric);
        var isqrt = evd.EigenVectors * Matrix<double>.Build.DenseOfDiagonalArray(evd.EigenValues.Select(e => 1 / Math.Sqrt(e.Real)).ToArray()) * evd.EigenVectors.Transpose();
        var svd = (isqrt * nm).Svd();
        for (int k = 0; k < 2; k++)
        {
            Assert.Equal(svd.S[k], tn.Singular[k], 9);
            // α_k ω_kᵀ = σ_k·S^{-1/2}u_k v_kᵀ (sign-free)
            var want = isqrt * svd.U.Column(k).ToColumnMatrix() * svd.VT.Row(k).ToRowMatrix() * svd.S[k];
            var got = tn.Alpha.Row(k).ToColumnMatrix() * tn.Omega.Row(k).ToRowMatrix();
            Assert.True((want - got).FrobeniusNorm() < 1e-8 * want.FrobeniusNorm());
        }
        // the first-order gain tr(A·N·Ω) of the new neurons is Σσ²
        Assert.Equal(tn.Gain, (tn.Alpha * nm * tn.Omega.Transpose()).Trace(), 9);
    }

    [Theory]
    [InlineData(ActivationKind.Identity)]
    [InlineData(ActivationKind.Relu)]
    public void TinyNeuronsReduceTheLossMoreThanRandomOnesOfTheSameNorm(ActivationKind kind)
    {
        // a student whose 2-unit bottleneck cannot express a 6-class rule on 20 inputs; with the identity activation the
        // linearisation TINY optimises is exact, with ReLU it is the first-order guide
        var data = GrowthFixtures.Random(400, 20, 6, 11);
        var m = new GrowableModel((Sequential)SequentialConfig.Mlp([20, 2, 6], new ActivationConfig(kind)).Build(new Rng(12)));
        var st = TinyExtender.Statistics(m, 0, data, data.IdentityOrder.ToArray(), 1, 400);
        var delta = TinyExtender.OptimalDelta(st.ConsumerCovariance, st.ConsumerMoment, 1e-6);
        var tn = TinyExtender.NewNeurons(st.InputCovariance, TinyExtender.ProjectedMoment(st, delta), 3, 1e-6, 0);
        Assert.Equal(3, tn.Count);
        double l0 = Loss(m, data);
        const double gamma = 0.1;
        int first = m.Sites[0].Grow(3);

        double Decrease(Matrix<double> alpha, Matrix<double> omega)
        {
            var site = m.Sites[0];
            for (int k = 0; k < 3; k++)
            {
                site.SetIncoming(first + k, alpha.Row(k).Take(20).Select(v => (float)(gamma * v)).ToArray());
                site.SetBias(first + k, (float)(gamma * alpha[k, 20]));
                site.SetOutgoing(first + k, omega.Row(k).Select(v => (float)(gamma * v)).ToArray());
            }
            return l0 - Loss(m, data);
        }

        double tiny = Decrease(tn.Alpha, tn.Omega);
        Assert.True(tiny > 0, $"TINY decrease {tiny}");
        if (kind == ActivationKind.Identity)
        {
            // first order: γ²·tr(A·M_a·Ωᵀ) (the mean loss's gradient is −v/n per sample)
            double predicted = gamma * gamma * (tn.Alpha * st.InputMoment * tn.Omega.Transpose()).Trace();
            Assert.InRange(tiny / predicted, 0.8, 1.05);
        }
        var rng = new Rng(13);
        var buf = new float[21 + 6];
        double maxRand = double.NegativeInfinity;
        for (int trial = 0; trial < 20; trial++)
        {
            var ra = Matrix<double>.Build.Dense(3, 21);
            var ro = Matrix<double>.Build.Dense(3, 6);
            for (int k = 0; k < 3; k++)
            {
                rng.FillNormal(buf, 0, 1);
                var va = Vector<double>.Build.Dense(21, i => buf[i]);
                var vo = Vector<double>.Build.Dense(6, i => buf[21 + i]);
                ra.SetRow(k, va * (tn.Alpha.Row(k).L2Norm() / va.L2Norm()));
                ro.SetRow(k, vo * (tn.Omega.Row(k).L2Norm() / vo.L2Norm()));
            }
            maxRand = Math.Max(maxRand, Decrease(ra, ro));
        }
        // measured: TINY 2.2e-3 (identity) / 1.4e-3 (ReLU), the best of 20 random draws 3.4e-4 / 2.7e-4
        Assert.True(tiny > 2 * maxRand, $"best of 20 random decreases {maxRand} vs TINY {tiny}");
    }

    [Fact]
    public void TheExtenderLowersTheLossAndIsDeterministic()
    {
        var data = GrowthFixtures.Random(300, 6, 4, 21);
        float[][] Run(out TinyExtender ext, out double before, out double after)
        {
            var m = GrowthFixtures.Mlp(22, 6, 3, 3, 4);
            before = Loss(m, data);
            ext = (TinyExtender)new TinyConfig(Batches: 2, BatchSize: 100, LineSearchBatchSize: 300).Build();
            var r = ext.Extend(new GrowthContext(m, data, new Rng(7)), [2, 2]);
            Assert.Equal([5, 5], m.Widths());
            Assert.All(r, s => Assert.Equal(2, s.Added));
            after = Loss(m, data);
            return m.CopyWeights();
        }
        var w1 = Run(out var e1, out double b1, out double a1);
        var w2 = Run(out _, out _, out _);
        GrowthFixtures.AssertBitIdentical(w1, w2);
        Assert.True(a1 < b1, $"loss {b1} → {a1}");
        Assert.Equal(4, e1.Passes);                 // 2 batches × 2 sites
        Assert.True(e1.LineSearchForwards >= 2 * 14);
        Assert.Equal(2, e1.LastReports.Count);
        Assert.All(e1.LastReports, r =>
        {
            Assert.True(r.Gamma > 0);
            Assert.True(r.LossAfter < r.LossBefore);
            Assert.True(r.NeuronGain > 0);
            Assert.True(r.DeltaGain >= 0);
        });
    }

    [Fact]
    public void NeuronsPastTheRankGetTheSurplusRule()
    {
        // the last site has 2 outputs: at most 2 directions, the other 3 neurons are surplus
        var data = GrowthFixtures.Random(200, 4, 2, 31);
        foreach (var surplus in new[] { TinySurplus.Random, TinySurplus.Zero })
        {
            var m = GrowthFixtures.Mlp(32, 4, 3, 2);
            var ext = (TinyExtender)new TinyConfig(Batches: 1, BatchSize: 200, Surplus: surplus, SingularThreshold: 0).Build();
            ext.Extend(new GrowthContext(m, data, new Rng(1)), [5]);
            Assert.Equal(2, ext.LastReports[0].Directions);
            var site = m.Sites[0];
            var w = new float[site.FanIn];
            var o = new float[site.FanOut];
            for (int j = 3 + 2; j < 8; j++)
            {
                site.GetIncoming(j, w);
                site.GetOutgoing(j, o);
                Assert.All(o, v => Assert.Equal(0f, v));
                Assert.Equal(0f, site.GetBias(j));
                if (surplus == TinySurplus.Zero) Assert.All(w, v => Assert.Equal(0f, v));
                else Assert.True(Norm(w.Select(v => (double)v).ToArray()) > 0);
            }
        }
    }

    [Fact]
    public void LineSearchFindsTheMinimumAndExtendsTheGridUpwards()
    {
        var (g, l) = TinyExtender.LineSearch(x => (x - 0.3) * (x - 0.3), 0.09, 1e-3, 1, 31, 0);
        Assert.InRange(g, 0.25, 0.36);
        Assert.Equal((g - 0.3) * (g - 0.3), l);
        (g, _) = TinyExtender.LineSearch(x => (x - 50) * (x - 50), 2500, 1e-3, 1, 13, 3);
        Assert.InRange(g, 40, 60);
        (g, _) = TinyExtender.LineSearch(x => (x - 50) * (x - 50), 2500, 1e-3, 1, 13, 0);
        Assert.Equal(1, g, 9);                  // no extension: the top of the grid
        (g, l) = TinyExtender.LineSearch(x => 1 + x, 1, 1e-3, 1, 13, 3);
        Assert.Equal(0, g);                     // nothing beats γ = 0
        Assert.Equal(1, l);
    }

    // a depthwise-separable net with BatchNorms of non-trivial state (eval mode): DepthwiseNet (3×8×8: swish, depthwise
    // stride 2, then ReLU, depthwise stride 1) or MobileNetV1 at width 8 (3×32×32, swish; block 2's depthwise has stride 2)
    private static (GrowableModel Model, InMemoryDataset Data) DepthwiseModel(string net, int samples, ulong seed)
    {
        var cfg = net == "mobilenet" ? Models.MobileNetV1(8) : GradMaxConvTests.DepthwiseNet();
        int[] shape = net == "mobilenet" ? [3, 32, 32] : [3, 8, 8];
        var data = GradMaxConvTests.TeacherData(cfg, samples, shape, seed);
        var m = new GrowableModel((Sequential)cfg.Build(new Rng(seed + 1)));
        // running statistics close to the data's (30 passes in train mode), random γ and β
        m.Module.Train();
        for (int k = 0; k < 30; k++)
            using (TensorScope.Begin()) m.Forward(data.Gather(data.IdentityOrder.ToArray(), 0, data.Count).X);
        GradMaxConvTests.Warm(m, data, seed + 2);
        return (m, data);
    }

    [Theory]
    [InlineData("small", 0)]       // conv → BN → swish → depthwise (stride 2) → BN → swish → pointwise
    [InlineData("small", 1)]       // pointwise → BN → ReLU → depthwise (stride 1, with bias) → BN → ReLU → pointwise
    [InlineData("mobilenet", 11)]  // block 11's pointwise → BN → swish → block 12's depthwise (stride 2) → BN → swish → pointwise
    [InlineData("mobilenet", 12)]  // the same into block 13 (depthwise stride 1)
    public void AtADepthwiseSiteTheMomentsMatchTheGradientsOfTheRealNetwork(string net, int s)
    {
        // With a new channel of zero incoming weights and outgoing ω, the mean loss's gradient w.r.t. its incoming
        // weights is −N₀·ω (N₀ = the unprojected moment, through the linearised path), and the gradient w.r.t. the old
        // consumer weights is −(positions)·M: both by autograd through the real network (eval mode; ReLU with
        // derivative 1 at 0, TINY's σ′(0+) = 1; swish's slope ½ at 0 and the depthwise conv's Dirac filter as they are).
        var (m, data) = DepthwiseModel(net, 16, 71);
        var site = m.Sites[s];
        Assert.NotEmpty(site.Tied);
        var cp = TinyExtender.ConvProblem(m, s, data, data.IdentityOrder.ToArray(), 1, data.Count, 1e-4);
        Assert.Equal(1, cp.Taps);                     // a pointwise consumer
        m.UseReluOne(s);
        int old = site.Width, c = site.Grow(1);
        // the incoming-weight gradient per unit outgoing vector e_r: brute force [FanOut, FanIn] against −N₀ᵀ
        var bf = GradMaxConvTests.BruteForce(m, s, c, data);
        var n0 = cp.UnprojectedMoment;
        var mine = new double[site.FanOut * site.FanIn];
        for (int r = 0; r < site.FanOut; r++)
            for (int f = 0; f < site.FanIn; f++) mine[r * site.FanIn + f] = -n0[f, r];
        GradMaxConvTests.AssertClose(bf, mine, 1e-4);
        // the old consumer weights' gradient: −positions·M (M averages over the consumer's rows, the loss over samples)
        var trainer = new Trainer(m.Module);
        m.Module.Eval();
        trainer.Backward(data.Gather(data.IdentityOrder.ToArray(), 0, data.Count));
        var g = site.OutWeight.Grad!.Span;
        int outs = site.OutWeight.Dim(0), cin = site.OutWeight.Dim(1);
        int positions;
        using (TensorScope.Begin())
        using (Sprout.Autograd.Graph.NoGrad())
        {
            Tensor x = data.Gather(data.IdentityOrder.ToArray(), 0, 1).X;
            for (int i = 0; i <= m.ConsumerLayer(s); i++) x = m.Module.Layers[i].Forward(x);
            positions = x.Dim(2) * x.Dim(3);
        }
        var want = new double[outs, old];
        var got = new double[outs * old];
        for (int u = 0; u < outs; u++)
            for (int i = 0; i < old; i++)
            {
                want[u, i] = g[u * cin + i];
                got[u * old + i] = -positions * cp.ConsumerMoment[i, u];
            }
        m.Module.ZeroGrad();
        GradMaxConvTests.AssertClose(want, got, 1e-4);
    }

    [Theory]
    [InlineData("small", 0, true)]        // swish, depthwise stride 2
    [InlineData("small", 1, true)]        // ReLU, depthwise stride 1
    [InlineData("mobilenet", 11, true)]   // swish, depthwise stride 2
    [InlineData("mobilenet", 12, false)]  // swish, depthwise stride 1; its channels' own gain is so small that 1e-3 of the loss needs γ ≈ 12, far from linear
    public void AtADepthwiseSiteTinyChannelsReduceTheFirstOrderLossMoreThanRandomOnesOfTheSameNorm(string net, int s, bool measurable)
    {
        var (m, data) = DepthwiseModel(net, 32, 81);
        var site = m.Sites[s];
        var cp = TinyExtender.ConvProblem(m, s, data, data.IdentityOrder.ToArray(), 1, data.Count, 1e-4);
        var tn = TinyExtender.NewNeurons(cp.InputCovariance, cp.Moment, 2, 1e-4, 0);
        Assert.Equal(2, tn.Count);
        bool relu = m.UseReluOne(s) > 0;   // ReLU: derivative 1 at 0, TINY's σ′(0+) = 1
        int first = site.Grow(2), fan = site.FanIn, fanOut = site.FanOut;
        var trainer = new Trainer(m.Module);
        var all = data.Gather(data.IdentityOrder.ToArray(), 0, data.Count);

        // the first-order decrease of the mean loss per unit γ² for channels (γα_k, γω_k), by autograd through the real
        // network: −Σ_k α_k·∂L/∂(incoming of k) at zero incoming weights with outgoing ω_k (eval mode)
        double FirstOrder(Matrix<double> alpha, Matrix<double> omega)
        {
            for (int k = 0; k < 2; k++)
            {
                site.SetIncoming(first + k, new float[fan]);
                site.SetBias(first + k, 0f);
                site.SetOutgoing(first + k, omega.Row(k).Select(v => (float)v).ToArray());
            }
            m.Module.Eval();
            trainer.Backward(all);
            var gw = site.InWeight.Grad!.Span;
            double d = 0;
            for (int k = 0; k < 2; k++)
            {
                for (int f = 0; f < fan; f++) d -= alpha[k, f] * gw[(first + k) * fan + f];
                if (alpha.ColumnCount > fan) d -= alpha[k, fan] * site.InBias!.Grad!.Span[first + k];
            }
            m.Module.ZeroGrad();
            return d;
        }

        // TINY adds its channels together with the consumer's move δW*, and maximises the first-order decrease left after
        // it: αᵀNω = αᵀN₀ω − αᵀ(N₀ − N)ω, the channels' own decrease (measured through the network) less the part δW*
        // already gives (from the statistics). Alone, channels that duplicate δW* can do more at first order: at the
        // MobileNet site 12, TINY's two give 1.5e-5 and the best of 20 random ones 1.4e-4.
        var overlap = cp.UnprojectedMoment - cp.Moment;
        double Beyond(Matrix<double> alpha, Matrix<double> omega) => FirstOrder(alpha, omega) - (alpha * overlap * omega.Transpose()).Trace();
        double own = FirstOrder(tn.Alpha, tn.Omega);
        // the channels' own first order is what the statistics predict (the linearised path is exact at first order)
        double predicted = (tn.Alpha * cp.UnprojectedMoment * tn.Omega.Transpose()).Trace();
        Assert.True(Math.Abs(own - predicted) <= 1e-3 * Math.Abs(predicted), $"first order {own} vs the statistics' {predicted}");
        double tiny = Beyond(tn.Alpha, tn.Omega);
        Assert.True(tiny > 0, $"TINY first-order decrease {tiny}");
        // random channels of the same norms in TINY's geometry: the same mean square output √(αᵀS_aα) (S_a: the
        // covariance of the producer's input patches) and the same ‖ω‖. (With the same Euclidean ‖α‖ instead, random
        // channels win here: S_a is ill-conditioned after the BatchNorms, and TINY's α = √σ·S_a^{−1/2}u leans on its
        // low-variance directions, so it has a much smaller output than a random α of the same length.)
        var sa = cp.InputCovariance;
        double OutputNorm(Vector<double> a) => Math.Sqrt(a * sa * a);
        int da = tn.Alpha.ColumnCount;
        double maxRand = BestOfRandomPairs(tn, new Rng(83), OutputNorm, Beyond);
        Assert.True(tiny > 1.25 * maxRand, $"best of 20 random first-order decreases {maxRand} vs TINY {tiny}");

        // and the real loss goes down with the channels alone: at the scale where their first order predicts 1e-3 of the
        // loss, swish paths (smooth) follow the prediction; a ReLU path gets only the positive side of αᵀa (about half)
        if (!measurable) return;
        Assert.True(predicted > 0, $"the channels' own first order {predicted}");
        m.Module.Eval();
        double l0 = Loss(m, data);
        double gamma = Math.Sqrt(1e-3 * l0 / predicted);
        for (int k = 0; k < 2; k++)
        {
            site.SetIncoming(first + k, tn.Alpha.Row(k).Take(fan).Select(v => (float)(gamma * v)).ToArray());
            if (da > fan) site.SetBias(first + k, (float)(gamma * tn.Alpha[k, fan]));
            site.SetOutgoing(first + k, tn.Omega.Row(k).Select(v => (float)(gamma * v)).ToArray());
        }
        double measured = l0 - Loss(m, data), ratio = measured / (gamma * gamma * predicted);
        Assert.True(relu ? ratio is > 0.2 and < 1.25 : ratio is > 0.8 and < 1.25, $"measured {measured} vs predicted {gamma * gamma * predicted} (γ {gamma})");
    }

    [Fact]
    public void MobileNetV1GrowsWithTinyThroughTheGrowthRunner()
    {
        var cfg = Models.MobileNetV1(8);
        var train = GradMaxConvTests.TeacherData(cfg, 64, [3, 32, 32], 91);
        var val = GradMaxConvTests.TeacherData(cfg, 32, [3, 32, 32], 92);
        var counts = Enumerable.Repeat(1, 14).ToArray();
        var run = new GrowthRunConfig([], GrowthSchedule.FromTotals(14), new TinyConfig(Batches: 1, BatchSize: 64, LineSearchBatchSize: 32, LineSearchPoints: 5, LineSearchExtensions: 1),
            new FixedConfig(counts), new StageTraining(1), new StageTraining(1), BatchSize: 32, LearningRate: 0.01, Seed: 7, DiagnosticBatch: 32,
            Model: cfg, InputShape: [3, 32, 32]);
        var report = new GrowthRunner(run).Run(train, val, val);
        Assert.Equal(Enumerable.Repeat(9, 14).ToArray(), report.FinalWidths);
    }

    [Fact]
    public void TheLineSearchShortcutChoosesWhatTheFullForwardChooses()
    {
        // ReLU MLP and conv → BN → ReLU → max pool → Flatten → Linear: homogeneous paths, so each line-search evaluation
        // runs only the layers after the consumer (z0 + γ²·Δz); the full forward from the producer must agree
        foreach (bool conv in new[] { false, true })
        {
            (TinySiteReport[] Reports, float[][] Weights, double Loss) Run(bool full)
            {
                var data = conv ? GrowthFixtures.Random(200, 36, 3, 41).WithShape([1, 6, 6]) : GrowthFixtures.Random(200, 6, 4, 21);
                var m = conv
                    ? new GrowableModel((Sequential)new SequentialConfig([
                        new Conv2dConfig(1, 3, 3, 1, 1, Bias: false), new BatchNormConfig(3), ActivationConfig.Relu, new PoolConfig(PoolKind.Max, 2),
                        new FlattenConfig(), new LinearConfig(3 * 3 * 3, 5), ActivationConfig.Relu, new LinearConfig(5, 3)]).Build(new Rng(6)))
                    : GrowthFixtures.Mlp(22, 6, 3, 3, 4);
                Assert.All(Enumerable.Range(0, m.Sites.Count), k => Assert.True(TinyExtender.HomogeneousPath(m, k)));
                var ext = (TinyExtender)new TinyConfig(Batches: 1, BatchSize: 200, LineSearchBatchSize: 200).Build();
                ext.FullLineSearch = full;
                ext.Extend(new GrowthContext(m, data, new Rng(4)), conv ? [2, 3] : [2, 2]);
                m.Module.Eval();
                return (ext.LastReports.ToArray(), m.CopyWeights(), Loss(m, data));
            }
            var fast = Run(false);
            var full = Run(true);
            for (int k = 0; k < fast.Reports.Length; k++)
            {
                Assert.True(fast.Reports[k].Gamma > 0);
                Assert.Equal(full.Reports[k].Gamma, fast.Reports[k].Gamma);
                Assert.Equal(full.Reports[k].LossBefore, fast.Reports[k].LossBefore, 5);
                Assert.Equal(full.Reports[k].LossAfter, fast.Reports[k].LossAfter, 5);
            }
            // the line search's batch is the whole set: its last loss is the grown network's
            Assert.Equal(fast.Loss, fast.Reports[^1].LossAfter, 5);
            for (int p = 0; p < fast.Weights.Length; p++)
                for (int i = 0; i < fast.Weights[p].Length; i++) Assert.Equal(full.Weights[p][i], fast.Weights[p][i], 5);
        }
    }

    [Theory]
    [InlineData("small", 1)]   // a pointwise consumer (T = 1)
    [InlineData("small", 2)]   // max pool → Flatten → Linear (T = 4)
    [InlineData("conv", 0)]    // conv → avg pool → conv (T = 9)
    public void KeepingTheBatchesGivesTheSameProblemAsAccumulatingTheirProducts(string net, int s)
    {
        // N from [v | v − b·δ*]ᵀ·G over kept batches (chosen when BᵀG is large) against N = (VᵀG − δ*ᵀ·BᵀG)
        var (m, data) = net == "conv" ? (LinearisedConvNet(52), Images(300, 51)) : DepthwiseModel(net, 32, 61);
        var order = data.IdentityOrder.ToArray();
        var kept = TinyExtender.TimedConvProblem(m, s, data, order, 3, data.Count / 3, 1e-4, null, defer: true);
        var summed = TinyExtender.TimedConvProblem(m, s, data, order, 3, data.Count / 3, 1e-4, null, defer: false);
        // (a conv consumer's products run per sample on its im2col columns when the batches are not kept: the same sums
        // in another order)
        foreach (var (a, b) in new[] { (summed.Delta, kept.Delta), (summed.Moment, kept.Moment), (summed.UnprojectedMoment, kept.UnprojectedMoment) })
        {
            double scale = a.Enumerate().Max(Math.Abs);
            Assert.True(scale > 0);
            // float sums in another order, and the moment is a difference of larger terms: 1.6e-4 of the largest entry
            // was seen on "small"/2 after the depthwise kernel changed the rounding of its forward pass
            Assert.True((a - b).Enumerate().Max(Math.Abs) <= 5e-4 * scale, $"max difference {(a - b).Enumerate().Max(Math.Abs)} of {scale}");
        }
    }

    [Fact]
    public void TooWideSitesAreRejectedWithTheReason()
    {
        // a Linear site too wide for its covariance is rejected before anything is allocated
        var ext = new TinyConfig().Build();
        var wide = GrowthFixtures.Mlp(1, TinyExtender.MaxStatisticsSize, 2, 2);
        var wideData = new InMemoryDataset(new float[2 * TinyExtender.MaxStatisticsSize], new int[2], TinyExtender.MaxStatisticsSize);
        var e = Assert.Throws<ArgumentException>(() => ext.Extend(new GrowthContext(wide, wideData, new Rng(1)), [1]));
        Assert.Contains("covariance", e.Message);
    }

    // narrow on purpose: a wider second conv would span its whole input, leaving no bottleneck for TINY to fix
    private static GrowableModel LinearisedConvNet(ulong seed) => new((Sequential)new SequentialConfig([
        new Conv2dConfig(1, 2, 3, 1, 1), new ActivationConfig(ActivationKind.Identity), new PoolConfig(PoolKind.Average, 2),
        new Conv2dConfig(2, 1, 3, 1, 1), new ActivationConfig(ActivationKind.Identity),
        new FlattenConfig(), new LinearConfig(1 * 3 * 3, 4)]).Build(new Rng(seed)));

    private static InMemoryDataset Images(int n, ulong seed)
    {
        var r = GrowthFixtures.Random(n, 36, 4, seed);
        return new InMemoryDataset(r.X, r.Labels, 36, [1, 6, 6]);
    }

    [Theory]
    [InlineData(0)]   // conv → avg pool → conv: T = 3·3 consumer taps
    [InlineData(1)]   // conv → Flatten → Linear: T = 3·3 positions
    public void AtAConvSiteTheFirstOrderGainIsExactForALinearPathAndBeatsRandomChannels(int siteIndex)
    {
        var data = Images(300, 51);
        var m = LinearisedConvNet(52);
        var site = m.Sites[siteIndex];
        var cp = TinyExtender.ConvProblem(m, siteIndex, data, data.IdentityOrder.ToArray(), 1, 300, 1e-6);
        Assert.Equal(9, cp.Taps);
        var tn = TinyExtender.NewNeurons(cp.InputCovariance, cp.Moment, 2, 1e-6, 0);
        Assert.Equal(2, tn.Count);
        double l0 = Loss(m, data);
        const double gamma = 0.05;
        int first = site.Grow(2), fan = site.FanIn;

        double Decrease(Matrix<double> alpha, Matrix<double> omega)
        {
            for (int k = 0; k < 2; k++)
            {
                site.SetIncoming(first + k, alpha.Row(k).Take(fan).Select(v => (float)(gamma * v)).ToArray());
                site.SetBias(first + k, (float)(gamma * alpha[k, fan]));
                site.SetOutgoing(first + k, omega.Row(k).Select(v => (float)(gamma * v)).ToArray());
            }
            return l0 - Loss(m, data);
        }

        double tiny = Decrease(tn.Alpha, tn.Omega);
        // identity activations and average pooling: the linearisation is exact, so the first order predicts the decrease
        double predicted = gamma * gamma * (tn.Alpha * cp.UnprojectedMoment * tn.Omega.Transpose()).Trace();
        Assert.InRange(tiny / predicted, 0.8, 1.05);
        double maxRand = BestOfRandomPairs(tn, new Rng(53), a => a.L2Norm(), Decrease);
        // measured: conv → conv 1.66e-5 vs 7.4e-6; conv → Flatten → Linear 6.8e-4 vs 4.3e-4 (the best of 20 random channels)
        Assert.True(tiny > 1.25 * maxRand, $"best of 20 random decreases {maxRand} vs TINY {tiny}");
    }

    // The best first-order decrease of 20 random pairs of channels: normal directions, each α scaled to the TINY
    // channel's norm as `norm` measures it, each ω to the TINY channel's Euclidean norm.
    private static double BestOfRandomPairs(TinyNeurons tn, Rng rng, Func<Vector<double>, double> norm, Func<Matrix<double>, Matrix<double>, double> decrease)
    {
        int da = tn.Alpha.ColumnCount, dw = tn.Omega.ColumnCount;
        var buf = new float[da + dw];
        double best = double.NegativeInfinity;
        for (int trial = 0; trial < 20; trial++)
        {
            var ra = Matrix<double>.Build.Dense(2, da);
            var ro = Matrix<double>.Build.Dense(2, dw);
            for (int k = 0; k < 2; k++)
            {
                rng.FillNormal(buf, 0, 1);
                var va = Vector<double>.Build.Dense(da, i => buf[i]);
                var vo = Vector<double>.Build.Dense(dw, i => buf[da + i]);
                ra.SetRow(k, va * (norm(tn.Alpha.Row(k)) / norm(va)));
                ro.SetRow(k, vo * (tn.Omega.Row(k).L2Norm() / vo.L2Norm()));
            }
            best = Math.Max(best, decrease(ra, ro));
        }
        return best;
    }

    [Fact]
    public void ConfigRoundTripsThroughJsonAndRejectsBadSettings()
    {
        var c = new TinyConfig(Batches: 2, BatchSize: 64, ApplyDelta: false, Ridge: 1e-3, SingularThreshold: 0.01, Surplus: TinySurplus.Zero,
            LineSearchBatchSize: 100, GammaMin: 1e-2, GammaMax: 2, LineSearchPoints: 7, LineSearchExtensions: 1);
        Assert.Equal(c, ExtenderConfig.FromJson(c.ToJson()));
        Assert.Contains("\"surplus\": \"Zero\"", c.ToJson());
        Assert.Equal(new TinyConfig(), ExtenderConfig.FromJson("\"tiny\""));
        Assert.IsType<TinyExtender>(Extender.Create("tiny"));
        Assert.Contains("tiny", GrowthMethods.ExtenderPresets);
        Assert.Throws<ArgumentException>(() => new TinyConfig(Batches: 0).Build());
        Assert.Throws<ArgumentException>(() => new TinyConfig(BatchSize: int.MaxValue).Build());
        Assert.Throws<ArgumentException>(() => new TinyConfig(Ridge: 0).Build());
        Assert.Throws<ArgumentException>(() => new TinyConfig(Ridge: double.NaN).Build());
        Assert.Throws<ArgumentException>(() => new TinyConfig(SingularThreshold: 1).Build());
        Assert.Throws<ArgumentException>(() => new TinyConfig(Surplus: (TinySurplus)7).Build());
        Assert.Throws<ArgumentException>(() => new TinyConfig(GammaMin: 0).Build());
        Assert.Throws<ArgumentException>(() => new TinyConfig(GammaMin: 2, GammaMax: 1).Build());
        Assert.Throws<ArgumentException>(() => new TinyConfig(GammaMax: 1e9).Build());
        Assert.Throws<ArgumentException>(() => new TinyConfig(LineSearchPoints: 0).Build());
        Assert.Throws<ArgumentException>(() => new TinyConfig(LineSearchExtensions: 11).Build());
    }

    [Fact]
    public void AGrowthRunWithTinyGrowsAnMlp()
    {
        var train = GrowthFixtures.Spirals(400, 1);
        var val = GrowthFixtures.Spirals(100, 2);
        var cfg = new GrowthRunConfig([2, 6, 6, 2], GrowthSchedule.FromTotals(4), new TinyConfig(Batches: 2, BatchSize: 100, LineSearchBatchSize: 200),
            new RasConfig(), new StageTraining(2), new StageTraining(1), BatchSize: 50, LearningRate: 0.01, Seed: 5, DiagnosticBatch: 100);
        var report = new GrowthRunner(cfg).Run(train, val, val);
        Assert.Equal(16, report.FinalWidths.Sum());
    }

    [Fact]
    public void AGrowthRunWithTinyGrowsAConvNet()
    {
        // conv → BN → ReLU → max pool → Flatten → Linear → ReLU → Linear: a conv site (through BatchNorm and pooling) and a Linear one
        var model = new SequentialConfig([
            new Conv2dConfig(1, 3, 3, 1, 1, Bias: false), new BatchNormConfig(3), ActivationConfig.Relu, new PoolConfig(PoolKind.Max, 2),
            new FlattenConfig(), new LinearConfig(3 * 3 * 3, 5), ActivationConfig.Relu, new LinearConfig(5, 3)]);
        var train = GrowthFixtures.Random(300, 36, 3, 41);
        var val = GrowthFixtures.Random(100, 36, 3, 42);
        var cfg = new GrowthRunConfig([], GrowthSchedule.FromTotals(3), new TinyConfig(Batches: 2, BatchSize: 100, LineSearchBatchSize: 100),
            new FixedConfig([2, 3]), new StageTraining(1), new StageTraining(1), BatchSize: 50, LearningRate: 0.01, Seed: 6, DiagnosticBatch: 100,
            Model: model, InputShape: [1, 6, 6]);
        var report = new GrowthRunner(cfg).Run(train, val, val);
        Assert.Equal([5, 8], report.FinalWidths);
    }
}
