using Sprout.Kernels;

namespace Sprout.Optim;

/// <summary>Stochastic gradient descent with optional momentum, dampening, Nesterov and L2 weight decay (PyTorch's rule).</summary>
public sealed class Sgd : Optimizer
{
    /// <summary>Creates SGD.</summary>
    public Sgd(IEnumerable<Tensor> parameters, double learningRate, double momentum = 0, double dampening = 0,
        bool nesterov = false, double weightDecay = 0) : base(parameters, learningRate)
    {
        if (momentum < 0 || weightDecay < 0) throw new ArgumentException("SGD momentum and weight decay must be ≥ 0");
        if (nesterov && (momentum <= 0 || dampening != 0)) throw new ArgumentException("Nesterov needs momentum > 0 and no dampening");
        Momentum = momentum; Dampening = dampening; Nesterov = nesterov; WeightDecay = weightDecay;
    }

    /// <summary>Momentum μ.</summary>
    public double Momentum { get; }
    /// <summary>Dampening.</summary>
    public double Dampening { get; }
    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; }
    /// <summary>L2 weight decay.</summary>
    public double WeightDecay { get; }

    /// <inheritdoc/>
    protected override int SlotCount => 1;

    /// <inheritdoc/>
    public override IReadOnlyList<string> SlotNames { get; } = ["momentum_buffer"];

    /// <inheritdoc/>
    protected override void Update(Tensor p, Tensor grad, ParamState st) =>
        OptimKernels.Sgd(p.Span, grad.Span, st.Slots[0], (float)LearningRate, (float)Momentum, (float)Dampening, Nesterov,
            (float)WeightDecay, st.Step == 1);
}

/// <summary>RMSprop (PyTorch's rule): squared-gradient average with optional momentum and centering.</summary>
public sealed class RmsProp : Optimizer
{
    /// <summary>Creates RMSprop (PyTorch defaults: lr 1e-2, α 0.99, ε 1e-8).</summary>
    public RmsProp(IEnumerable<Tensor> parameters, double learningRate = 1e-2, double alpha = 0.99, double eps = 1e-8,
        double momentum = 0, bool centered = false, double weightDecay = 0) : base(parameters, learningRate)
    {
        if (alpha < 0 || alpha > 1) throw new ArgumentException("RMSprop alpha must be in [0, 1]");
        Alpha = alpha; Eps = eps; Momentum = momentum; Centered = centered; WeightDecay = weightDecay;
    }

    /// <summary>Smoothing constant α.</summary>
    public double Alpha { get; }
    /// <summary>ε.</summary>
    public double Eps { get; }
    /// <summary>Momentum.</summary>
    public double Momentum { get; }
    /// <summary>Centered variant.</summary>
    public bool Centered { get; }
    /// <summary>L2 weight decay.</summary>
    public double WeightDecay { get; }

    /// <inheritdoc/>
    protected override int SlotCount => 3;

    /// <inheritdoc/>
    public override IReadOnlyList<string> SlotNames { get; } = ["square_avg", "grad_avg", "momentum_buffer"];

    /// <inheritdoc/>
    protected override void WarmNewEntries(ParamState state, ReadOnlySpan<float> isOld) => FillNewWithOldMean(state.Slots[0], isOld);

    /// <inheritdoc/>
    protected override void Update(Tensor p, Tensor grad, ParamState st) =>
        OptimKernels.RmsProp(p.Span, grad.Span, st.Slots[0], st.Slots[1], st.Slots[2], (float)LearningRate, (float)Alpha,
            (float)Eps, (float)Momentum, Centered, (float)WeightDecay);
}
