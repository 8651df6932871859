using System.Globalization;
using System.Text;
using Sprout.Autograd;

namespace Sprout.Tensors;

/// <summary>
/// A dense float32 tensor of rank 1–4 (layout N,C,H,W for images), contiguous and row-major.
/// Reshape makes a view that shares storage; everything else that changes shape copies.
/// A tensor made by an op inside an open <see cref="TensorScope"/> is a pooled temporary owned by that scope.
/// </summary>
public sealed partial class Tensor
{
    /// <summary>Highest supported rank.</summary>
    public const int MaxRank = 4;

    private float[]? _data;
    private int _offset;
    private int[] _shape;
    private int _length;
    private bool _pooled;      // this tensor owns a pooled buffer and gives it back when released
    private TensorScope? _scope;

    private Tensor? _grad;
    private bool _gradStale;

    internal GradNode? Node;

    /// <summary>Whether gradients flow to this tensor. Set it on leaves (parameters); ops set it on their outputs.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>Optional name (parameters get their module path).</summary>
    public string? Name { get; set; }

    /// <summary>Wraps an existing array without copying. Its length must be the product of the shape.</summary>
    public Tensor(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        _shape = CheckShape(shape);
        _length = Product(_shape);
        if (data.Length != _length)
            throw new ArgumentException($"data has {data.Length} elements but shape {FormatShape(_shape)} needs {_length}");
        _data = data;
    }

    private Tensor(float[] data, int offset, int[] shape, bool pooled)
    {
        _data = data;
        _offset = offset;
        _shape = shape;
        _length = Product(shape);
        _pooled = pooled;
    }

    // ---------------------------------------------------------------- construction

    /// <summary>
    /// A new tensor with undefined contents: a pooled temporary when a <see cref="TensorScope"/> is open on this
    /// thread, else an ordinary array. Ops use this for their outputs.
    /// </summary>
    public static Tensor Empty(params int[] shape)
    {
        var sh = CheckShape((int[])shape.Clone());
        return EmptyOwned(sh);
    }

    /// <summary>Like <see cref="Empty"/> but takes ownership of the shape array (no copy).</summary>
    internal static Tensor EmptyOwned(int[] shape)
    {
        int n = Product(shape);
        var scope = TensorScope.Current;
        if (scope is null) return new Tensor(GC.AllocateUninitializedArray<float>(n), 0, shape, pooled: false);
        var t = new Tensor(BufferPool.Rent(n), 0, shape, pooled: true) { _scope = scope };
        scope.Register(t);
        return t;
    }

    /// <summary>A tensor of zeros (pooled inside a scope).</summary>
    public static Tensor Zeros(params int[] shape)
    {
        var t = Empty(shape);
        t.Span.Clear();
        return t;
    }

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(float value, params int[] shape)
    {
        var t = Empty(shape);
        t.Span.Fill(value);
        return t;
    }

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(params int[] shape) => Full(1f, shape);

    /// <summary>A rank-1 tensor holding one value.</summary>
    public static Tensor Scalar(float value) => Full(value, 1);

    /// <summary>Copies values into a new tensor of the given shape.</summary>
    public static Tensor FromArray(ReadOnlySpan<float> values, params int[] shape)
    {
        var t = Empty(shape);
        if (values.Length != t._length)
            throw new ArgumentException($"{values.Length} values do not fill shape {FormatShape(t._shape)} ({t._length})");
        values.CopyTo(t.Span);
        return t;
    }

    /// <summary>Samples U[lo, hi).</summary>
    public static Tensor Uniform(Rng rng, double lo, double hi, params int[] shape)
    {
        var t = Empty(shape);
        rng.FillUniform(t.Span, lo, hi);
        return t;
    }

    /// <summary>Samples N(mean, std²).</summary>
    public static Tensor Normal(Rng rng, double mean, double std, params int[] shape)
    {
        var t = Empty(shape);
        rng.FillNormal(t.Span, mean, std);
        return t;
    }

    // ---------------------------------------------------------------- shape and data

    /// <summary>The shape (do not hold on to it across growth: it changes when a parameter grows).</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>A copy of the shape.</summary>
    public int[] ShapeArray() => (int[])_shape.Clone();

    internal int[] ShapeRef => _shape;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements.</summary>
    public int Length => _length;

    /// <summary>Size of one axis; negative axes count from the end.</summary>
    public int Dim(int axis) => _shape[NormalizeAxis(axis, _shape.Length)];

