using Sprout.Autograd;
using Sprout.Tensors;

namespace Sprout.Nn;

/// <summary>Config of a 2-D convolution (square kernel, NCHW).</summary>
/// <param name="InChannels">Input channels.</param>
/// <param name="OutChannels">Output channels (filters).</param>
/// <param name="Kernel">Kernel size.</param>
/// <param name="Stride">Stride.</param>
/// <param name="Padding">Zero padding on each side.</param>
/// <param name="Groups">Channel groups (InChannels for depthwise).</param>
/// <param name="Bias">Whether the layer has a bias.</param>
/// <param name="Init">Weight initialisation.</param>
/// <param name="Gain">Gain for Kaiming/Xavier.</param>
public sealed record Conv2dConfig(int InChannels, int OutChannels, int Kernel, int Stride = 1, int Padding = 0, int Groups = 1,
    bool Bias = true, InitScheme Init = InitScheme.PyTorchDefault, double Gain = 1.4142135623730951) : ModuleConfig
{
    /// <inheritdoc/>
    public override Module Build(Rng rng)
    {
        Validate();
        return new Conv2d(this, rng);
    }

    /// <inheritdoc/>
    public override void Validate()
    {
        Limits.Range("conv2d", "inChannels", InChannels, 1, MaxTensorElements);
        Limits.Range("conv2d", "outChannels", OutChannels, 1, MaxTensorElements);
        Limits.Range("conv2d", "kernel", Kernel, 1, MaxSpatial);
        Limits.Range("conv2d", "stride", Stride, 1, MaxSpatial);
        Limits.Range("conv2d", "padding", Padding, 0, MaxSpatial);
        Limits.Range("conv2d", "groups", Groups, 1, MaxTensorElements);
        if (InChannels % Groups != 0 || OutChannels % Groups != 0)
            throw new ArgumentException($"conv2d: channels {InChannels}→{OutChannels} are not divisible by {Groups} groups");
        Limits.Elements("conv2d", "weight", OutChannels, InChannels / Groups, Kernel, Kernel);
        Limits.Defined("conv2d", "init", Init);
        Limits.Finite("conv2d", "gain", Gain);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<(string Name, int[] Shape)> TensorShapes()
    {
        int[] w = [OutChannels, InChannels / Groups, Kernel, Kernel];
        return Bias ? [("weight", w), ("bias", [OutChannels])] : [("weight", w)];
    }

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> sampleShape)
    {
        var s = Limits.Image("conv2d", sampleShape);
        if (s[0] != InChannels) throw new ArgumentException($"conv2d: expects {InChannels} input channels, gets {Limits.Format(sampleShape)}");
        return [OutChannels, Limits.WindowOut("conv2d", s[1], Kernel, Stride, Padding), Limits.WindowOut("conv2d", s[2], Kernel, Stride, Padding)];
    }

    /// <summary>Whether this is a depthwise conv (one group per channel, as many outputs as inputs): its width is tied.</summary>
    internal bool IsDepthwise => Groups > 1 && Groups == InChannels && Groups == OutChannels;

    internal override ModuleConfig WithoutWidths() =>
        this with { InChannels = 0, OutChannels = 0, Groups = IsDepthwise ? 0 : Groups };
}

/// <summary>2-D convolution: Weight [out, in/groups, k, k], Bias [out].</summary>
public sealed class Conv2d : Module
{
    /// <summary>Weight [out, in/groups, k, k].</summary>
    public Tensor Weight { get; }

    /// <summary>Bias [out], or null.</summary>
    public Tensor? Bias { get; }

    /// <summary>Build-time config (channel counts follow growth: read them from <see cref="Weight"/>).</summary>
    public Conv2dConfig Config { get; }

    /// <summary>Output channels now.</summary>
    public int OutChannels => Weight.Dim(0);

    /// <summary>Input channels now.</summary>
    public int InChannels => Weight.Dim(1) * Groups;

    /// <summary>Channel groups now: a depthwise conv keeps one group per channel as its width grows.</summary>
    public int Groups => Config.IsDepthwise ? Weight.Dim(0) : Config.Groups;

    /// <summary>Builds and initialises the layer.</summary>
    public Conv2d(Conv2dConfig config, Rng rng)
    {
        Config = config;
        int k = config.Kernel, cg = config.InChannels / config.Groups;
        Weight = RegisterParameter("weight", new Tensor(new float[config.OutChannels * cg * k * k], config.OutChannels, cg, k, k));
        var (fanIn, fanOut) = Nn.Init.Fans(Weight.Shape);
        Nn.Init.Fill(Weight.Span, config.Init, fanIn, fanOut, rng, config.Gain);
        if (config.Bias)
        {
            Bias = RegisterParameter("bias", new Tensor(new float[config.OutChannels], config.OutChannels));
            if (config.Init == InitScheme.PyTorchDefault) Nn.Init.FillBias(Bias.Span, fanIn, rng);
        }
    }

    /// <inheritdoc/>
    protected internal override ModuleConfig ConfigFor(Func<Tensor, int[]> shapeOf)
    {
        ArgumentNullException.ThrowIfNull(shapeOf);
        var w = shapeOf(Weight);
        int groups = Config.IsDepthwise ? w[0] : Config.Groups;
        return Config with { OutChannels = w[0], InChannels = (int)Math.Min(int.MaxValue, (long)w[1] * groups), Kernel = w[2], Groups = groups, Bias = Bias is not null };
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) =>
        Ops.Conv2d(x, Weight, Bias, Config.Stride, Config.Stride, Config.Padding, Config.Padding, Groups);

    /// <summary>
    /// One group: growable (output channels on axis 0, input channels on axis 1). Depthwise (groups = channels): tied to
    /// the width of the producer before it. Other grouped convolutions cannot grow yet.
    /// </summary>
    public override GrowthRole GrowthRole
    {
        get
        {
            var c = Config;
            var window = new ConvWindow(c.Kernel, c.Stride, c.Padding);
            if (c.Groups == 1) return new GrowableRole(Weight, Bias, window);
            if (c.Groups == c.InChannels && c.OutChannels == c.InChannels) return new DepthwiseRole(Weight, Bias, window);
            return GrowthRole.Unsupported($"{this} is a grouped convolution; growth supports one group or depthwise");
        }
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"Conv2d({InChannels}→{OutChannels}, k{Config.Kernel}, s{Config.Stride}, p{Config.Padding}{(Groups > 1 ? $", g{Groups}" : "")})";
}
