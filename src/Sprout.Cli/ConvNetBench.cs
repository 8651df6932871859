using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Sprout.Kernels;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Cli;

/// <summary>`sprout bench convnets`: a training step of paper 002's VGG16 and MobileNetV1 (uniform widths, as grown) against
/// PyTorch (channels-last) in the same run, at the start width and at the width of the paper's final parameter count.</summary>
internal static class ConvNetBench
{
    private sealed record Case(string Model, int Width);
    private sealed record StepResult(string Model, int Width, long Parameters, int Threads, double SproutMs, double? TorchMs, double? Speedup);

    // start widths (VGG16 16 = 28,666 parameters, MobileNetV1 16 and 32) and the widths of ~0.325 M parameters, the
    // paper's final size (VGG16 55: 330 k; MobileNetV1 150: 324 k)
    private static readonly Case[] DefaultCases = [new("vgg16", 16), new("vgg16", 55), new("mobilenetv1", 16), new("mobilenetv1", 32), new("mobilenetv1", 150)];

    private static readonly Option<Case[]?> Cases = Opt.List("--models", "MODEL:W,…",
        "the networks, as model:width (vgg16 or mobilenetv1; default: vgg16:16,vgg16:55,mobilenetv1:16,mobilenetv1:32,mobilenetv1:150)", ParseCase);
    private static readonly Option<int> Steps = Opt.Int("--steps", "timed training steps per case (the median is reported)", 10, 2, 100000);
    private static readonly Option<bool> Profile = Opt.Flag("--profile", "only profile Sprout's training step per layer and phase (no PyTorch)");

    /// <summary>The <c>bench convnets</c> command.</summary>
    public static Command Create()
    {
        var c = new Command("convnets", "paper 002's VGG16 and MobileNetV1 training step (batch 128, SGD momentum) vs PyTorch (channels-last), start and final widths")
        {
            SharedOptions.Json, BenchCommands.NoTorch, Cases, Steps, Profile, SharedOptions.ThreadSweep,
        };
        c.SetAction(Run);
        return c;
    }

