using System.Diagnostics;
using Sprout.Kernels;
using Sprout.Tensors;

namespace Sprout.Cli;

internal static class Bench
{
    public static int Gemm(string[] args)
    {
        var rng = new Rng(1);
        foreach (var (m, n, k) in new[] { (64, 64, 64), (128, 128, 128), (256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (128, 120, 784), (64,120,784), (120,784,64), (64,784,120) })
        {
            foreach (int th in new[] { 1, 2 })
            {
                Workers.Threads = th;
                var a = new float[m * k]; var b = new float[k * n]; var c = new float[m * n];
                rng.FillUniform(a, -1, 1); rng.FillUniform(b, -1, 1);
                Sprout.Kernels.Gemm.Multiply(m, n, k, a, k, false, b, n, false, c, n, false);
                double flops = 2.0 * m * n * k;
                int reps = (int)Math.Max(3, 2e9 / flops);
                var sw = Stopwatch.StartNew();
                for (int r = 0; r < reps; r++) Sprout.Kernels.Gemm.Multiply(m, n, k, a, k, false, b, n, false, c, n, false);
                double s = sw.Elapsed.TotalSeconds / reps;
                Console.WriteLine($"{m}x{n}x{k} t={th}: {flops / s / 1e9:F1} GFLOP/s");
            }
        }
        return 0;
    }
}