    /// <summary>Whether the storage was given back (the tensor was a temporary of a closed scope).</summary>
    public bool IsReleased => _data is null;

    /// <summary>The elements, row-major.</summary>
    public Span<float> Span
    {
        get
        {
            var d = _data ?? throw ReleasedError();
            return new Span<float>(d, _offset, _length);
        }
    }

    /// <summary>The backing array and the offset of element 0 (for kernels).</summary>
    internal float[] Array => _data ?? throw ReleasedError();

    internal int Offset => _offset;

    /// <summary>Element by flat index.</summary>
    [System.Runtime.CompilerServices.IndexerName("At")]
    public float this[int i]
    {
        get => Span[i];
        set => Span[i] = value;
    }

    /// <summary>Element of a rank-2 tensor.</summary>
    [System.Runtime.CompilerServices.IndexerName("At")]
    public float this[int i, int j]
    {
        get => Span[Index2(i, j)];
        set => Span[Index2(i, j)] = value;
    }

    /// <summary>Element of a rank-3 tensor.</summary>
    [System.Runtime.CompilerServices.IndexerName("At")]
    public float this[int i, int j, int k]
    {
        get => Span[(Index2(i, j) * _shape[2]) + k];
        set => Span[(Index2(i, j) * _shape[2]) + k] = value;
    }

    /// <summary>Element of a rank-4 tensor.</summary>
    [System.Runtime.CompilerServices.IndexerName("At")]
    public float this[int n, int c, int h, int w]
    {
        get => Span[(((n * _shape[1] + c) * _shape[2]) + h) * _shape[3] + w];
        set => Span[(((n * _shape[1] + c) * _shape[2]) + h) * _shape[3] + w] = value;
    }

    private int Index2(int i, int j) => i * _shape[1] + j;

    /// <summary>The single value of a one-element tensor.</summary>
    public float Item()
    {
        if (_length != 1) throw new InvalidOperationException($"Item() needs one element, tensor has shape {FormatShape(_shape)}");
        return Span[0];
    }

    /// <summary>A copy of the elements.</summary>
    public float[] ToArray() => Span.ToArray();

    /// <summary>A copy of the data with no autograd history (a scope temporary inside a scope).</summary>
    public Tensor Clone()
    {
        var t = EmptyOwned(ShapeArray());
        Span.CopyTo(t.Span);
        return t;
    }

    /// <summary>A view sharing storage but cut from the autograd graph.</summary>
    public Tensor Detach()
    {
        var d = _data ?? throw ReleasedError();
        var v = new Tensor(d, _offset, _shape, pooled: false);
        RegisterView(v);
        return v;
    }

    /// <summary>A view with another shape (same element count, storage shared). No autograd: see Ops.Reshape.</summary>
    internal Tensor ViewAs(int[] shape)
    {
        var d = _data ?? throw ReleasedError();
        CheckShape(shape);
        if (Product(shape) != _length)
            throw new ArgumentException($"cannot view shape {FormatShape(_shape)} as {FormatShape(shape)}");
        var v = new Tensor(d, _offset, shape, pooled: false);
        RegisterView(v);
        return v;
    }

