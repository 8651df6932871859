using Sprout.Autograd;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Growth;

/// <summary>One site's part of a <see cref="FireflyPlan"/>: the candidates' scores and the chosen ones.</summary>
public sealed class FireflySitePlan
{
    internal FireflySitePlan(FireflyNetwork.Site s)
    {
        Width = s.Width;
        FanIn = s.FanIn;
        Rows = s.Rows;
        Run = s.Run;
        NewCandidates = s.New;
        NextNew = s.NextNew;
        ConsumerIsNext = s.ConsumerIsNext;
        SplitScores = new double[s.V is null ? 0 : s.Width];
        NewScores = new double[s.New];
        V = s.V?.ToArray();
        Vno = s.Vno?.ToArray();
        VniOld = s.VniOld?.ToArray();
        VniNew = s.VniNew?.ToArray();
    }

    /// <summary>The site's width when the candidates were made.</summary>
    public int Width { get; }

    /// <summary>The producer's fan-in then.</summary>
    public int FanIn { get; }

    /// <summary>New-neuron candidates at this site.</summary>
    public int NewCandidates { get; }

    /// <summary>Score (mean dL/dy; more negative = better) of splitting each existing neuron (empty: no split candidates).</summary>
    public double[] SplitScores { get; }

    /// <summary>Score of each new-neuron candidate.</summary>
    public double[] NewScores { get; }

    /// <summary>The neurons chosen to split, ascending.</summary>
    public int[] Splits { get; internal set; } = [];

    /// <summary>The new-neuron candidates chosen, ascending.</summary>
    public int[] News { get; internal set; } = [];

    /// <summary>Neurons this site grows by.</summary>
    public int Count => Splits.Length + News.Length;

    internal int Rows { get; }
    internal int Run { get; }
    internal int NextNew { get; }
    internal bool ConsumerIsNext { get; }
    internal float[]? V { get; }
    internal float[]? Vno { get; }
    internal float[]? VniOld { get; }
    internal float[]? VniNew { get; }
}

/// <summary>
/// The outcome of Firefly's candidate training and scoring for one growth step: per site the candidates' scores and
/// the chosen candidates with their trained weights. <see cref="Commit"/> turns a site's chosen candidates into
/// neurons. Built by <see cref="Build"/>; the firefly distributor leaves it in <see cref="GrowthContext.Plan"/> for the
/// firefly extender.
/// </summary>
public sealed class FireflyPlan
{
    private FireflyPlan(int stage, FireflySitePlan?[] sites, int passes, double trainSeconds, double scoreSeconds)
    {
        Stage = stage;
        Sites = sites;
        Passes = passes;
        TrainSeconds = trainSeconds;
        ScoreSeconds = scoreSeconds;
    }

    // the candidate network it was scored on (tests compare it with the committed model)
    internal FireflyNetwork? Network { get; private init; }

    /// <summary>Wall time of the candidate training (seconds).</summary>
    public double TrainSeconds { get; }

    /// <summary>Wall time of the scoring pass (seconds).</summary>
    public double ScoreSeconds { get; }

    /// <summary>The stage it was made for.</summary>
    public int Stage { get; }

    /// <summary>Per site (null: the site had no candidates).</summary>
    public IReadOnlyList<FireflySitePlan?> Sites { get; }

    /// <summary>Forward + backward passes run to make it (training batches + scoring batches).</summary>
    public int Passes { get; }

    /// <summary>Neurons each site grows by.</summary>
    public int[] Counts() => Sites.Select(s => s?.Count ?? 0).ToArray();

