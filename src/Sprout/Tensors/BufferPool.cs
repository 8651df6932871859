namespace Sprout.Tensors;

/// <summary>
/// Recycles float arrays by size class. Training repeats the same shapes every step, so after the first step every
/// temporary comes from here and the hot path allocates no new arrays (fresh pages are expensive). Sizes are rounded
/// up to classes at most 12.5% apart, so the slightly different shapes a growing network goes through share buffers.
/// Thread-safe. Arrays come back dirty and may be longer than asked: callers use the first <c>length</c> floats.
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

    /// <summary>
    /// The size class of a request: up to 1024 floats, multiples of 64; above, the next of m·2^e with m in 8..15.
    /// </summary>
    public static int SizeClass(int length)
    {
        if (length <= 1024) return (length + 63) & ~63;
        int e = 31 - System.Numerics.BitOperations.LeadingZeroCount((uint)length) - 3; // length / 2^e in [8, 16)
        long step = 1L << e;
        long rounded = (length + step - 1) / step * step;
        return rounded > int.MaxValue ? length : (int)rounded;
    }

    /// <summary>Rents an array of at least <paramref name="length"/> floats (its size class; contents undefined).</summary>
    public static float[] Rent(int length)
    {
        if (length == 0) return Array.Empty<float>();
        int size = SizeClass(length);
        lock (Gate)
        {
            if (Buckets.TryGetValue(size, out var stack) && stack.Count > 0)
            {
                _retainedFloats -= size;
                return stack.Pop();
            }
        }
        Interlocked.Increment(ref _misses);
        return GC.AllocateUninitializedArray<float>(size);
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
