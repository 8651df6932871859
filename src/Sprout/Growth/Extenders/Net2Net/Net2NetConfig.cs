namespace Sprout.Growth;

/// <summary>
/// Net2Net widening (<see cref="Net2NetExtender"/>) as a config: JSON <c>{"type": "net2net", "noise": 0, "randomMapping": true}</c>.
/// Presets: net2net (no noise, exactly function-preserving) and net2net-noise (<see cref="Noise"/> = 0.01).
/// </summary>
/// <param name="Noise">
/// Symmetry-breaking noise added to each copy's incoming weights (not its bias), as a fraction of the standard
/// deviation of the layer's existing incoming weights: the noise is N(0, (Noise·std)²). 0 = none (the default).
/// </param>
/// <param name="RandomMapping">
/// True (the default, Net2Net's random mapping g): each new neuron copies an existing neuron drawn uniformly at random
/// with replacement. False: new neuron k (0-based among the new ones) copies neuron k mod old width, so copies are
/// spread evenly.
/// </param>
public sealed record Net2NetConfig(double Noise = 0, bool RandomMapping = true) : ExtenderConfig
{
    /// <summary>The largest accepted <see cref="Noise"/> (a relative std of 10 would no longer be a copy).</summary>
    public const double MaxNoise = 10;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!(Noise >= 0 && Noise <= MaxNoise))
            throw new ArgumentException($"net2net: noise must be in 0…{MaxNoise} (a fraction of the layer's weight std), got {Noise}");
    }

    /// <inheritdoc/>
    protected override Extender Create() => new Net2NetExtender(Noise, RandomMapping, Label);
}
