using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// The BatchNorm tensors that sit between a growable layer and its consumer (grown with it: γ = 1, β = 0,
/// running mean 0, running variance 1 for new channels). Any of them may be null.
/// </summary>
/// <param name="Gamma">Scale γ [C].</param>
/// <param name="Beta">Shift β [C].</param>
/// <param name="RunningMean">Running mean [C].</param>
/// <param name="RunningVar">Running variance [C].</param>
public sealed record NormParams(Tensor? Gamma, Tensor? Beta, Tensor? RunningMean, Tensor? RunningVar);

/// <summary>
/// A per-neuron tensor tied to a site's width beyond its first BatchNorm (<see cref="GrowthSite.Norm"/>): neuron c owns
/// entry c along axis 0 (a depthwise conv's filter [C, 1, k, k] and bias [C], a BatchNorm after it). It grows with the
/// site — a new neuron's entry is <paramref name="NewEntry"/> — and a split or a Net2Net copy copies the parent's entry.
/// </summary>
/// <param name="Tensor">The tensor, axis 0 = the site's neurons.</param>
/// <param name="NewEntry">A new neuron's entry (length = the tensor's length / width), e.g. [1] for a γ, a centred
/// one-hot (Dirac) filter for a depthwise conv.</param>
public sealed record TiedTensor(Tensor Tensor, float[] NewEntry);

/// <summary>
/// One place where a network can grow: a producing layer whose neurons (output units or channels) lie along axis 0
/// of <see cref="InWeight"/> (Linear [out, in], Conv2d [Cout, Cin, k, k]) and a consuming layer whose
/// <see cref="OutWeight"/> reads neuron c through indices [c·<see cref="OutBlock"/>, (c+1)·<see cref="OutBlock"/>)
/// of axis <see cref="OutAxis"/> (Linear → Linear: axis 1, block 1; Conv2d → Conv2d: axis 1, block 1;
/// Conv2d → Flatten → Linear: axis 1, block H·W). New neurons are appended after the old ones with
/// <see cref="Tensor.Replace"/>, so modules and optimizers keep referring to the same tensors and every old entry
/// keeps its multi-index (optimizer moments follow, see <see cref="Optim.Optimizer"/>).
/// </summary>
public sealed class GrowthSite
{
    /// <summary>Describes a site. Shapes are checked against each other.</summary>
    public GrowthSite(string name, Tensor inWeight, Tensor? inBias, Tensor outWeight, int outAxis = 1, int outBlock = 1,
        Tensor? outBias = null, NormParams? norm = null, IReadOnlyList<TiedTensor>? tied = null)
    {
        ArgumentNullException.ThrowIfNull(inWeight);
        ArgumentNullException.ThrowIfNull(outWeight);
        Name = name;
        InWeight = inWeight;
        InBias = inBias;
        OutWeight = outWeight;
        OutAxis = outAxis;
        OutBlock = outBlock;
        OutBias = outBias;
        Norm = norm;
        if (outAxis < 0 || outAxis >= outWeight.Rank) throw new ArgumentException($"site {name}: axis {outAxis} outside consumer rank {outWeight.Rank}");
        if (outBlock < 1) throw new ArgumentException($"site {name}: block size must be ≥ 1");
        if (outWeight.Dim(outAxis) != Width * outBlock)
            throw new ArgumentException($"site {name}: consumer axis {outAxis} has {outWeight.Dim(outAxis)} entries, expected {Width}·{outBlock}");
        if (inBias is not null && inBias.Length != Width) throw new ArgumentException($"site {name}: bias length {inBias.Length} ≠ width {Width}");
        Tied = tied?.ToArray() ?? [];
        foreach (var t in Tied)
        {
            ArgumentNullException.ThrowIfNull(t.Tensor);
            ArgumentNullException.ThrowIfNull(t.NewEntry);
            if (t.Tensor.Rank == 0 || t.Tensor.Dim(0) != Width || t.Tensor.Length != (long)Width * t.NewEntry.Length)
                throw new ArgumentException($"site {name}: tied tensor {Tensor.FormatShape(t.Tensor.Shape)} does not hold {Width} entries of {t.NewEntry.Length}");
        }
    }

    /// <summary>Name for reports (e.g. "0" for the first hidden layer).</summary>
    public string Name { get; }

    /// <summary>Producer weight; axis 0 indexes neurons.</summary>
    public Tensor InWeight { get; }

    /// <summary>Producer bias [width], or null.</summary>
    public Tensor? InBias { get; }

    /// <summary>Consumer weight.</summary>
    public Tensor OutWeight { get; }

    /// <summary>Consumer bias (trained with the consumer during adjustment phases), or null.</summary>
    public Tensor? OutBias { get; }

    /// <summary>Axis of <see cref="OutWeight"/> that indexes the producer's neurons.</summary>
    public int OutAxis { get; }

    /// <summary>Consecutive entries of <see cref="OutAxis"/> per neuron (H·W when a conv feeds a Linear through Flatten).</summary>
    public int OutBlock { get; }

