namespace Sprout.Autograd;

/// <summary>
/// One process's place in a batch split over processes along its first dimension (data-parallel training): the rows of
/// the other processes before its own and after them. The default, no rows either side, is a whole batch.
/// </summary>
/// <param name="RowsBefore">Rows of the processes before this one (this process's first row in the whole batch).</param>
/// <param name="RowsAfter">Rows of the processes after this one.</param>
public readonly record struct BatchShard(int RowsBefore, int RowsAfter)
{
    /// <summary>The shard of rows [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) of a batch of <paramref name="rows"/>.</summary>
    public static BatchShard Of(int start, int count, int rows)
    {
        if (start < 0 || count < 0 || (long)start + count > rows)
            throw new ArgumentException($"rows [{start}, {(long)start + count}) are not inside a batch of {rows}");
        return new BatchShard(start, rows - start - count);
    }

    /// <summary>Whether this is a whole batch (no rows of other processes).</summary>
    public bool IsWhole => RowsBefore == 0 && RowsAfter == 0;
}
