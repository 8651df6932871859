using Sprout.Nn;
using Sprout.Training;

namespace Sprout.Growth;

/// <summary>
/// The measurement passes of a growth method (GradMax's gradient, SSD's splitting matrices, TINY's statistics,
/// Firefly's scores): at most a given number of batches, drawn without replacement from the training samples, with the
/// model in evaluation mode for their duration (<see cref="Measuring"/>).
/// </summary>
internal static class BatchPasses
{
    /// <summary>min(<paramref name="batches"/>, ⌈<paramref name="samples"/> / <paramref name="batchSize"/>⌉).</summary>
    public static int Count(long samples, int batches, int batchSize) =>
        (int)Math.Min(batches, (samples + batchSize - 1) / batchSize);

    /// <summary>
    /// The batches of a measurement: batch b holds samples order[b·size … b·size + size) (the last one may be short),
    /// for b below <see cref="Count"/>(order.Length, batches, size). Each batch is <paramref name="data"/>'s gather
    /// buffer: use it before asking for the next.
    /// </summary>
    public static IEnumerable<Batch> Take(InMemoryDataset data, int[] order, int batches, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(order);
        int passes = Count(order.Length, batches, batchSize);
        for (int b = 0; b < passes; b++)
        {
            int start = b * batchSize;
            yield return data.Gather(order, start, Math.Min(batchSize, order.Length - start));
        }
    }

    /// <summary>
    /// Puts <paramref name="module"/> in evaluation mode (BatchNorm from its running statistics, no dropout) until the
    /// returned scope is disposed, which restores its mode and clears the gradients the measurement left on its
    /// parameters: <c>using (BatchPasses.Measuring(model.Module)) { … }</c>.
    /// </summary>
    public static MeasuringScope Measuring(Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        bool was = module.IsTraining;
        module.Eval();
        return new MeasuringScope(module, was);
    }

    /// <summary>Restores a module's mode and clears its gradients when disposed (see <see cref="Measuring"/>).</summary>
    public readonly struct MeasuringScope : IDisposable
    {
        private readonly Module _module;
        private readonly bool _wasTraining;

        internal MeasuringScope(Module module, bool wasTraining)
        {
            _module = module;
            _wasTraining = wasTraining;
        }

        /// <summary>Restores the mode and clears the gradients.</summary>
        public void Dispose()
        {
            _module.Train(_wasTraining);
            _module.ZeroGrad();
        }
    }
}
