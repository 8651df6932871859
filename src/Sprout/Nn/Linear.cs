using Sprout.Autograd;
using Sprout.Tensors;

namespace Sprout.Nn;

/// <summary>Fully connected layer: Weight [out, in], Bias [out]; y = x·Wᵀ + b.</summary>
public sealed class Linear : Module
{
    /// <summary>Weight [out, in].</summary>
    public Tensor Weight { get; }

    /// <summary>Bias [out], or null.</summary>
    public Tensor? Bias { get; }

    /// <summary>Input width (follows growth of the previous layer).</summary>
    public int InFeatures => Weight.Dim(1);

    /// <summary>Output width (follows this layer's growth).</summary>
    public int OutFeatures => Weight.Dim(0);

    /// <summary>The config this layer was built from (sizes at build time).</summary>
    public LinearConfig Config { get; }

    /// <summary>Builds the layer and initialises it from <paramref name="rng"/>.</summary>
    public Linear(LinearConfig config, Rng rng)
    {
        Config = config;
        Weight = RegisterParameter("weight", new Tensor(new float[config.OutFeatures * config.InFeatures], config.OutFeatures, config.InFeatures));
        Init.Fill(Weight.Span, config.Init, config.InFeatures, config.OutFeatures, rng, config.Gain);
        if (config.Bias)
        {
            Bias = RegisterParameter("bias", new Tensor(new float[config.OutFeatures], config.OutFeatures));
            if (config.Init == InitScheme.PyTorchDefault) Init.FillBias(Bias.Span, config.InFeatures, rng);
        }
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.Linear(x, Weight, Bias);

    /// <inheritdoc/>
    public override string ToString() => $"Linear({InFeatures}→{OutFeatures}{(Bias is null ? ", no bias" : "")})";
}

/// <summary>Runs child modules in order.</summary>
public sealed class Sequential : Module
{
    private readonly Module[] _layers;

    /// <summary>Wraps the given modules (named "0", "1", …).</summary>
    public Sequential(params Module[] layers)
    {
        _layers = layers;
        for (int i = 0; i < layers.Length; i++) RegisterModule(i.ToString(System.Globalization.CultureInfo.InvariantCulture), layers[i]);
    }

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<Module> Layers => _layers;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        foreach (var l in _layers) x = l.Forward(x);
        return x;
    }

    /// <inheritdoc/>
    public override string ToString() => "Sequential(" + string.Join(", ", _layers.Select(l => l.ToString())) + ")";
}

/// <summary>[n, ...] → [n, rest].</summary>
public sealed class Flatten : Module
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.Flatten(x);
}
