using Sprout.Autograd;
using Sprout.Nn;
using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// The candidate-extended network of Firefly: a <see cref="Module"/> whose forward runs the grown model (in eval mode,
/// never changed) together with every site's candidates, so the one <see cref="Training.Trainer"/> trains and scores
/// them. Its parameters are the candidates' only: per site, split directions v [width, fan-in] (the producer weight's
/// shape), new candidates' incoming weights v_new [K, fan-in] and their outgoing weights into the consumer, split in
/// v_out (the consumer's existing neurons) and v_out_new (the next site's new candidates), plus the zero gates y of
/// the scoring pass.
/// <para>
/// Old neuron j of a site with split candidates feeds its consumer [P(s(N(pre_j + δ_j))) + P(s(N(pre_j − δ_j)))]/2
/// with δ_j = v_j·x (N = the BatchNorm in eval mode, s = the layers up to the activation, P = the pass-through layers
/// between the activation and the consumer, e.g. max pooling): a split of j into j ± v_j with halved outgoing weights
/// computes exactly this. (Firefly's code averages right after the activation, before the pooling.) A new candidate outputs s(N₀(v_new·x + …)) with N₀ the identity BatchNorm
/// a new neuron gets, and adds its output to the consumer through its outgoing weights. With <see cref="Gated"/> the
/// perturbations δ and v_new·x are scaled by (1 + y), one y per candidate at 0, so ∂L/∂y is each candidate's score.
/// </para>
/// <para>
/// A depthwise conv between producer and consumer (MobileNet: producer → BN → act → depthwise → BN → act → pointwise)
/// is one of the layers s: the ± paths of split candidate j pass it, and the BatchNorm after it, with neuron j's own
/// filter and statistics — what the copy inherits (<see cref="GrowthSite.Split"/> copies the tied entries) — and a new
/// candidate passes a depthwise conv with the filter and bias a new channel gets (<see cref="TiedTensor.NewEntry"/>: the
/// Dirac filter) and the identity BatchNorm after it, as <see cref="GrowthSite.Grow"/> commits them. Those filters are
/// constants, not trained (Firefly's code trains no depthwise weight that survives its commit).
/// </para>
/// </summary>
internal sealed class FireflyNetwork : Module
{
    private readonly IReadOnlyList<Module> _layers;
    private readonly Site?[] _sites;
    private readonly int[] _producerSite;   // layer index → site whose producer it is, or −1
    private readonly ConvWindow?[] _depthwise; // layer index → its window if it is a depthwise conv

    /// <summary>One site's candidates (null tensors: none of that kind).</summary>
    internal sealed class Site
    {
        public int Index, Producer, Capture, Consumer, Width, FanIn, New, Rows, Run, NextNew;
        public bool ConsumerIsNext;
        public ConvWindow? Window, ConsumerWindow;
        public Tensor? V, YOld, Vno, YNew, VniOld, VniNew;
        public Tensor? DwFilter, DwBias;    // a new candidate's depthwise filter [New, 1, k, k] and bias (constants)
    }

