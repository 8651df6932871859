namespace Sprout.Reporting;

/// <summary>The end-of-run figures of one run (its last metrics row, report.json and events).</summary>
internal sealed record FinalFigures(IReadOnlyList<string> Layers, double[] Widths, double Parameters, double TrainLoss,
    double TrainAccuracy, double ValLoss, double ValAccuracy, double BestValAccuracy, double TestAccuracy, double Seconds,
    double GrowthSteps, double Epochs, double TestLoss = double.NaN)
{
    public static FinalFigures Of(LoadedRun r)
    {
        var rows = r.Metrics.Rows;
        var last = rows.Count > 0 ? rows[^1] : null;
        double test = r.ReportNumber("finalTestAccuracy");
        if (test > 1) test /= 100; // a percentage (a fraction never exceeds 1)
        return new FinalFigures(r.Metrics.Layers,
            last?.Widths.Select(w => (double)w).ToArray() ?? new double[r.Metrics.Layers.Count],
            last?.Parameters ?? double.NaN, last?.TrainLoss ?? double.NaN, last?.TrainAccuracy ?? double.NaN,
            last?.ValLoss ?? double.NaN, last?.ValAccuracy ?? double.NaN,
            Stats.Max(rows.Select(x => x.ValAccuracy)), test,
            rows.Count > 0 ? Stats.Max(rows.Select(x => x.Seconds)) : double.NaN, r.GrowthSteps, rows.Count, r.ReportNumber("finalTestLoss"));
    }

    /// <summary>Table header of <see cref="Row"/>.</summary>
    public static readonly string[] Header =
        ["run", "final widths", "parameters", "train loss", "train accuracy", "val loss", "val accuracy", "best val accuracy",
         "test accuracy", "time", "growth steps", "epochs", "test loss"];

    /// <summary>One table row for one run.</summary>
    public string[] Row(string name) =>
        [name, WidthText(Layers, Widths, null), Fmt.Int(Parameters), Fmt.Fixed(TrainLoss, 4), Fmt.Pct(TrainAccuracy),
         Fmt.Fixed(ValLoss, 4), Fmt.Pct(ValAccuracy), Fmt.Pct(BestValAccuracy), Fmt.Pct(TestAccuracy), Fmt.Duration(Seconds),
         Fmt.Int(GrowthSteps), Fmt.Int(Epochs), Fmt.Fixed(TestLoss, 4)];

    /// <summary>One table row: mean ± std over several runs (the members of a group).</summary>
    public static string[] MeanRow(string name, IReadOnlyList<FinalFigures> all)
    {
        (double, double) MS(Func<FinalFigures, double> f) => (Stats.Mean(all.Select(f)), Stats.Std(all.Select(f)));
        string S(Func<FinalFigures, double> f, Func<double, string> fmt) { var (m, s) = MS(f); return Fmt.MeanStd(m, s, fmt); }
        var layers = all[0].Layers;
        var wm = Enumerable.Range(0, layers.Count).Select(i => Stats.Mean(all.Select(a => i < a.Widths.Length ? a.Widths[i] : double.NaN))).ToArray();
        var ws = Enumerable.Range(0, layers.Count).Select(i => Stats.Std(all.Select(a => i < a.Widths.Length ? a.Widths[i] : double.NaN))).ToArray();
        return [name, WidthText(layers, wm, ws), S(f => f.Parameters, Fmt.Int), S(f => f.TrainLoss, x => Fmt.Fixed(x, 4)),
            S(f => f.TrainAccuracy, Fmt.Pct), S(f => f.ValLoss, x => Fmt.Fixed(x, 4)), S(f => f.ValAccuracy, Fmt.Pct),
            S(f => f.BestValAccuracy, Fmt.Pct), S(f => f.TestAccuracy, Fmt.Pct), S(f => f.Seconds, Fmt.Duration),
            S(f => f.GrowthSteps, x => Fmt.Num(x, 1)), S(f => f.Epochs, x => Fmt.Num(x, 1)), S(f => f.TestLoss, x => Fmt.Fixed(x, 4))];
    }

    /// <summary>
    /// Rows from <see cref="Row"/> / <see cref="MeanRow"/> turned into one column per run and one row per figure
    /// (reads better than a dozen columns).
    /// </summary>
    public static (string[] Header, IEnumerable<string[]> Rows, bool[] Numeric) Transposed(IReadOnlyList<string[]> runs) =>
        (["figure", .. runs.Select(r => r[0])],
         Enumerable.Range(1, Header.Length - 1).Select(i => (string[])[Header[i], .. runs.Select(r => r[i])]),
         [false, .. runs.Select(_ => true)]);

    /// <summary>"fc1 40 · fc2 28" (with ± std where given and non-zero).</summary>
    public static string WidthText(IReadOnlyList<string> layers, double[] widths, double[]? std)
    {
        if (layers.Count == 0) return Fmt.Missing;
        return string.Join(" · ", layers.Select((l, i) =>
        {
            string w = Fmt.Num(widths[i], 1);
            if (std is not null && double.IsFinite(std[i]) && std[i] > 0) w += " ± " + Fmt.Num(std[i], 1);
            return $"{l} {w}";
        }));
    }
}
