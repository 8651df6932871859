using MathNet.Numerics.LinearAlgebra;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Growth;

/// <summary>
/// GradMax (Evci et al. 2022): new neurons get zero (or ε-scaled) incoming weights and zero bias, and outgoing weights
/// along the top left singular vectors of G = ∂L/∂W_aux, the gradient of a zero auxiliary layer W_aux that maps the
/// producer's input a_{l−1} straight to the consumer's pre-activation z_{l+1}: G = Σ_batch δ_{l+1}ᵀ·a_{l−1},
/// shape [consumer outputs, producer fan-in]. With zero incoming weights (and an activation whose derivative at 0 is 1,
/// <see cref="ActivationKind.ReluOne"/>) the new neurons' incoming gradient right after insertion is W_newᵀ·G, whose
/// norm these directions maximise for a given outgoing norm. As the method requires, a plain ReLU between the grown
/// producer and its consumer is switched to <see cref="ActivationKind.ReluOne"/> (same values; with derivative 0 at 0
/// the zero-incoming neurons would never get a gradient). The SVD is MathNet.Numerics'.
/// <para>
/// More neurons than the rank of G: neuron k takes the k-th left singular vector of the full SVD, so those past the
/// rank get the remaining orthonormal directions (singular value 0: no first-order gain at insertion, but distinct
/// directions that can pick up gradient later); neurons past the consumer's output count (no direction left) get
/// zero outgoing weights. Linear sites only (conv sites are rejected with the reason).
/// </para>
/// <para>
/// Cost: <see cref="Batches"/> forward + backward passes per grown site (the model in eval mode, so no BatchNorm
/// statistics or dropout streams move), plus one SVD of G.
/// </para>
/// </summary>
public sealed class GradMaxExtender : Extender
{
    /// <summary>Creates the extender (see <see cref="GradMaxConfig"/> for the settings); <paramref name="name"/> names it in reports and its random streams.</summary>
    public GradMaxExtender(double epsilon = 0, double scale = 0.5, bool meanNorm = false, int batches = 4, int batchSize = 128, string name = "gradmax")
    {
        if (!(epsilon >= 0 && double.IsFinite(epsilon))) throw new ArgumentOutOfRangeException(nameof(epsilon), "epsilon must be a finite number ≥ 0");
        if (!(scale > 0 && double.IsFinite(scale))) throw new ArgumentOutOfRangeException(nameof(scale), "scale must be a finite number > 0");
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        (Epsilon, Scale, MeanNorm, Batches, BatchSize, Name) = (epsilon, scale, meanNorm, batches, batchSize, name);
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>Norm of a new neuron's incoming weights (0 = zeros).</summary>
    public double Epsilon { get; }

    /// <summary>Norm of a new neuron's outgoing weights (relative to the existing mean when <see cref="MeanNorm"/>).</summary>
    public double Scale { get; }

    /// <summary>Whether <see cref="Scale"/> multiplies the mean outgoing norm of the existing neurons.</summary>
    public bool MeanNorm { get; }

    /// <summary>Batches averaged into the auxiliary gradient.</summary>
    public int Batches { get; }

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Forward + backward passes run by the last <see cref="Extender.Extend"/> call (one per batch per grown site).</summary>
    public int Passes { get; private set; }

    /// <inheritdoc/>
    protected override void BeginExtend(GrowthContext ctx) => Passes = 0;

    /// <inheritdoc/>
    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng)
    {
        var model = ctx.Model;
        var site = model.Sites[siteIndex];
        if (model.IsConvSite(siteIndex))
            throw new ArgumentException($"gradmax: site {site.Name} is a conv layer; GradMax is implemented for Linear layers only");
        int old = site.Width;
        double norm = Scale;
        if (MeanNorm) norm *= MeanOutgoingNorm(site);
        var g = AuxiliaryGradient(model, siteIndex, ctx.Train, Batches, BatchSize, rng.Fork("batches"));
        Passes += PassCount(ctx.Train.Count, Batches, BatchSize);
        var dirs = Directions(g, site.OutWeight.Dim(0), site.FanIn, count);
        model.UseReluOne(siteIndex);

        int first = site.Grow(count);
        var w = new float[site.FanIn];
        var o = new float[site.FanOut];
        var inRng = rng.Fork("incoming");
        for (int k = 0; k < count; k++)
        {
            int j = first + k;
            if (Epsilon > 0)
            {
                inRng.FillUniform(w, 0, 1);
                double n2 = 0;
                foreach (float v in w) n2 += (double)v * v;
                double f = n2 > 0 ? Epsilon / Math.Sqrt(n2) : 0;
                for (int t = 0; t < w.Length; t++) w[t] = (float)(w[t] * f);
                site.SetIncoming(j, w);
            }
            site.SetBias(j, 0f);
            for (int t = 0; t < o.Length; t++) o[t] = (float)(norm * dirs[k, t]);
            site.SetOutgoing(j, o);
        }
        return new SiteExtension(site.Name, old, count);
    }

