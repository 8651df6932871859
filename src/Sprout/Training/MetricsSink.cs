namespace Sprout.Training;

/// <summary>Hands every finished epoch's statistics (training, validation, learning rate, time) to a sink, e.g. a metrics file.</summary>
public sealed class MetricsSink : ITrainingCallback
{
    private readonly Action<Trainer, EpochEnd> _sink;

    /// <summary>Calls <paramref name="sink"/> after every epoch.</summary>
    public MetricsSink(Action<EpochEnd> sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sink = (_, e) => sink(e);
    }

    /// <summary>Calls <paramref name="sink"/> after every epoch, with the trainer (for its position and model).</summary>
    public MetricsSink(Action<Trainer, EpochEnd> sink) => _sink = sink ?? throw new ArgumentNullException(nameof(sink));

    /// <inheritdoc/>
    public void OnEpochEnd(Trainer trainer, in EpochEnd epoch) => _sink(trainer, epoch);
}
