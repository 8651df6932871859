using Sprout.Kernels;
using Sprout.Autograd;
using Sprout.Tensors;

namespace Sprout.Nn;

/// <summary>Config of batch normalisation over channel axis 1 (BatchNorm1d on [N,C], BatchNorm2d on [N,C,H,W]).</summary>
/// <param name="Channels">Channels (features).</param>
/// <param name="Momentum">Running-statistics momentum (PyTorch convention).</param>
/// <param name="Eps">Added to the variance.</param>
/// <param name="Affine">Whether γ and β are learned.</param>
public sealed record BatchNormConfig(int Channels, float Momentum = 0.1f, float Eps = 1e-5f, bool Affine = true) : ModuleConfig
{
    /// <inheritdoc/>
    public override Module Build(Rng rng)
    {
        Validate();
        return new BatchNorm(this);
    }

    /// <inheritdoc/>
    public override void Validate()
    {
        Limits.Range("batchnorm", "channels", Channels, 1, MaxTensorElements);
        if (!(Momentum >= 0 && Momentum <= 1)) throw new ArgumentException($"batchnorm: momentum must be in [0, 1], got {Momentum}");
        if (!(Eps > 0) || !float.IsFinite(Eps)) throw new ArgumentException($"batchnorm: eps must be a finite number > 0, got {Eps}");
    }

    /// <inheritdoc/>
    public override IReadOnlyList<(string Name, int[] Shape)> TensorShapes() => Affine
        ? [("weight", [Channels]), ("bias", [Channels]), ("running_mean", [Channels]), ("running_var", [Channels])]
        : [("running_mean", [Channels]), ("running_var", [Channels])];

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int> sampleShape)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        if (sampleShape.Count is not (1 or 3) || sampleShape[0] != Channels)
            throw new ArgumentException($"batchnorm: expects {Channels} channels ([C] or [C, H, W]), gets {Limits.Format(sampleShape)}");
        return sampleShape.ToArray();
    }

    internal override ModuleConfig WithoutWidths() => this with { Channels = 0 };
}

/// <summary>
/// Batch normalisation: batch statistics in training (running mean/var updated), running statistics in evaluation.
/// γ starts at 1, β at 0, running mean 0, running var 1 — what a grown channel gets too.
/// </summary>
public sealed class BatchNorm : Module
{
    /// <summary>γ [C] or null.</summary>
    public Tensor? Gamma { get; }

    /// <summary>β [C] or null.</summary>
    public Tensor? Beta { get; }

    /// <summary>Running mean [C].</summary>
    public Tensor RunningMean { get; }

    /// <summary>Running variance [C].</summary>
    public Tensor RunningVar { get; }

    /// <summary>Its config.</summary>
    public BatchNormConfig Config { get; }

    /// <summary>Channels now (follows growth).</summary>
    public int Channels => RunningMean.Dim(0);

    /// <summary>
    /// When set, training-mode passes normalise with the statistics of the whole batch split over the processes of
    /// <see cref="IBatchStatisticsSync"/> (synchronised BatchNorm; see <see cref="Ops.BatchNorm"/>): every process
    /// must then run the same forward and backward passes. The data-parallel trainer sets it for the span of each
    /// training step and clears it after. Null (the default): each pass's own batch. Not saved, not part of the config.
    /// </summary>
    public IBatchStatisticsSync? Sync { get; set; }

    /// <summary>Builds the layer.</summary>
    public BatchNorm(BatchNormConfig config)
    {
        Config = config;
        int c = config.Channels;
        if (config.Affine)
        {
            Gamma = RegisterParameter("weight", new Tensor(Enumerable.Repeat(1f, c).ToArray(), c));
            Beta = RegisterParameter("bias", new Tensor(new float[c], c));
        }
        RunningMean = RegisterBuffer("running_mean", new Tensor(new float[c], c));
        RunningVar = RegisterBuffer("running_var", new Tensor(Enumerable.Repeat(1f, c).ToArray(), c));
    }

    /// <inheritdoc/>
    protected internal override ModuleConfig ConfigFor(Func<Tensor, int[]> shapeOf)
    {
        ArgumentNullException.ThrowIfNull(shapeOf);
        return Config with { Channels = shapeOf(RunningMean)[0] };
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x) => Forward(x, NormActivation.None);

    /// <summary>Normalises x; with <paramref name="activation"/> a following ReLU or Swish is fused in (one pass, one tensor).</summary>
    public Tensor Forward(Tensor x, NormActivation activation) =>
        Ops.BatchNorm(x, Gamma, Beta, RunningMean, RunningVar, IsTraining, Config.Momentum, Config.Eps, activation, Sync);

    /// <summary>The fused form of <paramref name="next"/> when it is an activation a BatchNorm can run in its own passes
    /// (ReLU, Swish), else null.</summary>
    public static NormActivation? Fusable(Module next) => next switch
    {
        Activation { Config.Kind: ActivationKind.Relu } => NormActivation.Relu,
        Activation { Config.Kind: ActivationKind.Swish } => NormActivation.Swish,
        _ => null,
    };

    /// <summary>Tied to the producer's width; new channels start as the identity.</summary>
    public override GrowthRole GrowthRole => new NormRole(Gamma, Beta, RunningMean, RunningVar);

    /// <inheritdoc/>
    public override string ToString() => $"BatchNorm({Channels})";
}
