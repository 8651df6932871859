using System.Text.Json;
using System.Text.Json.Serialization;
using Sprout.Tensors;

namespace Sprout.Nn;

/// <summary>
/// Serialisable description of a module (burn-style: the config is data, the module is built from it).
/// JSON carries a "type" discriminator.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(LinearConfig), "linear")]
[JsonDerivedType(typeof(ActivationConfig), "activation")]
[JsonDerivedType(typeof(FlattenConfig), "flatten")]
[JsonDerivedType(typeof(SequentialConfig), "sequential")]
[JsonDerivedType(typeof(Conv2dConfig), "conv2d")]
[JsonDerivedType(typeof(BatchNormConfig), "batchnorm")]
[JsonDerivedType(typeof(PoolConfig), "pool")]
[JsonDerivedType(typeof(DropoutConfig), "dropout")]
[JsonDerivedType(typeof(LocallyConnected2dConfig), "locally-connected2d")]
public abstract record ModuleConfig
{
    /// <summary>Builds a fresh module, drawing initial weights from <paramref name="rng"/>.</summary>
    public abstract Module Build(Rng rng);

    /// <summary>Serialises to indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a config from JSON (throws <see cref="JsonException"/> with the position on bad input).</summary>
    public static ModuleConfig FromJson(string json) =>
        JsonSerializer.Deserialize<ModuleConfig>(json, JsonOptions) ?? throw new JsonException("empty model config");

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };
}

/// <summary>A fully connected layer y = x·Wᵀ + b.</summary>
/// <param name="InFeatures">Input width.</param>
/// <param name="OutFeatures">Output width (neurons).</param>
/// <param name="Bias">Whether the layer has a bias.</param>
/// <param name="Init">Weight initialisation.</param>
/// <param name="Gain">Gain for Kaiming/Xavier schemes.</param>
public sealed record LinearConfig(int InFeatures, int OutFeatures, bool Bias = true,
    InitScheme Init = InitScheme.PyTorchDefault, double Gain = 1.4142135623730951) : ModuleConfig
{
    /// <inheritdoc/>
    public override Module Build(Rng rng)
    {
        if (InFeatures <= 0 || OutFeatures <= 0)
            throw new ArgumentException($"linear layer needs positive sizes, got {InFeatures}→{OutFeatures}");
        return new Linear(this, rng);
    }
}

/// <summary>Flattens [n, ...] to [n, rest].</summary>
public sealed record FlattenConfig : ModuleConfig
{
    /// <inheritdoc/>
    public override Module Build(Rng rng) => new Flatten();
}

/// <summary>Modules applied in order.</summary>
/// <param name="Layers">The layers.</param>
public sealed record SequentialConfig(IReadOnlyList<ModuleConfig> Layers) : ModuleConfig
{
    /// <inheritdoc/>
    public override Module Build(Rng rng) => new Sequential(Layers.Select(l => l.Build(rng)).ToArray());

    /// <summary>
    /// An MLP: Linear layers of the given widths with an activation between them (none after the last).
    /// </summary>
    public static SequentialConfig Mlp(IReadOnlyList<int> widths, ActivationConfig activation, InitScheme init = InitScheme.PyTorchDefault)
    {
        if (widths.Count < 2) throw new ArgumentException("an MLP needs at least input and output widths");
        var layers = new List<ModuleConfig>();
        for (int i = 0; i + 1 < widths.Count; i++)
        {
            layers.Add(new LinearConfig(widths[i], widths[i + 1], Init: init));
            if (i + 2 < widths.Count) layers.Add(activation);
        }
        return new SequentialConfig(layers);
    }
}
