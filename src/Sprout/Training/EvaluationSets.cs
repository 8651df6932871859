namespace Sprout.Training;

/// <summary>
/// Evaluates the model on extra named data sets after every epoch (beside the trainer's own validation set) — e.g. a
/// held-out fold translated, rotated or noised — and keeps the results of the last epoch in <see cref="Last"/>;
/// <see cref="Evaluated"/> sees each epoch's. Evaluation mode, no gradients (<see cref="Trainer.Evaluate"/>).
/// </summary>
public sealed class EvaluationSets : ITrainingCallback
{
    private readonly (string Name, InMemoryDataset Data)[] _sets;

    /// <summary>Evaluates <paramref name="sets"/> (names unique) after every epoch.</summary>
    public EvaluationSets(IReadOnlyList<(string Name, InMemoryDataset Data)> sets)
    {
        ArgumentNullException.ThrowIfNull(sets);
        if (sets.Select(s => s.Name).Distinct(StringComparer.Ordinal).Count() != sets.Count) throw new ArgumentException("evaluation set names must be unique");
        foreach (var (name, data) in sets)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(name);
            ArgumentNullException.ThrowIfNull(data);
        }
        _sets = sets.ToArray();
    }

    /// <summary>The sets' names, in evaluation order.</summary>
    public IReadOnlyList<string> Names => _sets.Select(s => s.Name).ToArray();

    /// <summary>The results after the last finished epoch (empty before the first).</summary>
    public IReadOnlyDictionary<string, EpochStats> Last { get; private set; } = new Dictionary<string, EpochStats>();

    /// <summary>Called after each epoch's evaluations with the epoch (0-based) and the results by name.</summary>
    public Action<int, IReadOnlyDictionary<string, EpochStats>>? Evaluated { get; set; }

    /// <summary>Evaluates every set now with <paramref name="trainer"/>'s model and loss.</summary>
    public IReadOnlyDictionary<string, EpochStats> Evaluate(Trainer trainer)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        var results = new Dictionary<string, EpochStats>(StringComparer.Ordinal);
        foreach (var (name, data) in _sets) results[name] = trainer.Evaluate(data);
        return results;
    }

    /// <inheritdoc/>
    public void OnEpochEnd(Trainer trainer, in EpochEnd epoch)
    {
        Last = Evaluate(trainer);
        Evaluated?.Invoke(epoch.Epoch, Last);
    }
}
