using Sprout.Autograd;
using Sprout.Tensors;

namespace Sprout.Nn;

/// <summary>How a locally connected layer's weights start.</summary>
public enum LcInit
{
    /// <summary>
    /// Keras glorot_uniform with Keras's fan counts for LocallyConnected2D, which include the positions:
    /// fan_in = P·K, fan_out = P·F (about 5× narrower than the conv twin's, as the authors' code had it).
    /// </summary>
    KerasGlorot,
    /// <summary>Glorot uniform with the conv twin's fans (fan_in = k·k·C, fan_out = k·k·F), drawn per position.</summary>
    ConvFans,
    /// <summary>One conv filter bank (conv-twin Glorot) copied to every position: starts out as exactly a conv.</summary>
    SharedConv,
}

/// <summary>Fixed connection masks of a locally connected layer (paper 003, variable connection patterns).</summary>
public enum LcMask
{
    /// <summary>Fully connected within each window.</summary>
    None,
    /// <summary>A binary mask over the layer input (C, H, W), drawn once (the authors' code).</summary>
    Input,
    /// <summary>A binary mask over every weight [P, K, F]: severed connections per filter and position (the paper).</summary>
    Weight,
}

/// <summary>Config of a locally connected 2-D layer (valid padding).</summary>
/// <param name="InChannels">Input channels.</param>
/// <param name="InHeight">Input height (positions depend on it).</param>
/// <param name="InWidth">Input width.</param>
/// <param name="Filters">Output channels.</param>
/// <param name="Kernel">Square kernel size.</param>
/// <param name="Stride">Stride.</param>
/// <param name="Bias">Per-position bias.</param>
/// <param name="Init">Initialisation.</param>
/// <param name="Mask">Connection mask mode.</param>
/// <param name="SeverProbability">Probability that a masked unit/weight is severed (0..1).</param>
public sealed record LocallyConnected2dConfig(int InChannels, int InHeight, int InWidth, int Filters, int Kernel, int Stride = 1,
    bool Bias = true, LcInit Init = LcInit.KerasGlorot, LcMask Mask = LcMask.None, double SeverProbability = 0) : ModuleConfig
{
    /// <summary>Output height.</summary>
    public int OutHeight => (InHeight - Kernel) / Stride + 1;

    /// <summary>Output width.</summary>
    public int OutWidth => (InWidth - Kernel) / Stride + 1;

    /// <inheritdoc/>
    public override Module Build(Rng rng)
    {
        Validate();
        return new LocallyConnected2d(this, rng);
    }

    /// <inheritdoc/>
    public override void Validate()
    {
        const string kind = "locally-connected2d";
        Limits.Range(kind, "inChannels", InChannels, 1, MaxTensorElements);
        Limits.Range(kind, "inHeight", InHeight, 1, MaxSpatial);
        Limits.Range(kind, "inWidth", InWidth, 1, MaxSpatial);
        Limits.Range(kind, "filters", Filters, 1, MaxTensorElements);
        Limits.Range(kind, "kernel", Kernel, 1, Math.Min(InHeight, InWidth));
        Limits.Range(kind, "stride", Stride, 1, MaxSpatial);
        Limits.Defined(kind, "init", Init);
        Limits.Defined(kind, "mask", Mask);
        if (!(SeverProbability >= 0 && SeverProbability < 1)) throw new ArgumentException($"{kind}: severProbability must be in [0, 1), got {SeverProbability}");
        int k = Limits.Elements(kind, "taps", InChannels, Kernel, Kernel);
        Limits.Elements(kind, "weight", OutHeight, OutWidth, k, Filters);
        Limits.Elements(kind, "input mask", InChannels, InHeight, InWidth);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<(string Name, int[] Shape)> TensorShapes()
    {
        int p = OutHeight * OutWidth, k = InChannels * Kernel * Kernel;
        var list = new List<(string, int[])> { ("weight", [p, k, Filters]) };
        if (Bias) list.Add(("bias", [p, Filters]));
        if (Mask == LcMask.Input) list.Add(("input_mask", [1, InChannels, InHeight, InWidth]));
        else if (Mask == LcMask.Weight) list.Add(("weight_mask", [p, k, Filters]));
        return list;
    }

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> sampleShape)
    {
        var s = Limits.Image("locally-connected2d", sampleShape);
        if (s[0] != InChannels || s[1] != InHeight || s[2] != InWidth)
            throw new ArgumentException($"locally-connected2d: built for [{InChannels}, {InHeight}, {InWidth}], gets {Limits.Format(sampleShape)}");
        return [Filters, OutHeight, OutWidth];
    }
}

