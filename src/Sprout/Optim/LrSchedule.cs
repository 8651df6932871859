namespace Sprout.Optim;

/// <summary>
/// A learning-rate schedule: a factor of the base rate as a function of a step counter (epochs or iterations,
/// whichever the caller counts). Apply with <see cref="Apply"/>.
/// </summary>
public abstract record LrSchedule
{
    /// <summary>Factor for step <paramref name="t"/> (0-based).</summary>
    public abstract double Factor(int t);

    /// <summary>Sets <paramref name="optimizer"/>'s learning rate to base·Factor(t).</summary>
    public void Apply(Optimizer optimizer, double baseRate, int t) => optimizer.LearningRate = baseRate * Factor(t);
}

/// <summary>Constant rate.</summary>
public sealed record ConstantLr : LrSchedule
{
    /// <inheritdoc/>
    public override double Factor(int t) => 1.0;
}

/// <summary>Multiply by γ every <paramref name="StepSize"/> steps (PyTorch StepLR).</summary>
/// <param name="StepSize">Steps between decays.</param>
/// <param name="Gamma">Decay factor.</param>
public sealed record StepLr(int StepSize, double Gamma = 0.1) : LrSchedule
{
    /// <inheritdoc/>
    public override double Factor(int t) => Math.Pow(Gamma, t / Math.Max(1, StepSize));
}

/// <summary>Multiply by γ at each milestone (PyTorch MultiStepLR; Firefly decays at epochs 79 and 119).</summary>
/// <param name="Milestones">Steps at which to decay.</param>
/// <param name="Gamma">Decay factor.</param>
public sealed record MultiStepLr(IReadOnlyList<int> Milestones, double Gamma = 0.1) : LrSchedule
{
    /// <inheritdoc/>
    public override double Factor(int t) => Math.Pow(Gamma, Milestones.Count(m => t >= m));
}

/// <summary>Cosine decay from 1 to <paramref name="MinFactor"/> over <paramref name="Total"/> steps (PyTorch CosineAnnealingLR).</summary>
/// <param name="Total">Steps of one half-cosine.</param>
/// <param name="MinFactor">Final factor.</param>
public sealed record CosineLr(int Total, double MinFactor = 0) : LrSchedule
{
    /// <inheritdoc/>
    public override double Factor(int t) =>
        MinFactor + (1 - MinFactor) * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(t, Total) / Math.Max(1, Total)));
}

/// <summary>Linear warm-up from 1/(W+1) to 1 over <paramref name="WarmupSteps"/>, then <paramref name="After"/> (shifted).</summary>
/// <param name="WarmupSteps">Warm-up length.</param>
/// <param name="After">Schedule after warm-up, counted from its end.</param>
public sealed record WarmupLr(int WarmupSteps, LrSchedule After) : LrSchedule
{
    /// <inheritdoc/>
    public override double Factor(int t) =>
        t < WarmupSteps ? (t + 1.0) / (WarmupSteps + 1.0) : After.Factor(t - WarmupSteps);
}

/// <summary>
/// <paramref name="Inner"/> shifted by <paramref name="Offset"/> steps: Factor(t) = Inner.Factor(t + Offset) (a phase of a
/// run that counts its own epochs from 0 while the schedule counts the run's).
/// </summary>
/// <param name="Offset">Steps before step 0 of the caller.</param>
/// <param name="Inner">The run's schedule.</param>
public sealed record OffsetLr(int Offset, LrSchedule Inner) : LrSchedule
{
    /// <inheritdoc/>
    public override double Factor(int t) => Inner.Factor(t + Offset);
}