    /// <summary>BatchNorm between producer and consumer, or null.</summary>
    public NormParams? Norm { get; }

    /// <summary>
    /// Further per-neuron tensors that grow with the site (a depthwise conv between producer and consumer and the
    /// BatchNorm after it); empty for most sites.
    /// </summary>
    public IReadOnlyList<TiedTensor> Tied { get; }

    /// <summary>Current number of neurons.</summary>
    public int Width => InWeight.Dim(0);

    /// <summary>Incoming weights per neuron (Linear: in; Conv2d: Cin·k·k).</summary>
    public int FanIn => InWeight.Length / Math.Max(1, Width);

    /// <summary>Length of one neuron's incoming vector including its bias (FanIn + 1 when there is a bias).</summary>
    public int IncomingLength => FanIn + (InBias is null ? 0 : 1);

    private (int Outer, int AxisDim, int Inner) OutSplit()
    {
        var s = OutWeight.Shape;
        int outer = 1, inner = 1;
        for (int i = 0; i < OutAxis; i++) outer *= s[i];
        for (int i = OutAxis + 1; i < s.Length; i++) inner *= s[i];
        return (outer, s[OutAxis], inner);
    }

    /// <summary>Outgoing weights per neuron (Linear consumer: its output count; conv: Cout·k·k; flatten: out·H·W).</summary>
    public int FanOut
    {
        get
        {
            var (outer, _, inner) = OutSplit();
            return outer * OutBlock * inner;
        }
    }

