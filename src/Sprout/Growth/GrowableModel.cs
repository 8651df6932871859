using Sprout.Autograd;
using Sprout.Diagnostics;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Growth;

/// <summary>
/// A network seen as a list of <see cref="GrowthSite"/>s. Built from a <see cref="Sequential"/>: every Linear that is
/// followed (after activations) by another Linear is a site whose consumer is that next Linear. Conv2d and
/// BatchNorm sites plug in through the same <see cref="GrowthSite"/> (axis, block, <see cref="NormParams"/>) once
/// those layers exist.
/// </summary>
public sealed class GrowableModel
{
    private readonly Sequential _seq;
    private readonly List<GrowthSite> _sites = new();
    private readonly List<int> _captureAfter = new();   // module index whose output is the site's post-activation
    private readonly List<int> _producer = new();       // module index of the site's producing layer

    /// <summary>
    /// Wraps a Sequential (the model's layers are used in place). Growable: every Linear or Conv2d (one group) whose
    /// outputs reach a later Linear or Conv2d through activations, BatchNorm, pooling, dropout or Flatten. A BatchNorm in
    /// between grows with its producer; a Conv2d feeding a Linear through Flatten gives the Linear H·W inputs per
    /// channel. Depthwise convs and locally connected layers are not supported yet and are rejected.
    /// </summary>
    public GrowableModel(Sequential model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _seq = model;
        var layers = model.Layers;
        var param = new List<int>();
        for (int i = 0; i < layers.Count; i++)
        {
            switch (layers[i])
            {
                case Linear:
                case Conv2d { Config.Groups: 1 }:
                    param.Add(i);
                    break;
                case Activation or Flatten or BatchNorm or Pool or Dropout:
                    break;
                default:
                    throw new ArgumentException($"growth supports Linear, Conv2d (one group), BatchNorm, pooling, dropout, activations and Flatten; layer {i} is {layers[i]}");
            }
        }
        for (int k = 0; k + 1 < param.Count; k++)
        {
            int pi = param[k], ci = param[k + 1];
            var (inW, inB) = layers[pi] is Linear pl ? (pl.Weight, pl.Bias) : (((Conv2d)layers[pi]).Weight, ((Conv2d)layers[pi]).Bias);
            var (outW, outB) = layers[ci] is Linear cl ? (cl.Weight, cl.Bias) : (((Conv2d)layers[ci]).Weight, ((Conv2d)layers[ci]).Bias);
            NormParams? norm = null;
            int capture = ci - 1;
            for (int j = pi + 1; j < ci; j++)
            {
                if (layers[j] is BatchNorm bn && norm is null) norm = new NormParams(bn.Gamma, bn.Beta, bn.RunningMean, bn.RunningVar);
                if (layers[j] is Activation) capture = j; // the activation output is what "inactive" is measured on
            }
            int width = inW.Dim(0);
            int block = 1;
            if (layers[pi] is Conv2d && layers[ci] is Linear)
            {
                if (outW.Dim(1) % width != 0)
                    throw new ArgumentException($"layer {ci} has {outW.Dim(1)} inputs, not a whole number per channel of layer {pi} ({width})");
                block = outW.Dim(1) / width;
            }
            _sites.Add(new GrowthSite(k.ToString(System.Globalization.CultureInfo.InvariantCulture), inW, inB, outW, 1, block, outB, norm));
            _captureAfter.Add(capture);
            _producer.Add(pi);
            _isConv.Add(layers[pi] is Conv2d);
        }
        if (_sites.Count == 0) throw new ArgumentException("the model has no hidden layer to grow");
    }

    private readonly List<bool> _isConv = new();

    /// <summary>Whether site <paramref name="siteIndex"/> grows conv channels (rather than Linear neurons).</summary>
    public bool IsConvSite(int siteIndex) => _isConv[siteIndex];

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
    /// patch, [batch·OH·OW, C·k·k] — a conv channel is one neuron applied at every position.
    /// </summary>
    public Tensor SiteInput(Tensor x, int siteIndex)
    {
        var layers = _seq.Layers;
        for (int i = 0; i < _producer[siteIndex]; i++) x = layers[i].Forward(x);
        if (!_isConv[siteIndex]) return Ops.Flatten(x);
        var conv = (Conv2d)layers[_producer[siteIndex]];
        var cfg = conv.Config;
        int n = x.Dim(0);
        var g = new Kernels.ConvGeometry(x.Dim(1), x.Dim(2), x.Dim(3), cfg.Kernel, cfg.Kernel, cfg.Stride, cfg.Stride, cfg.Padding, cfg.Padding);
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

    /// <summary>
    /// Site <paramref name="siteIndex"/>'s pre-activations (the producer's output) as rows of its width (scope
    /// temporary): [batch, width] for a Linear, [batch·OH·OW, channels] for a Conv2d (rows in the order of
    /// <see cref="SiteInput"/>).
    /// </summary>
    public Tensor PreActivations(Tensor x, int siteIndex)
    {
        var layers = _seq.Layers;
        for (int i = 0; i <= _producer[siteIndex]; i++) x = layers[i].Forward(x);
        if (!_isConv[siteIndex]) return x;
        return Ops.Reshape(Ops.Permute(x, 0, 2, 3, 1), -1, x.Dim(1));
    }

    /// <summary>
    /// Per site, the index of the module (in <see cref="Sequential.Layers"/>) whose output is the site's post-activation
    /// output — what "inactive" is measured on.
    /// </summary>
    public IReadOnlyList<int> SiteOutputLayers => _captureAfter;

    /// <summary>Which neurons of every site fired on at least one sample of <paramref name="data"/> (see <see cref="NeuronActivity"/>).</summary>
    public LayerActivity[] Activity(InMemoryDataset data, int batchSize = 1000) =>
        NeuronActivity.Measure(_seq, _captureAfter, data, _sites.ConvertAll(s => s.Name), batchSize);

    /// <summary>Pairwise cosines of the incoming weights of neurons [first, first+count) of site <paramref name="siteIndex"/>.</summary>
    public CosineSummary Cosines(int siteIndex, int first, int count) => WeightSimilarity.Cosines(_sites[siteIndex].InWeight, first, count);

    /// <summary>Every parameter.</summary>
    public IEnumerable<Tensor> Parameters() => _seq.Parameters();

    /// <summary>Copies of all parameters' data (row-major), in <see cref="Parameters"/> order.</summary>
    public float[][] CopyWeights() => Parameters().Select(p => p.ToArray()).ToArray();

    /// <summary>Logits of a batch without recording gradients (a persistent copy).</summary>
    public float[] Logits(Tensor x)
    {
        bool was = _seq.IsTraining;
        _seq.Eval();
        float[] r;
        using (Graph.NoGrad())
        using (TensorScope.Begin())
            r = Forward(x).ToArray();
        _seq.Train(was);
        return r;
    }
}
