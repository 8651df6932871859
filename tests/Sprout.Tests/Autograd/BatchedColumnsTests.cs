using Sprout.Autograd;
using Sprout.Kernels;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Autograd;

/// <summary>Small output planes run one GEMM over a chunk of images' columns (<see cref="Ops.UseBatchedColumns"/>): the
/// same forward pass and gradients as the per-image path.</summary>
[Collection("Workers")]
public class BatchedColumnsTests
{
    [Theory]
    // n, c, size, f, k, stride, pad, threads
    [InlineData(5, 3, 4, 7, 3, 1, 1, 1)]      // 4×4 → 4×4
    [InlineData(6, 16, 2, 16, 3, 1, 1, 2)]    // VGG16's 2×2 layers
    [InlineData(4, 5, 7, 6, 3, 2, 1, 1)]      // stride 2: 7×7 → 4×4
    [InlineData(3, 8, 5, 4, 1, 1, 0, 2)]      // 1×1 (identity columns)
    [InlineData(120, 64, 4, 8, 3, 1, 1, 1)]   // 576 × 16 columns per image: two chunks of images
    public void MatchesThePerImagePath(int n, int c, int size, int f, int k, int stride, int pad, int threads)
    {
        var saved = (Workers.Threads, Ops.UseBatchedColumns);
        try
        {
            Workers.Threads = threads;
            float[][] Run(bool batched)
            {
                Ops.UseBatchedColumns = batched;
                var rng = new Rng((ulong)(n * 31 + c));
                var x = Tensor.Uniform(rng, -1, 1, n, c, size, size);
                var w = Tensor.Uniform(rng, -0.5, 0.5, f, c, k, k);
                var b = Tensor.Uniform(rng, -1, 1, f);
                x.RequiresGrad = w.RequiresGrad = b.RequiresGrad = true;
                var y = Ops.Conv2d(x, w, b, stride, stride, pad, pad);
                Assert.True(y.Dim(2) * y.Dim(3) < 64);
                y.Backward(Tensor.Uniform(rng, -1, 1, y.ShapeArray()));
                return [y.ToArray(), x.Grad!.ToArray(), w.Grad!.ToArray(), b.Grad!.ToArray()];
            }
            var fast = Run(true);
            var per = Run(false);
            for (int t = 0; t < fast.Length; t++)
                for (int i = 0; i < fast[t].Length; i++)
                    Assert.True(Math.Abs(fast[t][i] - per[t][i]) <= 1e-4f * (1 + Math.Abs(per[t][i])), $"tensor {t} [{i}]: {fast[t][i]} vs {per[t][i]}");
        }
        finally
        {
            (Workers.Threads, Ops.UseBatchedColumns) = saved;
        }
    }
}