    /// <summary>Builds the candidates of the sites with <paramref name="newCounts"/>[k] ≥ 0 (−1 = no candidates at k).</summary>
    public FireflyNetwork(GrowableModel model, IReadOnlyList<int> newCounts, bool splits, FireflyOptions o, Rng rng)
    {
        var seq = model.Module;
        _layers = seq.Layers;
        int n = model.Sites.Count;
        _sites = new Site?[n];
        _producerSite = Enumerable.Repeat(-1, _layers.Count).ToArray();
        _depthwise = _layers.Select(l => (l.GrowthRole as DepthwiseRole)?.Window).ToArray();
        for (int k = 0; k < n; k++) _producerSite[model.ProducerLayer(k)] = k;
        for (int k = 0; k < n; k++)
        {
            if (newCounts[k] < 0) continue;
            var gs = model.Sites[k];
            int p = model.ProducerLayer(k), c = model.ConsumerLayer(k);
            var s = new Site
            {
                Index = k, Producer = p, Capture = model.SiteOutputLayers[k], Consumer = c, Width = gs.Width, FanIn = gs.FanIn,
                New = newCounts[k], Rows = gs.OutWeight.Dim(0), Run = gs.FanOut / Math.Max(1, gs.OutWeight.Dim(0)),
                Window = (_layers[p].GrowthRole as GrowableRole)?.Window,
                ConsumerWindow = (_layers[c].GrowthRole as GrowableRole)?.Window,
                ConsumerIsNext = _producerSite[c] == k + 1,
            };
            for (int j = p + 1; j < c; j++)
            {
                if (_layers[j].GrowthRole is NormRole && _layers[j] is not BatchNorm)
                    throw new ArgumentException($"firefly: site {gs.Name} is normalised by {_layers[j]}; Firefly supports BatchNorm only");
                if (_layers[j].GrowthRole is DepthwiseRole d && s.New > 0)
                {
                    // a new channel's depthwise filter and bias, as GrowthSite.Grow gives them
                    float[] Entry(Tensor t) => gs.Tied.FirstOrDefault(e => ReferenceEquals(e.Tensor, t))?.NewEntry
                        ?? throw new ArgumentException($"firefly: site {gs.Name}'s depthwise conv {_layers[j]} does not grow with it");
                    var f = Entry(d.Weight);
                    var shape = d.Weight.ShapeArray();
                    shape[0] = s.New;
                    var w = new float[s.New * f.Length];
                    for (int t = 0; t < s.New; t++) f.CopyTo(w, t * f.Length);
                    s.DwFilter = new Tensor(w, shape);
                    if (d.Bias is not null) s.DwBias = new Tensor(Enumerable.Repeat(Entry(d.Bias)[0], s.New).ToArray(), s.New);
                }
            }
            if (_producerSite[c] >= 0 && _producerSite[c] != k + 1)
                throw new ArgumentException($"firefly: site {gs.Name}'s consumer is not the next site's producer");
            _sites[k] = s;
        }
        // parameters, drawn site by site from named streams
        for (int k = 0; k < n; k++)
        {
            if (_sites[k] is not { } s) continue;
            var gs = model.Sites[k];
            var r = rng.Fork("site", k);
            int[] shape = gs.InWeight.ShapeArray();
            int[] Gate(int count) => s.Window is null ? [1, count] : [1, count, 1, 1];
            if (splits && s.Width > 0)
            {
                var v = new float[gs.InWeight.Length];
                r.Fork("v").FillUniform(v, -o.SplitInit, o.SplitInit);
                s.V = RegisterParameter($"v{k}", new Tensor(v, shape));
                s.YOld = RegisterParameter($"y{k}", Tensor.Zeros(Gate(s.Width)));
            }
            if (s.New > 0)
            {
                var vno = new float[s.New * s.FanIn];
                r.Fork("new-in").FillNormal(vno, 0, o.NewIncomingStd);
                var sh = (int[])shape.Clone();
                sh[0] = s.New;
                s.Vno = RegisterParameter($"v_new{k}", new Tensor(vno, sh));
                s.YNew = RegisterParameter($"y_new{k}", Tensor.Zeros(Gate(s.New)));
                var outR = r.Fork("new-out");
                s.VniOld = RegisterParameter($"v_out{k}", OutgoingTensor(s, s.Rows, o.NewOutgoingInit, outR));
                var next = k + 1 < n && _producerSite[s.Consumer] == k + 1 ? _sites[k + 1] : null;
                if (next is { New: > 0 })
                {
                    s.NextNew = next.New;
                    s.VniNew = RegisterParameter($"v_out_new{k}", OutgoingTensor(s, next.New, o.NewOutgoingInit, outR));
                }
            }
        }
    }

    // outgoing weights of a site's new candidates into `rows` consumer neurons: [rows, K·run] for a Linear consumer
    // (run = H·W after a Flatten), [rows, K, k, k] for a conv consumer
    private static Tensor OutgoingTensor(Site s, int rows, double a, Rng rng)
    {
        var w = new float[rows * s.New * s.Run];
        rng.FillUniform(w, -a, a);
        if (s.ConsumerWindow is { } cw) return new Tensor(w, rows, s.New, cw.Kernel, cw.Kernel);
        return new Tensor(w, rows, s.New * s.Run);
    }

    /// <summary>The sites' candidates (null where a site has none).</summary>
    public IReadOnlyList<Site?> Sites => _sites;

    /// <summary>Whether the perturbations are scaled by the gates (1 + y) (the scoring pass).</summary>
    public bool Gated { get; set; }

    /// <summary>The trained candidate parameters (not the gates).</summary>
    public IReadOnlyList<Tensor> CandidateParameters =>
        _sites.Where(s => s is not null).SelectMany(s => new[] { s!.V, s.Vno, s.VniOld, s.VniNew }).OfType<Tensor>().ToArray();

    /// <summary>The gates y.</summary>
    public IReadOnlyList<Tensor> Gates =>
        _sites.Where(s => s is not null).SelectMany(s => new[] { s!.YOld, s.YNew }).OfType<Tensor>().ToArray();

    /// <summary>Penalty·(Σv² + newPenalty·Σv_new²) (null when there is nothing to penalise).</summary>
    public Tensor? Penalty(double penalty, double newPenalty)
    {
        Tensor? sum = null;
        foreach (var s in _sites)
        {
            if (s is null) continue;
            if (s.V is not null) sum = Plus(sum, Ops.Sum(Ops.Mul(s.V, s.V)));
            if (s.Vno is not null && newPenalty > 0) sum = Plus(sum, Ops.MulScalar(Ops.Sum(Ops.Mul(s.Vno, s.Vno)), (float)newPenalty));
        }
        return sum is null || penalty == 0 ? null : Ops.MulScalar(sum, (float)penalty);
    }

