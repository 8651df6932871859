using Sprout.Tensors;

namespace Sprout.Nn;

/// <summary>
/// One growable layer of a sequential network (indices into its layers), as its layers declare it
/// (<see cref="Module.GrowthRole"/>): the producer whose outputs (neurons or channels) can grow, the layers whose width
/// is tied to it (its BatchNorm, a following depthwise conv and that conv's BatchNorm), and the consumer whose inputs
/// grow with it. <paramref name="ConsumerBlock"/> is how many
/// consumer inputs each producer output feeds (H·W when a conv feeds a Linear through Flatten, else 1).
/// </summary>
/// <param name="Producer">Index of the layer that grows (a <see cref="GrowableRole"/>: Linear, Conv2d with one group).</param>
/// <param name="Tied">Indices of layers that grow with it.</param>
/// <param name="Consumer">Index of the layer whose inputs grow.</param>
/// <param name="ConsumerBlock">Consumer inputs per producer output.</param>
public sealed record GrowableLayer(int Producer, IReadOnlyList<int> Tied, int Consumer, int ConsumerBlock);

/// <summary>Builders for the networks used by the papers, as serialisable configs.</summary>
public static class Models
{
    private static readonly ActivationConfig Relu = ActivationConfig.Relu;

    private static IEnumerable<ModuleConfig> ConvBnAct(int cin, int cout, int k, int stride, int pad, ActivationConfig act, int groups = 1)
    {
        yield return new Conv2dConfig(cin, cout, k, stride, pad, groups, Bias: false);
        yield return new BatchNormConfig(cout);
        yield return act;
    }

    /// <summary>
    /// The SWE paper's conv backbone with an MLP head: two blocks of [3×3 conv + BN + ReLU] ×2 and a 2×2 max-pool;
    /// channels 16/32 for 10 classes and 32/64 for 100 (CIFAR); then Flatten and Linear layers of <paramref name="head"/>
    /// widths (e.g. [40] gives 2048-40-10 for CIFAR-10).
    /// </summary>
    public static SequentialConfig SweBackbone(int classes = 10, IReadOnlyList<int>? head = null, int inChannels = 3, int imageSize = 32)
    {
        var (c1, c2) = classes > 10 ? (32, 64) : (16, 32);
        var layers = new List<ModuleConfig>();
        layers.AddRange(ConvBnAct(inChannels, c1, 3, 1, 1, Relu));
        layers.AddRange(ConvBnAct(c1, c1, 3, 1, 1, Relu));
        layers.Add(new PoolConfig(PoolKind.Max, 2));
        layers.AddRange(ConvBnAct(c1, c2, 3, 1, 1, Relu));
        layers.AddRange(ConvBnAct(c2, c2, 3, 1, 1, Relu));
        layers.Add(new PoolConfig(PoolKind.Max, 2));
        layers.Add(new FlattenConfig());
        int features = c2 * (imageSize / 4) * (imageSize / 4);
        foreach (int h in head ?? [40])
        {
            layers.Add(new LinearConfig(features, h));
            layers.Add(Relu);
            features = h;
        }
        layers.Add(new LinearConfig(features, classes));
        return new SequentialConfig(layers);
    }

    /// <summary>
    /// VGG16 for 32×32 inputs: 13 3×3 convs (no bias) + BN + ReLU with five 2×2 max-pools and a linear classifier.
    /// <paramref name="uniform"/>: every conv has <paramref name="width"/> channels (the growing variant of Firefly and
    /// paper 002: width 16 gives 28,666 parameters); otherwise widths follow VGG's 1,1,2,2,4,4,4,8,… multiples of width.
    /// </summary>
    public static SequentialConfig Vgg16(int width = 16, bool uniform = true, int classes = 10, int inChannels = 3)
    {
        int[] mult = [1, 1, 0, 2, 2, 0, 4, 4, 4, 0, 8, 8, 8, 0, 8, 8, 8, 0];
        var layers = new List<ModuleConfig>();
        int cin = inChannels;
        foreach (int m in mult)
        {
            if (m == 0) { layers.Add(new PoolConfig(PoolKind.Max, 2)); continue; }
            int cout = uniform ? width : width * m;
            layers.AddRange(ConvBnAct(cin, cout, 3, 1, 1, Relu));
            cin = cout;
        }
        layers.Add(new FlattenConfig());
        layers.Add(new LinearConfig(cin, classes));
        return new SequentialConfig(layers);
    }

