using Sprout.Autograd;
using Sprout.Diagnostics;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Growth;

/// <summary>
/// A network seen as a list of <see cref="GrowthSite"/>s, found from what its layers declare
/// (<see cref="Module.GrowthRole"/>, read by <see cref="Models.GrowableLayers(IReadOnlyList{Module})"/>): every growable
/// producer (Linear, Conv2d with one group) whose outputs reach a later consumer through width-tied layers (BatchNorm)
/// and pass-through layers (activations, pooling, dropout, Flatten) is a site.
/// </summary>
public sealed class GrowableModel
{
    private readonly Sequential _seq;
    private readonly List<GrowthSite> _sites = new();
    private readonly List<int> _captureAfter = new();   // module index whose output is the site's post-activation
    private readonly List<int> _producer = new();       // module index of the site's producing layer
    private readonly List<int> _consumer = new();       // module index of the site's consuming layer
    private readonly List<ConvWindow?> _window = new(); // the producer's conv window, null for a Linear

    /// <summary>
    /// Wraps a Sequential (the model's layers are used in place). Growable: every layer declared
    /// <see cref="GrowableRole"/> whose outputs reach a later one through layers declared width-tied or pass-through.
    /// A BatchNorm (<see cref="NormRole"/>) in between grows with its producer; after a Flatten a conv gives the Linear
    /// H·W inputs per channel. A depthwise conv in between (MobileNet's depthwise-separable blocks: producer → BN → act →
    /// depthwise → BN → act → pointwise consumer) grows with its producer: its filter, bias and the BatchNorm after it
    /// are the site's <see cref="GrowthSite.Tied"/> tensors; a fresh channel gets a Dirac filter (centre tap 1, so the
    /// depthwise conv passes the new channel through, subsampled by its stride) and identity BatchNorm, a split or copy
    /// copies its parent's. Layers declared <see cref="UnsupportedRole"/> (locally connected, grouped convs) are
    /// rejected with the reason, unless <paramref name="requireGrowable"/> is false (a run that never grows, e.g. a locally
    /// connected network trained as it is: the sites found beside such layers are kept, the layers themselves stay fixed).
    /// With <paramref name="linearOnly"/> only Linear producers are sites: a conv backbone keeps its size and only the MLP
    /// head grows (paper 000's CIFAR protocol).
    /// </summary>
    public GrowableModel(Sequential model, bool linearOnly = false, bool requireGrowable = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        _seq = model;
        var layers = model.Layers;
        var roles = layers.Select(l => l.GrowthRole).ToArray();
        for (int i = 0; i < roles.Length; i++)
            if (roles[i] is UnsupportedRole u && requireGrowable)
                throw new ArgumentException($"growth cannot pass layer {i} ({layers[i]}): {u.Reason}");
        var found = Models.GrowableLayers(layers);
        int fc = 0, conv = 0;
        for (int k = 0; k < found.Count; k++)
        {
            var (pi, ci) = (found[k].Producer, found[k].Consumer);
            var producer = (GrowableRole)roles[pi];
            var consumer = (GrowableRole)roles[ci];
            if (linearOnly && producer.Window is not null) continue;
            NormParams? norm = null;
            var tied = new List<TiedTensor>();
            int depthwise = -1, normsAfter = 0;
            foreach (int t in found[k].Tied)
            {
                switch (roles[t])
                {
                    case NormRole n when depthwise < 0 && norm is null:
                        norm = new NormParams(n.Gamma, n.Beta, n.RunningMean, n.RunningVar);
                        break;
                    case NormRole n when depthwise >= 0 && normsAfter++ == 0:
                        // a BatchNorm after the depthwise conv: its new channels start as the identity too
                        if (n.Gamma is not null) tied.Add(new TiedTensor(n.Gamma, [1f]));
                        if (n.Beta is not null) tied.Add(new TiedTensor(n.Beta, [0f]));
                        if (n.RunningMean is not null) tied.Add(new TiedTensor(n.RunningMean, [0f]));
                        if (n.RunningVar is not null) tied.Add(new TiedTensor(n.RunningVar, [1f]));
                        break;
                    case NormRole:
                        throw new ArgumentException($"layers {pi}–{ci} have two normalisations in a row; growth supports one after a layer and one after a depthwise conv");
                    case DepthwiseRole d when depthwise < 0:
                        depthwise = t;
                        tied.Add(new TiedTensor(d.Weight, DiracFilter(d.Weight)));
                        if (d.Bias is not null) tied.Add(new TiedTensor(d.Bias, [0f]));
                        break;
                    case DepthwiseRole:
                        throw new ArgumentException($"layers {pi}–{ci} have two depthwise convs; growth supports one between a layer and its consumer");
                    default:
                        throw new ArgumentException($"layer {t} ({layers[t]}) is tied to the width of layer {pi} in a way growth does not implement yet");
                }
            }
            int capture = ci - 1;
            for (int j = pi + 1; j < ci; j++)
                if (roles[j] is PassThroughRole { IsActivation: true }) capture = j; // the activation output is what "inactive" is measured on
            // readable names for reports and logs: fc1, fc2, … and conv1, conv2, … in network order
            string name = producer.Window is null ? "fc" + (++fc).ToString(System.Globalization.CultureInfo.InvariantCulture)
                                                       : "conv" + (++conv).ToString(System.Globalization.CultureInfo.InvariantCulture);
            _sites.Add(new GrowthSite(name, producer.Weight, producer.Bias,
                consumer.Weight, 1, found[k].ConsumerBlock, consumer.Bias, norm, tied));
            _captureAfter.Add(capture);
            _producer.Add(pi);
            _consumer.Add(ci);
            _window.Add(producer.Window);
        }
        if (_sites.Count == 0) throw new ArgumentException("the model has no hidden layer to grow");
    }

