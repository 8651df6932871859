using Sprout.Training;

namespace Sprout.Tests.Training;

/// <summary>
/// Ranks as threads of one process (the MPI runs are in ClusterTests): each collective waits for every rank, then each
/// rank adds all ranks' vectors in rank order, as the MPI communicator does.
/// </summary>
internal sealed class ThreadWorld(int size)
{
    private readonly Barrier _barrier = new(size);
    private readonly Array?[] _posted = new Array?[size];

    /// <summary>Collectives entered so far (counted once per collective, by rank 0).</summary>
    public int Collectives;

    /// <summary>The communicator of rank <paramref name="rank"/>.</summary>
    public ICommunicator Rank(int rank) => new Member(this, rank);

    /// <summary>Runs <paramref name="body"/> as every rank, each on its own thread, and returns each rank's result in rank order.</summary>
    public T[] Run<T>(Func<ICommunicator, T> body)
    {
        var results = new T[_posted.Length];
        var failures = new Exception?[_posted.Length];
        var threads = Enumerable.Range(0, _posted.Length).Select(r => new Thread(() =>
        {
            try { results[r] = body(Rank(r)); }
            catch (Exception e)
            {
                failures[r] = e;
                _barrier.RemoveParticipant();   // the other ranks do not wait for this one
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Xunit.Assert.True(t.Join(TimeSpan.FromMinutes(2)), "a rank did not finish");
        if (failures.FirstOrDefault(f => f is not null) is { } failure) throw new AggregateException(failure);
        return results;
    }

    private void AllReduce<T>(int rank, Span<T> values, Func<T, T, T> add)
    {
        _posted[rank] = values.ToArray();
        _barrier.SignalAndWait();
        for (int i = 0; i < values.Length; i++)
        {
            T sum = ((T[])_posted[0]!)[i];
            for (int r = 1; r < _posted.Length; r++) sum = add(sum, ((T[])_posted[r]!)[i]);
            values[i] = sum;
        }
        if (rank == 0) Interlocked.Increment(ref Collectives);
        _barrier.SignalAndWait();   // nobody posts the next vector before every rank has read this one
    }

    private sealed class Member(ThreadWorld world, int rank) : ICommunicator
    {
        public int Rank => rank;
        public int Size => world._posted.Length;
        public void AllReduceSum(Span<float> values) => world.AllReduce(rank, values, (a, b) => a + b);
        public void AllReduceSum(Span<double> values) => world.AllReduce(rank, values, (a, b) => a + b);
        public void Broadcast(Span<byte> buffer, int root) => throw new NotSupportedException("not used here");
    }
}

/// <summary>A communicator of two ranks that must never be asked for a collective.</summary>
internal sealed class NoCollectives : ICommunicator
{
    public int Rank => 0;
    public int Size => 2;
    public void AllReduceSum(Span<float> values) => throw new InvalidOperationException("a collective was entered");
    public void AllReduceSum(Span<double> values) => throw new InvalidOperationException("a collective was entered");
    public void Broadcast(Span<byte> buffer, int root) => throw new InvalidOperationException("a collective was entered");
}
