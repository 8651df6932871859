using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sprout.Autograd;
using Sprout.Kernels;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Cli;

/// <summary>`sprout bench cnn`: the SWE CIFAR-10 backbone's training step vs PyTorch, per-layer conv throughput, and the
/// paper-003 locally connected layers.</summary>
internal static class CnnBench
{
    private sealed record StepResult(int Threads, double SproutMs, double? TorchMs, double? Speedup);
    private sealed record LayerResult(string Layer, int Threads, double Ms, double Gflops, double FractionOfGemm,
        double ForwardMs = 0, double InputGradMs = 0, double WeightGradMs = 0, double BackboneFraction = 0);

    private static readonly Option<bool> Profile = Opt.Flag("--profile", "only profile the training step: time per layer and phase, allocations");
    private static readonly Option<bool> Im2col = Opt.Flag("--im2col", "convolutions through im2col + GEMM instead of the implicit GEMM");
    private static readonly Option<bool> NoWinograd = Opt.Flag("--no-winograd", "no Winograd convolutions");
    private static readonly Option<int> Steps = Opt.Int("--steps", "timed training steps (the median is reported)", 20, 2, 100000);
    private static readonly Option<bool> LcOnly = Opt.Flag("--lc-only", "only the locally connected layers (and the GEMM rate they are compared with)");

