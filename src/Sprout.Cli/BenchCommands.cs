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

    public static int Execute(string[] argv)
    {
        if (argv.Length == 0) throw new UsageException("bench needs a target: gemm or mlp");
        return argv[0] switch
        {
            "gemm" => Gemm(argv[1..]),
            "mlp" => Mlp(argv[1..]),
            "step" => Step(argv[1..]),
            "cnn" => CnnBench.Run(argv[1..]),
            _ => throw new UsageException($"unknown bench target '{argv[0]}' (gemm, mlp, step, cnn)"),
        };
    }

    // ------------------------------------------------------------------ GEMM

    private sealed record GemmResult(string Case, int M, int N, int K, bool TransA, bool TransB, int Threads, double Gflops);

    private static int Gemm(string[] argv)
    {
        var a = new Args(argv, new HashSet<string> { "json", "quick" });
        bool json = a.Flag("json");
        bool quick = a.Flag("quick");
        var threadList = ThreadList(a);
        var shape = a.String("shape"); // m,n,k,ta,tb — one custom case (for tuning)
        Sprout.Kernels.GemmDot.DotMaxSide = a.Int("dot-max", Sprout.Kernels.GemmDot.DotMaxSide, 0, int.MaxValue);
        Sprout.Kernels.Gemm.DirectBMaxRows = a.Int("direct-b", Sprout.Kernels.Gemm.DirectBMaxRows, 0, int.MaxValue);
        a.RejectUnknown();

        var cases = new List<(string Name, int M, int N, int K, bool TA, bool TB)>();
        if (shape is not null)
        {
            var f = shape.Split(',');
            if (f.Length != 5) throw new UsageException("--shape takes m,n,k,ta,tb (ta/tb 0 or 1)");
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

    internal static int[] ThreadList(Args a)
    {
        var s = a.String("threads");
        if (s is null) return Environment.ProcessorCount >= 2 ? [1, 2] : [1];
        try
        {
            var list = s.Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            if (list.Length == 0 || list.Any(t => t < 1 || t > 256)) throw new FormatException();
            return list;
        }
        catch (FormatException) { throw new UsageException($"--threads takes a list like 1,2; got '{s}'"); }
    }

    // ------------------------------------------------------------------ MLP

    private sealed record MlpResult(string Model, int Batch, int Threads, double Seconds, double? TorchSeconds, double? Speedup,
        long? BytesPerStep, double BytePixelSeconds, double? BytePixelSpeedup);

    private static int Mlp(string[] argv)
    {
        var a = new Args(argv, new HashSet<string> { "json", "quick", "no-torch" });
        bool json = a.Flag("json");
        bool quick = a.Flag("quick");
        bool noTorch = a.Flag("no-torch");
        int samples = a.Int("samples", 60000, 1000, 10_000_000);
        int reps = a.Int("reps", quick ? 1 : 2, 1, 100);
        var threadList = ThreadList(a);
        string? modelList = a.String("models"); // e.g. 784-20-10,784-1000-10: only these cases
        string? batchList = a.String("batches");
        a.RejectUnknown();

        int[][] archs = quick ? [[784, 20, 10], [784, 120, 10]] : [[784, 20, 10], [784, 120, 10], [784, 1000, 10], [784, 30, 30, 30, 10]];
        int[] batches = [64, 256];
        try
        {
            if (modelList is not null)
                archs = modelList.Split(',').Select(m => m.Split('-').Select(w => int.Parse(w, CultureInfo.InvariantCulture)).ToArray()).ToArray();
            if (batchList is not null) batches = batchList.Split(',').Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (FormatException)
        {
            throw new ArgumentException("--models takes widths like 784-20-10,784-1000-10 and --batches numbers like 64,256");
        }
        if (archs.Any(w => w.Length < 2 || w[0] != 784 || w.Any(v => v < 1)) || batches.Any(b => b < 1))
            throw new ArgumentException("--models: MNIST-sized widths starting at 784 (e.g. 784-20-10); --batches: positive sizes");
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

    private static int Step(string[] argv)
    {
        var a = new Args(argv, new HashSet<string>());
        string spec = a.String("model") ?? "784-120-10";
        var widths = spec.Split('-').Select(w => int.TryParse(w, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : -1).ToArray();
        if (widths.Length < 2 || widths.Any(v => v < 1))
            throw new ArgumentException($"--model takes positive layer widths like 784-120-10, got '{spec}'");
        int batch = a.Int("batch", 64, 1, 100000);
        int steps = a.Int("steps", 2000, 10, 10_000_000);
        Cli.ApplyThreads(a);
        a.RejectUnknown();
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
