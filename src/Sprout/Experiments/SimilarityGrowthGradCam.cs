using System.Globalization;
using Sprout.Data;
using Sprout.Diagnostics;
using Sprout.Nn;
using Sprout.Reporting;
using Sprout.Runs;
using Sprout.Tensors;

namespace Sprout.Experiments;

/// <summary>
/// A Grad-CAM grid of the similarity-growth report for one (data set, model, method): the same test images explained by
/// seed 0's final model of the plain arm and of the first regularised arm (paper 002, Figures 4–5).
/// </summary>
/// <param name="Dataset">Data set.</param>
/// <param name="Model">Model.</param>
/// <param name="Method">Growth method.</param>
/// <param name="Arms">The arms shown, one column each: the plain arm, then the regularised one.</param>
/// <param name="Images">Test-set indices of the rows (empty when skipped).</param>
/// <param name="Labels">The true class of every row; each map is that class's.</param>
/// <param name="Inputs">The rows' inputs as the models saw them, each [C, H, W] flattened (empty when skipped).</param>
/// <param name="InputShape">[C, H, W] of an input (empty when skipped).</param>
/// <param name="Layer">Index of the explained layer in the model's layer list (−1 when skipped).</param>
/// <param name="LayerName">That layer's description, e.g. <c>layer 43 (Relu)</c> (empty when skipped).</param>
/// <param name="Columns">One column of maps per arm, in the order of <paramref name="Arms"/> (empty when skipped).</param>
/// <param name="Note">Why the grid was not computed (null when it was).</param>
public sealed record SimilarityGradCamGrid(string Dataset, string Model, string Method, IReadOnlyList<SimilarityArm> Arms, IReadOnlyList<int> Images,
    IReadOnlyList<int> Labels, IReadOnlyList<float[]> Inputs, IReadOnlyList<int> InputShape, int Layer, string LayerName, IReadOnlyList<GradCamColumn> Columns, string? Note);

/// <summary>
/// The Grad-CAM grids of <c>experiment similarity-growth</c>: per (data set, model, method) with a plain and a
/// regularised arm, seed 0's final checkpoint of each arm explains the first <see cref="Rows"/> test images
/// of different classes, in test-set order (the same images for every arm) at <see cref="GradCam.DefaultLayer"/> (the last conv
/// block's output) for the true class. No training: a forward and a backward pass over a handful of images per arm.
/// </summary>
public static class SimilarityGrowthGradCam
{
    /// <summary>Images (grid rows) per figure.</summary>
    public const int Rows = 6;

