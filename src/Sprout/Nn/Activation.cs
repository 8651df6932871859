using Sprout.Autograd;
using Sprout.Tensors;

namespace Sprout.Nn;

/// <summary>Activation functions available as layers.</summary>
public enum ActivationKind
{
    /// <summary>max(0, x).</summary>
    Relu,
    /// <summary>max(0, x) with derivative 1 at 0.</summary>
    ReluOne,
    /// <summary>Leaky ReLU with <see cref="ActivationConfig.Slope"/>.</summary>
    LeakyRelu,
    /// <summary>PReLU, learnable slope(s) starting at <see cref="ActivationConfig.Slope"/>.</summary>
    PRelu,
    /// <summary>ELU with α = <see cref="ActivationConfig.Alpha"/>.</summary>
    Elu,
    /// <summary>Logistic sigmoid.</summary>
    Sigmoid,
    /// <summary>tanh.</summary>
    Tanh,
    /// <summary>WIB-ReLU, μ chosen by <see cref="ActivationConfig.Wib"/>.</summary>
    WibRelu,
    /// <summary>Identity.</summary>
    Identity,
    /// <summary>Swish / SiLU: x·sigmoid(x) (Firefly's MobileNet).</summary>
    Swish,
}

/// <summary>How a WIB-ReLU layer picks μ (methods §7).</summary>
public enum WibVariant
{
    /// <summary>Mean of the pre-activation batch tensor, train and eval (authors' code).</summary>
    BatchMean,
    /// <summary>Mean of the post-ReLU batch tensor (paper wording).</summary>
    PostMean,
    /// <summary>Post-ReLU batch mean in training, tracked as a running mean (BatchNorm-style) used in evaluation.</summary>
    Running,
    /// <summary>A fixed constant (default 1/√(2π), the post-ReLU mean of a unit normal).</summary>
    Constant,
}

/// <summary>Config of an activation layer.</summary>
/// <param name="Kind">Which function.</param>
/// <param name="Slope">Negative slope (LeakyReLU) or initial slope (PReLU).</param>
/// <param name="Alpha">ELU α.</param>
/// <param name="Channels">PReLU: number of slopes (1 = shared).</param>
/// <param name="Wib">WIB-ReLU variant.</param>
/// <param name="WibConstant">WIB-ReLU constant μ.</param>
/// <param name="Momentum">WIB-ReLU running-mean momentum (PyTorch convention: new = (1−m)·old + m·batch).</param>
public sealed record ActivationConfig(ActivationKind Kind, float Slope = 0.01f, float Alpha = 1f, int Channels = 1,
    WibVariant Wib = WibVariant.BatchMean, float WibConstant = 0.3989423f, float Momentum = 0.1f) : ModuleConfig
{
    /// <summary>ReLU.</summary>
    public static ActivationConfig Relu { get; } = new(ActivationKind.Relu);

    /// <inheritdoc/>
    public override Module Build(Rng rng)
    {
        Validate();
        return new Activation(this);
    }

    /// <inheritdoc/>
    public override void Validate()
    {
        Limits.Defined("activation", "kind", Kind);
        Limits.Defined("activation", "wib", Wib);
        Limits.Finite("activation", "slope", Slope);
        Limits.Finite("activation", "alpha", Alpha);
        Limits.Finite("activation", "wibConstant", WibConstant);
        if (!(Momentum >= 0 && Momentum <= 1)) throw new ArgumentException($"activation: momentum must be in [0, 1], got {Momentum}");
        if (Kind == ActivationKind.PRelu) Limits.Range("activation", "channels", Channels, 1, MaxTensorElements);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<(string Name, int[] Shape)> TensorShapes() => Kind switch
    {
        ActivationKind.PRelu => [("weight", [Channels])],
        ActivationKind.WibRelu when Wib == WibVariant.Running => [("running_mean", [1])],
        _ => [],
    };

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> sampleShape)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        if (Kind == ActivationKind.PRelu && Channels > 1 && (sampleShape.Count == 0 || sampleShape[0] != Channels))
            throw new ArgumentException($"activation: PReLU has {Channels} slopes, the input is {Limits.Format(sampleShape)}");
        return sampleShape.ToArray();
    }

    internal override ModuleConfig WithoutWidths() => Kind == ActivationKind.PRelu && Channels > 1 ? this with { Channels = 0 } : this;
}

