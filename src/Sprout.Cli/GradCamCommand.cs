using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Sprout.Diagnostics;
using Sprout.Nn;
using Sprout.Reporting;
using Sprout.Tensors;

namespace Sprout.Cli;

/// <summary><c>sprout gradcam &lt;run|checkpoint&gt;</c>: Grad-CAM heat maps over test images (paper 002, Figures 1, 4, 5).</summary>
internal static class GradCamCommand
{
    private static readonly Option<int[]?> Images = Opt.List("--images", "I1,I2,…",
        "test-set indices of the images to explain (default: the first 8)", s => Opt.IntItem(s, 0, 10_000_000));
    private static readonly Option<int?> Layer = Opt.IntOrNull("--layer",
        "index of the layer (in the model's layer list) whose output is explained (default: the last conv layer's activation)", 0, 100_000);

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("gradcam", "Grad-CAM heat maps of a conv model's evidence over test images: gradcam.png, .svg and .json in --out (default: <run>/gradcam, or gradcam/ beside a checkpoint file)")
        {
            RunsCommands.RunOrCheckpoint, Images, Layer, RunsCommands.Best, SharedOptions.RunDataset, SharedOptions.DataDir, SharedOptions.Out,
            SharedOptions.Threads, SharedOptions.Json,
        };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult a)
    {
        SharedOptions.ApplyThreads(a);
        if (a.GetValue(Images) is { Length: > 64 }) throw new UsageException("--images takes at most 64 images (one figure row each)");
        var loaded = RunsCommands.LoadModelAndTest(a);
        if (loaded.Module is not Sequential seq) throw new ArgumentException($"{loaded.Path}: Grad-CAM needs a sequential model");
        if (loaded.Reconstruction) throw new ArgumentException($"{loaded.Path}: a reconstruction model has no class score to explain");
        var test = loaded.Test;
        int layer = a.GetValue(Layer) ?? GradCam.DefaultLayer(seq) ?? throw new ArgumentException($"{loaded.Path}: the model has no conv layer to explain");
        if (test.SampleShape.Length != 3) throw new ArgumentException($"{loaded.Path}: Grad-CAM needs image inputs [C, H, W]; this model takes flat samples");
        if (layer >= seq.Layers.Count - 1) throw new UsageException($"--layer must be below {seq.Layers.Count - 1} (the model has {seq.Layers.Count} layers)");
        var indices = a.GetValue(Images) ?? Enumerable.Range(0, Math.Min(8, test.Count)).ToArray();
        foreach (int i in indices)
            if (i >= test.Count) throw new UsageException($"--images: {i} is not an index of the test set (0..{test.Count - 1})");
        int ch = test.SampleShape[0], h = test.SampleShape[1], w = test.SampleShape[2];
        var batch = test.Gather(indices, 0, indices.Length);
        var x = new Tensor(batch.X.ToArray(), indices.Length, ch, h, w);
        var maps = GradCam.Compute(seq, x, layer);
        var labels = batch.Labels;
        var inputs = Enumerable.Range(0, indices.Length).Select(r => batch.X.Span.Slice(r * ch * h * w, ch * h * w).ToArray()).ToArray();
        var rowLabels = Enumerable.Range(0, indices.Length).Select(r => string.Create(CultureInfo.InvariantCulture,
            $"#{indices[r]}: label {(labels is null ? "?" : labels[r].ToString(CultureInfo.InvariantCulture))}, pred {maps[r].Class}")).ToArray();
        string dir = a.GetValue(SharedOptions.Out) ?? (Directory.Exists(a.GetValue(RunsCommands.RunOrCheckpoint)!)
            ? Path.Combine(a.GetValue(RunsCommands.RunOrCheckpoint)!, "gradcam")
            : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(loaded.Path)) ?? ".", "gradcam"));
        Directory.CreateDirectory(dir);
        string layerName = $"layer {layer} ({seq.Layers[layer]})";
        var (png, svg) = GradCamFigure.Save(Path.Combine(dir, "gradcam"), $"Grad-CAM of {layerName}", inputs, ch, h, w, rowLabels,
            [new GradCamColumn("Grad-CAM", maps)]);
        var summary = new
        {
            checkpoint = loaded.Path, dataset = loaded.Dataset, layer, layerName = seq.Layers[layer].ToString(), png, svg,
            images = indices.Select((idx, r) => new { index = idx, label = labels?[r], predicted = maps[r].Class, score = maps[r].Score }).ToArray(),
        };
        string json = JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true });
        File.WriteAllText(Path.Combine(dir, "gradcam.json"), json);
        if (a.GetValue(SharedOptions.Json)) Console.WriteLine(json);
        else
        {
            int right = labels is null ? 0 : Enumerable.Range(0, indices.Length).Count(r => labels[r] == maps[r].Class);
            Console.WriteLine($"Grad-CAM of {layerName} for {indices.Length} test images of {loaded.Dataset}" +
                (labels is null ? "" : $" ({right} predicted right)") + $": {png}, {svg}");
        }
        return 0;
    }
}
