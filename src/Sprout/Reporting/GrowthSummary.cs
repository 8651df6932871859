using System.Globalization;
using Sprout.Runs;

namespace Sprout.Reporting;

/// <summary>What the growth steps of a run (or, averaged, of a group's seeds) did, per stage and layer.</summary>
internal static class GrowthSummary
{
    /// <summary>
    /// Width of <paramref name="layer"/> at the start of every stage (its first metrics row), mean and std over the
    /// members that have the layer and the stage.
    /// </summary>
    public static (int[] Stages, double[] Mean, double[] Std) StageWidths(RunSet set, string layer)
    {
        var perMember = set.Members.Select(m =>
        {
            int li = IndexOf(m.Metrics.Layers, layer);
            var d = new Dictionary<int, double>();
            if (li < 0) return d;
            foreach (var r in m.Metrics.Rows) d.TryAdd(r.Stage, r.Widths[li]);
            return d;
        }).ToArray();
        var stages = perMember.SelectMany(d => d.Keys).Distinct().Order().ToArray();
        var mean = stages.Select(s => Stats.Mean(perMember.Where(d => d.ContainsKey(s)).Select(d => d[s]))).ToArray();
        var std = stages.Select(s => Stats.Std(perMember.Where(d => d.ContainsKey(s)).Select(d => d[s]))).ToArray();
        return (stages, mean, std);
    }

    private static int IndexOf(IReadOnlyList<string> list, string s)
    {
        for (int i = 0; i < list.Count; i++) if (list[i] == s) return i;
        return -1;
    }

    /// <summary>Stages that have events, in order.</summary>
    public static int[] Stages(RunSet set) => set.Members.SelectMany(m => m.Events).Select(e => e.Stage).Distinct().Order().ToArray();

    /// <summary>Per growth stage: inactive new neurons of <paramref name="layer"/> as % of those added (mean, std over members).</summary>
    public static IReadOnlyList<(int Stage, double Value, double Std)> Inactive(RunSet set, string layer, bool atStageEnd) =>
        Stages(set).Select(s =>
        {
            var v = set.Members.SelectMany(m => m.Events).Where(e => e.Stage == s && e.Layer == layer && e.Added > 0)
                .Select(e => 100.0 * (atStageEnd ? e.InactiveAtStageEnd : e.InactiveAtInsertion) / e.Added).ToArray();
            return (s, Stats.Mean(v), Stats.Std(v));
        }).ToArray();

    /// <summary>
    /// Per growth stage with cosines for <paramref name="layer"/>: the share of pairs per bin in % (bins over [−1, 1])
    /// and the number of pairs (both the mean over the members).
    /// </summary>
    public static IReadOnlyList<(int Stage, double[] Share, double Pairs)> Cosines(RunSet set, string layer)
    {
        var result = new List<(int, double[], double)>();
        foreach (int s in Stages(set))
        {
            var hists = set.Members.SelectMany(m => m.Events)
                .Where(e => e.Stage == s && e.Layer == layer && e.CosineHistogram.Count > 0 && e.CosineHistogram.Sum(c => (long)c) > 0)
                .Select(e => e.CosineHistogram).ToArray();
            if (hists.Length == 0) continue;
            int bins = hists[0].Count;
            hists = hists.Where(h => h.Count == bins).ToArray();
            var share = Enumerable.Range(0, bins).Select(b => Stats.Mean(hists.Select(h => 100.0 * h[b] / h.Sum(c => (double)c)))).ToArray();
            result.Add((s, share, Stats.Mean(hists.Select(h => h.Sum(c => (double)c)))));
        }
        return result;
    }

    /// <summary>"G1 +12" per stage: neurons added over all layers (mean over members, rounded).</summary>
    public static IReadOnlyDictionary<int, string> Labels(RunSet set) =>
        Stages(set).ToDictionary(s => s, s =>
        {
            double added = Stats.Mean(set.Members.Where(m => m.Events.Any(e => e.Stage == s))
                .Select(m => (double)m.Events.Where(e => e.Stage == s).Sum(e => (long)e.Added)));
            return "G" + s.ToString(CultureInfo.InvariantCulture) + (double.IsFinite(added) ? " +" + Fmt.Num(added, 0) : "");
        });