    private static Tensor Plus(Tensor? a, Tensor b) => a is null ? b : Ops.Add(a, b);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x)
    {
        Tensor? extra = null;   // new candidates' outputs of site `from`, on their way to its consumer
        Site? from = null;
        Tensor? minus = null;   // the split neurons' (pre − δ) path; x holds the (pre + δ) path until the consumer
        int minusConsumer = -1;
        for (int i = 0; i < _layers.Count;)
        {
            if (minus is not null && i == minusConsumer)
            {
                // the consumer is linear in its input: W·(h⁺ + h⁻)/2 is what parent and copy give with halved weights
                x = Ops.MulScalar(Ops.Add(x, minus), 0.5f);
                minus = null;
            }
            int k = _producerSite[i];
            if (k >= 0)
            {
                var xin = x;
                var pre = _layers[i].Forward(xin);
                Tensor? toNew = null;
                if (extra is not null)
                {
                    if (from!.VniNew is null) pre = Ops.Add(pre, Consume(extra, from.VniOld!, from.ConsumerWindow));
                    else
                    {
                        // one product for the consumer's neurons and the next site's new candidates
                        var both = Consume(extra, Ops.Concat(0, from.VniOld!, from.VniNew), from.ConsumerWindow);
                        pre = Ops.Add(pre, Ops.Slice(both, 1, 0, from.Rows));
                        toNew = Ops.Slice(both, 1, from.Rows, from.NextNew);
                    }
                    extra = null;
                    from = null;
                }
                if (_sites[k] is not { } s)
                {
                    x = pre;
                    i++;
                    continue;
                }
                Tensor? d = null, np = null;
                if (s.V is not null && s.Vno is not null)
                {
                    // one product for the split directions and the new candidates' incoming weights
                    var both = Produce(xin, Ops.Concat(0, s.V, s.Vno), s.Window);
                    d = Ops.Slice(both, 1, 0, s.Width);
                    np = Ops.Slice(both, 1, s.Width, s.New);
                }
                else if (s.V is not null) d = Produce(xin, s.V, s.Window);
                else if (s.Vno is not null) np = Produce(xin, s.Vno, s.Window);
                if (d is not null)
                {
                    d = Gate(d, s.YOld!);
                    x = Tail(Ops.Add(pre, d), i, s.Capture, fresh: null);
                    minus = Tail(Ops.Sub(pre, d), i, s.Capture, fresh: null);
                    minusConsumer = s.Consumer;
                }
                else x = Tail(pre, i, s.Capture, fresh: null);
                if (np is not null)
                {
                    np = Gate(np, s.YNew!);
                    if (toNew is not null) np = Ops.Add(np, toNew);
                    extra = Tail(np, i, s.Capture, fresh: s);
                    from = s;
                }
                i = s.Capture + 1;
                continue;
            }
            x = _layers[i].Forward(x);
            if (minus is not null) minus = _layers[i].Forward(minus);
            if (extra is not null)
            {
                if (i == from!.Consumer)
                {
                    x = Ops.Add(x, Consume(extra, from.VniOld!, from.ConsumerWindow));
                    extra = null;
                    from = null;
                }
                else extra = Fresh(extra, i, from);
            }
            i++;
        }
        return x;
    }

    private Tensor Gate(Tensor t, Tensor y) => Gated ? Ops.Mul(t, Ops.AddScalar(y, 1f)) : t;

    private static Tensor Produce(Tensor x, Tensor w, ConvWindow? win) =>
        win is null ? Ops.Linear(x, w, null) : Ops.Conv2d(x, w, null, win.Stride, win.Stride, win.Padding, win.Padding);

    private static Tensor Consume(Tensor extra, Tensor w, ConvWindow? win) =>
        win is null ? Ops.Linear(Ops.Flatten(extra), w, null) : Ops.Conv2d(extra, w, null, win.Stride, win.Stride, win.Padding, win.Padding);

    // the layers after the producer up to the site's activation; the new candidates of site `fresh` (null: the old
    // neurons) see what a new channel gets, see Fresh
    private Tensor Tail(Tensor t, int producer, int capture, Site? fresh)
    {
        for (int j = producer + 1; j <= capture; j++)
        {
            if (fresh is not null)
            {
                t = Fresh(t, j, fresh);
                continue;
            }
            if (_layers[j] is BatchNorm bn && j + 1 <= capture && BatchNorm.Fusable(_layers[j + 1]) is { } act)
            {
                t = bn.Forward(t, act);   // fused, as Sequential runs it
                j++;
                continue;
            }
            t = _layers[j].Forward(t);
        }
        return t;
    }

    // layer j on site s's new candidates: a BatchNorm as the identity BatchNorm of a new channel, a depthwise conv with
    // a new channel's filter and bias (the Dirac filter), any other layer (activation, pooling, Flatten) as it is
    private Tensor Fresh(Tensor t, int j, Site s)
    {
        if (_layers[j] is BatchNorm bn) return Ops.MulScalar(t, 1f / MathF.Sqrt(1f + bn.Config.Eps));
        if (_depthwise[j] is { } win)
            return Ops.Conv2d(t, s.DwFilter!, s.DwBias, win.Stride, win.Stride, win.Padding, win.Padding, groups: s.New);
        return _layers[j].Forward(t);
    }
}