    private static (Case? Value, string? Error) ParseCase(string s)
    {
        var parts = s.Split(':');
        if (parts.Length != 2 || parts[0] is not ("vgg16" or "mobilenetv1"))
            return (null, $"'{s}' is not model:width with model vgg16 or mobilenetv1");
        if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int w) || w < 1 || w > 1024)
            return (null, $"'{s}': the width must be an integer in 1…1024");
        return (new Case(parts[0], w), null);
    }

    private static SequentialConfig Network(Case c) => c.Model == "vgg16" ? Models.Vgg16(c.Width) : Models.MobileNetV1(c.Width);

    private static int Run(ParseResult a)
    {
        bool json = a.GetValue(SharedOptions.Json);
        bool noTorch = a.GetValue(BenchCommands.NoTorch) || a.GetValue(Profile);
        int steps = a.GetValue(Steps);
        var cases = a.Given(Cases) ?? DefaultCases;
        var threadList = BenchCommands.ThreadList(a);
        var rng = new Rng(0);
        var x = Tensor.Uniform(rng, 0, 1, 128, 3, 32, 32);
        var y = Enumerable.Range(0, 128).Select(_ => rng.NextInt(10)).ToArray();
        var batch = new Batch(x, y);
        var results = new List<StepResult>();
        string note = "";
        foreach (int t in threadList)
        {
            Workers.Threads = t;
            var torch = new Dictionary<Case, double>();
            if (!noTorch)
            {
                var caseJson = JsonSerializer.Serialize(cases.Select(c => new object[] { c.Model, c.Width }));
                var (lines, n) = TorchBaseline.RunScript("torch_convnets.py", ["--cases", caseJson, "--steps", steps.ToString(CultureInfo.InvariantCulture)], t);
                note = n;
                foreach (var l in lines)
                    torch[new Case(l.GetProperty("model").GetString()!, l.GetProperty("width").GetInt32())] = l.GetProperty("median").GetDouble() * 1e3;
            }
            foreach (var c in cases)
            {
                var model = (Sequential)Network(c).Build(new Rng(1));
                var trainer = new Trainer(model, new Sgd(model.Parameters(), 0.05, momentum: 0.9, weightDecay: 5e-4));
                long parameters = model.Parameters().Sum(p => (long)p.Length);
                if (a.GetValue(Profile))
                {
                    BenchCommands.ProfileSteps(trainer, batch, 2, warmup: 2);
                    Console.WriteLine($"{c.Model} width {c.Width} ({parameters:N0} parameters), {t} thread(s):");
                    Console.Write(BenchCommands.ProfileSteps(trainer, batch, steps, warmup: 2).Format(steps));
                    continue;
                }
                double ours = BenchCommands.MedianStepMs(trainer, batch, steps, warmup: 5);
                double? theirs = torch.TryGetValue(c, out double tm) ? tm : null;
                results.Add(new StepResult(c.Model, c.Width, parameters, t, ours, theirs, theirs / ours));
            }
        }
        if (a.GetValue(Profile)) return 0;
        var layers = DepthwiseLayers(threadList);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { torch = note, steps = results, depthwise = layers }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        if (!noTorch) Console.WriteLine($"PyTorch baseline: {note} (channels-last, same run)");
        Console.WriteLine("paper 002's networks (uniform widths), batch 128 of 3×32×32, SGD momentum 0.9: median ms per training step");
        Console.WriteLine($"{"model",-12} {"width",5} {"params",9} {"threads",7} {"sprout ms",10} {"torch ms",9} {"speed-up",8}");
        foreach (var r in results)
            Console.WriteLine($"{r.Model,-12} {r.Width,5} {r.Parameters,9:N0} {r.Threads,7} {r.SproutMs,10:F1} " +
                              $"{(r.TorchMs is null ? "-" : r.TorchMs.Value.ToString("F1", CultureInfo.InvariantCulture)),9} " +
                              $"{(r.Speedup is null ? "-" : r.Speedup.Value.ToString("F2", CultureInfo.InvariantCulture) + "×"),8}");
        Console.WriteLine();
        Console.WriteLine("MobileNetV1's depthwise 3×3 layers, batch 128: forward + input and weight gradients, DepthwiseConv (in place on");
        Console.WriteLine("the planes where DepthwiseDirect applies: 32×32 and 16×16; phase planes below) against the per-channel GEMM it");
        Console.WriteLine("replaced (Ops.UseDepthwise = false)");
        Console.WriteLine("(op = Conv2d forward + backward as in a step; fwd, dX, dW = the kernels alone on one thread)");
        Console.WriteLine($"{"layer",-20} {"threads",7} {"op ms",7} {"GFLOP/s",8} {"GEMM ms",8} {"speed-up",8} {"fwd ms",7} {"dX ms",7} {"dW ms",7}");
        foreach (var l in layers)
            Console.WriteLine($"{l.Layer,-20} {l.Threads,7} {l.KernelMs,7:F2} {l.Gflops,8:F1} {l.GemmMs,8:F2} {l.GemmMs / l.KernelMs,7:F1}× {l.ForwardMs,7:F2} {l.InputGradMs,7:F2} {l.WeightGradMs,7:F2}");
        return 0;
    }

    private sealed record DepthwiseResult(string Layer, int Threads, double KernelMs, double Gflops, double GemmMs, double ForwardMs, double InputGradMs, double WeightGradMs);

    // forward + backward (input and weight gradients) of MobileNetV1's depthwise layers at width 32, with and without the kernel
    private static List<DepthwiseResult> DepthwiseLayers(int[] threadList)
    {
        var results = new List<DepthwiseResult>();
        (int C, int S, int Stride)[] shapes = [(32, 32, 1), (32, 32, 2), (32, 16, 1), (32, 8, 1), (32, 4, 1), (32, 2, 1)];
        var rng = new Rng(3);
        bool saved = Sprout.Autograd.Ops.UseDepthwise;
        try
        {
            foreach (int t in threadList)
            {
                Workers.Threads = t;
                foreach (var (c, size, stride) in shapes)
                {
                    var x = Tensor.Uniform(rng, -1, 1, 128, c, size, size);
                    var w = Tensor.Uniform(rng, -0.3, 0.3, c, 1, 3, 3);
                    x.RequiresGrad = w.RequiresGrad = true;
                    int o = (size + 2 - 3) / stride + 1;
                    var gy = Tensor.Uniform(rng, -1, 1, 128, c, o, o);
                    void Pass()
                    {
                        using var _ = TensorScope.Begin();
                        x.ZeroGrad();
                        w.ZeroGrad();
                        Sprout.Autograd.Ops.Conv2d(x, w, null, stride, stride, 1, 1, groups: c).Backward(gy);
                    }
                    Sprout.Autograd.Ops.UseDepthwise = true;
                    double kernel = BenchCommands.BestOf(Pass, 0.4);
                    Sprout.Autograd.Ops.UseDepthwise = false;
                    double gemm = BenchCommands.BestOf(Pass, 0.4);
                    double flops = 3 * 2.0 * 128 * c * o * o * 9;
                    // the kernels alone, one thread, on the same data
                    var g = new ConvGeometry(1, size, size, 3, 3, stride, stride, 1, 1);
                    var yb = new float[gy.Length];
                    var dxb = new float[x.Length];
                    var dwb = new float[w.Length];
                    double fwd = BenchCommands.BestOf(() => DepthwiseConv.Forward(128, c, w.Span, x.Span, g, default, yb), 0.2);
                    double dx = BenchCommands.BestOf(() => DepthwiseConv.InputGrad(128, c, w.Span, gy.Span, g, dxb, false), 0.2);
                    double dw = BenchCommands.BestOf(() => DepthwiseConv.WeightGrad(128, c, gy.Span, x.Span, g, dwb), 0.2);
                    results.Add(new DepthwiseResult($"{c}ch {size}×{size} s{stride}", t, kernel * 1e3, flops / kernel / 1e9, gemm * 1e3, fwd * 1e3, dx * 1e3, dw * 1e3));
                }
            }
        }
        finally
        {
            Sprout.Autograd.Ops.UseDepthwise = saved;
        }
        return results;
    }
}
