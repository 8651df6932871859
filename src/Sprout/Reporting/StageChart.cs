using ScottPlot;

namespace Sprout.Reporting;

/// <summary>One line of a stage chart: a method's value after each stage, for every seed.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="Values">[seed][stage] values (stage 0 = before the first growth step); NaN where missing.</param>
/// <param name="Flat">Whether the line is a constant drawn dashed (a static baseline, which has no stages).</param>
public sealed record StageSeries(string Label, IReadOnlyList<double[]> Values, bool Flat = false);

/// <summary>
/// A chart of a result over growth stages (paper 000's Figures 2 and 3): per method the mean over seeds with a ± std
/// band, x = stage 0 (the initial network) … S. Saved as PNG and SVG with the report's look (ScottPlot).
/// </summary>
public static class StageChart
{
    /// <summary>
    /// Draws <paramref name="series"/> and writes <paramref name="dir"/>/<paramref name="name"/>.png and .svg; returns
    /// the two paths. Series without any finite value are left out.
    /// </summary>
    public static (string Png, string Svg) Write(string dir, string name, string title, string yLabel, IReadOnlyList<StageSeries> series)
    {
        ArgumentNullException.ThrowIfNull(dir);
        ArgumentNullException.ThrowIfNull(series);
        var p = Charts.NewPlot(title, "stage (0 = the initial network, s = after growth step s)", yLabel);
        int stages = 0;
        int colour = 0;
        foreach (var s in series)
        {
            var color = Charts.Palette[colour++ % Charts.Palette.Length];
            if (s.Values.Count == 0) continue;
            int n = s.Values.Max(v => v.Length);
            stages = Math.Max(stages, n);
            var x = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
            var mean = new double[n];
            var std = new double[n];
            for (int i = 0; i < n; i++)
            {
                var at = s.Values.Where(v => i < v.Length && double.IsFinite(v[i])).Select(v => v[i]).ToArray();
                mean[i] = at.Length == 0 ? double.NaN : at.Average();
                std[i] = at.Length < 2 ? 0 : Math.Sqrt(at.Sum(a => (a - mean[i]) * (a - mean[i])) / (at.Length - 1));
            }
            if (!mean.Any(double.IsFinite)) continue;
            var keep = Enumerable.Range(0, n).Where(i => double.IsFinite(mean[i])).ToArray();
            var xs = keep.Select(i => x[i]).ToArray();
            var ms = keep.Select(i => mean[i]).ToArray();
            if (s.Values.Count > 1 && keep.Length >= 2)
            {
                var band = p.Add.FillY(xs, keep.Select(i => mean[i] + std[i]).ToArray(), keep.Select(i => mean[i] - std[i]).ToArray());
                band.FillColor = color.WithAlpha(0.18);
                band.LineWidth = 0;
            }
            var line = p.Add.ScatterLine(xs, ms, color);
            line.LineWidth = 2;
            line.LinePattern = s.Flat ? LinePattern.Dashed : LinePattern.Solid;
            line.MarkerSize = s.Flat ? 0 : 6;
            line.LegendText = s.Values.Count > 1 ? $"{s.Label} (mean ± std, {s.Values.Count} seeds)" : s.Label;
        }
        if (stages > 0)
        {
            p.Axes.SetLimitsX(-0.3, stages - 0.7);
            Charts.IntegerTicks(p.Axes.Bottom, 0, stages - 1, "");   // stages are whole
        }
        Charts.Legend(p);
        Directory.CreateDirectory(dir);
        string png = Path.Combine(dir, name + ".png"), svg = Path.Combine(dir, name + ".svg");
        SvgFile.Save(p, svg, Charts.Width, Charts.Height);
        p.SavePng(png, Charts.Width, Charts.Height);
        return (png, svg);
    }
}
