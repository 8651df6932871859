using Sprout.Autograd;

namespace Sprout.Training;

/// <summary>
/// The <see cref="IBatchStatisticsSync"/> of a data-parallel training step over an <see cref="ICommunicator"/>: the
/// communicator's rank, size and rank-ordered sum, and this rank's share of the step's global batch.
/// </summary>
internal sealed class BatchStatisticsSync(ICommunicator communicator) : IBatchStatisticsSync
{
    /// <summary>The communicator it sums over.</summary>
    public ICommunicator Communicator { get; } = communicator;

    /// <inheritdoc/>
    public int Rank => Communicator.Rank;

    /// <inheritdoc/>
    public int Size => Communicator.Size;

    /// <inheritdoc/>
    public double Weight { get; set; } = 1;

    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values) => Communicator.AllReduceSum(values);
}
