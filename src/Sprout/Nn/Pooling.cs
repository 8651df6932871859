using Sprout.Autograd;
using Sprout.Tensors;

namespace Sprout.Nn;

/// <summary>Pooling kinds.</summary>
public enum PoolKind
{
    /// <summary>Max over each window.</summary>
    Max,
    /// <summary>Mean over each window (padding counts).</summary>
    Average,
    /// <summary>Adaptive average to a fixed output size (1×1 = global).</summary>
    AdaptiveAverage,
}

/// <summary>Config of a pooling layer.</summary>
/// <param name="Kind">Max, average or adaptive average.</param>
/// <param name="Kernel">Window size (max/average).</param>
/// <param name="Stride">Stride (default: the kernel).</param>
/// <param name="Padding">Padding.</param>
/// <param name="OutputSize">Adaptive output size (square).</param>
/// <param name="FlattenOutput">Adaptive 1×1: return [N, C] instead of [N, C, 1, 1].</param>
public sealed record PoolConfig(PoolKind Kind, int Kernel = 2, int Stride = -1, int Padding = 0, int OutputSize = 1,
    bool FlattenOutput = false) : ModuleConfig
{
    /// <inheritdoc/>
    public override Module Build(Rng rng) => new Pool(this);
}

/// <summary>A pooling layer.</summary>
public sealed class Pool(PoolConfig config) : Module
{
    /// <summary>Its config.</summary>
    public PoolConfig Config { get; } = config;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        var y = Config.Kind switch
        {
            PoolKind.Max => Ops.MaxPool2d(x, Config.Kernel, Config.Stride, Config.Padding),
            PoolKind.Average => Ops.AvgPool2d(x, Config.Kernel, Config.Stride, Config.Padding),
            _ => Ops.AdaptiveAvgPool2d(x, Config.OutputSize, Config.OutputSize),
        };
        return Config.FlattenOutput ? Ops.Flatten(y) : y;
    }

    /// <summary>Channels pass through; one that flattens its output leaves each channel as a block of features.</summary>
    public override GrowthRole GrowthRole => Config.FlattenOutput ? GrowthRole.Flatten : GrowthRole.PassThrough;

    /// <inheritdoc/>
    public override string ToString() => Config.Kind == PoolKind.AdaptiveAverage ? $"AdaptiveAvgPool({Config.OutputSize})" : $"{Config.Kind}Pool({Config.Kernel})";
}

/// <summary>Config of dropout.</summary>
/// <param name="P">Drop probability.</param>
public sealed record DropoutConfig(float P = 0.5f) : ModuleConfig
{
    /// <inheritdoc/>
    public override Module Build(Rng rng)
    {
        if (!(P >= 0 && P < 1)) throw new ArgumentException($"dropout probability must be in [0, 1), got {P}");
        return new Dropout(this, rng.Fork("dropout", rng.NextInt(int.MaxValue)));
    }
}

/// <summary>Inverted dropout with its own seeded stream (forked from the build seed).</summary>
public sealed class Dropout(DropoutConfig config, Rng rng) : Module
{
    /// <summary>Its config.</summary>
    public DropoutConfig Config { get; } = config;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.Dropout(x, Config.P, rng, IsTraining);

    /// <summary>Channels pass through.</summary>
    public override GrowthRole GrowthRole => GrowthRole.PassThrough;

    /// <inheritdoc/>
    public override string ToString() => $"Dropout({Config.P})";
}
