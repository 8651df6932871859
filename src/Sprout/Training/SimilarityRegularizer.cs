using Sprout.Autograd;

namespace Sprout.Training;

/// <summary>How the weight-sum term of paper 002's regulariser (its "Proposed2") penalises r = |ΣW| / |ΣW_previous|.</summary>
public enum SumPenalty
{
    /// <summary>λ·log r, as the paper writes it. Its gradient, λ/ΣW on every weight, has the same sign whether the sum
    /// grew or shrank: it always pushes |ΣW| down, by shifting every weight of the layer alike (which makes the rows more
    /// alike, most where ΣW is near 0).</summary>
    Log,

    /// <summary>λ·(log r)², two-sided: zero with zero gradient while the sum is unchanged, pulling it back from either
    /// side — what the paper says the term is for ("avoid sudden increases or decreases in weights").</summary>
    SquaredLog,
}

/// <summary>
/// Paper 002's similarity-guided regulariser for one weight matrix W, viewed as rows [C_out, C_in·k·k] (one row per
/// neuron): the mean |cosine similarity| over ordered pairs of distinct rows (the paper's "Proposed1"), plus
/// λ·log(|ΣW / ΣW_previous|) (its "Proposed2"), where ΣW_previous is a constant. Built from autograd primitives
/// (row-normalise, W·Wᵀ, abs, masked sum, sum, log), so it needs no backward rule of its own.
/// </summary>
/// <remarks>
/// Guards (<c>epsilon</c> = ε): a row's norm is √(‖w‖² + ε²), so an all-zero row has cosine 0 with every other row
/// (and gets no gradient from the cosine term); |ΣW| is smoothed to √((ΣW)² + ε²) in the numerator and in the
/// denominator, so the log stays ≥ log ε − log√(ΣW_previous² + ε²) and its gradient per weight, λ·ΣW/((ΣW)² + ε²),
/// stays ≤ λ/(2ε) however close the sums come to zero. The denominator is a constant: it shifts the term's value but
/// never its gradient.
/// </remarks>
public static class SimilarityRegularizer
{
    /// <summary>Default ε of the guards.</summary>
    public const double DefaultEpsilon = 1e-3;

    /// <summary>
    /// The regulariser: <paramref name="useCosine"/> · mean|cos| + <paramref name="useSumRatio"/> · λ·log(|ΣW| / |ΣW_previous|)
    /// (both guarded by <paramref name="epsilon"/>), a one-element tensor recorded for backward; 0 (a constant) when
    /// both terms are off.
    /// </summary>
    /// <param name="weight">The layer's weight, [C_out, …] (a Linear's [out, in] or a conv's [out, in, k, k]).</param>
    /// <param name="previousSum">ΣW_previous, the constant reference sum.</param>
    /// <param name="useCosine">Include the mean |cosine| term (Proposed1).</param>
    /// <param name="useSumRatio">Include the λ·log sum-ratio term (Proposed2).</param>
    /// <param name="lambda">λ of the sum-ratio term.</param>
    /// <param name="epsilon">ε of the guards (&gt; 0).</param>
    /// <param name="penalty">How the sum-ratio term penalises the ratio (the paper's λ·log r, or λ·(log r)²).</param>
    public static Tensor Compute(Tensor weight, double previousSum, bool useCosine = true, bool useSumRatio = true,
        double lambda = 1, double epsilon = DefaultEpsilon, SumPenalty penalty = SumPenalty.Log)
    {
        ArgumentNullException.ThrowIfNull(weight);
        Tensor? total = null;
        if (useCosine) total = MeanAbsCosine(weight, epsilon);
        if (useSumRatio)
        {
            var log = LogSumRatio(weight, previousSum, epsilon);
            var r = Ops.MulScalar(penalty == SumPenalty.SquaredLog ? Ops.Mul(log, log) : log, (float)lambda);
            total = total is null ? r : Ops.Add(total, r);
        }
        return total ?? Tensor.Scalar(0f);
    }

    /// <summary>
    /// Mean |cos(W_i, W_j)| over ordered pairs i ≠ j of the rows of <paramref name="weight"/> as [C_out, rest]
    /// (0 for a single row); rows are normalised by √(‖w‖² + ε²).
    /// </summary>
    public static Tensor MeanAbsCosine(Tensor weight, double epsilon = DefaultEpsilon)
    {
        ArgumentNullException.ThrowIfNull(weight);
        CheckEpsilon(epsilon);
        int n = weight.Dim(0);
        if (n < 2 || weight.Length == 0) return Tensor.Scalar(0f);
        int m = weight.Length / n;
        var w = Ops.Reshape(weight, n, m);
        var norm = Ops.Sqrt(Ops.AddScalar(Ops.Sum(Ops.Mul(w, w), 1, keepDim: true), (float)(epsilon * epsilon)));
        var u = Ops.Div(w, norm);                                   // [n, m], rows of (nearly) unit length
        var cos = Ops.Abs(Ops.MatMul(u, u, transB: true));          // [n, n]
        var offDiagonal = Tensor.Full(1f, n, n);
        var mask = offDiagonal.Span;
        for (int i = 0; i < n; i++) mask[i * n + i] = 0f;
        return Ops.MulScalar(Ops.Sum(Ops.Mul(cos, offDiagonal)), (float)(1.0 / ((double)n * (n - 1))));
    }

    /// <summary>
    /// log(|ΣW| / |ΣW_previous|) with both magnitudes smoothed to √(s² + ε²) (the near-zero guard; see the remarks on
    /// <see cref="SimilarityRegularizer"/>).
    /// </summary>
    public static Tensor LogSumRatio(Tensor weight, double previousSum, double epsilon = DefaultEpsilon)
    {
        ArgumentNullException.ThrowIfNull(weight);
        CheckEpsilon(epsilon);
        if (!double.IsFinite(previousSum)) throw new ArgumentException($"the previous weight sum must be finite, got {previousSum}");
        var s = Ops.Sum(weight);
        var magnitude = Ops.Sqrt(Ops.AddScalar(Ops.Mul(s, s), (float)(epsilon * epsilon)));
        double denominator = Math.Sqrt(previousSum * previousSum + epsilon * epsilon);
        return Ops.AddScalar(Ops.Log(magnitude), (float)-Math.Log(denominator));
    }

    /// <summary>ΣW in double precision (the reference sum to keep as ΣW_previous).</summary>
    public static double WeightSum(Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        double s = 0;
        foreach (float v in weight.Span) s += v;
        return s;
    }

    private static void CheckEpsilon(double epsilon)
    {
        if (!(epsilon > 0) || !double.IsFinite(epsilon)) throw new ArgumentException($"epsilon must be a finite number > 0, got {epsilon}");
    }
}
