using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Nn;

/// <summary>Module.ToConfig at current shapes, TensorShapes against Build, and Validate's limits.</summary>
public class ModuleConfigTests
{
    public static TheoryData<string> ModelNames => ["swe", "vgg", "mobilenet", "fcn", "cnn", "wib", "wib-paper", "lc-mask", "misc"];

    private static SequentialConfig Model(string name) => name switch
    {
        "swe" => Models.SweBackbone(10, [12], inChannels: 1, imageSize: 8),
        "vgg" => Models.Vgg16(4, uniform: false),
        "mobilenet" => Models.MobileNetV1(8, uniform: false),
        "fcn" => Models.FreeConvNet(cifar: false, locallyConnected: true),
        "cnn" => Models.FreeConvNet(cifar: true, locallyConnected: false),
        "wib" => Models.WibCnn(new ActivationConfig(ActivationKind.WibRelu, Wib: WibVariant.Running)),
        "wib-paper" => Models.WibCnn(new ActivationConfig(ActivationKind.PRelu, Channels: 1), paperVariant: true),
        "lc-mask" => new SequentialConfig([new LocallyConnected2dConfig(2, 6, 6, 3, 3, Mask: LcMask.Input, SeverProbability: 0.3),
            new ActivationConfig(ActivationKind.Elu), new FlattenConfig(), new LinearConfig(3 * 16, 4)]),
        _ => new SequentialConfig([new LinearConfig(6, 5, Bias: false), new BatchNormConfig(5, Affine: false),
            new ActivationConfig(ActivationKind.PRelu, Channels: 5), new DropoutConfig(0.2f),
            new SequentialConfig([new LinearConfig(5, 4), new ActivationConfig(ActivationKind.Swish)]), new LinearConfig(4, 2)]),
    };

    private static string[] Shapes(Module m) =>
        m.NamedParameters().Concat(m.NamedBuffers()).Select(p => p.Item1 + Tensor.FormatShape(p.Item2.Shape)).Order(StringComparer.Ordinal).ToArray();

