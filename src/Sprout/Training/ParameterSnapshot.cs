using Sprout.Nn;

namespace Sprout.Training;

/// <summary>One tensor of a <see cref="ParameterSnapshot"/>.</summary>
/// <param name="Name">Module path of the parameter or buffer (e.g. "0.weight", "1.running_mean").</param>
/// <param name="IsBuffer">True for a buffer (e.g. BatchNorm running statistics), false for a parameter.</param>
/// <param name="Data">Copied values, row-major.</param>
/// <param name="Shape">Shape at the time of the copy.</param>
public sealed record SnapshotEntry(string Name, bool IsBuffer, float[] Data, int[] Shape);

/// <summary>
/// An exact copy of a module's parameters and buffers (data and shape). <see cref="Restore"/> puts them back bit for
/// bit (shapes included, through <see cref="Tensor.Replace"/>), so temporary growth (probes) and best-weight
/// restoring leave no trace. <see cref="Entries"/> and <see cref="FromEntries"/> let a checkpoint save and rebuild it.
/// </summary>
public sealed class ParameterSnapshot
{
    private readonly List<(Tensor Tensor, SnapshotEntry Entry)> _items = new();

    private ParameterSnapshot()
    {
    }

    /// <summary>Copies every parameter and buffer of <paramref name="module"/>.</summary>
    public ParameterSnapshot(Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        foreach (var (name, p) in module.NamedParameters()) _items.Add((p, new SnapshotEntry(name, false, p.ToArray(), p.ShapeArray())));
        foreach (var (name, b) in module.NamedBuffers()) _items.Add((b, new SnapshotEntry(name, true, b.ToArray(), b.ShapeArray())));
    }

    /// <summary>The copied tensors, parameters first, in the module's order.</summary>
    public IReadOnlyList<SnapshotEntry> Entries => _items.ConvertAll(i => i.Entry);

    /// <summary>
    /// A snapshot of <paramref name="module"/> holding the given values (e.g. read back from a checkpoint). Every
    /// parameter and buffer of the module must have exactly one entry, matched by name; the data length must match
    /// the entry's shape.
    /// </summary>
    public static ParameterSnapshot FromEntries(Module module, IEnumerable<SnapshotEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(entries);
        var byName = new Dictionary<(string, bool), SnapshotEntry>();
        foreach (var e in entries)
        {
            ArgumentNullException.ThrowIfNull(e);
            if (e.Shape is null || e.Data is null || Tensor.Product(e.Shape) != e.Data.Length)
                throw new ArgumentException($"snapshot entry {e.Name}: {e.Data?.Length ?? 0} values do not fill its shape");
            if (!byName.TryAdd((e.Name, e.IsBuffer), e)) throw new ArgumentException($"snapshot entry {e.Name} appears twice");
        }
        var s = new ParameterSnapshot();
        foreach (var (name, p) in module.NamedParameters()) s._items.Add((p, Take(byName, name, false)));
        foreach (var (name, b) in module.NamedBuffers()) s._items.Add((b, Take(byName, name, true)));
        if (byName.Count > 0) throw new ArgumentException($"snapshot entry {byName.Keys.First().Item1} is not a tensor of the module");
        return s;
    }

    private static SnapshotEntry Take(Dictionary<(string, bool), SnapshotEntry> byName, string name, bool buffer)
    {
        if (!byName.Remove((name, buffer), out var e))
            throw new ArgumentException($"the snapshot has no {(buffer ? "buffer" : "parameter")} {name}");
        return e;
    }

    /// <summary>Writes the copied values back (re-shaping tensors that grew since).</summary>
    public void Restore()
    {
        foreach (var (t, e) in _items)
        {
            if (Tensor.SameShape(t.Shape, e.Shape)) e.Data.CopyTo(t.Span);
            else t.Replace((float[])e.Data.Clone(), e.Shape);
        }
    }
}
