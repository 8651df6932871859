using Sprout.Training;

namespace Sprout.Growth;

/// <summary>
/// Similarity-guided growth (paper 002), on top of any extender: for the first <see cref="Iterations"/> optimizer
/// steps of the training after each growth step, the training loss is the task loss plus
/// <see cref="Weight"/> · Σ over growable layers of <see cref="SimilarityRegularizer.Compute"/> (mean |cosine| between
/// a layer's neurons and λ·log(|ΣW / ΣW_before growth|)). Validation and evaluation use the task loss alone.
/// </summary>
/// <param name="Iterations">Optimizer steps after each growth step that carry the term (the paper's N, 1–30). Counted
/// from the start of the stage's training (they may span epochs) and capped by its length.</param>
/// <param name="UseCosine">Include the mean |cosine similarity| term (the paper's ablation "Proposed1").</param>
/// <param name="UseSumRatio">Include λ·log(|ΣW_current / ΣW_previous|) (the paper's "Proposed2"), ΣW_previous being
/// the layer's weight sum right before the growth step.</param>
/// <param name="Lambda">λ of the sum-ratio term.</param>
/// <param name="Weight">Factor of the whole regulariser against the task loss.</param>
/// <param name="Epsilon">ε of the near-zero guards (row norms and the weight sums; see <see cref="SimilarityRegularizer"/>).</param>
/// <param name="SumPenalty">How the sum-ratio term penalises the ratio: the paper's λ·log r, or the two-sided λ·(log r)².</param>
public sealed record SimilarityConfig(int Iterations = 10, bool UseCosine = true, bool UseSumRatio = true, double Lambda = 0.01,
    double Weight = 1, double Epsilon = SimilarityRegularizer.DefaultEpsilon, SumPenalty SumPenalty = SumPenalty.Log)
{
    /// <summary>Most iterations: 2³⁰.</summary>
    public const int MaxIterations = 1 << 30;

    /// <summary>Checks the options; throws <see cref="ArgumentException"/> with the reason.</summary>
    public void Validate()
    {
        if (Iterations < 1 || Iterations > MaxIterations) throw new ArgumentException($"similarity.iterations must be in 1..{MaxIterations:N0}, got {Iterations}");
        if (!double.IsFinite(Lambda)) throw new ArgumentException("similarity.lambda must be a finite number");
        if (!(Weight >= 0) || !double.IsFinite(Weight)) throw new ArgumentException("similarity.weight must be a finite number ≥ 0");
        if (!(Epsilon > 0) || !double.IsFinite(Epsilon)) throw new ArgumentException("similarity.epsilon must be a finite number > 0");
    }

    /// <summary>Whether the options add anything to the loss (a term is on and the weight is not 0).</summary>
    public bool IsActive => (UseCosine || UseSumRatio) && Weight != 0;
}