    [Theory]
    [MemberData(nameof(ModelNames))]
    public void ToConfigOfAFreshModuleIsItsConfig_AndTensorShapesMatchBuild(string name)
    {
        var cfg = Model(name);
        var m = cfg.Build(new Rng(1));
        Assert.Equal(cfg.ToJson(), m.ToConfig().ToJson());
        var predicted = cfg.TensorShapes().Select(p => p.Name + Tensor.FormatShape(p.Shape)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(Shapes(m), predicted);
        Assert.Equal(cfg.ToJson(), ModuleConfig.FromJson(cfg.ToCompactJson()).ToJson());
    }

    [Fact]
    public void ToConfigFollowsGrowth()
    {
        var mlp = (Sequential)SequentialConfig.Mlp([784, 16, 10], ActivationConfig.Relu).Build(new Rng(1));
        new GrowableModel(mlp).Sites[0].Grow(8);
        var c = (SequentialConfig)mlp.ToConfig();
        Assert.Equal(24, ((LinearConfig)c.Layers[0]).OutFeatures);
        Assert.Equal(24, ((LinearConfig)c.Layers[2]).InFeatures);
        Assert.Equal(Shapes(mlp), Shapes(c.Build(new Rng(2))));

        var conv = (Sequential)Models.SweBackbone(10, [12], inChannels: 1, imageSize: 8).Build(new Rng(1));
        var model = new GrowableModel(conv);
        for (int i = 0; i < model.Sites.Count; i++) model.Sites[i].Grow(i + 1);
        var cc = (SequentialConfig)conv.ToConfig();
        Assert.Equal(17, ((Conv2dConfig)cc.Layers[0]).OutChannels);
        Assert.Equal(17, ((BatchNormConfig)cc.Layers[1]).Channels);
        Assert.Equal(Shapes(conv), Shapes(cc.Build(new Rng(2))));
        Assert.Equal([10], cc.OutputShape([1, 8, 8]));
    }

    [Theory]
    [InlineData("{\"type\":\"linear\",\"inFeatures\":784,\"outFeatures\":2147483647}", "outFeatures 2147483647 is outside")]
    [InlineData("{\"type\":\"linear\",\"inFeatures\":784,\"outFeatures\":3000000}", "weight [3000000, 784] has more than 2,147,483,591 elements")]
    [InlineData("{\"type\":\"linear\",\"inFeatures\":-3,\"outFeatures\":2}", "inFeatures -3")]
    [InlineData("{\"type\":\"conv2d\",\"inChannels\":3,\"outChannels\":8,\"kernel\":3,\"stride\":2147483647}", "stride 2147483647")]
    [InlineData("{\"type\":\"conv2d\",\"inChannels\":3,\"outChannels\":8,\"kernel\":65536}", "more than 2,147,483,591 elements")]
    [InlineData("{\"type\":\"conv2d\",\"inChannels\":3,\"outChannels\":8,\"kernel\":3,\"groups\":2}", "not divisible by 2 groups")]
    [InlineData("{\"type\":\"pool\",\"kind\":\"Max\",\"kernel\":2147483647}", "kernel 2147483647")]
    [InlineData("{\"type\":\"pool\",\"kind\":\"Max\",\"kernel\":2,\"padding\":2}", "padding 2")]
    [InlineData("{\"type\":\"pool\",\"kind\":7}", "kind 7")]
    [InlineData("{\"type\":\"batchnorm\",\"channels\":4,\"eps\":0}", "eps")]
    [InlineData("{\"type\":\"dropout\",\"p\":1}", "[0, 1)")]
    [InlineData("{\"type\":\"activation\",\"kind\":\"PRelu\",\"channels\":0}", "channels 0")]
    [InlineData("{\"type\":\"locally-connected2d\",\"inChannels\":3,\"inHeight\":65536,\"inWidth\":65536,\"filters\":64,\"kernel\":3}", "elements")]
    [InlineData("{\"type\":\"sequential\",\"layers\":null}", "layers are missing")]
    [InlineData("{\"type\":\"sequential\",\"layers\":[{\"type\":\"linear\",\"inFeatures\":4,\"outFeatures\":5},{\"type\":\"linear\",\"inFeatures\":6,\"outFeatures\":2}]}", "layer 1: expects 6 inputs, but the layer before gives 5")]
    [InlineData("{\"type\":\"sequential\",\"layers\":[{\"type\":\"linear\",\"inFeatures\":60000,\"outFeatures\":30000},{\"type\":\"linear\",\"inFeatures\":30000,\"outFeatures\":60000}]}", "parameter and buffer elements")]
    public void AbsurdSizesAreClearErrorsBeforeAnythingIsBuilt(string json, string message)
    {
        var cfg = ModuleConfig.FromJson(json);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ArgumentException>(() => cfg.Build(new Rng(1)));
        Assert.Contains(message, e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "validation allocated");
    }

    [Fact]
    public void OutputShapeChecksWindowsAgainstTheImage()
    {
        var net = new SequentialConfig([new Conv2dConfig(1, 4, 3), new PoolConfig(PoolKind.Max, 60000), new FlattenConfig(), new LinearConfig(4, 2)]);
        net.Validate();
        var e = Assert.Throws<ArgumentException>(() => net.OutputShape([1, 28, 28]));
        Assert.Contains("layer 1: pool: a 60000×60000 window does not fit", e.Message);
        Assert.Contains("expects 3 input channels", Assert.Throws<ArgumentException>(() => new Conv2dConfig(3, 4, 3).OutputShape([1, 8, 8])).Message);
        Assert.Equal([4, 13, 13], new SequentialConfig([new Conv2dConfig(1, 4, 3), new PoolConfig(PoolKind.Max, 2)]).OutputShape([1, 28, 28]));
    }

    [Theory]
    [InlineData("{\"layers\":[]}")]
    [InlineData("{\"type\":\"unknown\"}")]
    [InlineData("[1,2]")]
    [InlineData("{\"type\":\"linear\",\"inFeatures\":1e40}")]
    public void ForeignJsonIsAJsonException(string json) =>
        Assert.Throws<System.Text.Json.JsonException>(() => ModuleConfig.FromJson(json));
}
