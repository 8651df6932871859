using Sprout.Runs;

namespace Sprout.Reporting;

/// <summary>One trained epoch's place in a run: growth stage, phase and epoch within the phase.</summary>
internal readonly record struct EpochKey(int Stage, string Phase, int Epoch);

/// <summary>Where a curve crosses into a new stage (a growth step) or a new phase within a stage.</summary>
/// <param name="X">Position on the global epoch axis (between two epochs).</param>
/// <param name="Stage">The stage that starts here.</param>
/// <param name="Growth">True when the stage changes (a growth step), false for a phase change within a stage.</param>
/// <param name="Phase">The phase that starts here.</param>
internal readonly record struct Boundary(double X, int Stage, bool Growth, string Phase);

/// <summary>
/// The global epoch axis of one run or of several seeds: every (stage, phase, epoch) any member trained, in training
/// order, at x = 1, 2, …; members are aligned by that key, so seeds that stopped a stage early line up stage by stage.
/// </summary>
internal sealed class Timeline
{
    private readonly MetricsRow?[][] _rows;

    private Timeline(IReadOnlyList<EpochKey> keys, MetricsRow?[][] rows)
    {
        Keys = keys;
        _rows = rows;
        X = Enumerable.Range(1, keys.Count).Select(i => (double)i).ToArray();
        var b = new List<Boundary>();
        for (int i = 1; i < keys.Count; i++)
        {
            if (keys[i].Stage != keys[i - 1].Stage) b.Add(new Boundary(i + 0.5, keys[i].Stage, true, keys[i].Phase));
            else if (keys[i].Phase != keys[i - 1].Phase) b.Add(new Boundary(i + 0.5, keys[i].Stage, false, keys[i].Phase));
        }
        Boundaries = b;
    }

    /// <summary>The epochs in order; epoch i is at x = i + 1.</summary>
    public IReadOnlyList<EpochKey> Keys { get; }

    /// <summary>x of every epoch (1, 2, …).</summary>
    public double[] X { get; }

    /// <summary>Stage and phase changes along the axis.</summary>
    public IReadOnlyList<Boundary> Boundaries { get; }

    /// <summary>Number of members (seeds).</summary>
    public int Members => _rows.Length;

    /// <summary>Aligns the metrics of one or more runs.</summary>
    public static Timeline Build(IReadOnlyList<MetricsTable> members)
    {
        // Order: stage, then the phase's first appearance within its stage (earliest over members), then epoch.
        var phaseRank = new Dictionary<(int Stage, string Phase), int>();
        foreach (var m in members)
        {
            var phases = new Dictionary<int, List<string>>();
            foreach (var r in m.Rows)
            {
                if (!phases.TryGetValue(r.Stage, out var list)) phases[r.Stage] = list = [];
                if (!list.Contains(r.Phase)) list.Add(r.Phase);
            }
            foreach (var (stage, list) in phases)
                for (int i = 0; i < list.Count; i++)
                    phaseRank[(stage, list[i])] = Math.Min(i, phaseRank.GetValueOrDefault((stage, list[i]), int.MaxValue));
        }
        var keys = members.SelectMany(m => m.Rows).Select(r => new EpochKey(r.Stage, r.Phase, r.Epoch)).Distinct()
            .OrderBy(k => k.Stage).ThenBy(k => phaseRank[(k.Stage, k.Phase)]).ThenBy(k => k.Phase, StringComparer.Ordinal)
            .ThenBy(k => k.Epoch).ToArray();
        var index = new Dictionary<EpochKey, int>();
        for (int i = 0; i < keys.Length; i++) index[keys[i]] = i;
        var rows = members.Select(m =>
        {
            var a = new MetricsRow?[keys.Length];
            foreach (var r in m.Rows) a[index[new EpochKey(r.Stage, r.Phase, r.Epoch)]] = r; // a re-logged epoch: the last wins
            return a;
        }).ToArray();
        return new Timeline(keys, rows);
    }

    /// <summary>
    /// Mean and standard deviation over the members of <paramref name="value"/> at every epoch (NaN where no member
    /// has a finite value; the standard deviation is NaN with fewer than two).
    /// </summary>
    public (double[] Mean, double[] Std) Series(Func<MetricsRow, double> value)
    {
        var mean = new double[Keys.Count];
        var std = new double[Keys.Count];
        var buf = new List<double>(_rows.Length);
        for (int i = 0; i < Keys.Count; i++)
        {
            buf.Clear();
            foreach (var m in _rows)
                if (m[i] is { } r) buf.Add(value(r));
            mean[i] = Stats.Mean(buf);
            std[i] = Stats.Std(buf);
        }
        return (mean, std);
    }

    /// <summary>Whether <paramref name="value"/> is finite at any epoch of any member.</summary>
    public bool Any(Func<MetricsRow, double> value) => _rows.Any(m => m.Any(r => r is not null && double.IsFinite(value(r))));
}
