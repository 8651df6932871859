using Sprout.Autograd;
using Sprout.Nn;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Nn;

public class ModuleTests
{
    [Fact]
    public void MlpParametersAreNamedAndCounted()
    {
        var m = SequentialConfig.Mlp([784, 120, 10], ActivationConfig.Relu).Build(new Rng(1));
        var names = m.NamedParameters().Select(p => p.Name).ToArray();
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias"], names);
        Assert.Equal(784 * 120 + 120 + 120 * 10 + 10, m.ParameterCount());
    }

    [Fact]
    public void ConfigRoundTripsThroughJson()
    {
        var cfg = SequentialConfig.Mlp([10, 7, 3], new ActivationConfig(ActivationKind.WibRelu, Wib: WibVariant.Running), InitScheme.KaimingNormal);
        var json = cfg.ToJson();
        var back = (SequentialConfig)ModuleConfig.FromJson(json);
        Assert.Equal(json, back.ToJson());
        Assert.Contains("\"type\": \"linear\"", json);
        var a = cfg.Build(new Rng(5));
        var b = back.Build(new Rng(5));
        Assert.Equal(a.Parameters().SelectMany(p => p.ToArray()), b.Parameters().SelectMany(p => p.ToArray()));
    }

    [Fact]
    public void BadConfigGivesClearError()
    {
        Assert.Throws<System.Text.Json.JsonException>(() => ModuleConfig.FromJson("{\"type\":\"linear\",\"inFeatures\":\"x\"}"));
        var e = Assert.Throws<ArgumentException>(() => new LinearConfig(0, 3).Build(new Rng(1)));
        Assert.Contains("inFeatures 0", e.Message);
    }

    [Theory]
    [InlineData(InitScheme.PyTorchDefault, 1.0 / 3.0)]            // U(±1/√n): var = 1/(3n)
    [InlineData(InitScheme.KaimingNormal, 2.0)]                    // He, gain √2: var = 2/n
    [InlineData(InitScheme.KaimingUniform, 2.0)]
    [InlineData(InitScheme.WibNormal, 1.0)]                        // N(0,1)/√n
    [InlineData(InitScheme.UniformGainSqrt3, 3.0)]
    public void InitVarianceMatchesScheme(InitScheme scheme, double varTimesFanIn)
    {
        int fanIn = 500;
        var w = new float[200 * fanIn];
        Init.Fill(w, scheme, fanIn, 200, new Rng(2));
        double mean = w.Average(v => (double)v);
        double var = w.Average(v => (double)v * v) - mean * mean;
        Assert.InRange(var * fanIn, varTimesFanIn * 0.97, varTimesFanIn * 1.03);
    }

    [Fact]
    public void XavierUsesBothFans()
    {
        var w = new float[300 * 100];
        Init.Fill(w, InitScheme.XavierUniform, 100, 300, new Rng(3), gain: 1);
        double var = w.Average(v => (double)v * v);
        Assert.InRange(var, 2.0 / 400 * 0.97, 2.0 / 400 * 1.03);
    }

    [Fact]
    public void WibRunningMeanTracksAndIsUsedInEval()
    {
        var act = (Activation)new ActivationConfig(ActivationKind.WibRelu, Wib: WibVariant.Running, Momentum: 0.5f).Build(new Rng(1));
        var x = Tensor.FromArray(new float[] { 2, -1, 4, -3 }, 4); // post-ReLU mean = 1.5
        var y = act.Forward(x);
        Assert.Equal(new float[] { 0.5f, -1.5f, 2.5f, -1.5f }, y.ToArray());
        Assert.Equal(0.5f * 0.3989423f + 0.5f * 1.5f, act.RunningMean![0], 5);
        act.Eval();
        float mu = act.RunningMean[0];
        Assert.Equal(new float[] { 2 - mu, -mu, 4 - mu, -mu }, act.Forward(x).ToArray());
    }

    [Fact]
    public void PReluSlopesLearn()
    {
        var act = (Activation)new ActivationConfig(ActivationKind.PRelu, Slope: 0.25f).Build(new Rng(1));
        Assert.Single(act.Parameters());
        var x = Tensor.FromArray(new float[] { -2, 1 }, 1, 2);
        Ops.Sum(act.Forward(x)).Backward();
        Assert.Equal(-2f, act.Slopes!.Grad![0]);
    }

    [Fact]
    public void SequentialFusesBatchNormWithReluWithoutChangingResults()
    {
        // Sequential.Forward runs BatchNorm+ReLU as one op; layer-by-layer it is two ops. Values and gradients agree
        // bit for bit, in training and in evaluation mode.
        var model = (Sequential)new SequentialConfig([new Conv2dConfig(2, 4, 3, 1, 1, Bias: false), new BatchNormConfig(4), ActivationConfig.Relu,
            new FlattenConfig(), new LinearConfig(4 * 6 * 6, 3)]).Build(new Rng(5));
        var rng = new Rng(6);
        var x = Tensor.Uniform(rng, -1, 1, 5, 2, 6, 6);
        var r = Tensor.Uniform(rng, -1, 1, 5, 3);
        foreach (bool training in new[] { true, false })
        {
            model.Train(training);
            float[][] Run(bool fused)
            {
                model.ZeroGrad();
                var h = x;
                if (fused) h = model.Forward(h);
                else foreach (var l in model.Layers) h = l.Forward(h);
                h.Backward(r);
                return [h.ToArray(), .. model.Parameters().Select(p => p.Grad!.ToArray())];
            }
            var f = Run(true);
            var u = Run(false);
            Assert.Equal(u.Length, f.Length);
            for (int i = 0; i < f.Length; i++) Assert.Equal(u[i], f[i]);
        }
        model.Step(1, model.Layers[0].Forward(x), out int next);
        Assert.Equal(3, next); // the ReLU at index 2 ran inside the fused step
    }
}
