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
    /// <summary>Most elements one tensor may have (<see cref="Array.MaxLength"/>, about 2³¹).</summary>
    public const long MaxTensorElements = 0x7FFFFFC7;

    /// <summary>Most parameter and buffer elements a whole model may have: 2³¹ (8 GiB of float32).</summary>
    public const long MaxTotalElements = 1L << 31;

    /// <summary>Largest kernel, stride, padding, pooling window or image side: 65,536.</summary>
    public const int MaxSpatial = 1 << 16;

    /// <summary>
    /// Builds a fresh module, drawing initial weights from <paramref name="rng"/>. Runs <see cref="Validate"/> first,
    /// so absurd sizes are an <see cref="ArgumentException"/> naming the field before anything is allocated.
    /// </summary>
    public abstract Module Build(Rng rng);

    /// <summary>
    /// Checks every size with checked arithmetic against <see cref="MaxTensorElements"/>, <see cref="MaxTotalElements"/>
    /// and <see cref="MaxSpatial"/>, every enum and real-valued option, and (in a <see cref="SequentialConfig"/>) that
    /// each layer's input width is the previous layer's output width. Throws <see cref="ArgumentException"/> naming the
    /// layer and field. Runs before anything is built.
    /// </summary>
    public virtual void Validate()
    {
    }

    /// <summary>
    /// Names and shapes of the parameters and buffers <see cref="Build"/> makes (the names of
    /// <see cref="Module.NamedParameters"/> and <see cref="Module.NamedBuffers"/>), computed without building.
    /// Call <see cref="Validate"/> first.
    /// </summary>
    public virtual IReadOnlyList<(string Name, int[] Shape)> TensorShapes() => [];

    /// <summary>
    /// The shape of one output sample for one input sample of shape <paramref name="sampleShape"/> (no batch axis:
    /// [features] or [channels, height, width]). Throws <see cref="ArgumentException"/> when the input does not fit
    /// (wrong width, a window larger than the image, sizes beyond the limits).
    /// </summary>
    public virtual int[] OutputShape(IReadOnlyList<int> sampleShape)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        return sampleShape.ToArray();
    }

    /// <summary>Serialises to indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Serialises to JSON on one line (as a checkpoint's "architecture" metadata).</summary>
    public string ToCompactJson() => JsonSerializer.Serialize(this, CompactJsonOptions);

    /// <summary>
    /// Reads a config from JSON (throws <see cref="JsonException"/> with the position on bad input, including an
    /// unknown or missing "type"). Sizes are not checked here: <see cref="Validate"/> (and <see cref="Build"/>) do.
    /// </summary>
    public static ModuleConfig FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize<ModuleConfig>(json, JsonOptions) ?? throw new JsonException("empty model config");
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new JsonException("not a model config: " + OneLine(e.Message), e);
        }
        catch (JsonException e) when (e.Message.Contains('\n') || e.Message.Length > 400)
        {
            throw new JsonException(OneLine(e.Message), e.Path, e.LineNumber, e.BytePositionInLine, e);
        }
    }

    /// <summary>A message on one line of at most 400 characters (JSON errors may quote the input).</summary>
    internal static string OneLine(string message)
    {
        string s = string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return s.Length <= 400 ? s : s[..400] + "…";
    }

    /// <summary>
    /// Reads a config file: a regular UTF-8 file of at most 16 MiB (see <see cref="SafeFile"/>; otherwise an
    /// <see cref="ArgumentException"/> naming the file), parsed with <see cref="FromJson"/>.
    /// </summary>
    public static ModuleConfig FromFile(string path) =>
        FromJson(SafeFile.ReadAllText(path, 16L << 20, problem => new ArgumentException($"config file {path}: {problem}")));

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    private static readonly JsonSerializerOptions CompactJsonOptions = new(JsonOptions) { WriteIndented = false };

    /// <summary>This config with every width that growth changes set to 0 (to compare what growth may not change).</summary>
    internal virtual ModuleConfig WithoutWidths() => this;

    /// <summary>
    /// Where two configs differ in more than the widths growth changes ("layer 3 (conv2d)"), or null when they are the
    /// same network up to widths.
    /// </summary>
    internal static string? DifferenceBeyondWidths(ModuleConfig a, ModuleConfig b, string where = "")
    {
        if (a is SequentialConfig sa && b is SequentialConfig sb)
        {
            if (sa.Layers.Count != sb.Layers.Count) return (where.Length == 0 ? "the network" : where) + " (layer count)";
            for (int i = 0; i < sa.Layers.Count; i++)
            {
                string? d = DifferenceBeyondWidths(sa.Layers[i], sb.Layers[i],
                    (where.Length == 0 ? "layer " : where + ".") + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (d is not null) return d;
            }
            return null;
        }
        if (a.WithoutWidths() == b.WithoutWidths()) return null;
        string type = a.GetType().Name.Replace("Config", "", StringComparison.Ordinal).ToLowerInvariant();
        return $"{(where.Length == 0 ? "the layer" : where)} ({type})";
    }
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
        Validate();
        return new Linear(this, rng);
    }

    /// <inheritdoc/>
    public override void Validate()
    {
        Limits.Range("linear", "inFeatures", InFeatures, 1, MaxTensorElements);
        Limits.Range("linear", "outFeatures", OutFeatures, 1, MaxTensorElements);
        Limits.Elements("linear", "weight", OutFeatures, InFeatures);
        Limits.Defined("linear", "init", Init);
        Limits.Finite("linear", "gain", Gain);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<(string Name, int[] Shape)> TensorShapes() =>
        Bias ? [("weight", [OutFeatures, InFeatures]), ("bias", [OutFeatures])] : [("weight", [OutFeatures, InFeatures])];

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> sampleShape)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        if (sampleShape.Count != 1 || sampleShape[0] != InFeatures)
            throw new ArgumentException($"linear: expects {InFeatures} input features, gets {Limits.Format(sampleShape)}");
        return [OutFeatures];
    }

    internal override ModuleConfig WithoutWidths() => this with { InFeatures = 0, OutFeatures = 0 };
}