    /// <summary>
    /// MobileNetV1 for 32×32 inputs (Firefly's variant): a 3×3 conv, 13 depthwise-separable blocks (stride 2 in blocks
    /// 2, 4, 6 and 12), 2×2 average pool and a linear classifier; swish activations. <paramref name="uniform"/>: every
    /// layer has <paramref name="width"/> channels (the growing variant, width 32); otherwise MobileNet's 32…1024
    /// widths scaled by width/32.
    /// </summary>
    public static SequentialConfig MobileNetV1(int width = 32, bool uniform = true, int classes = 10, int inChannels = 3,
        ActivationKind activation = ActivationKind.Swish)
    {
        (int C, int S)[] cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)];
        var act = new ActivationConfig(activation);
        int Scale(int c) => uniform ? width : Math.Max(1, c * width / 32);
        var layers = new List<ModuleConfig>();
        int cin = uniform ? width : Scale(32);
        layers.AddRange(ConvBnAct(inChannels, cin, 3, 1, 1, act));
        foreach (var (c, s) in cfg)
        {
            layers.AddRange(ConvBnAct(cin, cin, 3, s, 1, act, groups: cin)); // depthwise
            int cout = Scale(c);
            layers.AddRange(ConvBnAct(cin, cout, 1, 1, 0, act));              // pointwise
            cin = cout;
        }
        layers.Add(new PoolConfig(PoolKind.Average, 2));
        layers.Add(new FlattenConfig());
        layers.Add(new LinearConfig(cin, classes));
        return new SequentialConfig(layers);
    }

    /// <summary>
    /// The Free Convolutional Network of paper 003 (<paramref name="locallyConnected"/> true) or its CNN twin:
    /// MNIST LC(32,3,s2) → LC(64,3,s2) → LC(128,3,s1) → Dense 1024 → Dense classes (28→13→6→4);
    /// CIFAR LC(64,5,s2) → LC(128,5,s2) → LC(256,3,s1) → Dense 1024 → Dense classes (32→14→5→3). ReLU, valid padding.
    /// The connection mask (if any) is placed on every locally connected layer.
    /// </summary>
    public static SequentialConfig FreeConvNet(bool cifar, bool locallyConnected, int classes = 10,
        LcMask mask = LcMask.None, double severProbability = 0, LcInit init = LcInit.KerasGlorot)
    {
        (int F, int K, int S)[] spec = cifar ? [(64, 5, 2), (128, 5, 2), (256, 3, 1)] : [(32, 3, 2), (64, 3, 2), (128, 3, 1)];
        int c = cifar ? 3 : 1, size = cifar ? 32 : 28;
        var layers = new List<ModuleConfig>();
        foreach (var (f, k, s) in spec)
        {
            if (locallyConnected)
                layers.Add(new LocallyConnected2dConfig(c, size, size, f, k, s, true, init, mask, severProbability));
            else
                layers.Add(new Conv2dConfig(c, f, k, s, 0, Init: InitScheme.XavierUniform, Gain: 1));
            layers.Add(Relu);
            c = f;
            size = (size - k) / s + 1;
        }
        layers.Add(new FlattenConfig());
        layers.Add(new LinearConfig(c * size * size, 1024, Init: InitScheme.XavierUniform, Gain: 1));
        layers.Add(Relu);
        layers.Add(new LinearConfig(1024, classes, Init: InitScheme.XavierUniform, Gain: 1));
        return new SequentialConfig(layers);
    }

    /// <summary>
    /// The WIB-ReLU paper's CNNs with a chosen activation. Official code: 4 × [3×3 conv s1 p1 (8, 16, 32, 64) → act →
    /// 2×2 max-pool] → Linear → 128 → act → Linear classes. Paper: conv 8@5×5 s2 p2, then 16/32/64 @3×3 s2 p1 (each
    /// followed by act), adaptive average pool, Linear 64 → classes.
    /// </summary>
    public static SequentialConfig WibCnn(ActivationConfig activation, bool paperVariant = false, int classes = 10, int inChannels = 3,
        int imageSize = 32, InitScheme init = InitScheme.PyTorchDefault)
    {
        var layers = new List<ModuleConfig>();
        int c = inChannels, size = imageSize;
        if (!paperVariant)
        {
            foreach (int f in new[] { 8, 16, 32, 64 })
            {
                layers.Add(new Conv2dConfig(c, f, 3, 1, 1, Init: init));
                layers.Add(activation);
                layers.Add(new PoolConfig(PoolKind.Max, 2));
                c = f;
                size /= 2;
            }
            layers.Add(new FlattenConfig());
            layers.Add(new LinearConfig(c * size * size, 128, Init: init));
            layers.Add(activation);
            layers.Add(new LinearConfig(128, classes, Init: init));
        }
        else
        {
            layers.Add(new Conv2dConfig(c, 8, 5, 2, 2, Init: init));
            layers.Add(activation);
            c = 8;
            foreach (int f in new[] { 16, 32, 64 })
            {
                layers.Add(new Conv2dConfig(c, f, 3, 2, 1, Init: init));
                layers.Add(activation);
                c = f;
            }
            layers.Add(new PoolConfig(PoolKind.AdaptiveAverage, OutputSize: 1, FlattenOutput: true));
            layers.Add(new LinearConfig(c, classes, Init: init));
        }
        return new SequentialConfig(layers);
    }

    /// <summary>
    /// The growable layers of a sequential config, found as <see cref="GrowableLayers(IReadOnlyList{Module})"/> finds
    /// them in the network it builds (built once with throwaway weights).
    /// </summary>
    public static IReadOnlyList<GrowableLayer> GrowableLayers(SequentialConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return GrowableLayers(((Sequential)config.Build(new Rng(0))).Layers);
    }

    /// <summary>
    /// The growable layers of a sequence of layers, from what each declares (<see cref="Module.GrowthRole"/>): every
    /// <see cref="GrowableRole"/> layer whose outputs reach a later <see cref="GrowableRole"/> layer (its consumer) through
    /// width-tied layers (<see cref="WidthTiedRole"/>: BatchNorm, depthwise conv) and pass-through layers. After a layer
    /// that flattens, each producer output feeds a block of the consumer's inputs (H·W). A layer declared
    /// <see cref="UnsupportedRole"/> ends the search: the producer before it has no consumer.
    /// </summary>
    public static IReadOnlyList<GrowableLayer> GrowableLayers(IReadOnlyList<Module> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var roles = layers.Select(l => l.GrowthRole).ToArray();
        var result = new List<GrowableLayer>();
        for (int i = 0; i < roles.Length; i++)
        {
            if (roles[i] is not GrowableRole producer) continue;
            var tied = new List<int>();
            bool flattened = false;
            int consumer = -1;
            for (int j = i + 1; j < roles.Length; j++)
            {
                if (roles[j] is GrowableRole) { consumer = j; break; }
                if (roles[j] is WidthTiedRole) tied.Add(j);
                else if (roles[j] is PassThroughRole p) flattened |= p.Flattens;
                else break;   // growth cannot pass this layer
            }
            if (consumer < 0) continue;
            int width = producer.Weight.Dim(0);
            int inputs = ((GrowableRole)roles[consumer]).Weight.Dim(1);
            int block = 1;
            if (flattened)
            {
                if (inputs % width != 0)
                    throw new ArgumentException($"layer {consumer} has {inputs} inputs, not a whole number per channel of layer {i} ({width})");
                block = inputs / width;
            }
            result.Add(new GrowableLayer(i, tied, consumer, block));
        }
        return result;
    }
}
