using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sprout.Kernels;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Cli;

/// <summary>`sprout bench ...`: timings, never pass/fail. Each prints a table, or JSON with --json.</summary>
internal static class BenchCommands
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    private static readonly Option<bool> Quick = Opt.Flag("--quick", "fewer cases and shorter timings");
    /// <summary><c>--no-torch</c> of bench mlp and bench cnn.</summary>
    internal static readonly Option<bool> NoTorch = Opt.Flag("--no-torch", "skip the PyTorch baseline");
    private static readonly Option<string?> Shape = new("--shape")
    {
        Description = "time one custom case instead (for tuning): m,n,k and whether A and B are transposed (0 or 1)",
        HelpName = "m,n,k,ta,tb",
        CustomParser = r =>
        {
            var f = Opt.Token(r).Split(',');
            if (f.Length == 5 && f[..3].All(x => Opt.IntItem(x, 1, 65536).Error is null) && f[3] is "0" or "1" && f[4] is "0" or "1") return Opt.Token(r);
            r.AddError($"{Opt.NameOf(r)} takes m,n,k,ta,tb (sizes from 1 to 65536, ta and tb 0 or 1), got '{Opt.Token(r)}'");
            return null;
        },
    };
    private static readonly Option<int> DotMax = Opt.Int("--dot-max", "GEMM tuning: the largest min(m,n) that uses the dot-product kernel",
        Sprout.Kernels.GemmDot.DotMaxSide, 0, int.MaxValue);
    private static readonly Option<int> DirectB = Opt.Int("--direct-b", "GEMM tuning: the most rows of A for which B is read in place",
        Sprout.Kernels.Gemm.DirectBMaxRows, 0, int.MaxValue);
    private static readonly Option<int> Samples = Opt.Int("--samples", "samples per epoch", 60000, 1000, 10_000_000);
    private static readonly Option<int?> Reps = Opt.IntOrNull("--reps", "timed epochs per case, the best is kept (default: 1 with --quick, else 2)", 1, 100);
    private static readonly Option<int[][]?> Models = Opt.List("--models", "784-W…-10,…",
        "only these MLPs, as layer widths from the 784 inputs, comma-separated", ParseMnistWidths);
    private static readonly Option<int[]?> Batches = Opt.List("--batches", "B1,B2,…", "batch sizes (default: 64,256)", s => Opt.IntItem(s, 1, 100_000));
    private static readonly Option<int[]?> StepModel = new("--model")
    {
        Description = "the MLP's layer widths (default: 784-120-10)", HelpName = "W1-W2-…",
        CustomParser = r =>
        {
            var (w, error) = Opt.ParseWidths(Opt.Token(r));
            if (error is null) return w!;
            r.AddError($"{Opt.NameOf(r)}: {error}");
            return null;
        },
    };
    private static readonly Option<int> StepSteps = Opt.Int("--steps", "timed training steps", 2000, 10, 10_000_000);

    /// <summary>The <c>bench</c> command and its subcommands.</summary>
    public static Command Create()
    {
        var gemm = new Command("gemm", "GEMM GFLOP/s on square sizes and the MLP layer shapes (forward and both backward products)")
        {
            SharedOptions.Json, Quick, SharedOptions.ThreadSweep, Shape, DotMax, DirectB,
        };
        gemm.SetAction(Gemm);
        var mlp = new Command("mlp", "seconds per epoch of MLP training vs PyTorch on the same cases in the same run")
        {
            SharedOptions.Json, Quick, NoTorch, Samples, Reps, SharedOptions.ThreadSweep, Models, Batches,
        };
        mlp.SetAction(Mlp);
        var step = new Command("step", "where a training step's time goes, per layer, backward rule and phase")
        {
            StepModel, SharedOptions.Batch, StepSteps, SharedOptions.Threads,
        };
        step.SetAction(Step);
        return new Command("bench", "timings, never pass/fail: a table, or JSON with --json") { gemm, mlp, CnnBench.Create(), ConvNetBench.Create(), step };
    }

    // "784-120-10" → [784, 120, 10]: two or more positive widths
    private static (int[]? Widths, string? Error) ParseMnistWidths(string spec)
    {
        var (w, error) = Opt.ParseWidths(spec);
        return error is null && w![0] != 784 ? (null, $"MNIST-sized widths start at 784 (e.g. 784-20-10), got '{spec}'") : (w, error);
    }

    // ------------------------------------------------------------------ GEMM

    private sealed record GemmResult(string Case, int M, int N, int K, bool TransA, bool TransB, int Threads, double Gflops);

    private static int Gemm(ParseResult a)
    {
        bool json = a.GetValue(SharedOptions.Json);
        bool quick = a.GetValue(Quick);
        var threadList = ThreadList(a);
        var shape = a.GetValue(Shape); // m,n,k,ta,tb — one custom case (for tuning)
        Sprout.Kernels.GemmDot.DotMaxSide = a.GetValue(DotMax);
        Sprout.Kernels.Gemm.DirectBMaxRows = a.GetValue(DirectB);

        var cases = new List<(string Name, int M, int N, int K, bool TA, bool TB)>();
        if (shape is not null)
        {
            var f = shape.Split(',');
            cases.Add((shape, int.Parse(f[0], CultureInfo.InvariantCulture), int.Parse(f[1], CultureInfo.InvariantCulture),
                int.Parse(f[2], CultureInfo.InvariantCulture), f[3] == "1", f[4] == "1"));
        }
        else foreach (int s in quick ? new[] { 64, 256, 512, 1024 } : new[] { 64, 128, 256, 512, 1024, 2048 })
            cases.Add(($"{s}³", s, s, s, false, false));
        // MLP layer shapes at batch 128: forward x·Wᵀ (NT), input gradient G·W (NN), weight gradient Gᵀ·X (TN)
        if (shape is null) foreach (var (inF, outF) in new[] { (784, 120), (120, 10) })
        {
            cases.Add(($"fwd 128×{inF}→{outF}", 128, outF, inF, false, true));
            cases.Add(($"dX 128×{outF}→{inF}", 128, inF, outF, false, false));
            cases.Add(($"dW {outF}×{inF} (k=128)", outF, inF, 128, true, false));
        }
        var results = new List<GemmResult>();
        var rng = new Rng(1);
        if (!json) Console.WriteLine($"{"case",-26} {"m×n×k",-16} {"threads",7} {"GFLOP/s",9}");
        foreach (var c in cases)
        {
            var A = new float[c.M * c.K];
            var B = new float[c.K * c.N];
            var C = new float[c.M * c.N];
            rng.FillUniform(A, -1, 1);
            rng.FillUniform(B, -1, 1);
            int lda = c.TA ? c.M : c.K, ldb = c.TB ? c.K : c.N;
            foreach (int t in threadList)
            {
                Workers.Threads = t;
                double flops = 2.0 * c.M * c.N * c.K;
                void Once() => Sprout.Kernels.Gemm.Multiply(c.M, c.N, c.K, A, lda, c.TA, B, ldb, c.TB, C, c.N, false);
                double sec = BestOf(Once, targetSeconds: quick ? 0.15 : 0.4);
                var r = new GemmResult(c.Name, c.M, c.N, c.K, c.TA, c.TB, t, flops / sec / 1e9);
                results.Add(r);
                if (!json) Console.WriteLine($"{c.Name,-26} {$"{c.M}×{c.N}×{c.K}",-16} {t,7} {r.Gflops,9:F1}");
            }
        }
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { kernel = Sprout.Kernels.Gemm.Kernel.ToString(), results }, Json));
        return 0;
    }

    // The median milliseconds of `steps` training steps on one batch, after `warmup` untimed ones.
    internal static double MedianStepMs(Trainer trainer, Batch batch, int steps, int warmup)
    {
        var times = new List<double>();
        for (int s = 0; s < steps + warmup; s++)
        {
            var sw = Stopwatch.StartNew();
            trainer.Step(batch);
            if (s >= warmup) times.Add(sw.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2] * 1e3;
    }

    // Runs `body` repeatedly for about targetSeconds after a warm-up and returns the best time of a run of reps.
    internal static double BestOf(Action body, double targetSeconds)
    {
        body();
        var sw = Stopwatch.StartNew();
        body();
        double one = Math.Max(sw.Elapsed.TotalSeconds, 1e-7);
        int reps = (int)Math.Clamp(targetSeconds / 5 / one, 1, 100000);
        double best = double.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            sw.Restart();
            for (int i = 0; i < reps; i++) body();
            best = Math.Min(best, sw.Elapsed.TotalSeconds / reps);
        }
        return best;
    }

    /// <summary>The thread counts a benchmark measures (--threads 1,2; default 1 and 2 where there are two cores).</summary>
    internal static int[] ThreadList(ParseResult a) =>
        a.Given(SharedOptions.ThreadSweep) ?? (Environment.ProcessorCount >= 2 ? [1, 2] : [1]);

    // ------------------------------------------------------------------ MLP

    private sealed record MlpResult(string Model, int Batch, int Threads, double Seconds, double? TorchSeconds, double? Speedup,
        long? BytesPerStep, double BytePixelSeconds, double? BytePixelSpeedup);

    private static int Mlp(ParseResult a)
    {
        bool json = a.GetValue(SharedOptions.Json);
        bool quick = a.GetValue(Quick);
        bool noTorch = a.GetValue(NoTorch);
        int samples = a.GetValue(Samples);
        int reps = a.GetValue(Reps) ?? (quick ? 1 : 2);
        var threadList = ThreadList(a);

        int[][] archs = a.Given(Models) ?? (quick ? [[784, 20, 10], [784, 120, 10]] : [[784, 20, 10], [784, 120, 10], [784, 1000, 10], [784, 30, 30, 30, 10]]);
        int[] batches = a.Given(Batches) ?? [64, 256];
        var rng = new Rng(0);
        // MNIST-like pixels: random bytes, normalised with MNIST's mean/std; stored as floats (the same work as the
        // PyTorch baseline's float tensor) and as bytes converted per batch (how growth runs hold image data sets)
        var px = new byte[samples * 784];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)rng.NextInt(256);
        float[] scale = [1f / (255f * 0.3081f)], shift = [-0.1307f / 0.3081f];
        var x = new float[samples * 784];
        for (int i = 0; i < x.Length; i++) x[i] = px[i] * scale[0] + shift[0];
        var y = new int[samples];
        for (int i = 0; i < samples; i++) y[i] = rng.NextInt(10);
        var floatData = new InMemoryDataset(x, y, 784);
        var byteData = new InMemoryDataset(px, y, 784, scale, shift);
        int warm = samples / 10;
        var warmData = new InMemoryDataset(x[..(warm * 784)], y[..warm], 784);

        var torch = new Dictionary<(string, int, int), double>();
        string? torchNote = null;
        if (!noTorch)
        {
            if (!json) Console.WriteLine("running the PyTorch baseline (same cases, same machine, same run)…");
            foreach (int t in threadList)
            {
                var (res, note) = TorchBaseline.Mlp(archs, batches, t, samples, reps);
                torchNote ??= note;
                foreach (var kv in res) torch[kv.Key] = kv.Value;
            }
        }

        var results = new List<MlpResult>();
        if (!json)
        {
            if (torchNote is not null) Console.WriteLine($"PyTorch baseline: {torchNote}");
            Console.WriteLine($"{"model",-18} {"batch",5} {"thr",3} {"sprout s/ep",11} {"torch s/ep",10} {"speed-up",8} {"B/step",8} {"u8 s/ep",8} {"u8 speed-up",11}");
        }
        foreach (var arch in archs)
            foreach (int batch in batches)
                foreach (int t in threadList)
                {
                    Workers.Threads = t;
                    string name = string.Join("-", arch);
                    var model = SequentialConfig.Mlp(arch, ActivationConfig.Relu).Build(new Rng(1));
                    var trainer = new Trainer(model, new Adam(model.Parameters(), 1e-3));
                    var order = rng.Permutation(samples);
                    trainer.TrainEpoch(warmData, rng.Permutation(warm), batch);
                    // The process's first case also waits out .NET's tiered JIT: small methods start unoptimised and are
                    // recompiled in the background after ~100 ms without new first calls. With only the warm-up above
                    // the first case measured 0.056 s/epoch where the same case run second measured 0.040.
                    for (var jitWarm = Stopwatch.StartNew(); results.Count == 0 && jitWarm.Elapsed.TotalSeconds < 1.5;)
                    {
                        trainer.TrainEpoch(warmData, rng.Permutation(warm), batch);
                        trainer.TrainEpoch(byteData, rng.Permutation(warm), batch);
                    }
                    double BestEpoch(InMemoryDataset data)
                    {
                        double b = double.MaxValue;
                        for (int r = 0; r < reps; r++)
                        {
                            var sw = Stopwatch.StartNew();
                            trainer.TrainEpoch(data, order, batch);
                            b = Math.Min(b, sw.Elapsed.TotalSeconds);
                        }
                        return b;
                    }
                    long before = GC.GetTotalAllocatedBytes(precise: true);
                    double best = BestEpoch(floatData);
                    long perStep = (GC.GetTotalAllocatedBytes(precise: true) - before) / Math.Max(1, reps * ((samples + batch - 1) / batch));
                    double bestU8 = BestEpoch(byteData);
                    double? ts = torch.TryGetValue((name, batch, t), out var v) ? v : null;
                    var res = new MlpResult(name, batch, t, best, ts, ts / best, perStep, bestU8, ts / bestU8);
                    results.Add(res);
                    static string X(double? r) => r is null ? "-" : r.Value.ToString("F2", CultureInfo.InvariantCulture) + "×";
                    if (!json)
                        Console.WriteLine($"{name,-18} {batch,5} {t,3} {best,11:F3} {(ts is null ? "-" : ts.Value.ToString("F3", CultureInfo.InvariantCulture)),10} " +
                                          $"{X(res.Speedup),8} {perStep,8} {bestU8,8:F3} {X(res.BytePixelSpeedup),11}");
                }
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { samples, reps, torch = torchNote, results }, Json));
        return 0;
    }

    // ------------------------------------------------------------------ step profile

    private static int Step(ParseResult a)
    {
        var widths = a.Given(StepModel) ?? [784, 120, 10];
        int batch = a.GetValue(SharedOptions.Batch);
        int steps = a.GetValue(StepSteps);
        SharedOptions.ApplyThreads(a);
        var rng = new Rng(0);
        var model = SequentialConfig.Mlp(widths, ActivationConfig.Relu).Build(rng);
        var opt = new Adam(model.Parameters(), 1e-3);
        var x = Tensor.Uniform(rng, 0, 1, batch, widths[0]);
        var y = Enumerable.Range(0, batch).Select(i => i % widths[^1]).ToArray();
        Console.Write(ProfileSteps(new Trainer(model, opt), new Batch(x, y), steps).Format(steps));
        Console.WriteLine("(\"backward (graph walk)\" includes the backward rules listed separately)");
        return 0;
    }

    /// <summary>Runs training steps and returns time per forward layer, backward rule and phase (the trainer's profile).</summary>
    internal static Sprout.Diagnostics.OpProfile ProfileSteps(Trainer trainer, Batch batch, int steps, int warmup = 50)
    {
        var profile = new Sprout.Diagnostics.OpProfile();
        trainer.Profile = profile;
        for (int s = 0; s < steps + warmup; s++)
        {
            if (s == warmup) profile.Clear();
            trainer.Step(batch);
        }
        trainer.Profile = null;
        return profile;
    }
}
