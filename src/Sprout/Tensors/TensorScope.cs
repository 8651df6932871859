namespace Sprout.Tensors;

/// <summary>
/// Owns the temporaries created while it is open on this thread: every tensor an op makes inside the scope takes
/// its buffer from <see cref="BufferPool"/> and gives it back when the scope is disposed. Use one per training
/// step; read the loss with <see cref="Tensor.Item"/> before the scope ends. Touching a temporary after its
/// scope ended throws. Tensors made outside any scope are ordinary garbage-collected tensors.
/// Call <see cref="Tensor.Persist"/> on a temporary to keep it beyond the scope.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    [ThreadStatic] private static Stack<TensorScope>? _free;

    private readonly List<Tensor> _owned = new(64);
    private TensorScope? _parent;
    private bool _open;

    private TensorScope() { }

    /// <summary>The innermost open scope on this thread, or null.</summary>
    public static TensorScope? Current => _current;

    /// <summary>Opens a scope on this thread (reusing scope objects, so a step allocates nothing for it).</summary>
    public static TensorScope Begin()
    {
        _free ??= new Stack<TensorScope>();
        var s = _free.Count > 0 ? _free.Pop() : new TensorScope();
        s._parent = _current;
        s._open = true;
        _current = s;
        return s;
    }

    internal void Register(Tensor t) => _owned.Add(t);

    internal void Unregister(Tensor t)
    {
        int i = _owned.LastIndexOf(t);
        if (i >= 0) _owned.RemoveAt(i);
    }

    /// <summary>Returns every temporary's buffer to the pool and closes the scope.</summary>
    public void Dispose()
    {
        if (!_open) return;
        if (_current != this)
            throw new InvalidOperationException("TensorScope disposed out of order (an inner scope is still open).");
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].ReleaseStorage();
        _owned.Clear();
        _open = false;
        _current = _parent;
        _parent = null;
        _free!.Push(this);
    }
}