    /// <summary>The <c>bench cnn</c> command.</summary>
    public static Command Create()
    {
        var c = new Command("cnn", "the SWE CIFAR-10 backbone's training step vs PyTorch (channels-last), conv throughput per layer, locally connected layers")
        {
            SharedOptions.Json, BenchCommands.NoTorch, Profile, Im2col, NoWinograd, Steps, SharedOptions.ThreadSweep, LcOnly,
        };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult a)
    {
        if (a.GetValue(Im2col)) Ops.UseImplicitGemm = false;
        if (a.GetValue(NoWinograd)) Ops.UseWinograd = false;
        bool json = a.GetValue(SharedOptions.Json);
        bool profileOnly = a.GetValue(Profile);
        bool noTorch = a.GetValue(BenchCommands.NoTorch);
        int steps = a.GetValue(Steps);
        var threadList = BenchCommands.ThreadList(a);

        var rng = new Rng(0);
        if (a.GetValue(LcOnly))
        {
            var only = LocallyConnectedLayers(threadList, noTorch, json, rng);
            if (json) Console.WriteLine(JsonSerializer.Serialize(new { locallyConnected = only }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var x = Tensor.Uniform(rng, 0, 1, 128, 3, 32, 32);
        var y = Enumerable.Range(0, 128).Select(_ => rng.NextInt(10)).ToArray();
        if (profileOnly)
        {
            Workers.Threads = threadList[0];
            var pm = (Sequential)Models.SweBackbone(10, [40]).Build(new Rng(1));
            var ptrainer = new Trainer(pm, new Adam(pm.Parameters(), 1e-3));
            BenchCommands.ProfileSteps(ptrainer, new Batch(x, y), 2, warmup: 2); // fill the pool first
            using var listener = new AllocListener();
            long misses = Sprout.Tensors.BufferPool.Misses;
            long before = GC.GetTotalAllocatedBytes(precise: true);
            int gen2 = GC.CollectionCount(2);
            Console.Write(BenchCommands.ProfileSteps(ptrainer, new Batch(x, y), steps, warmup: 3).Format(steps));
            Console.WriteLine($"managed allocation: {(GC.GetTotalAllocatedBytes(precise: true) - before) / (steps + 3) / 1024.0:F1} KiB per step, " +
                              $"{GC.CollectionCount(2) - gen2} gen-2 collections, pool holds {Sprout.Tensors.BufferPool.RetainedFloats * 4 / 1048576.0:F0} MiB idle");
            Console.WriteLine($"pool misses: {Sprout.Tensors.BufferPool.Misses - misses}");
            foreach (var kv in listener.Big.OrderByDescending(k => k.Value)) Console.WriteLine($"  {kv.Key}: {kv.Value / 1024} KiB");
            return 0;
        }
        var steps1 = new List<StepResult>();
        foreach (int t in threadList)
        {
            Workers.Threads = t;
            var model = Models.SweBackbone(10, [40]).Build(new Rng(1));
            var trainer = new Trainer(model, new Adam(model.Parameters(), 1e-3));
            var batch = new Batch(x, y);
            double ours = BenchCommands.MedianStepMs(trainer, batch, steps, warmup: 3);
            double? torch = null;
            string note = "";
            if (!noTorch)
            {
                var (lines, n) = TorchBaseline.RunScript("torch_cnn.py", ["--steps", steps.ToString(CultureInfo.InvariantCulture)], t);
                note = n;
                if (lines.Count > 0) torch = lines[0].GetProperty("median").GetDouble() * 1e3;
            }
            steps1.Add(new StepResult(t, ours, torch, torch / ours));
            if (!json && t == threadList[0] && !noTorch) Console.WriteLine($"PyTorch baseline: {note} (channels-last)");
        }
        if (!json)
        {
            Console.WriteLine("SWE CIFAR-10 backbone + 2048-40-10 head, batch 128, Adam: median ms per training step");
            Console.WriteLine($"{"threads",7} {"sprout ms",10} {"torch ms",9} {"speed-up",8}");
            foreach (var r in steps1)
                Console.WriteLine($"{r.Threads,7} {r.SproutMs,10:F1} {(r.TorchMs is null ? "-" : r.TorchMs.Value.ToString("F1", CultureInfo.InvariantCulture)),9} " +
                                  $"{(r.Speedup is null ? "-" : r.Speedup.Value.ToString("F2", CultureInfo.InvariantCulture) + "×"),8}");
        }

        // per-layer conv forward + both backward products, against the GEMM's 512³ rate at the same thread count
        var layers = new List<LayerResult>();
        (string Name, int C, int F, int S)[] convs = [("conv1 3→16 @32", 3, 16, 32), ("conv2 16→16 @32", 16, 16, 32), ("conv3 16→32 @16", 16, 32, 16), ("conv4 32→32 @16", 32, 32, 16)];
        foreach (int t in threadList)
        {
            Workers.Threads = t;
            var A = Tensor.Uniform(rng, -1, 1, 512, 512);
            var B = Tensor.Uniform(rng, -1, 1, 512, 512);
            var C = new float[512 * 512];
            double gemm = 2.0 * 512 * 512 * 512 / BenchCommands.BestOf(() => Sprout.Kernels.Gemm.Multiply(512, 512, 512, A.Span, 512, false, B.Span, 512, false, C, 512, false), 0.3) / 1e9;
            foreach (var (name, c, f, s) in convs)
            {
                var xin = Tensor.Uniform(rng, -1, 1, 128, c, s, s);
                xin.RequiresGrad = true;
                var w = Tensor.Uniform(rng, -0.1, 0.1, f, c, 3, 3);
                w.RequiresGrad = true;
                var g = Tensor.Uniform(rng, -1, 1, 128, f, s, s);
                void Pass(bool dx, bool dw)
                {
                    using var _ = TensorScope.Begin();
                    // as in a training step (after ZeroGrad), the gradients are written, not added to old ones
                    xin.ZeroGrad();
                    w.ZeroGrad();
                    xin.RequiresGrad = dx;
                    w.RequiresGrad = dw;
                    var yout = Ops.Conv2d(xin, w, null, 1, 1, 1, 1);
                    if (dx || dw) yout.Backward(g);
                }
                double fwd = BenchCommands.BestOf(() => Pass(false, false), 0.5);
                // the input and weight gradients as timed inside the convolution's backward rule (without seeding
                // the 8 MB output gradient, which a training step does not do): best of 5 rounds
                double dxSec = double.MaxValue, dwSec = double.MaxValue;
                var prof = new Sprout.Diagnostics.OpProfile();
                Pass(true, true);
                for (int round = 0; round < 5; round++)
                {
                    prof.Clear();
                    Sprout.Autograd.Graph.Profile = prof;
                    for (int r = 0; r < 4; r++) Pass(true, true);
                    Sprout.Autograd.Graph.Profile = null;
                    foreach (var (entry, secs, _) in prof.Entries())
                    {
                        if (entry.StartsWith("  Conv2d dX", StringComparison.Ordinal)) dxSec = Math.Min(dxSec, secs / 4);
                        if (entry.StartsWith("  Conv2d dW", StringComparison.Ordinal)) dwSec = Math.Min(dwSec, secs / 4);
                    }
                }
                double sec = fwd + dxSec + dwSec;
                double pass = 2.0 * 128 * f * s * s * c * 9, flops = 3 * pass;
                // the passes the backbone runs: the first layer's input is the data, so it has no input gradient
                double backbone = c == 3 ? 2 * pass / (fwd + dwSec) / 1e9 / gemm : flops / sec / 1e9 / gemm;
                layers.Add(new LayerResult(name, t, sec * 1e3, flops / sec / 1e9, flops / sec / 1e9 / gemm,
                    fwd * 1e3, dxSec * 1e3, dwSec * 1e3, backbone));
            }
        }
        if (!json)
        {
            Console.WriteLine();
            Console.WriteLine("conv forward + input and weight gradients, batch 128 (fraction = of the GEMM's 512³ GFLOP/s, counting a direct");
            Console.WriteLine("convolution's multiply-adds; \"backbone\" = the passes the backbone runs: conv1 has no input gradient)");
            Console.WriteLine($"{"layer",-18} {"threads",7} {"ms",7} {"GFLOP/s",8} {"fraction",8} {"backbone",8} {"fwd ms",7} {"dX ms",7} {"dW ms",7}");
            foreach (var l in layers)
                Console.WriteLine($"{l.Layer,-18} {l.Threads,7} {l.Ms,7:F2} {l.Gflops,8:F1} {l.FractionOfGemm * 100,7:F0}% {l.BackboneFraction * 100,7:F0}% {l.ForwardMs,7:F2} {l.InputGradMs,7:F2} {l.WeightGradMs,7:F2}");
        }

        var lcs = LocallyConnectedLayers(threadList, noTorch, json, rng);
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { step = steps1, conv = layers, locallyConnected = lcs }, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private sealed record LcResult(string Layer, int Batch, string Layout, int Threads, double ForwardMs, double BackwardMs, double Ms,
        double Gflops, double GemmGflops, double FractionOfGemm, double TrafficBytes, double TrafficMs, double? TorchMs, string? TorchVariant, double? Speedup);

    /// <summary>Main-memory bandwidth the traffic times are computed with (GB/s, the reference machine's).</summary>
    private const double MemoryGBs = 28;

    // Paper 003's locally connected layers (Models.FreeConvNet: Table A.2) at the paper's batch sizes: forward and the
    // backward rule (all three gradients: input, weight, bias) of Ops.LocallyConnected2d, against the GEMM's 512³ rate
    // and PyTorch's unfold + batched matmul, each at the same thread count in the same run.
    private static List<LcResult> LocallyConnectedLayers(int[] threadList, bool noTorch, bool json, Rng rng)
    {
        (string Name, int N, int C, int H, int F, int K, int S)[] spec =
        [
            ("MNIST LC1 1→32 k3 s2 @28", 256, 1, 28, 32, 3, 2), ("MNIST LC2 32→64 k3 s2 @13", 256, 32, 13, 64, 3, 2),
            ("MNIST LC3 64→128 k3 s1 @6", 256, 64, 6, 128, 3, 1), ("CIFAR LC1 3→64 k5 s2 @32", 128, 3, 32, 64, 5, 2),
            ("CIFAR LC2 64→128 k5 s2 @14", 128, 64, 14, 128, 5, 2), ("CIFAR LC3 128→256 k3 s1 @5", 128, 128, 5, 256, 3, 1),
        ];
        var results = new List<LcResult>();
        string torchNote = "";
        foreach (int t in threadList)
        {
            Workers.Threads = t;
            var A = Tensor.Uniform(rng, -1, 1, 512, 512);
            var B = Tensor.Uniform(rng, -1, 1, 512, 512);
            var Cm = new float[512 * 512];
            double gemm = 2.0 * 512 * 512 * 512 / BenchCommands.BestOf(() => Sprout.Kernels.Gemm.Multiply(512, 512, 512, A.Span, 512, false, B.Span, 512, false, Cm, 512, false), 0.3) / 1e9;
            var torch = new Dictionary<string, (double Sec, string Variant)>();
            if (!noTorch)
            {
                var cases = JsonSerializer.Serialize(spec.Select(l => new object[] { l.Name, l.N, l.C, l.H, l.F, l.K, l.S }));
                var (lines, note) = TorchBaseline.RunScript("torch_cnn.py", ["--lc", cases], t);
                torchNote = note;
                foreach (var line in lines)
                {
                    double bmm = line.GetProperty("bmm").GetDouble(), einsum = line.GetProperty("einsum").GetDouble();
                    torch[line.GetProperty("lc").GetString()!] = bmm <= einsum ? (bmm, "bmm") : (einsum, "einsum");
                }
            }
            foreach (var (name, n, c, h, f, k, s) in spec)
            {
                using var scope = TensorScope.Begin();
                var layer = (LocallyConnected2d)new LocallyConnected2dConfig(c, h, h, f, k, s).Build(new Rng(2));
                var xin = Tensor.Uniform(rng, -1, 1, n, c, h, h);
                int oh = (h - k) / s + 1, p = oh * oh, kk = c * k * k;
                var g = Tensor.Uniform(rng, -1, 1, n, f, oh, oh);
                void Pass(bool grad)
                {
                    using var _ = TensorScope.Begin();
                    xin.RequiresGrad = grad;
                    layer.Weight.RequiresGrad = grad;
                    layer.Bias!.RequiresGrad = grad;
                    xin.ZeroGrad();
                    layer.ZeroGrad();
                    var y = layer.Forward(xin);
                    if (grad) y.Backward(g);
                }
                double fwd = BenchCommands.BestOf(() => Pass(false), 0.5);
                // the backward rule as timed inside the backward pass (without seeding the output gradient, which a
                // training step does not do): best of 5 rounds of 4
                double bwd = double.MaxValue;
                var prof = new Sprout.Diagnostics.OpProfile();
                Pass(true);
                for (int round = 0; round < 5; round++)
                {
                    prof.Clear();
                    Sprout.Autograd.Graph.Profile = prof;
                    for (int r = 0; r < 4; r++) Pass(true);
                    Sprout.Autograd.Graph.Profile = null;
                    foreach (var (entry, secs, _) in prof.Entries())
                        if (entry.Contains("LocallyConnected2d", StringComparison.Ordinal)) bwd = Math.Min(bwd, secs / 4);
                }
                double sec = fwd + bwd, flops = 3 * 2.0 * n * p * kk * f;
                // bytes the pass must move at least: forward reads x, w, b and writes y; backward reads gy, x, w and
                // writes gx, gw, gb
                double bytes = 4.0 * (3.0 * n * c * h * h + 2.0 * n * f * p + 3.0 * p * kk * f + 2.0 * p * f);
                double? tms = torch.TryGetValue(name, out var tv) ? tv.Sec * 1e3 : null;
                results.Add(new LcResult(name, n, Sprout.Kernels.LocallyConnected.Choose(p, kk, f).ToString(), t, fwd * 1e3, bwd * 1e3, sec * 1e3,
                    flops / sec / 1e9, gemm, flops / sec / 1e9 / gemm, bytes, bytes / (MemoryGBs * 1e9) * 1e3, tms, tms is null ? null : tv.Variant,
                    tms / (sec * 1e3)));
            }
        }
        if (!json)
        {
            Console.WriteLine();
            Console.WriteLine("locally connected layers of paper 003 (Table A.2), forward + backward (input, weight and bias gradients)");
            Console.WriteLine($"GEMM 512³: {string.Join(", ", results.DistinctBy(r => r.Threads).Select(r => $"{r.GemmGflops:F1} GFLOP/s on {r.Threads} thread{(r.Threads > 1 ? "s" : "")}"))}; " +
                              $"traffic = bytes the pass must move at {MemoryGBs} GB/s; PyTorch: {(noTorch ? "not run" : torchNote)}, unfold + bmm or einsum, the faster");
            Console.WriteLine($"{"layer",-27} {"batch",5} {"layout",6} {"thr",3} {"fwd ms",7} {"bwd ms",7} {"ms",7} {"GFLOP/s",8} {"of GEMM",7} {"traffic",7} {"torch ms",8} {"speed-up",8}");
            foreach (var l in results)
                Console.WriteLine($"{l.Layer,-27} {l.Batch,5} {l.Layout,6} {l.Threads,3} {l.ForwardMs,7:F2} {l.BackwardMs,7:F2} {l.Ms,7:F2} {l.Gflops,8:F1} {l.FractionOfGemm * 100,6:F0}% " +
                                  $"{l.TrafficMs,7:F2} {(l.TorchMs is null ? "-" : l.TorchMs.Value.ToString("F2", CultureInfo.InvariantCulture)),8} " +
                                  $"{(l.Speedup is null ? "-" : l.Speedup.Value.ToString("F2", CultureInfo.InvariantCulture) + "×"),8}");
        }
        return results;
    }

    private sealed class AllocListener : System.Diagnostics.Tracing.EventListener
    {
        public readonly Dictionary<string, long> Big = new();
        protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1);
        }
        protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
        {
            if (e.EventName != "GCAllocationTick_V4" || e.Payload is null) return;
            int ti = e.PayloadNames!.IndexOf("TypeName"), si = e.PayloadNames.IndexOf("ObjectSize");
            string key = (e.Payload[ti]?.ToString() ?? "?") + " size " + (si >= 0 ? e.Payload[si] : "?");
            lock (Big) Big[key] = Big.GetValueOrDefault(key) + 100 * 1024;
        }
    }
}
