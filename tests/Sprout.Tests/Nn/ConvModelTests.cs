using Sprout.Autograd;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Nn;

public class ConvModelTests
{
    private static Module Build(SequentialConfig c, ulong seed = 1) => c.Build(new Rng(seed));

    [Fact]
    public void Vgg16AtWidth16HasFireflysParameterCount()
    {
        var m = Build(Models.Vgg16(16));
        Assert.Equal(28_666, m.ParameterCount()); // paper 002's 0.0288M start
        var y = m.Forward(Tensor.Zeros(2, 3, 32, 32));
        Assert.Equal([2, 10], y.ShapeArray());
    }

    [Fact]
    public void BackboneShapesAndHead()
    {
        var cfg = Models.SweBackbone(10, [40]);
        var m = Build(cfg);
        Assert.Equal([4, 10], m.Forward(Tensor.Zeros(4, 3, 32, 32)).ShapeArray());
        var lin = cfg.Layers.OfType<LinearConfig>().First();
        Assert.Equal(2048, lin.InFeatures);
        var c100 = Models.SweBackbone(100, [40]);
        Assert.Equal(64 * 8 * 8, c100.Layers.OfType<LinearConfig>().First().InFeatures);
    }

    [Fact]
    public void BackboneGrowableLayers()
    {
        var cfg = Models.SweBackbone(10, [40]);
        var g = Models.GrowableLayers(cfg);
        // 4 convs (each with its BN tied) and the hidden Linear
        Assert.Equal(5, g.Count);
        Assert.Equal(0, g[0].Producer);
        Assert.Equal([1], g[0].Tied);
        Assert.Equal(3, g[0].Consumer);
        var last = g[3]; // last conv feeds the first Linear through Flatten: 8·8 inputs per channel
        Assert.IsType<LinearConfig>(cfg.Layers[last.Consumer]);
        Assert.Equal(64, last.ConsumerBlock);
        Assert.Equal(1, g[4].ConsumerBlock);
    }