    /// <summary>
    /// The first index of each of the first <paramref name="count"/> distinct labels met in <paramref name="labels"/>,
    /// in the order they are met (fewer when the labels hold fewer classes).
    /// </summary>
    public static int[] PickImages(IReadOnlyList<int> labels, int count)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var seen = new HashSet<int>();
        var picked = new List<int>();
        for (int i = 0; i < labels.Count && picked.Count < count; i++)
            if (seen.Add(labels[i])) picked.Add(i);
        return picked.ToArray();
    }

    /// <summary>A column's heading: the method for a plain arm, <c>method+sim</c> (or <c>+cos</c>, <c>+sum</c>) for a regularised one.</summary>
    public static string ColumnLabel(SimilarityArm arm)
    {
        ArgumentNullException.ThrowIfNull(arm);
        return arm.Terms switch
        {
            SimilarityTerms.None => arm.Method,
            SimilarityTerms.Both => arm.Method + "+sim",
            SimilarityTerms.Cosine => arm.Method + "+cos",
            _ => arm.Method + "+sum",
        };
    }

    /// <summary>
    /// The grids of <paramref name="runs"/>, whose run folders are under <paramref name="runsDir"/> (as
    /// <see cref="SimilarityGrowthExperiment.Run"/> wrote them): one per (data set, model, method) that has a plain and a
    /// both-terms arm, in the order of <paramref name="runs"/>. A grid whose checkpoint or test set is missing or
    /// unusable carries a <see cref="SimilarityGradCamGrid.Note"/> instead of maps.
    /// </summary>
    public static IReadOnlyList<SimilarityGradCamGrid> Compute(IReadOnlyList<SimilarityGrowthRuns> runs, string runsDir, int images = Rows)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(runsDir);
        ArgumentOutOfRangeException.ThrowIfLessThan(images, 1);
        var grids = new List<SimilarityGradCamGrid>();
        foreach (var g in runs.GroupBy(r => (r.Dataset, r.Model, r.Arm.Method)))
        {
            var plain = g.FirstOrDefault(r => r.Arm.Terms == SimilarityTerms.None);
            var reg = g.FirstOrDefault(r => r.Arm.Terms == SimilarityTerms.Both);
            if (plain is null || reg is null) continue;
            grids.Add(Grid(g.Key.Dataset, g.Key.Model, g.Key.Method, [plain, reg], runsDir, images));
        }
        return grids;
    }

    private static SimilarityGradCamGrid Grid(string dataset, string model, string method, SimilarityGrowthRuns[] arms, string runsDir, int count)
    {
        var armList = arms.Select(a => a.Arm).ToArray();
        SimilarityGradCamGrid Skip(string note) => new(dataset, model, method, armList, [], [], [], [], -1, "", [], note);
        var test = arms.Select(a => a.Test).FirstOrDefault(t => t is not null);
        if (test?.Labels is not { } labels) return Skip("no labelled test set was kept with the runs");
        if (arms.Any(a => a.Runs.Count == 0)) return Skip($"{arms.First(a => a.Runs.Count == 0).Arm.Name} has no finished seed");
        if (arms[0].Runs[0].Config.InputShape is not [int ch, int h, int w] || ch * h * w != test.Features)
            return Skip("the runs' inputs are not images [C, H, W] of the test set's size");
        var rows = PickImages(labels, count);
        if (rows.Length == 0) return Skip("the test set is empty");
        var rowLabels = rows.Select(i => labels[i]).ToArray();
        var pixels = test.Gather(rows, 0, rows.Length).X.ToArray();
        var inputs = Enumerable.Range(0, rows.Length).Select(r => pixels.AsSpan(r * ch * h * w, ch * h * w).ToArray()).ToArray();
        var x = new Tensor(pixels, rows.Length, ch, h, w);
        var columns = new List<GradCamColumn>();
        int layer = -1;
        string layerName = "";
        foreach (var arm in arms)
        {
            string dir = ExperimentRuns.SeedFolder(SimilarityGrowthExperiment.GroupFolder(runsDir, dataset, model, arm.Arm), 0);
            string path = RunFiles.LastCheckpoint(dir), shown = Path.GetRelativePath(runsDir, path).Replace('\\', '/');
            if (!File.Exists(path)) return Skip($"{arm.Arm.Name}: seed 0 has no final checkpoint ({shown})");
            Module module;
            try { module = CheckpointFile.Load(path).BuildModule("model/"); }
            catch (Exception e) when (e is CheckpointException or ArgumentException or IOException) { return Skip($"{arm.Arm.Name}: {e.Message}"); }
            if (module is not Sequential seq) return Skip($"{arm.Arm.Name}: {shown} is not a sequential model");
            if (GradCam.DefaultLayer(seq) is not int l || l >= seq.Layers.Count - 1) return Skip($"{arm.Arm.Name}: {shown} has no conv layer to explain");
            GradCamMap[] maps;
            try { maps = GradCam.Compute(seq, x, l, rowLabels); }
            catch (ArgumentException e) { return Skip($"{arm.Arm.Name}: {e.Message}"); }
            if (layer < 0) (layer, layerName) = (l, string.Create(CultureInfo.InvariantCulture, $"layer {l} ({seq.Layers[l]})"));
            columns.Add(new GradCamColumn(ColumnLabel(arm.Arm), maps));
        }
        return new SimilarityGradCamGrid(dataset, model, method, armList, rows, rowLabels, inputs, [ch, h, w], layer, layerName, columns, null);
    }

    /// <summary>
    /// Draws a computed grid (<see cref="GradCamFigure.Save"/>) as <c>&lt;data set&gt;-&lt;model&gt;-&lt;method&gt;-gradcam</c>
    /// .png and .svg in <paramref name="chartDir"/>, the rows named by test index and class, and returns the two paths.
    /// A skipped grid returns null and removes that figure if an earlier report drew it (charts/ shows no stale grid).
    /// </summary>
    public static (string Png, string Svg)? Save(SimilarityGradCamGrid grid, string chartDir)
    {
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(chartDir);
        string stem = Path.Combine(chartDir, $"{grid.Dataset}-{grid.Model}-{grid.Method}-gradcam");
        if (grid.Note is not null || grid.Columns.Count == 0 || grid.InputShape is not [int ch, int h, int w])
        {
            foreach (var stale in new[] { stem + ".png", stem + ".svg" })
                if (File.Exists(stale)) File.Delete(stale);
            return null;
        }
        var names = DataCatalog.Find(grid.Dataset)?.ClassNames ?? [];
        var rowLabels = grid.Images.Select((index, r) => string.Create(CultureInfo.InvariantCulture,
            $"#{index}: {(grid.Labels[r] < names.Length ? names[grid.Labels[r]] : $"class {grid.Labels[r]}")}")).ToArray();
        return GradCamFigure.Save(stem, $"Grad-CAM, {grid.Model} {grid.Method} ({grid.Dataset}, seed 0): {grid.LayerName}, true class",
            grid.Inputs, ch, h, w, rowLabels, grid.Columns);
    }
}