    // a depthwise filter [C, 1, k, k] whose only non-zero entry is its centre tap (k/2, k/2)
    private static float[] DiracFilter(Tensor w)
    {
        int kh = w.Rank > 2 ? w.Dim(2) : 1, kw = w.Rank > 3 ? w.Dim(3) : 1;
        var e = new float[w.Length / Math.Max(1, w.Dim(0))];
        if (e.Length == kh * kw) e[kh / 2 * kw + kw / 2] = 1f;
        return e;
    }

    /// <summary>Index (in <see cref="Sequential.Layers"/>) of site <paramref name="siteIndex"/>'s producing layer.</summary>
    public int ProducerLayer(int siteIndex) => _producer[siteIndex];

    /// <summary>Index (in <see cref="Sequential.Layers"/>) of site <paramref name="siteIndex"/>'s consuming layer.</summary>
    public int ConsumerLayer(int siteIndex) => _consumer[siteIndex];

    /// <summary>Whether site <paramref name="siteIndex"/> grows conv channels (rather than Linear neurons).</summary>
    public bool IsConvSite(int siteIndex) => _window[siteIndex] is not null;

    /// <summary>The wrapped module.</summary>
    public Sequential Module => _seq;

    /// <summary>Growable sites, bottom (nearest the input) first.</summary>
    public IReadOnlyList<GrowthSite> Sites => _sites;

    /// <summary>Current hidden widths, one per site.</summary>
    public int[] Widths() => _sites.Select(s => s.Width).ToArray();

    /// <summary>Forward pass.</summary>
    public Tensor Forward(Tensor x) => _seq.Forward(x);

    /// <summary>
    /// Forward pass that also returns each site's post-activation output ([batch, width]), in the current scope.
    /// </summary>
    public (Tensor Output, Tensor[] Hidden) ForwardCapture(Tensor x)
    {
        var hidden = new Tensor[_sites.Count];
        var layers = _seq.Layers;
        int next = 0;
        for (int i = 0; i < layers.Count; i++)
        {
            x = layers[i].Forward(x);
            if (next < _captureAfter.Count && _captureAfter[next] == i) hidden[next++] = x;
        }
        return (x, hidden);
    }

    /// <summary>
    /// The input of site <paramref name="siteIndex"/>'s producer for a batch as rows of its fan-in (scope temporary):
    /// [batch, FanIn] for a Linear; for a Conv2d one row per (sample, output position) holding that position's input
    /// patch, [batch·OH·OW, C·k·k] — a conv channel is one neuron applied at every position. With
    /// <paramref name="atProducer"/>, <paramref name="x"/> is already the producer's input (no layer runs).
    /// </summary>
    public Tensor SiteInput(Tensor x, int siteIndex, bool atProducer = false)
    {
        var layers = _seq.Layers;
        for (int i = 0; i < (atProducer ? 0 : _producer[siteIndex]); i++) x = layers[i].Forward(x);
        return _window[siteIndex] is { } cfg ? Patches(x, cfg) : Ops.Flatten(x);
    }

