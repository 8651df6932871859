using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Growth;

/// <summary>How SVoD turns probe scores into an allocation.</summary>
public enum SvodRule
{
    /// <summary>Paper: every probe with dL/dz &lt; 0 votes for its layer; votes normalised, largest-remainder rounding.</summary>
    Votes,
    /// <summary>Authors' code: pool all probes, the N most negative scores win, each layer gets its winners' count.</summary>
    TopN,
}

/// <summary>Settings of the Steepest Voting Distributor.</summary>
/// <param name="Rule">Votes (paper) or top-N (code).</param>
/// <param name="ProbesPerLayer">Probes per layer; 0 = twice the stage total (code).</param>
/// <param name="ProbeInit">Probe incoming, bias and outgoing weights U(−a, a).</param>
/// <param name="TrainEpochs">Epochs the probe-extended copy trains before scoring (code: 1, RMSprop).</param>
/// <param name="RmsPropLearningRate">RMSprop learning rate of that training.</param>
/// <param name="RmsPropMomentum">RMSprop momentum.</param>
/// <param name="RmsPropAlpha">RMSprop α.</param>
/// <param name="BatchSize">Mini-batch size for training and scoring.</param>
/// <param name="ScoreBatches">Batches averaged for the score (paper: one forward-backward pass; ≤ 0 = a full epoch).</param>
public sealed record SvodOptions(
    SvodRule Rule = SvodRule.Votes,
    int ProbesPerLayer = 0,
    double ProbeInit = 0.01,
    int TrainEpochs = 0,
    double RmsPropLearningRate = 1e-3,
    double RmsPropMomentum = 0.1,
    double RmsPropAlpha = 0.9,
    int BatchSize = 1000,
    int ScoreBatches = 1)
{
    /// <summary>Paper: one forward-backward pass on one batch of 1000, negative-gradient votes.</summary>
    public static SvodOptions Paper { get; } = new();

    /// <summary>Authors' code: 2N probes per layer, one RMSprop epoch, scores averaged over an epoch, top N.</summary>
    public static SvodOptions TopN { get; } = new(SvodRule.TopN, 0, 0.01, 1, 1e-3, 0.1, 0.9, 100, 0);
}

/// <summary>
/// Steepest Voting Distributor (paper 000 §2.4). Temporary probe neurons are appended to every growable layer; a
/// probe's output is φ((1+z)u) with u its pre-activation. dL/dz at z = 0 equals Σ_batch dL/du·u = ⟨θ, ∂L/∂θ⟩ over
/// the probe's incoming weights and bias θ, so it is read from ordinary weight gradients (any layer type, any
/// activation). The real model is snapshotted before and restored bit for bit afterwards.
/// </summary>
public sealed class SteepestVotingDistributor : Distributor
{
    private readonly string _name;

