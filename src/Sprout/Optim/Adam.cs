using Sprout.Kernels;

namespace Sprout.Optim;

/// <summary>
/// Adam (Kingma &amp; Ba) with PyTorch's update; <see cref="WeightDecay"/> is L2 added to the gradient.
/// With <see cref="Decoupled"/> it is AdamW (weight decay applied to the weights directly).
/// </summary>
public class Adam : Optimizer
{
    /// <summary>Creates Adam.</summary>
    public Adam(IEnumerable<Tensor> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0, bool decoupled = false) : base(parameters, learningRate)
    {
        if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1) throw new ArgumentException("Adam betas must be in [0, 1)");
        if (eps < 0 || weightDecay < 0) throw new ArgumentException("Adam eps and weight decay must be ≥ 0");
        Beta1 = beta1; Beta2 = beta2; Eps = eps; WeightDecay = weightDecay; Decoupled = decoupled;
    }

    /// <summary>β1.</summary>
    public double Beta1 { get; set; }
    /// <summary>β2.</summary>
    public double Beta2 { get; set; }
    /// <summary>ε.</summary>
    public double Eps { get; set; }
    /// <summary>Weight decay (L2 for Adam, decoupled for AdamW).</summary>
    public double WeightDecay { get; set; }
    /// <summary>AdamW: decay weights directly instead of through the gradient.</summary>
    public bool Decoupled { get; set; }

    /// <inheritdoc/>
    protected override int SlotCount => 2;

    /// <inheritdoc/>
    public override IReadOnlyList<string> SlotNames { get; } = ["exp_avg", "exp_avg_sq"];

    /// <inheritdoc/>
    protected override void WarmNewEntries(ParamState state, ReadOnlySpan<float> isOld) => FillNewWithOldMean(state.Slots[1], isOld);

    /// <inheritdoc/>
    protected override void Update(Tensor p, Tensor grad, ParamState st)
    {
        float bc1 = (float)(1 - Math.Pow(Beta1, st.Step));
        float bc2 = (float)(1 - Math.Pow(Beta2, st.Step));
        float lr = (float)LearningRate, b1 = (float)Beta1, b2 = (float)Beta2, eps = (float)Eps;
        float l2 = Decoupled ? 0f : (float)WeightDecay, dwd = Decoupled ? (float)WeightDecay : 0f;
        var m = st.Slots[0];
        var v = st.Slots[1];
        if (p.Length < 1 << 16)
        {
            OptimKernels.Adam(p.Span, grad.Span, m, v, lr, b1, b2, eps, l2, dwd, bc1, bc2);
            return;
        }
        Chunked(p.Length, (s, n) =>
            OptimKernels.Adam(p.Span.Slice(s, n), grad.Span.Slice(s, n), m.AsSpan(s, n), v.AsSpan(s, n), lr, b1, b2, eps, l2, dwd, bc1, bc2));
    }
}

/// <summary>AdamW: Adam with decoupled weight decay (default 0.01, as PyTorch).</summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates AdamW.</summary>
    public AdamW(IEnumerable<Tensor> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0.01) : base(parameters, learningRate, beta1, beta2, eps, weightDecay, decoupled: true)
    {
    }
}
