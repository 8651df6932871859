using Sprout.Autograd;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Diagnostics;

/// <summary>Statistics of one layer's output on one batch (paper 004, Figures 7–11).</summary>
/// <param name="Layer">Name of the measured output.</param>
/// <param name="Mean">Mean over every value of the output (all samples, units and positions).</param>
/// <param name="Std">Population standard deviation over the same values.</param>
/// <param name="NearZeroStdShare">Share (0..1) of units — one per feature of a sample: a Linear unit, or a channel at one
/// position — whose standard deviation over the batch's samples is below the threshold.</param>
/// <param name="Units">Units per sample.</param>
public sealed record LayerActivationStats(string Layer, double Mean, double Std, double NearZeroStdShare, int Units);

/// <summary>The layers' statistics after a number of optimizer steps.</summary>
/// <param name="Step">Optimizer steps done when measured (0 = the initial weights).</param>
/// <param name="Layers">One entry per measured layer, in order.</param>
public sealed record ActivationStatsAt(long Step, IReadOnlyList<LayerActivationStats> Layers);

/// <summary>
/// Activation statistics of a sequential network's layers on a batch: mean and standard deviation of each measured
/// output, and the share of its units that are nearly constant over the batch (standard deviation below a threshold) —
/// the quantities of paper 004's initialisation study. A unit whose std is 0 passes no signal and (for ReLU) gets no
/// gradient; the measure ignores a constant shift, so WIB-ReLU's subtracted μ does not change it.
/// </summary>
public static class ActivationStats
{
    /// <summary>The default "nearly zero" standard deviation (the paper gives none).</summary>
    public const double DefaultNearZeroStd = 0.05;

    /// <summary>
    /// Runs <paramref name="x"/> through <paramref name="model"/> layer by layer (evaluation mode, no gradients; the mode
    /// is restored) and measures the output of each layer index in <paramref name="layers"/> (increasing).
    /// <paramref name="names"/> labels them (default: the indices).
    /// </summary>
    public static LayerActivationStats[] Measure(Sequential model, Tensor x, IReadOnlyList<int> layers, double nearZeroStd = DefaultNearZeroStd,
        IReadOnlyList<string>? names = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(layers);
        if (!(nearZeroStd >= 0)) throw new ArgumentException($"the near-zero threshold must be ≥ 0, got {nearZeroStd}");
        if (names is not null && names.Count != layers.Count) throw new ArgumentException($"{names.Count} names for {layers.Count} layers");
        var modules = model.Layers;
        for (int k = 0; k < layers.Count; k++)
            if (layers[k] < 0 || layers[k] >= modules.Count || k > 0 && layers[k] <= layers[k - 1])
                throw new ArgumentException("layer indices must be increasing indices of the model's layers");
        var result = new LayerActivationStats[layers.Count];
        bool was = model.IsTraining;
        model.Eval();
        try
        {
            using (Graph.NoGrad())
            using (TensorScope.Begin())
            {
                var h = x;
                for (int i = 0, next = 0; next < layers.Count; i++)
                {
                    h = modules[i].Forward(h);
                    if (layers[next] != i) continue;
                    result[next] = Of(h.Span, h.Dim(0), names?[next] ?? i.ToString(System.Globalization.CultureInfo.InvariantCulture), nearZeroStd);
                    next++;
                }
            }
        }
        finally
        {
            model.Train(was);
        }
        return result;
    }