    /// <summary>
    /// The growth events of one run, one row per stage and layer; columns that say nothing for this run (no votes, no
    /// adjustment phase) are left out.
    /// </summary>
    public static (string[] Header, IEnumerable<string[]> Rows, bool[] Numeric) EventTable(LoadedRun run)
    {
        var ev = run.Events.OrderBy(e => e.Stage).ToArray();
        var cols = new List<(string Head, bool Num, Func<GrowthEvent, string> Cell)>
        {
            ("step", false, e => "G" + e.Stage.ToString(CultureInfo.InvariantCulture)),
            ("layer", false, e => e.Layer),
            ("width", true, e => $"{e.WidthBefore} → {(long)e.WidthBefore + e.Added}"),
            ("added", true, e => Fmt.Int(e.Added)),
        };
        if (ev.Any(e => e.Vote is not null)) cols.Add(("vote", true, e => e.Vote is { } v ? Fmt.Num(v, 3) : Fmt.Missing));
        cols.Add(("max output change", true, e => Fmt.Sci(e.MaxOutputChange)));
        cols.Add(("train acc. before → after (%)", true, e => $"{Fmt.Num(100 * e.TrainAccuracyBefore, 2)} → {Fmt.Num(100 * e.TrainAccuracyAfter, 2)}"));
        cols.Add(("inactive at insertion", true, e => Count(e.InactiveAtInsertion, e.Added)));
        cols.Add(("inactive at stage end", true, e => Count(e.InactiveAtStageEnd, e.Added)));
        cols.Add(("cosine mean / max", true, e => $"{Fmt.Num(e.CosineMean, 2)} / {Fmt.Num(e.CosineMax, 2)}"));
        if (ev.Any(e => e.AdjustSteps != 0)) cols.Add(("adjust steps", true, e => Fmt.Int(e.AdjustSteps)));
        cols.Add(("seconds", true, e => Fmt.Num(e.Seconds, 2)));
        return (cols.Select(c => c.Head).ToArray(), ev.Select(e => cols.Select(c => c.Cell(e)).ToArray()), cols.Select(c => c.Num).ToArray());
    }

    /// <summary>The growth events of a group, one row per stage and layer: mean ± std over the seeds.</summary>
    public static (string[] Header, IEnumerable<string[]> Rows, bool[] Numeric) GroupEventTable(RunSet set)
    {
        var rows = new List<string[]>();
        foreach (int s in Stages(set))
            foreach (string layer in set.Layers)
            {
                var ev = set.Members.SelectMany(m => m.Events).Where(e => e.Stage == s && e.Layer == layer).ToArray();
                if (ev.Length == 0) continue;
                string MS(Func<GrowthEvent, double> f, Func<double, string> fmt) =>
                    Fmt.MeanStd(Stats.Mean(ev.Select(f)), Stats.Std(ev.Select(f)), fmt);
                rows.Add(["G" + s.ToString(CultureInfo.InvariantCulture), layer, ev.Length.ToString(CultureInfo.InvariantCulture),
                    MS(e => e.WidthBefore + (double)e.Added, x => Fmt.Num(x, 1)), MS(e => e.Added, x => Fmt.Num(x, 1)),
                    MS(e => e.Added > 0 ? 100.0 * e.InactiveAtInsertion / e.Added : double.NaN, x => Fmt.Num(x, 1) + " %"),
                    MS(e => e.Added > 0 ? 100.0 * e.InactiveAtStageEnd / e.Added : double.NaN, x => Fmt.Num(x, 1) + " %"),
                    MS(e => e.CosineMean, x => Fmt.Num(x, 3)), MS(e => e.MaxOutputChange, Fmt.Sci)]);
            }
        return (["step", "layer", "seeds", "width after", "added", "inactive at insertion", "inactive at stage end",
                 "cosine mean", "max output change"], rows, [false, false, true, true, true, true, true, true, true]);
    }

    private static string Count(int inactive, int added) =>
        added > 0 ? $"{inactive}/{added} ({Fmt.Num(100.0 * inactive / added, 0)} %)" : $"{inactive}/{added}";
}
