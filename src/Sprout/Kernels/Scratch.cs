namespace Sprout.Kernels;

/// <summary>Per-thread scratch arrays that only grow: a kernel keeps one in a [ThreadStatic] field and asks for the
/// size it needs, so a warm training step allocates nothing.</summary>
public static class Scratch
{
    /// <summary>The first <paramref name="size"/> elements of <paramref name="cache"/>, replaced by a larger array first
    /// when it is missing or too short (contents undefined).</summary>
    public static Span<T> Get<T>(ref T[]? cache, int size) =>
        (cache is { } a && a.Length >= size ? a : cache = new T[size]).AsSpan(0, size);
}
