using System.Numerics;
using System.Runtime.InteropServices;
using Sprout.Training;

namespace Sprout.Cli;

/// <summary>
/// The MPI world of a job launched by <c>mpiexec</c>, on MPI.NET 1.4.0: MPI.NET starts and ends MPI
/// (<c>MPI.Environment</c>); the collectives use its raw bindings (<c>MPI.Unsafe</c>) on pinned float, double and byte
/// buffers, because its typed object collectives serialise through BinaryFormatter, which .NET 10 no longer has. MPI.NET
/// is built against Microsoft MPI (<c>msmpi</c>); its native import is resolved here to an MPICH-ABI library
/// (<c>libmpich.so.12</c> from Debian's <c>mpich</c>, or <c>libmpi.so.12</c> of Intel MPI, MVAPICH and Cray MPICH, or
/// <c>$SPROUT_MPI_LIBRARY</c>), whose handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are MS-MPI's. Only
/// <see cref="Cluster"/> names this class, and only under mpiexec, so a machine without MPI never loads MPI.NET.
/// </summary>
internal sealed unsafe class MpiWorld : ICommunicator, IDisposable
{
    private static readonly string[] Libraries = ["libmpich.so.12", "libmpi.so.12", "libmpich.so", "libmpi.so"];
    private static string? _loadFailure;

    private readonly MPI.Environment _environment;
    private float[] _floats = [];
    private double[] _doubles = [];

    static MpiWorld() => NativeLibrary.SetDllImportResolver(typeof(MPI.Communicator).Assembly, Resolve);

    private static IntPtr Resolve(string name, System.Reflection.Assembly assembly, DllImportSearchPath? path)
    {
        if (!name.StartsWith("msmpi", StringComparison.OrdinalIgnoreCase)) return IntPtr.Zero;
        var candidates = Environment.GetEnvironmentVariable("SPROUT_MPI_LIBRARY") is { Length: > 0 } own ? [own] : Libraries;
        foreach (var lib in candidates)
            if (NativeLibrary.TryLoad(lib, out var handle)) return handle;
        _loadFailure = $"cannot load an MPI library ({string.Join(", ", candidates)}): install the mpich package, or set SPROUT_MPI_LIBRARY to an MPICH-ABI libmpi";
        return IntPtr.Zero;
    }

    /// <summary>Starts MPI (MPI_Init_thread, funneled: only the main thread calls MPI).</summary>
    public MpiWorld()
    {
        var args = Array.Empty<string>();
        try
        {
            _environment = new MPI.Environment(ref args, MPI.Threading.Funneled);
        }
        catch (DllNotFoundException) when (_loadFailure is not null)
        {
            throw new IOException(_loadFailure);
        }
        var world = MPI.Communicator.world;
        Rank = world.Rank;
        Size = world.Size;
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <inheritdoc/>
    public void AllReduceSum(Span<float> values) => AllReduceSum(values, ref _floats, MPI.Unsafe.MPI_FLOAT);

    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values) => AllReduceSum(values, ref _doubles, MPI.Unsafe.MPI_DOUBLE);

    // Two ranks exchange their buffers (MPI_Sendrecv) and add them in rank order. More ranks: a reduce-scatter in rank
    // order then an all-gather — every rank gets chunk `Rank` of every rank's values (MPI_Alltoall), adds them in rank
    // order, and the summed chunks are gathered everywhere (MPI_Allgather). Each sum is made once, in a fixed order:
    // the same bits on every rank whatever MPI's own reduction algorithm; the traffic is a ring all-reduce's
    // (2·(N−1)/N of the values per rank).
    private void AllReduceSum<T>(Span<T> values, ref T[] scratch, int type) where T : unmanaged, INumber<T>
    {
        int n = values.Length, p = Size;
        if (p == 1 || n == 0) return;
        if (p == 2)
        {
            // two ranks: one exchange of the whole buffer, then v₀ + v₁ on both (one synchronisation instead of two)
            if (scratch.Length < n) scratch = new T[n];
            var other = scratch.AsSpan(0, n);
            fixed (T* pv = values, po = other)
                Check(MPI.Unsafe.MPI_Sendrecv((IntPtr)pv, n, type, 1 - Rank, 17, (IntPtr)po, n, type, 1 - Rank, 17, MPI.Unsafe.MPI_COMM_WORLD, out _),
                    "MPI_Sendrecv");
            if (Rank == 0) for (int i = 0; i < n; i++) values[i] += other[i];
            else for (int i = 0; i < n; i++) values[i] = other[i] + values[i];
            return;
        }
        int chunk = (n + p - 1) / p;
        int need = 2 * p * chunk + chunk;
        if (scratch.Length < need) scratch = new T[need];
        var send = scratch.AsSpan(0, p * chunk);
        var recv = scratch.AsSpan(p * chunk, p * chunk);
        var mine = scratch.AsSpan(2 * p * chunk, chunk);
        values.CopyTo(send);
        send[n..].Clear();
        fixed (T* ps = send, pr = recv)
            Check(MPI.Unsafe.MPI_Alltoall((IntPtr)ps, chunk, type, (IntPtr)pr, chunk, type, MPI.Unsafe.MPI_COMM_WORLD), "MPI_Alltoall");
        recv[..chunk].CopyTo(mine);
        for (int r = 1; r < p; r++)
        {
            var part = recv.Slice(r * chunk, chunk);
            for (int i = 0; i < chunk; i++) mine[i] += part[i];
        }
        fixed (T* pm = mine, ps = send)
            Check(MPI.Unsafe.MPI_Allgather((IntPtr)pm, chunk, type, (IntPtr)ps, chunk, type, MPI.Unsafe.MPI_COMM_WORLD), "MPI_Allgather");
        send[..n].CopyTo(values);
    }

    /// <inheritdoc/>
    public void Broadcast(Span<byte> buffer, int root)
    {
        if (Size == 1 || buffer.IsEmpty) return;
        fixed (byte* pb = buffer)
            Check(MPI.Unsafe.MPI_Bcast((IntPtr)pb, buffer.Length, MPI.Unsafe.MPI_BYTE, root, MPI.Unsafe.MPI_COMM_WORLD), "MPI_Bcast");
    }

    /// <summary>Ends every process of the job with <paramref name="code"/> (MPI_Abort): for a failure the other ranks cannot know of.</summary>
    public void Abort(int code) => MPI.Unsafe.MPI_Abort(MPI.Unsafe.MPI_COMM_WORLD, code);

    private static void Check(int rc, string call)
    {
        if (rc != 0) throw new IOException($"{call} failed (MPI error {rc})");
    }

    /// <summary>Ends MPI (MPI_Finalize).</summary>
    public void Dispose() => _environment.Dispose();
}