    [Fact]
    public void MobileNetTiesDepthwiseConvsToTheirProducer()
    {
        var cfg = Models.MobileNetV1(32);
        var m = Build(cfg);
        Assert.Equal([2, 10], m.Forward(Tensor.Zeros(2, 3, 32, 32)).ShapeArray());
        var g = Models.GrowableLayers(cfg);
        Assert.Equal(14, g.Count); // first conv + 13 pointwise convs, like Firefly's layers to split
        var first = g[0];
        Assert.Equal(3, first.Tied.Count); // BN, depthwise conv, its BN
        Assert.Equal(1, ((Conv2dConfig)cfg.Layers[first.Consumer]).Kernel);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FreeConvNetShapes(bool cifar)
    {
        foreach (bool lc in new[] { true, false })
        {
            var m = Build(Models.FreeConvNet(cifar, lc));
            int c = cifar ? 3 : 1, s = cifar ? 32 : 28;
            Assert.Equal([2, 10], m.Forward(Tensor.Zeros(2, c, s, s)).ShapeArray());
        }
    }

    [Theory]
    [InlineData(false, 32)]
    [InlineData(true, 32)]
    [InlineData(false, 28)]
    public void WibCnnShapes(bool paper, int size)
    {
        var m = Build(Models.WibCnn(new ActivationConfig(ActivationKind.WibRelu), paper, 10, 1, size));
        Assert.Equal([3, 10], m.Forward(Tensor.Zeros(3, 1, size, size)).ShapeArray());
    }

    [Fact]
    public void ConvConfigsRoundTripThroughJson()
    {
        var cfg = Models.FreeConvNet(false, true, mask: LcMask.Weight, severProbability: 0.3);
        var back = ModuleConfig.FromJson(cfg.ToJson());
        Assert.Equal(cfg.ToJson(), back.ToJson());
        var a = cfg.Build(new Rng(2));
        var b = back.Build(new Rng(2));
        Assert.Equal(a.Parameters().SelectMany(p => p.ToArray()), b.Parameters().SelectMany(p => p.ToArray()));
    }

    [Fact]
    public void BatchNormTrainAndEvalDiffer()
    {
        var bn = (BatchNorm)new BatchNormConfig(2).Build(new Rng(1));
        var rng = new Rng(5);
        var x = Tensor.Normal(rng, 3, 2, 16, 2, 2, 2); // mean 3, std 2
        var yTrain = bn.Forward(x);
        // training output is normalised with batch statistics: per-channel mean ≈ 0, var ≈ 1
        var m = Ops.Mean(Ops.Mean(Ops.Mean(yTrain, 3), 2), 0);
        Assert.All(m.ToArray(), v => Assert.InRange(v, -1e-4f, 1e-4f));
        Assert.InRange(bn.RunningMean[0], 0.1f, 0.5f); // moved 10% towards ≈ 3
        bn.Eval();
        var yEval = bn.Forward(x);
        Assert.NotEqual(yTrain.ToArray(), yEval.ToArray());
        float expect = (x[0] - bn.RunningMean[0]) / MathF.Sqrt(bn.RunningVar[0] + 1e-5f);
        Assert.Equal(expect, yEval[0], 4);
    }

    [Fact]
    public void MaskedWeightsStayExactlyZeroAfterTraining()
    {
        var cfg = new LocallyConnected2dConfig(1, 8, 8, 4, 3, 1, Mask: LcMask.Weight, SeverProbability: 0.5);
        var lc = (LocallyConnected2d)cfg.Build(new Rng(3));
        var mask = lc.WeightMask!.ToArray();
        Assert.InRange(mask.Count(v => v == 0f) / (double)mask.Length, 0.4, 0.6);
        var trainer = new Trainer(lc, new AdamW(lc.Parameters(), 0.05, weightDecay: 0.1), Loss.Mse);
        var rng = new Rng(4);
        for (int step = 0; step < 20; step++)
        {
            var x = Tensor.Uniform(rng, -1, 1, 4, 1, 8, 8);
            trainer.Step(new Batch(x, target: Tensor.Uniform(rng, -1, 1, 4, 4, 6, 6)));
        }
        var w = lc.Weight.ToArray();
        for (int i = 0; i < w.Length; i++)
            if (mask[i] == 0f) Assert.Equal(0f, w[i]);
        Assert.Contains(w.Where((v, i) => mask[i] != 0f), v => v != 0f);
    }

    [Fact]
    public void InputMaskSeversInputs()
    {
        var lc = (LocallyConnected2d)new LocallyConnected2dConfig(2, 6, 6, 3, 3, Mask: LcMask.Input, SeverProbability: 0.5).Build(new Rng(7));
        var mask = lc.InputMask!;
        var x = Tensor.Uniform(new Rng(1), -1, 1, 1, 2, 6, 6);
        var x2 = x.Clone();
        // changing a severed input changes nothing
        int severed = Array.IndexOf(mask.ToArray(), 0f);
        x2[severed] += 5f;
        Assert.Equal(lc.Forward(x).ToArray(), lc.Forward(x2).ToArray());
    }

    [Fact]
    public void LocallyConnectedKerasInitIsNarrowerThanConvTwin()
    {
        var keras = (LocallyConnected2d)new LocallyConnected2dConfig(1, 28, 28, 32, 3, 2).Build(new Rng(1));
        var twin = (LocallyConnected2d)new LocallyConnected2dConfig(1, 28, 28, 32, 3, 2, Init: LcInit.ConvFans).Build(new Rng(1));
        double Std(Tensor t) => Math.Sqrt(t.ToArray().Average(v => (double)v * v));
        // fan_in + fan_out: Keras P·(K+F) = 169·41 vs conv K + k²F = 9 + 288
        Assert.Equal(Math.Sqrt(2.0 / (169 * 41)), Std(keras.Weight), 3);
        Assert.Equal(Math.Sqrt(2.0 / (9 + 288)), Std(twin.Weight), 3);
        var shared = (LocallyConnected2d)new LocallyConnected2dConfig(1, 10, 10, 2, 3, Init: LcInit.SharedConv).Build(new Rng(1));
        var w = shared.Weight.ToArray();
        int per = 9 * 2;
        for (int pos = 1; pos < 64; pos++) Assert.Equal(w[..per], w[(pos * per)..((pos + 1) * per)]);
    }

    [Theory]
    [InlineData(8, 8)]
    [InlineData(32, 16)] // after the pool, the second convolution (8 → 16 channels, 3×3 at 16×16) runs on Winograd F(2×2, 3×3)
    public void SmallCnnLearnsSyntheticImageTask(int size, int width)
    {
        // class = orientation of a bar (horizontal vs vertical) at a random place, with noise
        if (size == 32 && System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
            Assert.True(Sprout.Kernels.Winograd.AppliesToWeightGrad(new Sprout.Kernels.ConvGeometry(8, 16, 16, 3, 3, 1, 1, 1, 1), width));
        var rng = new Rng(11);
        int px = size * size, bar = size / 2;
        int n = 512;
        float[] MakeImages(int count, Rng r, int[] labels)
        {
            var xs = new float[count * px];
            for (int i = 0; i < count; i++)
            {
                int label = i % 2;
                labels[i] = label;
                int pos = r.NextInt(size), start = r.NextInt(size - bar + 1);
                for (int t = 0; t < bar; t++)
                {
                    int yy = label == 0 ? pos : start + t, xx = label == 0 ? start + t : pos;
                    xs[i * px + yy * size + xx] = 1f;
                }
                for (int j = 0; j < px; j++) xs[i * px + j] += (float)(0.2 * r.Normal());
            }
            return xs;
        }
        var y = new int[n];
        var x = MakeImages(n, rng.Fork("train"), y);
        var yt = new int[256];
        var xt = MakeImages(256, rng.Fork("test"), yt);
        var cfg = new SequentialConfig([
            new Conv2dConfig(1, 8, 3, 1, 1), new BatchNormConfig(8), ActivationConfig.Relu, new PoolConfig(PoolKind.Max, 2),
            new Conv2dConfig(8, width, 3, 1, 1), ActivationConfig.Relu, new PoolConfig(PoolKind.AdaptiveAverage, OutputSize: 1, FlattenOutput: true),
            new LinearConfig(width, 2)]);
        var model = cfg.Build(rng.Fork("init"));
        var trainer = new Trainer(model, new Adam(model.Parameters(), 0.01));
        var data = new InMemoryDataset(x, y, px, [1, size, size]);
        for (int epoch = 0; epoch < 15; epoch++) trainer.TrainEpoch(data, rng.Permutation(n), 32);
        model.Eval();
        using var scope = TensorScope.Begin();
        var logits = model.Forward(new Tensor(xt, 256, 1, size, size));
        double acc = Loss.CountArgMaxMatches(logits, yt) / 256.0;
        Assert.True(acc >= 0.95, $"test accuracy {acc:P1}");
    }
}
