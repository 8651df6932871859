namespace Sprout.Training;

/// <summary>
/// An update rule a <see cref="Trainer"/> calls instead of an optimizer, for methods whose update is not one optimizer
/// over the model's parameters (e.g. SWE's adjustment phase: coupling gradients derived from the producer's gradient,
/// several optimizers, effective weights rewritten after each step). The loop around it — gather, zero grad, forward,
/// loss, divergence check, backward, step, callbacks — stays the trainer's.
/// </summary>
public interface IStepRule
{
    /// <summary>The tensors whose gradients the rule reads (zeroed before each step, clipped when clipping is on).</summary>
    IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>Forgets the gradients of <see cref="Parameters"/>.</summary>
    void ZeroGrad();

    /// <summary>Applies one update from the gradients of the backward pass just run.</summary>
    void Step();
}
