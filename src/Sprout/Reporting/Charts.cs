using ScottPlot;
using Sprout.Runs;

namespace Sprout.Reporting;

/// <summary>A chart ready to save: the ScottPlot plot, its file stem, title, caption and the data series it draws.</summary>
internal sealed record Chart(string Name, string Title, string Caption, Plot Plot, IReadOnlyList<string> Series);

/// <summary>A line to draw on an epoch chart: one metric of one run or group.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="Timeline">The run's (or group's) epoch axis.</param>
/// <param name="Value">The metric of a row.</param>
/// <param name="Color">Line colour.</param>
/// <param name="Pattern">Line pattern.</param>
internal sealed record Curve(string Label, Timeline Timeline, Func<MetricsRow, double> Value, Color Color, LinePattern Pattern);

/// <summary>
/// Builds the report charts with ScottPlot: curves over the global epoch axis with growth steps marked, widths over
/// stages, new-neuron inactivity per stage and new-neuron cosine histograms. One look for every chart.
/// </summary>
internal static class Charts
{
    public const int Width = 960, Height = 500;

    private static readonly Color Ink = Color.FromHex("#222222");
    private static readonly Color GrowthColor = Color.FromHex("#555555");

    /// <summary>Colours of runs and layers (Tableau 10: distinct, and readable on white).</summary>
    public static readonly Color[] Palette = new ScottPlot.Palettes.Category10().Colors;

    private static readonly string Font = PickFont();

    private static string PickFont()
    {
        // The machine's default face may be a serif one; charts read better in a sans face.
        foreach (var f in (string[])["DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica"])
            if (Fonts.GetTypeface(f, false, false) is { } t && t.FamilyName == f) { Fonts.Default = f; return f; }
        return Fonts.Default;
    }