    /// <summary>
    /// The input patches of a conv window over <paramref name="x"/> [batch, C, H, W] as rows (scope temporary):
    /// [batch·OH·OW, C·k·k], one row per (sample, output position), entries in the (channel, ky, kx) order of a conv weight.
    /// </summary>
    public static Tensor Patches(Tensor x, ConvWindow window)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(window);
        int n = x.Dim(0);
        var g = new Kernels.ConvGeometry(x.Dim(1), x.Dim(2), x.Dim(3), window.Kernel, window.Kernel, window.Stride, window.Stride, window.Padding, window.Padding);
        int p = g.OH * g.OW, k = g.K;
        var rows = Tensor.Empty(n * p, k);
        var col = new float[k * p];
        var xs = x.Span;
        var rs = rows.Span;
        for (int i = 0; i < n; i++)
        {
            Kernels.ConvGemm.PackColumns(xs.Slice(i * g.C * g.H * g.W, g.C * g.H * g.W), g, 0, p, col, p);
            for (int t = 0; t < k; t++)
                for (int pos = 0; pos < p; pos++) rs[(i * p + pos) * k + t] = col[t * p + pos];
        }
        return rows;
    }

    /// <summary>Site <paramref name="siteIndex"/>'s producer's conv window (null for a Linear producer).</summary>
    public ConvWindow? ProducerWindow(int siteIndex) => _window[siteIndex];



    /// <summary>
    /// Site <paramref name="siteIndex"/>'s pre-activations (the producer's output) as rows of its width (scope
    /// temporary): [batch, width] for a Linear, [batch·OH·OW, channels] for a Conv2d (rows in the order of
    /// <see cref="SiteInput"/>).
    /// </summary>
    public Tensor PreActivations(Tensor x, int siteIndex)
    {
        var layers = _seq.Layers;
        for (int i = 0; i <= _producer[siteIndex]; i++) x = layers[i].Forward(x);
        if (_window[siteIndex] is null) return x;
        return Ops.Reshape(Ops.Permute(x, 0, 2, 3, 1), -1, x.Dim(1));
    }

    /// <summary>
    /// Turns every plain ReLU between site <paramref name="siteIndex"/>'s producer and its consumer into
    /// <see cref="ActivationKind.ReluOne"/> (same values, derivative 1 at 0, so neurons with zero incoming weights still
    /// get a gradient). Returns how many layers were switched.
    /// </summary>
    public int UseReluOne(int siteIndex)
    {
        int n = 0;
        var layers = _seq.Layers;
        for (int i = _producer[siteIndex] + 1; i < _consumer[siteIndex]; i++)
            if (layers[i] is Activation { Config.Kind: ActivationKind.Relu } a)
            {
                _seq.ReplaceLayer(i, new Activation(a.Config with { Kind = ActivationKind.ReluOne }));
                n++;
            }
        return n;
    }

    /// <summary>
    /// Forward pass with a bypass (GradMax's auxiliary layer): the input of site <paramref name="siteIndex"/>'s producer,
    /// flattened to [batch, FanIn], is mapped by <paramref name="bypass"/> [consumer outputs, FanIn] and added to the
    /// consumer's output (its pre-activation), so the gradient of the loss w.r.t. <paramref name="bypass"/> is
    /// Σ_batch δᵀ·a with δ the consumer's pre-activation gradient and a the producer's input. Linear sites only.
    /// </summary>
    public Tensor ForwardWithBypass(Tensor x, int siteIndex, Tensor bypass)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(bypass);
        if (_window[siteIndex] is not null) throw new NotSupportedException($"site {_sites[siteIndex].Name}: a bypass around a conv site is not implemented");
        var layers = _seq.Layers;
        Tensor? a = null;
        for (int i = 0; i < layers.Count; i++)
        {
            if (i == _producer[siteIndex]) a = Ops.Flatten(x);
            x = layers[i].Forward(x);
            if (i == _consumer[siteIndex]) x = Ops.Add(x, Ops.Linear(a!, bypass, null));
        }
        return x;
    }

    /// <summary>Runs the layers before site <paramref name="siteIndex"/>'s producer: the producer's input as that layer sees it.</summary>
    public Tensor ForwardToProducer(Tensor x, int siteIndex)
    {
        var layers = _seq.Layers;
        for (int i = 0; i < _producer[siteIndex]; i++) x = layers[i].Forward(x);
        return x;
    }

    /// <summary>Runs site <paramref name="siteIndex"/>'s producer and every later layer on the producer's input (see <see cref="ForwardToProducer"/>).</summary>
    public Tensor ForwardFromProducer(Tensor producerInput, int siteIndex)
    {
        var layers = _seq.Layers;
        var x = producerInput;
        for (int i = _producer[siteIndex]; i < layers.Count; i++) x = layers[i].Forward(x);
        return x;
    }

    /// <summary>
    /// Forward pass for TINY's statistics: adds <paramref name="shift"/>(z) to the output z of site
    /// <paramref name="siteIndex"/>'s consumer (a zero tensor of z's shape in practice, so the gradient of the loss
    /// w.r.t. it is the per-sample gradient of the consumer's pre-activation), and reports the producer's input and the
    /// consumer's input (as those layers see them) to the callbacks as the pass goes.
    /// </summary>
    public Tensor ForwardWithConsumerShift(Tensor x, int siteIndex, Func<Tensor, Tensor> shift, Action<Tensor> producerInput, Action<Tensor> consumerInput)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(shift);
        ArgumentNullException.ThrowIfNull(producerInput);
        ArgumentNullException.ThrowIfNull(consumerInput);
        var layers = _seq.Layers;
        for (int i = 0; i < layers.Count; i++)
        {
            if (i == _producer[siteIndex]) producerInput(x);
            if (i == _consumer[siteIndex]) consumerInput(x);
            x = layers[i].Forward(x);
            if (i == _consumer[siteIndex]) x = Ops.Add(x, shift(x));
        }
        return x;
    }

    /// <summary>
    /// Per site, the index of the module (in <see cref="Sequential.Layers"/>) whose output is the site's post-activation
    /// output — what "inactive" is measured on.
    /// </summary>
    public IReadOnlyList<int> SiteOutputLayers => _captureAfter;

    /// <summary>Which neurons of every site fired on at least one sample of <paramref name="data"/> (see <see cref="NeuronActivity"/>).</summary>
    public LayerActivity[] Activity(InMemoryDataset data, int batchSize = 1000) =>
        NeuronActivity.Measure(_seq, _captureAfter, data, _sites.ConvertAll(s => s.Name), batchSize);

    /// <summary>
    /// <see cref="Activity(InMemoryDataset, int)"/> and the loss and accuracy of <paramref name="loss"/> on <paramref name="data"/> from one
    /// forward pass (the same statistics as <see cref="Trainer.Evaluate"/> with the same batch size).
    /// </summary>
    public LayerActivity[] Activity(InMemoryDataset data, Loss loss, out EpochStats stats, int batchSize = 1000) =>
        NeuronActivity.MeasureWithLoss(_seq, _captureAfter, data, loss, out stats, _sites.ConvertAll(s => s.Name), batchSize);

    /// <summary>Pairwise cosines of the incoming weights of neurons [first, first+count) of site <paramref name="siteIndex"/>.</summary>
    public CosineSummary Cosines(int siteIndex, int first, int count) => WeightSimilarity.Cosines(_sites[siteIndex].InWeight, first, count);

    /// <summary>Every parameter.</summary>
    public IEnumerable<Tensor> Parameters() => _seq.Parameters();

    /// <summary>Copies of all parameters' data (row-major), in <see cref="Parameters"/> order.</summary>
    public float[][] CopyWeights() => Parameters().Select(p => p.ToArray()).ToArray();

    /// <summary>Logits of a batch without recording gradients (a persistent copy), <paramref name="batchSize"/> rows at a
    /// time (0: all at once); evaluation mode, so the rows do not affect each other.</summary>
    public float[] Logits(Tensor x, int batchSize = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        bool was = _seq.IsTraining;
        _seq.Eval();
        int n = x.Dim(0), bs = batchSize <= 0 ? n : Math.Min(batchSize, n);
        var parts = new List<float[]>();
        try
        {
            using (Graph.NoGrad())
                for (int start = 0; start < n; start += bs)
                    using (TensorScope.Begin())
                        parts.Add(Forward(x.RowsView(start, Math.Min(bs, n - start))).ToArray());
        }
        finally
        {
            _seq.Train(was);
        }
        return parts.Count == 1 ? parts[0] : parts.SelectMany(p => p).ToArray();
    }
}