    /// <summary>
    /// The statistics of <paramref name="rows"/> samples of equal length laid out row after row in
    /// <paramref name="values"/> (sums in double).
    /// </summary>
    public static LayerActivationStats Of(ReadOnlySpan<float> values, int rows, string name, double nearZeroStd = DefaultNearZeroStd)
    {
        if (rows < 1 || values.Length % rows != 0) throw new ArgumentException($"{values.Length} values are not {rows} equal rows");
        int units = values.Length / rows;
        double sum = 0, sq = 0;
        foreach (float v in values) { sum += v; sq += (double)v * v; }
        double n = values.Length;
        double mean = sum / n;
        double std = Math.Sqrt(Math.Max(0, sq / n - mean * mean));
        int flat = 0;
        for (int u = 0; u < units; u++)
        {
            double s = 0, s2 = 0;
            for (int r = 0; r < rows; r++)
            {
                double v = values[r * units + u];
                s += v;
                s2 += v * v;
            }
            double m = s / rows;
            double sd = Math.Sqrt(Math.Max(0, s2 / rows - m * m));
            if (sd < nearZeroStd) flat++;
        }
        return new LayerActivationStats(name, mean, std, units == 0 ? double.NaN : (double)flat / units, units);
    }
}

/// <summary>
/// Records <see cref="ActivationStats"/> of a network's layers on a fixed probe batch while it trains: before the first
/// step (step 0), after every step up to <see cref="EveryStepUntil"/>, and every <see cref="ThenEvery"/> steps after.
/// Steps are counted from the trainer's position (epoch × batches per epoch + batch), so a resumed run records the same
/// steps; a step measured again replaces its entry.
/// </summary>
public sealed class ActivationStatsRecorder : ITrainingCallback
{
    private readonly Tensor _probe;
    private readonly int[] _layers;
    private readonly string[] _names;
    private readonly SortedDictionary<long, ActivationStatsAt> _records = new();

    /// <summary>Measures <paramref name="layers"/> (named <paramref name="names"/>) on <paramref name="probe"/>.</summary>
    public ActivationStatsRecorder(Tensor probe, IReadOnlyList<int> layers, IReadOnlyList<string> names, int everyStepUntil, int thenEvery,
        double nearZeroStd = ActivationStats.DefaultNearZeroStd)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(names);
        if (names.Count != layers.Count) throw new ArgumentException($"{names.Count} names for {layers.Count} layers");
        if (everyStepUntil < 0 || thenEvery < 1) throw new ArgumentException("steps recorded must be ≥ 0 and the interval ≥ 1");
        _probe = probe;
        _layers = layers.ToArray();
        _names = names.ToArray();
        EveryStepUntil = everyStepUntil;
        ThenEvery = thenEvery;
        NearZeroStd = nearZeroStd;
    }

    /// <summary>Every step up to this one is recorded.</summary>
    public int EveryStepUntil { get; }

    /// <summary>After <see cref="EveryStepUntil"/>, every this many steps.</summary>
    public int ThenEvery { get; }

    /// <summary>The "nearly zero" standard deviation.</summary>
    public double NearZeroStd { get; }

    /// <summary>The records so far, by step.</summary>
    public IReadOnlyList<ActivationStatsAt> Records => _records.Values.ToList();

    /// <summary>Adds records made earlier (e.g. read back before a resume); a step recorded later replaces its entry.</summary>
    public void Load(IEnumerable<ActivationStatsAt> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        foreach (var r in records) _records[r.Step] = r;
    }

    /// <summary>Whether step <paramref name="step"/> is one to record.</summary>
    public bool IsRecorded(long step) => step <= EveryStepUntil || step % ThenEvery == 0;

    /// <inheritdoc/>
    public void OnEpochStart(Trainer trainer)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        if (trainer.Epoch == 0 && trainer.NextBatch == 0) Record(trainer, 0);
    }

    /// <inheritdoc/>
    public void OnStepEnd(Trainer trainer, in StepEnd step)
    {
        long s = step.Batch < 0 ? step.GlobalStep : (long)step.Epoch * step.Batches + step.Batch + 1;
        if (IsRecorded(s)) Record(trainer, s);
    }

    private void Record(Trainer trainer, long step)
    {
        if (trainer.Model is not Sequential model) throw new InvalidOperationException("activation statistics need a sequential network");
        _records[step] = new ActivationStatsAt(step, ActivationStats.Measure(model, _probe, _layers, NearZeroStd, _names));
    }
}
