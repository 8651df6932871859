using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Growth;

/// <summary>Growth sites come from what the layers declare (Module.GrowthRole) and match the old type switch.</summary>
[Collection("Workers")]
public class GrowthRoleTests
{
    /// <summary>
    /// The site discovery GrowableModel had before layers declared their roles (a switch over layer classes), kept
    /// here as the reference: producer, consumer, consumer block, the BatchNorm between and the captured layer.
    /// </summary>
    private static List<(int Producer, int Consumer, int Block, BatchNorm? Norm, int Capture)> TypeSwitchSites(Sequential model)
    {
        var layers = model.Layers;
        var param = new List<int>();
        for (int i = 0; i < layers.Count; i++)
            if (layers[i] is Linear || layers[i] is Conv2d { Config.Groups: 1 }) param.Add(i);
        var sites = new List<(int, int, int, BatchNorm?, int)>();
        for (int k = 0; k + 1 < param.Count; k++)
        {
            int pi = param[k], ci = param[k + 1];
            var inW = layers[pi] is Linear pl ? pl.Weight : ((Conv2d)layers[pi]).Weight;
            var outW = layers[ci] is Linear cl ? cl.Weight : ((Conv2d)layers[ci]).Weight;
            BatchNorm? norm = null;
            int capture = ci - 1;
            for (int j = pi + 1; j < ci; j++)
            {
                if (layers[j] is BatchNorm bn && norm is null) norm = bn;
                if (layers[j] is Activation) capture = j;
            }
            int block = layers[pi] is Conv2d && layers[ci] is Linear ? outW.Dim(1) / inW.Dim(0) : 1;
            sites.Add((pi, ci, block, norm, capture));
        }
        return sites;
    }

    public static TheoryData<string> GrowableModels => new(["mlp", "mlp-deep", "swe-backbone", "swe-backbone-100", "vgg16", "wib-cnn", "wib-cnn-paper", "free-cnn-mnist", "free-cnn-cifar"]);

