using Sprout.Autograd;
using Sprout.Nn;
using Sprout.Tensors;

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

    /// <summary>Wraps a Sequential (the model's layers are used in place).</summary>
    public GrowableModel(Sequential model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _seq = model;
        var layers = model.Layers;
        var linearIdx = new List<int>();
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i] is Linear) linearIdx.Add(i);
            else if (layers[i] is not Activation and not Flatten)
                throw new ArgumentException($"growth supports Linear, Activation and Flatten layers so far; layer {i} is {layers[i]}");
        }
        for (int k = 0; k + 1 < linearIdx.Count; k++)
        {
            var prod = (Linear)layers[linearIdx[k]];
            var cons = (Linear)layers[linearIdx[k + 1]];
            _sites.Add(new GrowthSite(k.ToString(System.Globalization.CultureInfo.InvariantCulture), prod.Weight, prod.Bias, cons.Weight, 1, 1, cons.Bias));
            _captureAfter.Add(linearIdx[k + 1] - 1);
            _producer.Add(linearIdx[k]);
        }
        if (_sites.Count == 0) throw new ArgumentException("the model has no hidden layer to grow");
    }

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

    /// <summary>The input of site <paramref name="siteIndex"/>'s producer for a batch ([batch, FanIn]; scope temporary).</summary>
    public Tensor SiteInput(Tensor x, int siteIndex)
    {
        var layers = _seq.Layers;
        for (int i = 0; i < _producer[siteIndex]; i++) x = layers[i].Forward(x);
        return Ops.Flatten(x);
    }

    /// <summary>Site <paramref name="siteIndex"/>'s pre-activations for a batch ([batch, width]; scope temporary).</summary>
    public Tensor PreActivations(Tensor x, int siteIndex)
    {
        var layers = _seq.Layers;
        for (int i = 0; i <= _producer[siteIndex]; i++) x = layers[i].Forward(x);
        return x;
    }

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
