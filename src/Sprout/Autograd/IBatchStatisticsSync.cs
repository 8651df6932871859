namespace Sprout.Autograd;

/// <summary>
/// What <see cref="Ops.BatchNorm"/> needs to normalise with the statistics of a batch split over several processes
/// (synchronised BatchNorm under data-parallel training): this process's place among them, its share of the global
/// loss, and one sum over them. Every process must run the same BatchNorm calls in the same order, forward and backward:
/// each call is a collective. The data-parallel trainer supplies it (over its communicator) for the span of one step.
/// </summary>
public interface IBatchStatisticsSync
{
    /// <summary>This process's index, 0 ≤ Rank &lt; <see cref="Size"/>.</summary>
    int Rank { get; }

    /// <summary>Number of processes sharing the batch.</summary>
    int Size { get; }

    /// <summary>
    /// This process's share of the global loss: the global loss is Σ over processes of Weight × the process's own loss
    /// (rows/global rows when each process's loss is the mean over its rows). Greater than 0.
    /// </summary>
    double Weight { get; }

    /// <summary>
    /// Replaces <paramref name="values"/> on every process by the element-wise sum over the processes, added in rank
    /// order: the same bits everywhere.
    /// </summary>
    void AllReduceSum(Span<double> values);
}
