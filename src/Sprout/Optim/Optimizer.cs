using Sprout.Kernels;
using Sprout.Tensors;

namespace Sprout.Optim;

/// <summary>What an optimizer does with a parameter's state when the parameter has grown.</summary>
public enum GrowthStatePolicy
{
    /// <summary>Old entries keep their moments; new entries start at zero; the step count carries on.</summary>
    Keep,
    /// <summary>The grown parameter's state starts over (zeros, step 0).</summary>
    Reset,
    /// <summary>
    /// As <see cref="Keep"/>, but new entries start warm: adaptive optimizers give them the mean of the old entries'
    /// second-moment estimate (first moments stay zero). With a zero second moment and a carried-on step count,
    /// Adam's first updates of a new entry are ≈ 3–6 learning rates in the gradient's sign direction on every
    /// weight of a new neuron at once, which kills or saturates new neurons; warm entries move like the old ones.
    /// </summary>
    Warm,
}

/// <summary>Per-parameter optimizer state: named slots shaped like the parameter, and a step count.</summary>
public sealed class ParamState
{
    internal ParamState(int slots, int[] shape)
    {
        Shape = shape;
        int n = Tensor.Product(shape);
        Slots = new float[slots][];
        for (int i = 0; i < slots; i++) Slots[i] = new float[n];
    }

    /// <summary>Shape the slots were made for.</summary>
    public int[] Shape { get; internal set; }

    /// <summary>The slots (e.g. Adam: [m, v]).</summary>
    public float[][] Slots { get; }

    /// <summary>Updates applied to this parameter.</summary>
    public long Step { get; internal set; }
}

/// <summary>
/// Base of all optimizers. State is created lazily and follows parameter growth: when a parameter's shape grew
/// since the last step (see <see cref="Tensor.Replace"/>), its state is embedded (old entries keep their multi-index,
/// new ones are zero) or reset, per <see cref="OnGrowth"/>. Parameters without a gradient are skipped.
/// </summary>
public abstract class Optimizer
{
    private readonly List<Tensor> _params = new();
    private readonly Dictionary<Tensor, ParamState> _state = new(ReferenceEqualityComparer.Instance);

    /// <summary>Creates an optimizer over <paramref name="parameters"/>.</summary>
    protected Optimizer(IEnumerable<Tensor> parameters, double learningRate)
    {
        if (!(learningRate >= 0)) throw new ArgumentException($"learning rate must be ≥ 0, got {learningRate}");
        LearningRate = learningRate;
        AddParameters(parameters);
    }

    /// <summary>Current learning rate (schedules set it).</summary>
    public double LearningRate { get; set; }

    /// <summary>What happens to the state of a grown parameter.</summary>
    public GrowthStatePolicy OnGrowth { get; set; } = GrowthStatePolicy.Keep;

    /// <summary>Number of state slots per parameter.</summary>
    protected abstract int SlotCount { get; }