    /// <summary>
    /// Trains and scores candidates: <paramref name="newCounts"/>[k] new-neuron candidates at site k (−1: the site gets
    /// no candidates, not even splits). The model is frozen and in eval mode throughout (BatchNorm running statistics,
    /// no dropout), and left exactly as it was. No candidate is chosen yet (see <see cref="SelectGlobal"/>,
    /// <see cref="SelectPerSite"/>).
    /// </summary>
    public static FireflyPlan Build(GrowthContext ctx, IReadOnlyList<int> newCounts, FireflyOptions o, string name)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(o);
        var model = ctx.Model;
        var data = ctx.Train;
        if (data.Count == 0) throw new ArgumentException($"{name}: needs training data for its candidates");
        var rng = ctx.Rng.Fork($"{name}/{ctx.Stage}");
        var net = new FireflyNetwork(model, newCounts, o.SplitCandidates, o, rng.Fork("init"));
        var baseLoss = Loss.For(data);
        var loss = Loss.Custom(baseLoss.Name + " + firefly penalty", (output, batch) =>
        {
            var l = baseLoss.Compute(output, batch);
            if (net.Gated || !Graph.IsGradEnabled) return l;
            var p = net.Penalty(o.Penalty, o.NewPenalty);
            return p is null ? l : Ops.Add(l, p);
        }, baseLoss.HasAccuracy ? baseLoss.CountCorrect : null);
        int bs = Math.Min(o.BatchSize, data.Count);
        int passes = 0;
        var trainable = net.CandidateParameters;
        var gates = net.Gates;
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        using (BatchPasses.Measuring(model.Module))
        {
            using var frozen = FreezeScope.AllBut(model.Module, []);
            if (o.Epochs > 0 && trainable.Count > 0)
            {
                var opt = new RmsProp(trainable, o.LearningRate, o.Alpha, momentum: o.Momentum);
                var trainer = new Trainer(net, opt, loss) { Name = $"{name}'s candidate training", Stop = ctx.Stop ?? new StopSignal(), Trainable = trainable };
                foreach (var cb in ctx.Callbacks) trainer.Add(cb);
                trainer.Fit(data, rng.Fork("train"), bs, o.Epochs);
                passes += trainer.Epoch * ((data.Count + bs - 1) / bs);
            }
            double trainSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
            long t1 = System.Diagnostics.Stopwatch.GetTimestamp();
            // scoring: dL/dy of each gate, averaged over batches; no update
            net.Gated = true;
            var scorer = new Trainer(net, optimizer: null, loss) { Name = $"{name}'s candidate scoring", Trainable = gates };
            var order = rng.Fork("score").Permutation(data.Count);
            int samples = Math.Max(1, (int)Math.Ceiling(o.ScoreFraction * data.Count - 1e-9));
            int batches = (samples + bs - 1) / bs;
            var plans = net.Sites.Select(s => s is null ? null : new FireflySitePlan(s)).ToArray();
            foreach (var batch in BatchPasses.Take(data, order[..samples], batches, bs))
            {
                if (ctx.Stop?.IsRequested == true) break;
                scorer.Backward(batch);
                passes++;
                for (int k = 0; k < plans.Length; k++)
                {
                    if (net.Sites[k] is not { } s) continue;
                    Accumulate(s.YOld, plans[k]!.SplitScores, batches);
                    Accumulate(s.YNew, plans[k]!.NewScores, batches);
                }
            }
            double scoreSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(t1).TotalSeconds;
            return new FireflyPlan(ctx.Stage, plans, passes, trainSeconds, scoreSeconds) { Network = net };
        }
    }

    private static void Accumulate(Tensor? y, double[] scores, int batches)
    {
        if (y is null) return;
        var g = y.Grad;
        if (g is null) return;   // the gate did not reach the loss (e.g. a dead candidate)
        var gs = g.Span;
        for (int i = 0; i < scores.Length; i++) scores[i] += gs[i] / (double)batches;
    }

    /// <summary>Chooses the <paramref name="total"/> most negative scores over all sites' candidates (ties: lower site, split before new, lower index).</summary>
    public void SelectGlobal(int total, string name)
    {
        var pool = Pool(Enumerable.Range(0, Sites.Count)).ToList();
        if (total > pool.Count)
            throw new ArgumentException($"{name}: {total} neurons to add but only {pool.Count} candidates; raise poolFactor or candidatesPerLayer");
        Choose(pool.OrderBy(c => c.Score).ThenBy(c => c.Site).ThenBy(c => c.Kind).ThenBy(c => c.Index).Take(total));
    }

    /// <summary>Chooses, at every site k, its <paramref name="counts"/>[k] most negative candidates.</summary>
    public void SelectPerSite(IReadOnlyList<int> counts, string name)
    {
        var chosen = new List<(double Score, int Site, int Kind, int Index)>();
        for (int k = 0; k < Sites.Count; k++)
        {
            if (counts[k] == 0) continue;
            var pool = Pool([k]).ToList();
            if (counts[k] > pool.Count)
                throw new ArgumentException($"{name}: site {k} is to grow by {counts[k]} but has {pool.Count} candidates; raise poolFactor or candidatesPerLayer");
            chosen.AddRange(pool.OrderBy(c => c.Score).ThenBy(c => c.Kind).ThenBy(c => c.Index).Take(counts[k]));
        }
        Choose(chosen);
    }

    private IEnumerable<(double Score, int Site, int Kind, int Index)> Pool(IEnumerable<int> sites)
    {
        foreach (int k in sites)
        {
            if (Sites[k] is not { } s) continue;
            for (int i = 0; i < s.SplitScores.Length; i++) yield return (s.SplitScores[i], k, 0, i);
            for (int i = 0; i < s.NewScores.Length; i++) yield return (s.NewScores[i], k, 1, i);
        }
    }

    private void Choose(IEnumerable<(double Score, int Site, int Kind, int Index)> chosen)
    {
        var list = chosen.ToList();
        for (int k = 0; k < Sites.Count; k++)
        {
            if (Sites[k] is not { } s) continue;
            s.Splits = list.Where(c => c.Site == k && c.Kind == 0).Select(c => c.Index).Order().ToArray();
            s.News = list.Where(c => c.Site == k && c.Kind == 1).Select(c => c.Index).Order().ToArray();
        }
    }

    /// <summary>Whether this plan was made for this step of <paramref name="model"/> and grows the sites by <paramref name="counts"/>.</summary>
    public bool Matches(GrowableModel model, int stage, IReadOnlyList<int> counts)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (stage != Stage || counts.Count != Sites.Count || model.Sites.Count != Sites.Count) return false;
        for (int k = 0; k < Sites.Count; k++)
        {
            int c = Sites[k]?.Count ?? 0;
            if (c != counts[k]) return false;
            if (Sites[k] is { } s && (s.Width != model.Sites[k].Width || s.FanIn != model.Sites[k].FanIn)) return false;
        }
        return true;
    }

    /// <summary>
    /// Grows site <paramref name="siteIndex"/> by its chosen candidates: splits (<see cref="GrowthSite.Split"/>, δ = the
    /// trained direction) then new neurons (trained incoming weights, bias 0, identity BatchNorm, trained outgoing
    /// weights). The sites must be committed top first (the site above grown already), as its new neurons' outgoing
    /// weights reach the site above's split copies and new neurons. Returns the extension.
    /// </summary>
    public SiteExtension Commit(GrowableModel model, int siteIndex)
    {
        ArgumentNullException.ThrowIfNull(model);
        var site = model.Sites[siteIndex];
        int old = site.Width;
        if (Sites[siteIndex] is not { } s || s.Count == 0) return new SiteExtension(site.Name, old, 0);
        if (old != s.Width || site.FanIn != s.FanIn)
            throw new InvalidOperationException($"firefly: site {site.Name} changed since its candidates were scored");
        int f = s.FanIn;
        if (s.Splits.Length > 0)
        {
            var deltas = new float[s.Splits.Length * f];
            for (int i = 0; i < s.Splits.Length; i++) s.V.AsSpan(s.Splits[i] * f, f).CopyTo(deltas.AsSpan(i * f, f));
            site.Split(s.Splits, deltas);
        }
        if (s.News.Length > 0)
        {
            var next = s.ConsumerIsNext ? Sites[siteIndex + 1] : null;
            int nextSplits = next?.Splits.Length ?? 0, nextNews = next?.News.Length ?? 0;
            if (nextNews > 0 && s.NextNew == 0) throw new InvalidOperationException($"firefly: site {site.Name} has no weights into the next site's new neurons");
            int rowsNow = s.Rows + nextSplits + nextNews;
            int first = site.Grow(s.News.Length);
            if (site.FanOut != rowsNow * s.Run)
                throw new InvalidOperationException($"firefly: site {site.Name}'s consumer has {site.FanOut / s.Run} neurons, expected {rowsNow} (commit the sites top first)");
            var o = new float[site.FanOut];
            int kNew = s.NewCandidates, run = s.Run;
            for (int i = 0; i < s.News.Length; i++)
            {
                int c = s.News[i], j = first + i;
                site.SetIncoming(j, s.Vno.AsSpan(c * f, f));
                site.SetBias(j, 0f);
                for (int r = 0; r < s.Rows; r++) s.VniOld.AsSpan((r * kNew + c) * run, run).CopyTo(o.AsSpan(r * run, run));
                for (int t = 0; t < nextSplits; t++)
                    s.VniOld.AsSpan((next!.Splits[t] * kNew + c) * run, run).CopyTo(o.AsSpan((s.Rows + t) * run, run));
                for (int t = 0; t < nextNews; t++)
                    s.VniNew.AsSpan((next!.News[t] * kNew + c) * run, run).CopyTo(o.AsSpan((s.Rows + nextSplits + t) * run, run));
                site.SetOutgoing(j, o);
            }
        }
        return new SiteExtension(site.Name, old, s.Count);
    }
}
