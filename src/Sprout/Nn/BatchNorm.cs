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
        if (Channels <= 0) throw new ArgumentException("BatchNorm needs at least one channel");
        return new BatchNorm(this);
    }
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
    public override Tensor Forward(Tensor x) => Forward(x, relu: false);

    /// <summary>Normalises x; with <paramref name="relu"/> a following ReLU is fused in (one pass, one tensor).</summary>
    public Tensor Forward(Tensor x, bool relu) =>
        Ops.BatchNorm(x, Gamma, Beta, RunningMean, RunningVar, IsTraining, Config.Momentum, Config.Eps, relu);

    /// <summary>Tied to the producer's width; new channels start as the identity.</summary>
    public override GrowthRole GrowthRole => new NormRole(Gamma, Beta, RunningMean, RunningVar);

    /// <inheritdoc/>
    public override string ToString() => $"BatchNorm({Channels})";
}