/// <summary>Flattens [n, ...] to [n, rest].</summary>
public sealed record FlattenConfig : ModuleConfig
{
    /// <inheritdoc/>
    public override Module Build(Rng rng) => new Flatten();

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> sampleShape)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        return [Limits.Elements("flatten", "output", sampleShape.ToArray())];
    }
}

/// <summary>Modules applied in order.</summary>
/// <param name="Layers">The layers.</param>
public sealed record SequentialConfig(IReadOnlyList<ModuleConfig> Layers) : ModuleConfig
{
    /// <inheritdoc/>
    public override Module Build(Rng rng)
    {
        Validate();
        return new Sequential(Layers.Select(l => l.Build(rng)).ToArray());
    }

    /// <inheritdoc/>
    public override void Validate()
    {
        if (Layers is null) throw new ArgumentException("sequential: layers are missing");
        for (int i = 0; i < Layers.Count; i++)
        {
            if (Layers[i] is null) throw new ArgumentException($"layer {i} is missing (null)");
            try { Layers[i].Validate(); }
            catch (ArgumentException e) { throw new ArgumentException($"layer {i}: {e.Message}", e); }
        }
        WidthFlow.Of(this);
        long total = 0;
        foreach (var (name, shape) in TensorShapes())
        {
            total += Limits.Elements("sequential", name, shape);
            if (total > MaxTotalElements)
                throw new ArgumentException($"the model has more than {MaxTotalElements:N0} parameter and buffer elements (limit)");
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<(string Name, int[] Shape)> TensorShapes()
    {
        var list = new List<(string, int[])>();
        for (int i = 0; i < Layers.Count; i++)
        {
            string p = i.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".";
            foreach (var (n, s) in Layers[i].TensorShapes()) list.Add((p + n, s));
        }
        return list;
    }

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> sampleShape)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        var shape = sampleShape.ToArray();
        for (int i = 0; i < Layers.Count; i++)
        {
            try { shape = Layers[i].OutputShape(shape); }
            catch (ArgumentException e) { throw new ArgumentException($"layer {i}: {e.Message}", e); }
        }
        return shape;
    }

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