    /// <summary>A view of rows [start, start+count) along axis 0 (contiguous, so storage is shared). No autograd.</summary>
    public Tensor RowsView(int start, int count)
    {
        var d = _data ?? throw ReleasedError();
        if (start < 0 || count < 0 || start + count > _shape[0])
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start},{start + count}) outside {_shape[0]}");
        var sh = ShapeArray();
        sh[0] = count;
        int stride = _length / Math.Max(1, _shape[0]);
        var v = new Tensor(d, _offset + start * stride, sh, pooled: false);
        RegisterView(v);
        return v;
    }

    // A view of a scope temporary dies with its scope; a view of an ordinary tensor made inside a scope does too,
    // so nobody can keep a view that outlives the buffer it points into.
    private void RegisterView(Tensor v)
    {
        var scope = TensorScope.Current;
        if (scope is null && _scope is null) return;
        var owner = scope ?? _scope!;
        v._scope = owner;
        owner.Register(v);
    }

    /// <summary>Keeps a scope temporary alive after its scope ends (it becomes an ordinary tensor). Returns this.</summary>
    public Tensor Persist()
    {
        if (_scope is not null)
        {
            _scope.Unregister(this);
            _scope = null;
            _pooled = false;
        }
        return this;
    }

    internal void ReleaseStorage()
    {
        if (_pooled && _data is not null) BufferPool.Return(_data);
        _data = null;
        _pooled = false;
        _scope = null;
        Node = null;
        _grad = null;
    }

    /// <summary>
    /// Replaces data and shape in place (identity kept, so modules and optimizers still refer to it).
    /// Growth uses this. The gradient buffer is dropped.
    /// </summary>
    public void Replace(float[] data, params int[] shape)
    {
        var sh = CheckShape((int[])shape.Clone());
        if (data.Length != Product(sh)) throw new ArgumentException("data length does not match shape");
        if (_pooled && _data is not null) BufferPool.Return(_data);
        _data = data;
        _offset = 0;
        _shape = sh;
        _length = data.Length;
        _pooled = false;
        _grad = null;
        _gradStale = false;
    }

    // ---------------------------------------------------------------- gradients

    /// <summary>The accumulated gradient, or null if none since the last <see cref="ZeroGrad"/>.</summary>
    public Tensor? Grad
    {
        get => _gradStale ? null : _grad;
        set
        {
            if (value is not null && !SameShape(value._shape, _shape))
                throw new ArgumentException($"gradient shape {FormatShape(value._shape)} differs from {FormatShape(_shape)}");
            _grad = value;
            _gradStale = false;
        }
    }

    /// <summary>Forgets the gradient; its buffer is kept and overwritten by the next backward pass.</summary>
    public void ZeroGrad()
    {
        if (_grad is null) return;
        if (_grad.IsReleased) _grad = null;
        else _gradStale = true;
    }

    /// <summary>
    /// The gradient buffer to write into during backward. <paramref name="fresh"/> is true when it holds nothing
    /// yet (the caller overwrites rather than accumulates).
    /// </summary>
    internal Tensor GradBuffer(out bool fresh)
    {
        if (_grad is not null && !_gradStale && !_grad.IsReleased)
        {
            fresh = false;
            return _grad;
        }
        fresh = true;
        _gradStale = false;
        if (_grad is not null && !_grad.IsReleased && SameShape(_grad._shape, _shape)) return _grad;
        // Leaves keep their gradient across steps as an ordinary array; intermediates take a scope temporary.
        if (Node is null)
            _grad = new Tensor(GC.AllocateUninitializedArray<float>(_length), 0, ShapeArray(), pooled: false);
        else
            _grad = EmptyOwned(ShapeArray());
        return _grad;
    }

    internal bool HasGrad => _grad is not null && !_gradStale && !_grad.IsReleased;

    /// <summary>Backpropagates from this scalar (or from <paramref name="gradient"/>) to every leaf that requires grad.</summary>
    public void Backward(Tensor? gradient = null) => Graph.Backward(this, gradient);

    // ---------------------------------------------------------------- helpers

    internal static int[] CheckShape(int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length < 1 || shape.Length > MaxRank)
            throw new ArgumentException($"rank must be 1..{MaxRank}, got {shape.Length}");
        foreach (int d in shape)
            if (d < 0) throw new ArgumentException($"negative dimension in shape {FormatShape(shape)}");
        return shape;
    }

    internal static int Product(ReadOnlySpan<int> shape)
    {
        long p = 1;
        foreach (int d in shape) p *= d;
        if (p > int.MaxValue) throw new ArgumentException("tensor too large");
        return (int)p;
    }

    internal static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    internal static int NormalizeAxis(int axis, int rank)
    {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} out of range for rank {rank}");
        return a;
    }

    /// <summary>Formats a shape as [a, b, c].</summary>
    public static string FormatShape(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(shape[i].ToString(CultureInfo.InvariantCulture));
        }
        return sb.Append(']').ToString();
    }

    private static ObjectDisposedException ReleasedError() =>
        new("Tensor", "this tensor was a temporary of a TensorScope that has ended; call Persist() or Clone() outside the scope to keep it");

    /// <inheritdoc/>
    public override string ToString()
    {
        var sb = new StringBuilder($"Tensor{FormatShape(_shape)}");
        if (_data is null) return sb.Append(" (released)").ToString();
        sb.Append(" {");
        int n = Math.Min(_length, 8);
        var s = Span;
        for (int i = 0; i < n; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(s[i].ToString("G5", CultureInfo.InvariantCulture));
        }
        if (_length > n) sb.Append(", …");
        return sb.Append('}').ToString();
    }
}
