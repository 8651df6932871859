using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Growth;

/// <summary>What an extender or distributor may use: the model, the training data and a random stream.</summary>
/// <param name="Model">The network being grown.</param>
/// <param name="Train">Training data (adjustment phases, probes, dead-neuron checks).</param>
/// <param name="Rng">Random stream for this stage (fork it per use).</param>
/// <param name="Stage">Stage index (0-based), for naming random streams.</param>
public sealed record GrowthContext(GrowableModel Model, InMemoryDataset Train, Rng Rng, int Stage = 0)
{
    /// <summary>A stop request (Ctrl+C): methods with long phases of their own end them early when it is set; the
    /// runner then discards the growth step.</summary>
    public StopSignal? Stop { get; init; }

    /// <summary>The run's extra training callbacks (a progress display, a test's probe): a method's own trainers (SWE's
    /// adjustment phase, SVoD's probe training) attach them, so they see those phases' steps too.</summary>
    public IReadOnlyList<ITrainingCallback> Callbacks { get; init; } = [];

    /// <summary>
    /// A plan a distributor leaves for the extender of the same growth step (the runner passes one context to both):
    /// Firefly's distributor stores the candidates it selected here, and Firefly's extender commits them. Null otherwise.
    /// </summary>
    public object? Plan { get; set; }
}

/// <summary>What an extender did at one site.</summary>
/// <param name="Site">Site name.</param>
/// <param name="OldWidth">Width before insertion.</param>
/// <param name="Added">Neurons appended.</param>
/// <param name="AdjustSteps">Optimizer steps of the adjustment phase (0 if none).</param>
/// <param name="DeadAfterMerge">New neurons with zero output on every checked sample right after insertion (before any fix).</param>
/// <param name="Revived">Dead new neurons re-activated by the extender's dead-neuron check.</param>
public sealed record SiteExtension(string Site, int OldWidth, int Added, int AdjustSteps = 0, int DeadAfterMerge = -1, int Revived = 0);
