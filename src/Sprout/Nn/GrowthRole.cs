namespace Sprout.Nn;

/// <summary>
/// What a layer declares about width growth, through <see cref="Module.GrowthRole"/>: whether its units can grow, whether
/// its channels are tied to the width of the layer before it, whether it passes channels through, or whether growth
/// cannot pass it. Nn grows nothing itself; <see cref="Models.GrowableLayers(IReadOnlyList{Module})"/> reads these
/// declarations to find the growable layers, and the growth code builds its sites from them. A new layer type takes
/// part in growth by declaring its role in its own file.
/// </summary>
public abstract record GrowthRole
{
    /// <summary>Output channel c is input channel c (pooling, dropout).</summary>
    public static PassThroughRole PassThrough { get; } = new();

    /// <summary>An activation: passes channels through, and its output is where a unit's activity is measured.</summary>
    public static PassThroughRole Activation { get; } = new(IsActivation: true);

    /// <summary>Input channel c becomes one contiguous block of the outputs (its H·W positions): Flatten.</summary>
    public static PassThroughRole Flatten { get; } = new(Flattens: true);

    /// <summary>Growth cannot pass this layer, for the given reason.</summary>
    public static UnsupportedRole Unsupported(string reason) => new(reason);
}

/// <summary>A layer that keeps channels apart: output channel c depends on input channel c only.</summary>
/// <param name="IsActivation">The output is the units' activation (what "inactive" is measured on).</param>
/// <param name="Flattens">Channel c's values leave as one contiguous block of features (H·W of them), as in Flatten.</param>
public sealed record PassThroughRole(bool IsActivation = false, bool Flattens = false) : GrowthRole;

/// <summary>
/// A growable producer that is also a consumer: its units (neurons or output channels) lie on axis 0 of
/// <paramref name="Weight"/> and of <paramref name="Bias"/>, so it grows by appending units; its inputs lie on axis 1 of
/// <paramref name="Weight"/>, so it takes in the growth of the producer before it (Linear, Conv2d with one group).
/// </summary>
/// <param name="Weight">[units, inputs, …].</param>
/// <param name="Bias">[units], or null.</param>
/// <param name="Window">For a convolution: the window one unit is applied to at every position; null when a unit
/// reads its whole input row (Linear).</param>
public sealed record GrowableRole(Tensor Weight, Tensor? Bias, ConvWindow? Window = null) : GrowthRole;

/// <summary>The square window, stride and zero padding with which a convolution's unit slides over its input.</summary>
/// <param name="Kernel">Window size.</param>
/// <param name="Stride">Stride.</param>
/// <param name="Padding">Zero padding on each side.</param>
public sealed record ConvWindow(int Kernel, int Stride, int Padding);

/// <summary>A layer whose channels are tied to the width of the producer before it: they grow when it grows.</summary>
public abstract record WidthTiedRole : GrowthRole;

/// <summary>
/// Per-channel normalisation (BatchNorm): a new channel starts as the identity — γ 1, β 0, running mean 0,
/// running variance 1 — so growing it leaves the output unchanged.
/// </summary>
/// <param name="Gamma">Scale γ [C], or null.</param>
/// <param name="Beta">Shift β [C], or null.</param>
/// <param name="RunningMean">Running mean [C], or null.</param>
/// <param name="RunningVar">Running variance [C], or null.</param>
public sealed record NormRole(Tensor? Gamma, Tensor? Beta, Tensor? RunningMean, Tensor? RunningVar) : WidthTiedRole;

/// <summary>
/// A depthwise convolution (one filter per channel, groups = channels): its channels are tied to the producer's width
/// and grow with it (the growth code decides how a new filter starts).
/// </summary>
/// <param name="Weight">[C, 1, k, k].</param>
/// <param name="Bias">[C], or null.</param>
/// <param name="Window">Its window.</param>
public sealed record DepthwiseRole(Tensor Weight, Tensor? Bias, ConvWindow Window) : WidthTiedRole;

/// <summary>Growth cannot pass this layer.</summary>
/// <param name="Reason">Why, for the one-line error.</param>
public sealed record UnsupportedRole(string Reason) : GrowthRole;
