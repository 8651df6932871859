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
    public override Module Build(Rng rng)
    {
        Validate();
        return new Pool(this);
    }

    /// <inheritdoc/>
    public override void Validate()
    {
        Limits.Defined("pool", "kind", Kind);
        if (Kind == PoolKind.AdaptiveAverage)
        {
            Limits.Range("pool", "outputSize", OutputSize, 1, MaxSpatial);
            return;
        }
        Limits.Range("pool", "kernel", Kernel, 1, MaxSpatial);
        if (Stride != -1) Limits.Range("pool", "stride", Stride, 1, MaxSpatial);
        Limits.Range("pool", "padding", Padding, 0, Kernel / 2);
    }

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> sampleShape)
    {
        var s = Limits.Image("pool", sampleShape);
        int oh, ow;
        if (Kind == PoolKind.AdaptiveAverage) (oh, ow) = (OutputSize, OutputSize);
        else
        {
            int stride = Stride == -1 ? Kernel : Stride;
            (oh, ow) = (Limits.WindowOut("pool", s[1], Kernel, stride, Padding), Limits.WindowOut("pool", s[2], Kernel, stride, Padding));
        }
        return FlattenOutput ? [Limits.Elements("pool", "output", s[0], oh, ow)] : [s[0], oh, ow];
    }
}

/// <summary>A pooling layer.</summary>
public sealed class Pool(PoolConfig config) : Module
{
    /// <summary>Its config.</summary>
    public PoolConfig Config { get; } = config;

    /// <inheritdoc/>
    protected internal override ModuleConfig ConfigFor(Func<Tensor, int[]> shapeOf) => Config;

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
        Validate();
        return new Dropout(this, rng.Fork("dropout", rng.NextInt(int.MaxValue)));
    }

    /// <inheritdoc/>
    public override void Validate()
    {
        if (!(P >= 0 && P < 1)) throw new ArgumentException($"dropout: probability p must be in [0, 1), got {P}");
    }
}

/// <summary>
/// Inverted dropout with its own seeded stream (forked from the build seed), registered as the module's RNG stream
/// "rng" so a checkpoint saves and restores it. Under data-parallel training <see cref="Shard"/> places this process's
/// rows in the global batch, so its mask is one process's and its stream moves as one process's does.
/// </summary>
public sealed class Dropout : Module
{
    private readonly Rng _rng;

    /// <summary>Creates the layer with its own stream.</summary>
    public Dropout(DropoutConfig config, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        _rng = RegisterRng("rng", rng);
    }

    /// <summary>Its config.</summary>
    public DropoutConfig Config { get; }

    /// <inheritdoc/>
    protected internal override ModuleConfig ConfigFor(Func<Tensor, int[]> shapeOf) => Config;

    /// <summary>
    /// Where the batch this layer sees sits in a batch split over processes (data-parallel training): the rows of the
    /// other processes before and after it, whose draws the stream skips (see <see cref="Ops.Dropout"/>). Default: the
    /// whole batch. The data-parallel trainer sets it for the span of one step's forward pass and clears it afterwards.
    /// </summary>
    public BatchShard Shard { get; set; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Ops.Dropout(x, Config.P, _rng, IsTraining, Shard.RowsBefore, Shard.RowsAfter);

    /// <summary>Channels pass through.</summary>
    public override GrowthRole GrowthRole => GrowthRole.PassThrough;

    /// <inheritdoc/>
    public override string ToString() => $"Dropout({Config.P})";
}
