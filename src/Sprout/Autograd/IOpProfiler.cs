namespace Sprout.Autograd;

/// <summary>
/// Receives the time of named sections (backward rules, a convolution's gradient products, a training step's phases)
/// while a profile is being taken. Diagnostics implements it; the engine only reports to it.
/// </summary>
public interface IOpProfiler
{
    /// <summary>Adds elapsed <see cref="System.Diagnostics.Stopwatch"/> ticks to section <paramref name="name"/>.</summary>
    void Add(string name, long ticks);
}
