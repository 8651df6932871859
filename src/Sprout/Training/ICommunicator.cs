using System.Text;

namespace Sprout.Training;

/// <summary>
/// The processes of one job (the ranks of an MPI world) and the few collectives Sprout needs. Every rank must call the
/// same collectives in the same order. Implemented on MPI by the command line (<c>mpiexec -n N sprout …</c>); the
/// library itself never names MPI.
/// </summary>
public interface ICommunicator
{
    /// <summary>This process's index, 0 ≤ Rank &lt; <see cref="Size"/>; rank 0 writes the shared files.</summary>
    int Rank { get; }

    /// <summary>Number of processes.</summary>
    int Size { get; }

    /// <summary>
    /// Replaces <paramref name="values"/> on every rank by the element-wise sum over the ranks, added in rank order
    /// (((v₀ + v₁) + v₂) + …): the same bits on every rank and in every run with the same number of ranks, whatever the
    /// MPI library's own reduction algorithm.
    /// </summary>
    void AllReduceSum(Span<float> values);

    /// <summary>As <see cref="AllReduceSum(Span{float})"/> for doubles.</summary>
    void AllReduceSum(Span<double> values);

    /// <summary>Copies <paramref name="buffer"/> of rank <paramref name="root"/> into every rank's (same length everywhere).</summary>
    void Broadcast(Span<byte> buffer, int root);
}

/// <summary>Collectives built on <see cref="ICommunicator"/>'s few primitives (small payloads: messages, paths, results).</summary>
public static class Collectives
{
    /// <summary>Whether <paramref name="communicator"/> spans more than one process.</summary>
    public static bool IsParallel(this ICommunicator? communicator) => communicator is { Size: > 1 };

    /// <summary>True on rank 0 and without a communicator: the process that writes shared files and prints results.</summary>
    public static bool IsRoot(this ICommunicator? communicator) => communicator is null || communicator.Rank == 0;

    /// <summary>Rank <paramref name="root"/>'s string on every rank.</summary>
    public static string Broadcast(this ICommunicator communicator, string? text, int root = 0)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        byte[] bytes = communicator.Rank == root ? Encoding.UTF8.GetBytes(text ?? "") : [];
        Span<double> length = [communicator.Rank == root ? bytes.Length : 0];
        communicator.AllReduceSum(length);
        if (communicator.Rank != root) bytes = new byte[(int)length[0]];
        if (bytes.Length > 0) communicator.Broadcast(bytes, root);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Every rank's string, in rank order, on every rank.</summary>
    public static string[] AllGather(this ICommunicator communicator, string text)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(text);
        var all = new string[communicator.Size];
        for (int r = 0; r < all.Length; r++) all[r] = communicator.Broadcast(communicator.Rank == r ? text : null, r);
        return all;
    }

    /// <summary>Whether <paramref name="flag"/> is true on any rank (a stop request, a failure), the same answer everywhere.</summary>
    public static bool Any(this ICommunicator communicator, bool flag)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        Span<double> v = [flag ? 1 : 0];
        communicator.AllReduceSum(v);
        return v[0] > 0;
    }
}