    private static (SequentialConfig Config, int[] Input) Model(string name) => name switch
    {
        "mlp" => (SequentialConfig.Mlp([784, 20, 10], ActivationConfig.Relu), [3, 784]),
        "mlp-deep" => (SequentialConfig.Mlp([784, 10, 10, 10, 10], ActivationConfig.Relu), [3, 784]),
        "swe-backbone" => (Models.SweBackbone(10, [40]), [2, 3, 32, 32]),
        "swe-backbone-100" => (Models.SweBackbone(100, [40, 20]), [2, 3, 32, 32]),
        "vgg16" => (Models.Vgg16(16), [2, 3, 32, 32]),
        "wib-cnn" => (Models.WibCnn(new ActivationConfig(ActivationKind.WibRelu)), [2, 3, 32, 32]),
        "wib-cnn-paper" => (Models.WibCnn(ActivationConfig.Relu, paperVariant: true), [2, 3, 32, 32]),
        "free-cnn-mnist" => (Models.FreeConvNet(cifar: false, locallyConnected: false), [2, 1, 28, 28]),
        "free-cnn-cifar" => (Models.FreeConvNet(cifar: true, locallyConnected: false), [2, 3, 32, 32]),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(GrowableModels))]
    public void DeclaredRolesFindTheSitesTheTypeSwitchFound(string name)
    {
        var (config, input) = Model(name);
        var seq = (Sequential)config.Build(new Rng(1));
        var expected = TypeSwitchSites(seq);
        var model = new GrowableModel(seq);
        Assert.Equal(expected.Count, model.Sites.Count);
        var layers = seq.Layers;
        var x = Tensor.Uniform(new Rng(2), -1, 1, input);
        seq.Eval();
        using var scope = TensorScope.Begin();
        var (_, hidden) = model.ForwardCapture(x);
        for (int k = 0; k < expected.Count; k++)
        {
            var (pi, ci, block, norm, capture) = expected[k];
            var site = model.Sites[k];
            Assert.Same(((GrowableRole)layers[pi].GrowthRole).Weight, site.InWeight);
            Assert.Same(layers[pi] is Linear l ? l.Weight : ((Conv2d)layers[pi]).Weight, site.InWeight);
            Assert.Same(layers[pi] is Linear lb ? lb.Bias : ((Conv2d)layers[pi]).Bias, site.InBias);
            Assert.Same(layers[ci] is Linear c ? c.Weight : ((Conv2d)layers[ci]).Weight, site.OutWeight);
            Assert.Equal(block, site.OutBlock);
            Assert.Same(norm?.Gamma, site.Norm?.Gamma);
            Assert.Same(norm?.RunningVar, site.Norm?.RunningVar);
            Assert.Equal(layers[pi] is Conv2d, model.IsConvSite(k));
            // the captured output (where inactivity is measured) is the same layer's
            var y = x;
            for (int i = 0; i <= capture; i++) y = layers[i].Forward(y);
            Assert.Equal(y.ShapeArray(), hidden[k].ShapeArray());
            Assert.Equal(y.ToArray(), hidden[k].ToArray());
        }
        // and the config-level listing agrees with the sites
        var listed = Models.GrowableLayers(config);
        Assert.Equal(expected.Select(e => (e.Producer, e.Consumer, e.Block)), listed.Select(g => (g.Producer, g.Consumer, g.ConsumerBlock)));
    }

    [Fact]
    public void LayersDeclareTheirRoles()
    {
        var rng = new Rng(1);
        var lin = (Linear)new LinearConfig(3, 4).Build(rng);
        var role = Assert.IsType<GrowableRole>(lin.GrowthRole);
        Assert.Same(lin.Weight, role.Weight);
        Assert.Null(role.Window);
        var conv = (Conv2d)new Conv2dConfig(2, 4, 3, 2, 1).Build(rng);
        Assert.Equal(new ConvWindow(3, 2, 1), Assert.IsType<GrowableRole>(conv.GrowthRole).Window);
        Assert.IsType<DepthwiseRole>(new Conv2dConfig(4, 4, 3, Groups: 4).Build(rng).GrowthRole);
        Assert.IsType<UnsupportedRole>(new Conv2dConfig(4, 4, 3, Groups: 2).Build(rng).GrowthRole);
        var bn = (BatchNorm)new BatchNormConfig(4).Build(rng);
        Assert.Same(bn.RunningVar, Assert.IsType<NormRole>(bn.GrowthRole).RunningVar);
        Assert.Equal(GrowthRole.Activation, ActivationConfig.Relu.Build(rng).GrowthRole);
        Assert.Equal(GrowthRole.Flatten, new FlattenConfig().Build(rng).GrowthRole);
        Assert.Equal(GrowthRole.Flatten, new PoolConfig(PoolKind.AdaptiveAverage, FlattenOutput: true).Build(rng).GrowthRole);
        Assert.Equal(GrowthRole.PassThrough, new PoolConfig(PoolKind.Max).Build(rng).GrowthRole);
        Assert.Equal(GrowthRole.PassThrough, new DropoutConfig(0.1f).Build(rng).GrowthRole);
        Assert.IsType<UnsupportedRole>(new ActivationConfig(ActivationKind.PRelu, Channels: 4).Build(rng).GrowthRole);
        Assert.IsType<UnsupportedRole>(new SequentialConfig([new LinearConfig(2, 2)]).Build(rng).GrowthRole);
    }

    [Fact]
    public void LayersThatCannotGrowAreRejectedWithTheirReason()
    {
        static string Reject(SequentialConfig c) =>
            Assert.Throws<ArgumentException>(() => new GrowableModel((Sequential)c.Build(new Rng(1)))).Message;
        Assert.Contains("two depthwise", Reject(new SequentialConfig([
            new Conv2dConfig(2, 4, 3), ActivationConfig.Relu, new Conv2dConfig(4, 4, 3, Groups: 4), new Conv2dConfig(4, 4, 3, Groups: 4),
            new Conv2dConfig(4, 2, 1), new FlattenConfig(), new LinearConfig(2, 2)])));
        Assert.Contains("locally connected", Reject(Models.FreeConvNet(cifar: false, locallyConnected: true)));
        Assert.Contains("grouped", Reject(new SequentialConfig([
            new Conv2dConfig(2, 4, 3), ActivationConfig.Relu, new Conv2dConfig(4, 4, 3, Groups: 2), new FlattenConfig(), new LinearConfig(4, 2)])));
        Assert.Contains("no hidden layer", Reject(new SequentialConfig([new LinearConfig(2, 2)])));
    }

    /// <summary>A layer type defined outside Nn takes part in growth by declaring its role: here a scaling layer that passes channels through.</summary>
    private sealed class Scale : Module
    {
        public override Tensor Forward(Tensor x) => Sprout.Autograd.Ops.MulScalar(x, 2f);

        public override GrowthRole GrowthRole => GrowthRole.PassThrough;
    }

    [Fact]
    public void ANewLayerTypeOnlyDeclaresItsRole()
    {
        var rng = new Rng(3);
        var seq = new Sequential(new LinearConfig(3, 5).Build(rng), new Scale(), ActivationConfig.Relu.Build(rng), new LinearConfig(5, 2).Build(rng));
        var model = new GrowableModel(seq);
        Assert.Single(model.Sites);
        model.Sites[0].Grow(2);
        Assert.Equal([7], model.Widths());
        Assert.Equal([4, 2], model.Forward(Tensor.Zeros(4, 3)).ShapeArray());
    }
}