    /// <summary>Creates the distributor.</summary>
    public SteepestVotingDistributor(SvodOptions options, string name = "svod")
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        _name = name;
    }

    /// <summary>Its settings.</summary>
    public SvodOptions Options { get; }

    /// <inheritdoc/>
    public override string Name => _name;

    /// <summary>Every probe's dL/dz from the last call, per site.</summary>
    public IReadOnlyList<double[]>? LastScores { get; private set; }

    /// <inheritdoc/>
    public override int[] Allocate(GrowthContext ctx, int total)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var scores = ProbeScores(ctx, total);
        LastScores = scores;
        if (Options.Rule == SvodRule.TopN)
        {
            var counts = TopNAllocation(scores, total);
            LastVotes = counts.Select(c => (double)c).ToArray();
            return counts;
        }
        LastVotes = scores.Select(s => (double)s.Count(v => v < 0)).ToArray();
        return VoteAllocation(scores, total);
    }

    /// <summary>Paper rule: votes = probes with negative score per layer, normalised, largest-remainder rounding.</summary>
    public static int[] VoteAllocation(IReadOnlyList<double[]> scores, int total)
    {
        ArgumentNullException.ThrowIfNull(scores);
        return Apportion.LargestRemainder(scores.Select(s => (double)s.Count(v => v < 0)).ToArray(), total);
    }

    /// <summary>Code rule: the <paramref name="total"/> most negative scores of the pooled probes; count per layer.</summary>
    public static int[] TopNAllocation(IReadOnlyList<double[]> scores, int total)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var pool = scores.SelectMany((s, layer) => s.Select((v, i) => (v, layer, i)))
            .OrderBy(t => t.v).ThenBy(t => t.layer).ThenBy(t => t.i).Take(total).ToList();
        var counts = new int[scores.Count];
        foreach (var t in pool) counts[t.layer]++;
        // fewer probes than neurons to place: spread the rest by the same shares
        int missing = total - pool.Count;
        if (missing > 0)
        {
            var extra = Apportion.LargestRemainder(counts.Select(c => (double)c).ToArray(), missing);
            for (int i = 0; i < counts.Length; i++) counts[i] += extra[i];
        }
        return counts;
    }

    /// <summary>dL/dz of every probe, per site; the model is left exactly as it was.</summary>
    public double[][] ProbeScores(GrowthContext ctx, int total)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var o = Options;
        var model = ctx.Model;
        var sites = model.Sites;
        var data = ctx.Train;
        int probes = o.ProbesPerLayer > 0 ? o.ProbesPerLayer : Math.Max(1, 2 * total);
        var rng = ctx.Rng.Fork($"svod/{ctx.Stage}");
        var snapshot = new ParameterSnapshot(model.Module);
        bool wasTraining = model.Module.IsTraining;
        var firsts = new int[sites.Count];
        var scores = sites.Select(_ => new double[probes]).ToArray();
        try
        {
            var init = rng.Fork("probes");
            for (int k = 0; k < sites.Count; k++)
            {
                var s = sites[k];
                firsts[k] = s.Grow(probes);
                var w = new float[s.FanIn];
                var ow = new float[s.FanOut];
                for (int p = firsts[k]; p < firsts[k] + probes; p++)
                {
                    init.FillUniform(w, -o.ProbeInit, o.ProbeInit);
                    s.SetIncoming(p, w);
                    s.SetBias(p, (float)init.Uniform(-o.ProbeInit, o.ProbeInit));
                    init.FillUniform(ow, -o.ProbeInit, o.ProbeInit);
                    s.SetOutgoing(p, ow);
                }
            }
            int bs = Math.Min(o.BatchSize, data.Count);
            model.Module.Train();
            if (o.TrainEpochs > 0)
            {
                var opt = new RmsProp(model.Parameters(), o.RmsPropLearningRate, o.RmsPropAlpha, momentum: o.RmsPropMomentum);
                var trainer = new Trainer(model.Module, opt, Loss.For(data)) { Name = "SVoD's probe training", Stop = ctx.Stop ?? new StopSignal() };
                foreach (var cb in ctx.Callbacks) trainer.Add(cb);
                trainer.Fit(data, rng.Fork("train"), bs, o.TrainEpochs);
            }
            int batches = o.ScoreBatches > 0 ? Math.Min(o.ScoreBatches, Math.Max(1, data.Count / bs)) : Math.Max(1, data.Count / bs);
            var order = rng.Fork("score").Permutation(data.Count);
            var grads = sites.Select(s => new float[s.Width * s.IncomingLength]).ToArray();
            // scoring: gradients only (no update), on the model in training mode as it was trained
            var scorer = new Trainer(model.Module, optimizer: null, Loss.For(data)) { Name = "SVoD's probe scoring" };
            for (int b = 0; b < batches; b++)
            {
                scorer.Backward(data.Gather(order, b * bs, bs));
                for (int k = 0; k < sites.Count; k++)
                {
                    var s = sites[k];
                    int d = s.IncomingLength;
                    s.IncomingGradient(grads[k]);
                    var theta = s.IncomingMatrix();
                    for (int p = 0; p < probes; p++)
                    {
                        int row = firsts[k] + p;
                        scores[k][p] += System.Numerics.Tensors.TensorPrimitives.Dot(theta.AsSpan(row * d, d), grads[k].AsSpan(row * d, d)) / batches;
                    }
                }
            }
        }
        finally
        {
            snapshot.Restore();
            model.Module.ZeroGrad();
            model.Module.Train(wasTraining);
        }
        return scores;
    }
}
