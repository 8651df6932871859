using ScottPlot;

namespace Sprout.Reporting;

/// <summary>A cosine histogram to draw: counts of neuron pairs over equal bins of [−1, 1].</summary>
/// <param name="Label">Legend text.</param>
/// <param name="Counts">Pairs per bin.</param>
public sealed record CosineHistogram(string Label, IReadOnlyList<double> Counts);

/// <summary>A line over epochs: x (epoch counted across phases) and y values.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="X">Epochs.</param>
/// <param name="Y">Values.</param>
/// <param name="Dashed">Drawn dashed.</param>
/// <param name="Colour">Index into the palette (lines of the same layer share it); −1: the line's own index.</param>
public sealed record EpochLine(string Label, IReadOnlyList<double> X, IReadOnlyList<double> Y, bool Dashed = false, int Colour = -1);

/// <summary>
/// Paper 002's Figure 6 with the report's look (ScottPlot, PNG and SVG): the pairwise-cosine histogram of a layer's
/// neurons, plain against regularised, with the paper's [−0.5, 0.5] frame; and mean |cosine| per layer over training.
/// </summary>
public static class SimilarityCharts
{
    /// <summary>Overlays the histograms as step outlines, shades [−0.5, 0.5], writes <paramref name="dir"/>/<paramref name="name"/>.png
    /// and .svg; returns the PNG's path.</summary>
    public static string WriteHistograms(string dir, string name, string title, IReadOnlyList<CosineHistogram> series)
    {
        ArgumentNullException.ThrowIfNull(dir);
        ArgumentNullException.ThrowIfNull(series);
        var p = Charts.NewPlot(title, "cosine similarity of a pair of neurons", "neuron pairs");
        var frame = p.Add.HorizontalSpan(-0.5, 0.5);
        frame.FillStyle.Color = Colors.Red.WithAlpha(0.06);
        frame.LineStyle.Color = Colors.Red.WithAlpha(0.7);
        frame.LineStyle.Width = 1.5f;
        double top = 1;
        for (int i = 0; i < series.Count; i++)
        {
            var h = series[i];
            int bins = h.Counts.Count;
            if (bins == 0) continue;
            var xs = Enumerable.Range(0, bins + 1).Select(b => -1 + 2.0 * b / bins).ToArray();
            var ys = h.Counts.Append(h.Counts[^1]).ToArray();
            var s = p.Add.ScatterLine(xs, ys, Charts.Palette[i % Charts.Palette.Length]);
            s.ConnectStyle = ConnectStyle.StepHorizontal;
            s.LineWidth = 2.2f;
            s.MarkerSize = 0;
            s.LegendText = h.Label;
            top = Math.Max(top, h.Counts.Max());
        }
        p.Axes.SetLimits(-1.05, 1.05, 0, top * 1.12);
        return Save(p, dir, name);
    }

    /// <summary>Draws lines over epochs, writes the PNG and SVG; returns the PNG's path.</summary>
    public static string WriteLines(string dir, string name, string title, string yLabel, IReadOnlyList<EpochLine> lines) =>
        WriteLines(dir, name, title, "epoch (counted across the initial phase and every stage)", yLabel, lines);

    /// <summary>
    /// Draws lines over any whole-numbered x axis (epochs, optimizer steps) labelled <paramref name="xLabel"/>, writes the
    /// PNG and SVG; returns the PNG's path. Lines with many points are drawn without markers.
    /// </summary>
    public static string WriteLines(string dir, string name, string title, string xLabel, string yLabel, IReadOnlyList<EpochLine> lines)
    {
        ArgumentNullException.ThrowIfNull(dir);
        ArgumentNullException.ThrowIfNull(lines);
        var p = Charts.NewPlot(title, xLabel, yLabel);
        for (int i = 0; i < lines.Count; i++)
        {
            var l = lines[i];
            if (l.X.Count == 0) continue;
            var s = p.Add.ScatterLine(l.X.ToArray(), l.Y.ToArray(), Charts.Palette[(l.Colour >= 0 ? l.Colour : i) % Charts.Palette.Length]);
            s.LineWidth = 2;
            s.MarkerSize = l.X.Count > 60 ? 0 : 4;
            s.LinePattern = l.Dashed ? LinePattern.Dashed : LinePattern.Solid;
            s.LegendText = l.Label;
        }
        double first = lines.SelectMany(l => l.X).DefaultIfEmpty(1).Min();
        double last = lines.SelectMany(l => l.X).DefaultIfEmpty(1).Max();
        Charts.IntegerTicks(p.Axes.Bottom, (int)Math.Min(1, first), (int)Math.Max(1, last), "");   // epochs and steps are whole
        return Save(p, dir, name);
    }

    private static string Save(Plot p, string dir, string name)
    {
        Charts.Legend(p);
        Directory.CreateDirectory(dir);
        string png = Path.Combine(dir, name + ".png");
        SvgFile.Save(p, Path.Combine(dir, name + ".svg"), Charts.Width, Charts.Height);
        p.SavePng(png, Charts.Width, Charts.Height);
        return png;
    }
}
