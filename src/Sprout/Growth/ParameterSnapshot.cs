using Sprout.Nn;
using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// An exact copy of a module's parameters and buffers (data and shape). <see cref="Restore"/> puts them back bit for
/// bit (shapes included, through <see cref="Tensor.Replace"/>), so temporary growth (probes) and best-weight
/// restoring leave no trace.
/// </summary>
public sealed class ParameterSnapshot
{
    private readonly List<(Tensor Tensor, float[] Data, int[] Shape)> _items = new();

    /// <summary>Copies every parameter and buffer of <paramref name="module"/>.</summary>
    public ParameterSnapshot(Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        foreach (var (_, p) in module.NamedParameters()) _items.Add((p, p.ToArray(), p.ShapeArray()));
        foreach (var (_, b) in module.NamedBuffers()) _items.Add((b, b.ToArray(), b.ShapeArray()));
    }

    /// <summary>Writes the copied values back (re-shaping tensors that grew since).</summary>
    public void Restore()
    {
        foreach (var (t, data, shape) in _items)
        {
            if (Tensor.SameShape(t.Shape, shape)) data.CopyTo(t.Span);
            else t.Replace((float[])data.Clone(), shape);
        }
    }
}
