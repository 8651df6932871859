namespace Sprout.Tensors;

/// <summary>
/// Recycles float arrays by exact length. Training repeats the same shapes every step, so after the first
/// step every temporary comes from here and the hot path allocates no new arrays (fresh pages are expensive).
/// Thread-safe. Arrays come back dirty: callers that need zeros clear them.
/// </summary>
public static class BufferPool
{
    private static readonly Dictionary<int, Stack<float[]>> Buckets = new();
    private static readonly Lock Gate = new();
    private static long _retainedFloats;

    /// <summary>Upper bound on floats kept idle in the pool (default 1 Gi floats = 4 GiB).</summary>
    public static long MaxRetainedFloats { get; set; } = 1L << 30;

    /// <summary>Floats currently idle in the pool.</summary>
    public static long RetainedFloats
    {
        get { lock (Gate) return _retainedFloats; }
    }

    /// <summary>Rents an array of exactly <paramref name="length"/> floats (contents undefined).</summary>
    public static float[] Rent(int length)
    {
        if (length == 0) return Array.Empty<float>();
        lock (Gate)
        {
            if (Buckets.TryGetValue(length, out var stack) && stack.Count > 0)
            {
                _retainedFloats -= length;
                return stack.Pop();
            }
        }
        Interlocked.Increment(ref _misses);
        return GC.AllocateUninitializedArray<float>(length);
    }

    private static long _misses;

    /// <summary>Rents that found no idle array of their size and allocated one (a warm training step should add none).</summary>
    public static long Misses => Interlocked.Read(ref _misses);

    /// <summary>Returns an array to the pool. The caller must not touch it afterwards.</summary>
    public static void Return(float[] array)
    {
        if (array.Length == 0) return;
        lock (Gate)
        {
            if (_retainedFloats + array.Length > MaxRetainedFloats) return;
            if (!Buckets.TryGetValue(array.Length, out var stack))
            {
                stack = new Stack<float[]>();
                Buckets[array.Length] = stack;
            }
            stack.Push(array);
            _retainedFloats += array.Length;
        }
    }

    /// <summary>Drops every idle array (lets the GC take them).</summary>
    public static void Trim()
    {
        lock (Gate)
        {
            Buckets.Clear();
            _retainedFloats = 0;
        }
    }
}