    /// <summary>Names of the state slots, in slot order (PyTorch's names where it has them, e.g. Adam: exp_avg, exp_avg_sq).</summary>
    public virtual IReadOnlyList<string> SlotNames =>
        Enumerable.Range(0, SlotCount).Select(i => "slot" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>The parameters being optimized.</summary>
    public IReadOnlyList<Tensor> Parameters => _params;

    /// <summary>Adds parameters (e.g. a layer created during growth). Duplicates are ignored.</summary>
    public void AddParameters(IEnumerable<Tensor> parameters)
    {
        foreach (var p in parameters)
        {
            if (!p.RequiresGrad) throw new ArgumentException($"parameter {p.Name} does not require grad");
            if (!_params.Contains(p)) _params.Add(p);
        }
    }

    /// <summary>The state of a parameter, or null before its first step.</summary>
    public ParamState? StateOf(Tensor p) => _state.GetValueOrDefault(p);

    /// <summary>
    /// Sets a parameter's state, as exported from an optimizer of the same type (restoring a checkpoint): the slots
    /// are copied; <paramref name="shape"/> is the shape they were made for, which may be smaller than the
    /// parameter's current one (the parameter grew since; the next step embeds them as usual).
    /// </summary>
    internal void SetState(Tensor p, int[] shape, IReadOnlyList<float[]> slots, long step)
    {
        if (slots.Count != SlotCount) throw new ArgumentException($"{slots.Count} slots given, {GetType().Name} has {SlotCount}");
        var st = new ParamState(SlotCount, (int[])shape.Clone()) { Step = step };
        for (int i = 0; i < SlotCount; i++) slots[i].CopyTo(st.Slots[i], 0);
        _state[p] = st;
    }

    /// <summary>Forgets all state (a fresh optimizer with the same parameters and settings).</summary>
    public void ResetState() => _state.Clear();

    /// <summary>Forgets one parameter's state.</summary>
    public void ResetState(Tensor p) => _state.Remove(p);

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in _params) p.ZeroGrad();
    }

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public void Step()
    {
        foreach (var p in _params)
        {
            var g = p.Grad;
            if (g is null) continue;
            var st = StateFor(p);
            st.Step++;
            Update(p, g, st);
        }
    }

    /// <summary>
    /// Gives the new entries of a grown parameter's state a warm start (<see cref="GrowthStatePolicy.Warm"/>);
    /// <paramref name="isOld"/>[k] is 1 for entries that existed before the growth, 0 for new ones. Default: nothing.
    /// </summary>
    protected virtual void WarmNewEntries(ParamState state, ReadOnlySpan<float> isOld)
    {
    }

    /// <summary>Sets the new entries (isOld = 0) of a slot to the mean of its old entries.</summary>
    protected static void FillNewWithOldMean(Span<float> slot, ReadOnlySpan<float> isOld)
    {
        double sum = 0;
        long count = 0;
        for (int k = 0; k < slot.Length; k++)
            if (isOld[k] != 0) { sum += slot[k]; count++; }
        if (count == 0) return;
        float mean = (float)(sum / count);
        for (int k = 0; k < slot.Length; k++)
            if (isOld[k] == 0) slot[k] = mean;
    }

    /// <summary>Updates one parameter in place from its gradient and state (st.Step already counts this step).</summary>
    protected abstract void Update(Tensor p, Tensor grad, ParamState st);

    private ParamState StateFor(Tensor p)
    {
        if (!_state.TryGetValue(p, out var st))
        {
            st = new ParamState(SlotCount, p.ShapeArray());
            _state[p] = st;
            return st;
        }
        if (Tensor.SameShape(st.Shape, p.Shape)) return st;
        // the parameter grew (or changed) since the last step
        var fresh = new ParamState(SlotCount, p.ShapeArray());
        if (OnGrowth is GrowthStatePolicy.Keep or GrowthStatePolicy.Warm && Embed.IsGrowth(st.Shape, p.Shape))
        {
            for (int i = 0; i < SlotCount; i++) Embed.Corner(st.Slots[i], st.Shape, fresh.Slots[i], p.Shape);
            fresh.Step = st.Step;
            if (OnGrowth == GrowthStatePolicy.Warm)
            {
                // 1 where an entry existed before the growth: embed a block of ones the way the slots were embedded
                var ones = new float[Tensor.Product(st.Shape)];
                Array.Fill(ones, 1f);
                var isOld = new float[Tensor.Product(p.Shape)];
                Embed.Corner(ones, st.Shape, isOld, p.Shape);
                WarmNewEntries(fresh, isOld);
            }
        }
        _state[p] = fresh;
        return fresh;
    }

    /// <summary>
    /// Runs <paramref name="body"/>(start, count) over [0, length) in fixed chunks, in parallel on
    /// <see cref="Workers"/> when the span is large (elementwise updates, so results do not depend on threads).
    /// </summary>
    protected static void Chunked(int length, Action<int, int> body)
    {
        int parts = length >= 1 << 16 ? Workers.Threads : 1;
        if (parts <= 1)
        {
            body(0, length);
            return;
        }
        Workers.Run(parts, part =>
        {
            // split on 16-float boundaries so every chunk but the last is whole SIMD vectors
            int units = (length + 15) / 16;
            int s = (int)((long)units * part / parts) * 16, e = Math.Min(length, (int)((long)units * (part + 1) / parts) * 16);
            if (e > s) body(s, e - s);
        });
    }
}