    /// <summary>A plot with the report's look.</summary>
    public static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var p = new Plot();
        p.Font.Set(Font);
        p.Title(title, 17);
        p.XLabel(xLabel, 14);
        p.YLabel(yLabel, 14);
        p.Axes.Title.Label.ForeColor = Ink;
        p.Axes.Bottom.TickLabelStyle.FontSize = 12;
        p.Axes.Left.TickLabelStyle.FontSize = 12;
        p.Grid.MajorLineColor = Colors.Black.WithOpacity(0.08);
        return p;
    }

    /// <summary>
    /// The legend below the chart, outside the data area (it never hides a curve, and every chart's data area gets
    /// the same width).
    /// </summary>
    public static void Legend(Plot p)
    {
        var panel = p.ShowLegend(Edge.Bottom);
        panel.Padding = new PixelPadding(10, 10, 4, 8);
        p.Legend.FontSize = 13;
        p.Legend.SymbolWidth = 34; // long enough to show a dashed or dotted pattern
        p.Legend.OutlineColor = Colors.Black.WithOpacity(0.25);
        p.Legend.ShadowColor = Colors.Transparent;
    }

    /// <summary>
    /// Curves over the global epoch axis; a curve of several seeds is its mean with a ± std band. Growth steps of the
    /// first timeline are marked when <paramref name="markGrowth"/>. Curves with no finite value are left out.
    /// </summary>
    public static Chart Curves(string name, string title, string caption, string yLabel, IReadOnlyList<Curve> curves,
        bool markGrowth, double scale = 1, IReadOnlyDictionary<int, string>? growthLabels = null)
    {
        var p = NewPlot(title, "epoch (counted across all stages and phases)", yLabel);
        var drawn = new List<string>();
        foreach (var c in curves)
        {
            if (!c.Timeline.Any(c.Value)) continue;
            var (mean, std) = c.Timeline.Series(c.Value);
            for (int i = 0; i < mean.Length; i++) { mean[i] *= scale; std[i] *= scale; }
            if (c.Timeline.Members > 1) Band(p, c.Timeline.X, mean, std, c.Color);
            var s = p.Add.ScatterLine(c.Timeline.X, mean, c.Color);
            s.LineWidth = 2;
            s.LinePattern = c.Pattern;
            s.MarkerSize = HasIsolatedPoint(mean) ? 5 : 0;
            s.LegendText = c.Label;
            drawn.Add(c.Label);
        }
        if (markGrowth && curves.Count > 0) MarkBoundaries(p, curves[0].Timeline, growthLabels);
        if (curves.Count > 0)
        {
            int epochs = curves.Max(c => c.Timeline.X.Length);
            p.Axes.SetLimitsX(0.5, epochs + 0.5);
            IntegerTicks(p.Axes.Bottom, 1, epochs, "");   // epochs are whole: no 1.5, 2.5 ticks
        }
        Legend(p);
        return new Chart(name, title, caption, p, drawn);
    }

    private static bool HasIsolatedPoint(double[] y)
    {
        for (int i = 0; i < y.Length; i++)
            if (double.IsFinite(y[i]) && (i == 0 || !double.IsFinite(y[i - 1])) && (i == y.Length - 1 || !double.IsFinite(y[i + 1])))
                return true;
        return false;
    }

    /// <summary>A translucent mean ± std band, split where the mean or std is missing.</summary>
    private static void Band(Plot p, double[] x, double[] mean, double[] std, Color color)
    {
        int i = 0;
        while (i < x.Length)
        {
            if (!double.IsFinite(mean[i]) || !double.IsFinite(std[i])) { i++; continue; }
            int j = i;
            while (j < x.Length && double.IsFinite(mean[j]) && double.IsFinite(std[j])) j++;
            if (j - i >= 2)
            {
                var xs = x[i..j];
                var top = Enumerable.Range(i, j - i).Select(k => mean[k] + std[k]).ToArray();
                var bottom = Enumerable.Range(i, j - i).Select(k => mean[k] - std[k]).ToArray();
                var f = p.Add.FillY(xs, top, bottom);
                f.FillColor = color.WithAlpha(0.2);
                f.LineWidth = 0;
            }
            i = j;
        }
    }

    /// <summary>
    /// Growth steps as dashed vertical lines labelled G1, G2, … at the top (labels thinned where they would touch),
    /// phase changes within a stage as dotted lines, and every other stage lightly shaded.
    /// </summary>
    private static void MarkBoundaries(Plot p, Timeline t, IReadOnlyDictionary<int, string>? labels)
    {
        double n = t.X.Length;
        double minGap = Math.Max(1, n / 18); // about 50 px on a 960 px chart
        double lastLabel = double.NegativeInfinity;
        bool growthInLegend = false, phaseInLegend = false;
        double stageStart = 0.5;
        int stageIndex = 0;
        foreach (var b in t.Boundaries)
        {
            if (b.Growth)
            {
                if (stageIndex++ % 2 == 1) Shade(p, stageStart, b.X);
                stageStart = b.X;
                var v = p.Add.VerticalLine(b.X, 1.5f, GrowthColor, LinePattern.Dashed);
                if (b.X - lastLabel >= minGap)
                {
                    v.Text = labels is not null && labels.TryGetValue(b.Stage, out var l) ? l : "G" + b.Stage;
                    v.LabelOppositeAxis = true;
                    v.LabelFontSize = 11;
                    v.LabelBackgroundColor = GrowthColor;
                    v.LabelFontColor = Colors.White;
                    v.LabelBold = false;
                    lastLabel = b.X;
                }
                if (!growthInLegend) { v.LegendText = "growth step"; growthInLegend = true; }
            }
            else
            {
                var v = p.Add.VerticalLine(b.X, 1f, GrowthColor.WithAlpha(0.6), LinePattern.Dotted);
                if (!phaseInLegend) { v.LegendText = "phase change"; phaseInLegend = true; }
            }
        }
        if (stageIndex % 2 == 1) Shade(p, stageStart, n + 0.5);
        // Room above the data area for the labels, below the title.
        if (lastLabel > double.NegativeInfinity) p.Axes.Top.MinimumSize = 28;
    }

    private static void Shade(Plot p, double x1, double x2)
    {
        var s = p.Add.HorizontalSpan(x1, x2, Colors.Black.WithAlpha(0.035));
        s.LineWidth = 0;
    }

    /// <summary>A width series: one growable layer of one run or group, as mean width per stage.</summary>
    public sealed record WidthSeries(string Label, int[] Stages, double[] Mean, double[] Std, Color Color, LinePattern Pattern, MarkerShape Marker);

    /// <summary>Width of every growable layer over the growth stages, as step lines (stage 0 = the initial network).</summary>
    public static Chart Widths(string name, string title, string caption, IReadOnlyList<WidthSeries> series)
    {
        var p = NewPlot(title, "stage (growth steps done; 0 = initial network)", "width (neurons)");
        var drawn = new List<string>();
        double top = 0;
        int maxStage = 0;
        foreach (var w in series)
        {
            if (w.Stages.Length == 0) continue;
            var xs = w.Stages.Select(s => (double)s).ToArray();
            // The last stage's width holds for half a step, so the final level is a visible segment.
            var xsExt = xs.Append(xs[^1] + 0.5).ToArray();
            var ysExt = w.Mean.Append(w.Mean[^1]).ToArray();
            if (w.Std.Any(x => double.IsFinite(x) && x > 0))
            {
                // The band follows the steps: each stage's mean ± std holds until the next stage.
                var bx = new List<double>();
                var bTop = new List<double>();
                var bBottom = new List<double>();
                for (int i = 0; i < xs.Length; i++)
                {
                    double sd = double.IsFinite(w.Std[i]) ? w.Std[i] : 0;
                    double end = i + 1 < xs.Length ? xs[i + 1] : xs[i] + 0.5;
                    bx.Add(xs[i]); bx.Add(end);
                    bTop.Add(w.Mean[i] + sd); bTop.Add(w.Mean[i] + sd);
                    bBottom.Add(w.Mean[i] - sd); bBottom.Add(w.Mean[i] - sd);
                }
                var f = p.Add.FillY(bx.ToArray(), bTop.ToArray(), bBottom.ToArray());
                f.FillColor = w.Color.WithAlpha(0.15);
                f.LineWidth = 0;
            }
            var line = p.Add.ScatterLine(xsExt, ysExt, w.Color);
            line.ConnectStyle = ConnectStyle.StepHorizontal;
            line.LineWidth = 2.5f;
            line.LinePattern = w.Pattern;
            var marks = p.Add.ScatterPoints(xs, w.Mean, w.Color);
            marks.MarkerShape = w.Marker;
            marks.MarkerSize = 8;
            line.LegendText = w.Label;
            line.MarkerShape = w.Marker;
            line.MarkerSize = 0;
            drawn.Add(w.Label);
            top = Math.Max(top, w.Mean.Zip(w.Std, (m, s) => m + (double.IsFinite(s) ? s : 0)).Where(double.IsFinite).DefaultIfEmpty(0).Max());
            maxStage = Math.Max(maxStage, w.Stages[^1]);
        }
        p.Axes.SetLimits(-0.3, maxStage + 0.8, 0, Math.Max(1, top * 1.12));
        IntegerTicks(p.Axes.Bottom, 0, maxStage, "");
        Legend(p);
        return new Chart(name, title, caption, p, drawn);
    }

    /// <summary>Ticks at whole numbers lo..hi (thinned to at most 20), labelled with a prefix.</summary>
    internal static void IntegerTicks(IAxis axis, int lo, int hi, string prefix)
    {
        int step = Math.Max(1, (int)Math.Ceiling((hi - lo + 1) / 20.0));
        var pos = new List<double>();
        var lab = new List<string>();
        for (long s = lo; s <= hi; s += step) { pos.Add(s); lab.Add(prefix + s.ToString(System.Globalization.CultureInfo.InvariantCulture)); }
        axis.SetTicks(pos.ToArray(), lab.ToArray());
    }

    /// <summary>One bar group: a value (and ± std) per growth stage.</summary>
    public sealed record BarSeries(string Label, IReadOnlyList<(int Stage, double Value, double Std)> Values, Color Color);

    /// <summary>
    /// Grouped bars per growth stage (e.g. inactive new neurons at insertion and at stage end, per layer).
    /// </summary>
    public static Chart GroupedBars(string name, string title, string caption, string yLabel, IReadOnlyList<BarSeries> series)
    {
        var p = NewPlot(title, "growth step", yLabel);
        var drawn = new List<string>();
        var stages = series.SelectMany(s => s.Values.Select(v => v.Stage)).Distinct().Order().ToArray();
        var slot = new Dictionary<int, int>();
        for (int i = 0; i < stages.Length; i++) slot[stages[i]] = i;
        int k = series.Count;
        double groupWidth = 0.8, barWidth = groupWidth / Math.Max(1, k);
        double top = 0;
        // Value labels while they fit (a 0 % bar is otherwise indistinguishable from a missing one); with error bars
        // a label would sit on its bar's error bar, so only the zero bars (which have none) are labelled.
        bool labels = stages.Length * k <= 40;
        bool errors = series.Any(x => x.Values.Any(v => double.IsFinite(v.Std) && v.Std > 0));
        for (int j = 0; j < k; j++)
        {
            var s = series[j];
            var bars = new List<Bar>();
            foreach (var (stage, value, std) in s.Values)
            {
                if (!double.IsFinite(value)) continue;
                bars.Add(new Bar
                {
                    Position = slot[stage] - groupWidth / 2 + barWidth * (j + 0.5),
                    Value = value,
                    Error = double.IsFinite(std) ? std : 0,
                    Size = barWidth * 0.92,
                    FillColor = s.Color,
                    LineWidth = errors ? 1.2f : 0,
                    LineColor = Ink.WithAlpha(0.8),
                    ErrorSize = barWidth * 0.5,
                    Label = labels && (!errors || value == 0) ? Fmt.Num(value, value < 10 ? 1 : 0) : "",
                });
                top = Math.Max(top, value + (double.IsFinite(std) ? std : 0));
            }
            if (bars.Count == 0) continue;
            var bp = p.Add.Bars(bars);
            bp.LegendText = s.Label;
            bp.ValueLabelStyle.FontSize = 11;
            bp.ValueLabelStyle.ForeColor = Ink;
            drawn.Add(s.Label);
        }
        p.Axes.SetLimits(-0.6, stages.Length - 0.4, 0, Math.Max(1, top * 1.12));
        p.Axes.Bottom.SetTicks(Enumerable.Range(0, stages.Length).Select(i => (double)i).ToArray(),
            stages.Select(s => "G" + s.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        p.Grid.XAxisStyle.MajorLineStyle.Width = 0;
        Legend(p);
        return new Chart(name, title, caption, p, drawn);
    }

    /// <summary>A histogram: share per bin over equal bins between <c>Lo</c> and <c>Hi</c>.</summary>
    public sealed record HistogramSeries(string Label, double Lo, double Hi, double[] Share);

    /// <summary>
    /// Histograms drawn as step outlines (so several overlay), coloured from early (dark) to late (light) stages.
    /// </summary>
    public static Chart Histograms(string name, string title, string caption, string xLabel, string yLabel, IReadOnlyList<HistogramSeries> series)
    {
        var p = NewPlot(title, xLabel, yLabel);
        var drawn = new List<string>();
        var cmap = new ScottPlot.Colormaps.Viridis();
        for (int i = 0; i < series.Count; i++)
        {
            var h = series[i];
            int bins = h.Share.Length;
            var xs = Enumerable.Range(0, bins + 1).Select(b => h.Lo + (h.Hi - h.Lo) * b / bins).ToArray();
            var ys = h.Share.Append(h.Share[^1]).ToArray();
            var s = p.Add.ScatterLine(xs, ys, cmap.GetColor(i, series.Count, 0, 0.85));
            s.ConnectStyle = ConnectStyle.StepHorizontal;
            s.LineWidth = 2.2f;
            s.MarkerSize = 0;
            s.LegendText = h.Label;
            drawn.Add(h.Label);
        }
        double top = series.SelectMany(s => s.Share).Where(double.IsFinite).DefaultIfEmpty(1).Max();
        p.Axes.SetLimits(-1.05, 1.05, 0, Math.Max(1e-9, top * 1.12));
        Legend(p);
        return new Chart(name, title, caption, p, drawn);
    }
}
