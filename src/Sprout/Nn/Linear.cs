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
    protected internal override ModuleConfig ConfigFor(Func<Tensor, int[]> shapeOf)
    {
        ArgumentNullException.ThrowIfNull(shapeOf);
        var w = shapeOf(Weight);
        return Config with { OutFeatures = w[0], InFeatures = w[1], Bias = Bias is not null };
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.Linear(x, Weight, Bias);

    /// <summary>Growable: neurons on axis 0 of the weight and bias, inputs on axis 1.</summary>
    public override GrowthRole GrowthRole => new GrowableRole(Weight, Bias);

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

    /// <summary>
    /// Replaces the layer at <paramref name="index"/> by <paramref name="layer"/> (e.g. GradMax turns a ReLU into a
    /// <see cref="ActivationKind.ReluOne"/>, which has the same values). The caller keeps the network's meaning.
    /// </summary>
    public void ReplaceLayer(int index, Module layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _layers.Length);
        ReplaceModule(index.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);
        _layers[index] = layer;
        layer.Train(IsTraining);
    }

    /// <inheritdoc/>
    protected internal override ModuleConfig ConfigFor(Func<Tensor, int[]> shapeOf) =>
        new SequentialConfig(_layers.Select(l => l.ConfigFor(shapeOf)).ToArray());

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        for (int i = 0; i < _layers.Length;) x = Step(i, x, out i);
        return x;
    }

    /// <summary>
    /// Runs the layer at <paramref name="index"/> on x and returns its output; <paramref name="next"/> is the index of
    /// the next layer to run. A BatchNorm followed by a ReLU or Swish runs as one fused op (same values and gradients, one pass
    /// and one tensor fewer), so <paramref name="next"/> may skip the activation.
    /// </summary>
    public Tensor Step(int index, Tensor x, out int next)
    {
        if (_layers[index] is BatchNorm bn && index + 1 < _layers.Length && BatchNorm.Fusable(_layers[index + 1]) is { } act)
        {
            next = index + 2;
            return bn.Forward(x, act);
        }
        next = index + 1;
        return _layers[index].Forward(x);
    }

    /// <inheritdoc/>
    public override string ToString() => "Sequential(" + string.Join(", ", _layers.Select(l => l.ToString())) + ")";
}

/// <summary>[n, ...] → [n, rest].</summary>
public sealed class Flatten : Module
{
    /// <inheritdoc/>
    protected internal override ModuleConfig ConfigFor(Func<Tensor, int[]> shapeOf) => new FlattenConfig();

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.Flatten(x);

    /// <summary>Each channel leaves as one block of H·W features.</summary>
    public override GrowthRole GrowthRole => GrowthRole.Flatten;
}
