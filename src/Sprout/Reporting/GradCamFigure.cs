using ScottPlot;
using Sprout.Diagnostics;

namespace Sprout.Reporting;

/// <summary>One column of a Grad-CAM grid: a label (a model, or an arm of an experiment) and one map per image row.</summary>
/// <param name="Label">The column's heading.</param>
/// <param name="Maps">One map per image, in the grid's row order.</param>
public sealed record GradCamColumn(string Label, IReadOnlyList<GradCamMap> Maps);

/// <summary>
/// A grid like paper 002's Figures 4–5: one row per image, the input first, then each column's Grad-CAM map laid over
/// the input (the Turbo colour map, half transparent). Drawn with ScottPlot (an image rectangle for the input, a
/// heat map for the map) and saved as PNG and SVG.
/// </summary>
public static class GradCamFigure
{
    /// <summary>Pixels per tile edge in the saved images.</summary>
    public const int Tile = 150;

    /// <summary>
    /// Draws the grid. <paramref name="images"/> are the inputs, each [channels, height, width] flattened (any scaling:
    /// each is stretched to its own min…max for display; one channel is shown in grey, three as RGB);
    /// <paramref name="rowLabels"/> name the rows (e.g. "label 3 · pred 3"). Writes <paramref name="pathWithoutExtension"/>
    /// .png and .svg and returns both paths.
    /// </summary>
    public static (string Png, string Svg) Save(string pathWithoutExtension, string title, IReadOnlyList<float[]> images, int channels, int height,
        int width, IReadOnlyList<string> rowLabels, IReadOnlyList<GradCamColumn> columns)
    {
        ArgumentNullException.ThrowIfNull(pathWithoutExtension);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(rowLabels);
        ArgumentNullException.ThrowIfNull(columns);
        if (channels is not (1 or 3)) throw new ArgumentException($"images with {channels} channels cannot be shown (1 or 3)");
        if (images.Count == 0) throw new ArgumentException("no image to draw");
        if (rowLabels.Count != images.Count) throw new ArgumentException($"{rowLabels.Count} row labels for {images.Count} images");
        foreach (var img in images)
            if (img.Length != channels * height * width) throw new ArgumentException($"an image has {img.Length} values, not {channels}×{height}×{width}");
        foreach (var c in columns)
        {
            if (c.Maps.Count != images.Count) throw new ArgumentException($"column {c.Label} has {c.Maps.Count} maps for {images.Count} images");
            if (c.Maps.Any(m => m.Height != height || m.Width != width)) throw new ArgumentException($"column {c.Label}: a map is not {height}×{width}");
        }
        int rows = images.Count, cols = columns.Count + 1;
        var plot = Charts.NewPlot(title, "", "");
        const double gap = 0.08;
        var colormap = new ScottPlot.Colormaps.Turbo();
        for (int r = 0; r < rows; r++)
        {
            double top = -r * (1 + gap);
            var rgb = ToBytes(images[r], channels, height, width);
            for (int c = 0; c < cols; c++)
            {
                double left = c * (1 + gap);
                var rect = new CoordinateRect(left, left + 1, top - 1, top);
                plot.Add.ImageRect(new Image(rgb), rect);
                if (c == 0) continue;
                var map = columns[c - 1].Maps[r];
                var hm = plot.Add.Heatmap(ToGrid(map));
                hm.Extent = rect;
                hm.Colormap = colormap;
                hm.ManualRange = new ScottPlot.Range(0, 1);
                hm.Opacity = 0.5;
            }
            var label = plot.Add.Text(rowLabels[r], -0.06, top - 0.5);
            label.LabelAlignment = Alignment.MiddleRight;
            label.LabelFontSize = 13;
        }
        for (int c = 0; c < cols; c++)
        {
            var head = plot.Add.Text(c == 0 ? "input" : columns[c - 1].Label, c * (1 + gap) + 0.5, 0.04);
            head.LabelAlignment = Alignment.LowerCenter;
            head.LabelFontSize = 14;
            head.LabelBold = true;
        }
        plot.HideGrid();
        plot.Axes.Frameless();
        plot.Axes.Title.IsVisible = true;   // Frameless hides the title panel too
        plot.Axes.SetLimits(-0.9, cols * (1 + gap), -rows * (1 + gap), 0.25);
        int w = 140 + cols * Tile, h = 90 + rows * Tile;
        string png = pathWithoutExtension + ".png", svg = pathWithoutExtension + ".svg";
        var dir = Path.GetDirectoryName(Path.GetFullPath(png));
        if (dir is not null) Directory.CreateDirectory(dir);
        plot.SavePng(png, w, h);
        SvgFile.Save(plot, svg, w, h);
        return (png, svg);
    }

    // [rows, cols] of the map; the heat map's row 0 is drawn at the top of its extent
    private static double[,] ToGrid(GradCamMap m)
    {
        var g = new double[m.Height, m.Width];
        for (int i = 0; i < m.Height; i++)
            for (int j = 0; j < m.Width; j++) g[i, j] = m.Map[i * m.Width + j];
        return g;
    }

    // [height, width, 3] bytes, each image stretched to its own range
    private static byte[,,] ToBytes(float[] img, int channels, int height, int width)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (float v in img)
            if (float.IsFinite(v)) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
        float span = hi > lo ? hi - lo : 1;
        var b = new byte[height, width, 3];
        int plane = height * width;
        for (int i = 0; i < height; i++)
            for (int j = 0; j < width; j++)
                for (int k = 0; k < 3; k++)
                {
                    float v = img[(channels == 3 ? k * plane : 0) + i * width + j];
                    b[i, j, k] = float.IsFinite(v) ? (byte)Math.Clamp((int)MathF.Round((v - lo) / span * 255), 0, 255) : (byte)0;
                }
        return b;
    }
}
