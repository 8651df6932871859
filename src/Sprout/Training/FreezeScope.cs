using Sprout.Nn;

namespace Sprout.Training;

/// <summary>
/// Freezes every parameter of a module outside a subset (RequiresGrad = false) until disposed, then unfreezes exactly
/// those it froze. Frozen parameters get no gradient, so no optimizer moves them.
/// </summary>
public sealed class FreezeScope : IDisposable
{
    private readonly List<Tensor> _frozen = new();
    private bool _disposed;

    private FreezeScope()
    {
    }

    /// <summary>Freezes the parameters of <paramref name="model"/> that are not in <paramref name="keep"/>.</summary>
    public static FreezeScope AllBut(Module model, IEnumerable<Tensor> keep)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(keep);
        var set = keep as ISet<Tensor> ?? new HashSet<Tensor>(keep, ReferenceEqualityComparer.Instance);
        var scope = new FreezeScope();
        foreach (var p in model.Parameters())
            if (p.RequiresGrad && !set.Contains(p))
            {
                p.RequiresGrad = false;
                scope._frozen.Add(p);
            }
        return scope;
    }

    /// <summary>The parameters this scope froze.</summary>
    public IReadOnlyList<Tensor> Frozen => _frozen;

    /// <summary>Unfreezes the parameters this scope froze.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in _frozen) p.RequiresGrad = true;
    }
}