/// <summary>
/// Locally connected 2-D layer: Weight [P, K, F] (P = OH·OW positions, K = C·k·k taps in (c, ki, kj) order),
/// Bias [P, F]. Its masks are fixed at construction and never trained.
/// </summary>
public sealed class LocallyConnected2d : Module
{
    /// <summary>Weight [P, K, F].</summary>
    public Tensor Weight { get; }

    /// <summary>Bias [P, F] or null.</summary>
    public Tensor? Bias { get; }

    /// <summary>Input mask [1, C, H, W] (mode Input) or null.</summary>
    public Tensor? InputMask { get; }

    /// <summary>Weight mask [P, K, F] (mode Weight) or null.</summary>
    public Tensor? WeightMask { get; }

    /// <summary>Its config.</summary>
    public LocallyConnected2dConfig Config { get; }

    /// <summary>Builds the layer; masks and weights are drawn from independent forks of <paramref name="rng"/>.</summary>
    public LocallyConnected2d(LocallyConnected2dConfig config, Rng rng)
    {
        Config = config;
        int p = config.OutHeight * config.OutWidth, k = config.InChannels * config.Kernel * config.Kernel, f = config.Filters;
        Weight = RegisterParameter("weight", new Tensor(new float[p * k * f], p, k, f));
        var ws = Weight.Span;
        int kk = config.Kernel * config.Kernel;
        switch (config.Init)
        {
            case LcInit.KerasGlorot:
                Nn.Init.Fill(ws, InitScheme.XavierUniform, p * k, p * f, rng, gain: 1); break;
            case LcInit.ConvFans:
                Nn.Init.Fill(ws, InitScheme.XavierUniform, k, kk * f, rng, gain: 1); break;
            default:
                var bank = new float[k * f];
                Nn.Init.Fill(bank, InitScheme.XavierUniform, k, kk * f, rng, gain: 1);
                for (int pos = 0; pos < p; pos++) bank.CopyTo(ws.Slice(pos * k * f, k * f));
                break;
        }
        if (config.Bias) Bias = RegisterParameter("bias", new Tensor(new float[p * f], p, f));
        if (config.Mask == LcMask.Input)
        {
            var m = new float[config.InChannels * config.InHeight * config.InWidth];
            var mr = rng.Fork("lc-input-mask");
            for (int i = 0; i < m.Length; i++) m[i] = mr.NextDouble() < config.SeverProbability ? 0f : 1f;
            InputMask = RegisterBuffer("input_mask", new Tensor(m, 1, config.InChannels, config.InHeight, config.InWidth));
        }
        else if (config.Mask == LcMask.Weight)
        {
            var m = new float[p * k * f];
            var mr = rng.Fork("lc-weight-mask");
            for (int i = 0; i < m.Length; i++) m[i] = mr.NextDouble() < config.SeverProbability ? 0f : 1f;
            WeightMask = RegisterBuffer("weight_mask", new Tensor(m, p, k, f));
            System.Numerics.Tensors.TensorPrimitives.Multiply(ws, m, ws);
        }
    }

    /// <inheritdoc/>
    protected internal override ModuleConfig ConfigFor(Func<Tensor, int[]> shapeOf) => Config;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        if (x.Rank != 4 || x.Dim(1) != Config.InChannels || x.Dim(2) != Config.InHeight || x.Dim(3) != Config.InWidth)
            throw new ArgumentException($"LocallyConnected2d built for [N,{Config.InChannels},{Config.InHeight},{Config.InWidth}] got {Tensor.FormatShape(x.Shape)}");
        if (InputMask is not null) x = Ops.Mul(x, InputMask);
        return Ops.LocallyConnected2d(x, Weight, Bias, Config.Kernel, Config.Kernel, Config.Stride, Config.Stride, WeightMask);
    }

    /// <summary>Not growable yet (unshared weights per position).</summary>
    public override GrowthRole GrowthRole => GrowthRole.Unsupported("locally connected layers cannot grow yet");

    /// <inheritdoc/>
    public override string ToString() =>
        $"LocallyConnected2d({Config.InChannels}→{Config.Filters}, k{Config.Kernel}, s{Config.Stride}, {Config.OutHeight}x{Config.OutWidth}{(Config.Mask != LcMask.None ? $", {Config.Mask} mask p={Config.SeverProbability}" : "")})";
}