/// <summary>An activation layer (stateless except PReLU's slopes and WIB-ReLU's running mean).</summary>
public sealed class Activation : Module
{
    /// <summary>Its config.</summary>
    public ActivationConfig Config { get; }

    /// <summary>PReLU slopes, or null.</summary>
    public Tensor? Slopes { get; }

    /// <summary>WIB-ReLU running mean (Running variant), or null.</summary>
    public Tensor? RunningMean { get; }

    /// <summary>Builds the layer.</summary>
    public Activation(ActivationConfig config)
    {
        Config = config;
        if (config.Kind == ActivationKind.PRelu)
        {
            if (config.Channels < 1) throw new ArgumentException("PReLU needs at least one channel");
            Slopes = RegisterParameter("weight", Tensor.Full(config.Slope, config.Channels).Persist());
        }
        if (config.Kind == ActivationKind.WibRelu && config.Wib == WibVariant.Running)
            RunningMean = RegisterBuffer("running_mean", Tensor.Full(config.WibConstant, 1).Persist());
    }

    /// <inheritdoc/>
    protected internal override ModuleConfig ConfigFor(Func<Tensor, int[]> shapeOf)
    {
        ArgumentNullException.ThrowIfNull(shapeOf);
        return Slopes is null ? Config : Config with { Channels = shapeOf(Slopes)[0] };
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Config.Kind switch
    {
        ActivationKind.Relu => Ops.Relu(x),
        ActivationKind.ReluOne => Ops.ReluOne(x),
        ActivationKind.LeakyRelu => Ops.LeakyRelu(x, Config.Slope),
        ActivationKind.PRelu => Ops.PRelu(x, Slopes!),
        ActivationKind.Elu => Ops.Elu(x, Config.Alpha),
        ActivationKind.Sigmoid => Ops.Sigmoid(x),
        ActivationKind.Tanh => Ops.Tanh(x),
        ActivationKind.WibRelu => Wib(x),
        ActivationKind.Swish => Ops.Swish(x),
        _ => x,
    };

    private Tensor Wib(Tensor x)
    {
        switch (Config.Wib)
        {
            case WibVariant.BatchMean: return Ops.WibRelu(x, WibMode.PreActivationMean);
            case WibVariant.PostMean: return Ops.WibRelu(x, WibMode.PostActivationMean);
            case WibVariant.Constant: return Ops.WibRelu(x, WibMode.Constant, Config.WibConstant);
            default:
                if (!IsTraining) return Ops.WibRelu(x, WibMode.Constant, RunningMean!.Span[0]);
                var y = Ops.WibRelu(x, WibMode.PostActivationMean);
                // batch μ = mean(relu x); recover it from y without a second pass: mean(y) = 0, so use relu sum
                double s = 0;
                foreach (float v in x.Span) if (v > 0) s += v;
                float mu = (float)(s / Math.Max(1, x.Length));
                var rm = RunningMean!.Span;
                rm[0] = (1 - Config.Momentum) * rm[0] + Config.Momentum * mu;
                return y;
        }
    }

    /// <summary>
    /// An activation (channels pass through). PReLU with one slope per channel would have to grow its slopes and
    /// cannot grow yet.
    /// </summary>
    public override GrowthRole GrowthRole => Slopes is { Length: > 1 }
        ? GrowthRole.Unsupported("PReLU with per-channel slopes cannot grow yet")
        : GrowthRole.Activation;

    /// <inheritdoc/>
    public override string ToString() => Config.Kind.ToString();
}