    /// <summary>
    /// Appends <paramref name="count"/> neurons with zero incoming weights, zero bias and zero outgoing weights
    /// (and identity BatchNorm; each <see cref="Tied"/> tensor gets its new entry). Returns the index of the first new neuron.
    /// </summary>
    public int Grow(int count)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count));
        int first = Width;
        if (count == 0) return first;
        GrowAxis(InWeight, 0, count);
        if (InBias is not null) GrowAxis(InBias, 0, count);
        GrowAxis(OutWeight, OutAxis, count * OutBlock);
        if (Norm is not null)
        {
            if (Norm.Gamma is not null) { GrowAxis(Norm.Gamma, 0, count); Norm.Gamma.Span[first..].Fill(1f); }
            if (Norm.Beta is not null) GrowAxis(Norm.Beta, 0, count);
            if (Norm.RunningMean is not null) GrowAxis(Norm.RunningMean, 0, count);
            if (Norm.RunningVar is not null) { GrowAxis(Norm.RunningVar, 0, count); Norm.RunningVar.Span[first..].Fill(1f); }
        }
        foreach (var t in Tied)
        {
            GrowAxis(t.Tensor, 0, count);
            int e = t.NewEntry.Length;
            for (int j = first; j < first + count; j++) t.NewEntry.CopyTo(t.Tensor.Span.Slice(j * e, e));
        }
        return first;
    }

    /// <summary>
    /// Splits neurons (splitting steepest descent, Firefly): for each k, appends a copy of neuron parents[k] — incoming
    /// weights, bias and, when a BatchNorm follows the producer, γ, β and the running statistics, and its entries of the
    /// <see cref="Tied"/> tensors (depthwise filter, second BatchNorm) — then moves the parent
    /// by +delta_k and the copy by −delta_k (incoming weights only; <paramref name="deltas"/> is [count, FanIn] row-major,
    /// empty for pure copies) and gives both half of the parent's old outgoing weights. With zero deltas the network
    /// computes the same function (to float rounding). Parents must be distinct existing neurons. Returns the index of
    /// the first copy (copy k is neuron first + k).
    /// </summary>
    public int Split(IReadOnlyList<int> parents, ReadOnlySpan<float> deltas)
    {
        ArgumentNullException.ThrowIfNull(parents);
        int old = Width, f = FanIn, n = parents.Count;
        if (deltas.Length != 0 && deltas.Length != n * f)
            throw new ArgumentException($"site {Name}: {deltas.Length} delta entries for {n} splits of fan-in {f}");
        var seen = new HashSet<int>();
        foreach (int p in parents)
        {
            if ((uint)p >= (uint)old) throw new ArgumentOutOfRangeException(nameof(parents), $"site {Name}: parent {p} outside 0…{old - 1}");
            if (!seen.Add(p)) throw new ArgumentException($"site {Name}: neuron {p} is split twice in one step");
        }
        int first = Grow(n);
        var w = new float[f];
        var o = new float[FanOut];
        for (int k = 0; k < n; k++)
        {
            int src = parents[k], j = first + k;
            GetIncoming(src, w);
            if (deltas.Length != 0)
            {
                var d = deltas.Slice(k * f, f);
                for (int t = 0; t < f; t++) w[t] -= d[t];
                SetIncoming(j, w);
                for (int t = 0; t < f; t++) w[t] += 2 * d[t];
                SetIncoming(src, w);
            }
            else SetIncoming(j, w);
            SetBias(j, GetBias(src));
            if (Norm is not null)
            {
                CopyEntry(Norm.Gamma, src, j);
                CopyEntry(Norm.Beta, src, j);
                CopyEntry(Norm.RunningMean, src, j);
                CopyEntry(Norm.RunningVar, src, j);
            }
            CopyTied(src, j);
            GetOutgoing(src, o);
            for (int t = 0; t < o.Length; t++) o[t] *= 0.5f;
            SetOutgoing(src, o);
            SetOutgoing(j, o);
        }
        return first;
    }

    /// <summary>Copies entry <paramref name="from"/> of a per-neuron tensor (BatchNorm γ, β, statistics) to entry <paramref name="to"/>.</summary>
    public static void CopyEntry(Tensor? t, int from, int to)
    {
        if (t is not null) t.Span[to] = t.Span[from];
    }

    /// <summary>Copies neuron <paramref name="from"/>'s entries of every <see cref="Tied"/> tensor to neuron <paramref name="to"/>.</summary>
    public void CopyTied(int from, int to)
    {
        foreach (var t in Tied)
        {
            int e = t.NewEntry.Length;
            t.Tensor.Span.Slice(from * e, e).CopyTo(t.Tensor.Span.Slice(to * e, e));
        }
    }

    /// <summary>Grows one axis of a tensor in place (identity kept), old entries at their multi-index, new ones zero.</summary>
    public static void GrowAxis(Tensor t, int axis, int extra)
    {
        var oldShape = t.ShapeArray();
        var newShape = t.ShapeArray();
        newShape[axis] += extra;
        t.Replace(Embed.Corner(t.Span, oldShape, newShape), newShape);
    }

    /// <summary>Copies neuron <paramref name="neuron"/>'s incoming weights (length <see cref="FanIn"/>).</summary>
    public void GetIncoming(int neuron, Span<float> dst) => InWeight.Span.Slice(neuron * FanIn, FanIn).CopyTo(dst);

    /// <summary>Sets neuron <paramref name="neuron"/>'s incoming weights.</summary>
    public void SetIncoming(int neuron, ReadOnlySpan<float> src) => src[..FanIn].CopyTo(InWeight.Span.Slice(neuron * FanIn, FanIn));

    /// <summary>Neuron's bias (0 without a bias).</summary>
    public float GetBias(int neuron) => InBias is null ? 0f : InBias.Span[neuron];

    /// <summary>Sets a neuron's bias (ignored without a bias).</summary>
    public void SetBias(int neuron, float value)
    {
        if (InBias is not null) InBias.Span[neuron] = value;
    }

    /// <summary>Copies a neuron's outgoing weights (length <see cref="FanOut"/>, consumer order).</summary>
    public void GetOutgoing(int neuron, Span<float> dst)
    {
        var (outer, axisDim, inner) = OutSplit();
        var w = OutWeight.Span;
        int run = OutBlock * inner, k = 0;
        for (int o = 0; o < outer; o++, k += run)
            w.Slice((o * axisDim + neuron * OutBlock) * inner, run).CopyTo(dst.Slice(k, run));
    }

    /// <summary>Sets a neuron's outgoing weights (length <see cref="FanOut"/>, consumer order).</summary>
    public void SetOutgoing(int neuron, ReadOnlySpan<float> src)
    {
        var (outer, axisDim, inner) = OutSplit();
        var w = OutWeight.Span;
        int run = OutBlock * inner, k = 0;
        for (int o = 0; o < outer; o++, k += run)
            src.Slice(k, run).CopyTo(w.Slice((o * axisDim + neuron * OutBlock) * inner, run));
    }

    /// <summary>Incoming weights and bias of all neurons as [Width, IncomingLength] (bias last).</summary>
    public float[] IncomingMatrix()
    {
        int d = IncomingLength, f = FanIn, n = Width;
        var m = new float[n * d];
        var w = InWeight.Span;
        for (int i = 0; i < n; i++)
        {
            w.Slice(i * f, f).CopyTo(m.AsSpan(i * d, f));
            if (InBias is not null) m[i * d + f] = InBias.Span[i];
        }
        return m;
    }

    /// <summary>Writes [Width, IncomingLength] back into the weight and bias.</summary>
    public void SetIncomingMatrix(ReadOnlySpan<float> m)
    {
        int d = IncomingLength, f = FanIn, n = Width;
        var w = InWeight.Span;
        for (int i = 0; i < n; i++)
        {
            m.Slice(i * d, f).CopyTo(w.Slice(i * f, f));
            if (InBias is not null) InBias.Span[i] = m[i * d + f];
        }
    }

    /// <summary>The gradient of the incoming weights and bias as [Width, IncomingLength] (zeros where none).</summary>
    public void IncomingGradient(Span<float> dst)
    {
        int d = IncomingLength, f = FanIn, n = Width;
        dst.Clear();
        var gw = InWeight.Grad;
        var gb = InBias?.Grad;
        for (int i = 0; i < n; i++)
        {
            if (gw is not null) gw.Span.Slice(i * f, f).CopyTo(dst.Slice(i * d, f));
            if (gb is not null) dst[i * d + f] = gb.Span[i];
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"site {Name}: {Width} neurons, fan-in {FanIn}, fan-out {FanOut}";
}