    /// <summary>
    /// The outgoing directions for <paramref name="count"/> new neurons as [count, rows], unit rows: the left singular
    /// vectors of <paramref name="g"/> [rows, cols] (row-major) by descending singular value, the full basis of the
    /// SVD (past the rank: singular value 0), zero rows past <paramref name="rows"/>.
    /// </summary>
    public static double[,] Directions(double[] g, int rows, int cols, int count)
    {
        ArgumentNullException.ThrowIfNull(g);
        if (g.Length != rows * cols) throw new ArgumentException($"gradient has {g.Length} entries, expected {rows}·{cols}");
        var m = Matrix<double>.Build.Dense(rows, cols, (i, j) => g[i * cols + j]);
        var u = m.Svd(computeVectors: true).U; // rows × rows, columns by descending singular value
        var d = new double[count, rows];
        for (int k = 0; k < Math.Min(count, rows); k++)
            for (int i = 0; i < rows; i++) d[k, i] = u[i, k];
        return d;
    }

    /// <summary>
    /// G = ∂L/∂W_aux for the zero bypass of site <paramref name="siteIndex"/> (see <see cref="GrowableModel.ForwardWithBypass"/>),
    /// row-major [consumer outputs, producer fan-in], averaged over up to <paramref name="batches"/> batches of
    /// <paramref name="batchSize"/> samples drawn without replacement from <paramref name="data"/> with <paramref name="rng"/>.
    /// Each batch is one gradient-only pass of a <see cref="Trainer"/> on a wrapper whose only extra parameter is the
    /// zero bypass: the autograd then yields Σ δᵀ·a directly, without capturing δ by hand. The model runs in eval mode.
    /// </summary>
    public static double[] AuxiliaryGradient(GrowableModel model, int siteIndex, InMemoryDataset data, int batches, int batchSize, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(rng);
        if (data.Count == 0) throw new ArgumentException("gradmax needs training data for its gradient");
        var site = model.Sites[siteIndex];
        int rows = site.OutWeight.Dim(0), cols = site.FanIn;
        var wrapper = new Bypass(model, siteIndex, rows, cols);
        var loss = data.HasTargets ? Loss.Mse : Loss.CrossEntropy;
        var trainer = new Trainer(wrapper, optimizer: null, loss) { Name = "gradmax gradient" };
        var order = rng.Permutation(data.Count);
        int passes = PassCount(data.Count, batches, batchSize);
        var g = new double[rows * cols];
        bool was = model.Module.IsTraining;
        model.Module.Eval();
        try
        {
            for (int b = 0; b < passes; b++)
            {
                int start = b * batchSize, n = Math.Min(batchSize, data.Count - start);
                trainer.Backward(data.Gather(order, start, n));
                var gs = wrapper.Weight.Grad!.Span;
                for (int i = 0; i < g.Length; i++) g[i] += gs[i];
            }
        }
        finally
        {
            model.Module.Train(was);
            model.Module.ZeroGrad();
        }
        for (int i = 0; i < g.Length; i++) g[i] /= passes;
        return g;
    }

    private static int PassCount(int samples, int batches, int batchSize) =>
        (int)Math.Min(batches, ((long)samples + batchSize - 1) / batchSize);

    private static double MeanOutgoingNorm(GrowthSite site)
    {
        if (site.Width == 0) return 1;
        var o = new float[site.FanOut];
        double sum = 0;
        for (int i = 0; i < site.Width; i++)
        {
            site.GetOutgoing(i, o);
            double n2 = 0;
            foreach (float v in o) n2 += (double)v * v;
            sum += Math.Sqrt(n2);
        }
        return sum / site.Width;
    }

    // the model with a zero auxiliary Linear from the producer's input to the consumer's pre-activation
    private sealed class Bypass : Module
    {
        private readonly GrowableModel _model;
        private readonly int _site;

        public Bypass(GrowableModel model, int site, int rows, int cols)
        {
            _model = model;
            _site = site;
            RegisterModule("model", model.Module);
            Weight = RegisterParameter("bypass", Tensor.Zeros(rows, cols).Persist());
        }

        public Tensor Weight { get; }

        public override Tensor Forward(Tensor x) => _model.ForwardWithBypass(x, _site, Weight);
    }
}
