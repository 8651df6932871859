using Sprout.Experiments;
using Sprout.Growth;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class GrowthDataTests
{
    // byte samples and the float features they stand for (channel c: byte · scale[c] + shift[c], rounded as the kernel does)
    private static (byte[] Px, float[] X, int[] Y, float[] Scale, float[] Shift) Fixture(int n, int features, int channels, ulong seed)
    {
        var rng = new Rng(seed);
        var px = new byte[n * features];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)rng.NextInt(256);
        var scale = new float[channels];
        var shift = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            scale[c] = (float)(1 / (255.0 * (0.2 + 0.1 * c)));
            shift[c] = (float)(-(0.1 + 0.2 * c) / (0.2 + 0.1 * c));
        }
        int plane = features / channels;
        var x = new float[px.Length];
        for (int i = 0; i < px.Length; i++)
        {
            int c = i % features / plane;
            x[i] = px[i] * scale[c] + shift[c];
        }
        var y = new int[n];
        for (int i = 0; i < n; i++) y[i] = rng.NextInt(10);
        return (px, x, y, scale, shift);
    }

    [Theory]
    [InlineData(784, 1, 64)]
    [InlineData(77, 1, 5)]      // odd row length: vector body and scalar tail
    [InlineData(3 * 37, 3, 9)]  // per-channel maps
    [InlineData(3 * 1024, 3, 130)] // large batch: the threaded gather
    public void BytePixelsGatherTheSameFloatsAsFloatStorage(int features, int channels, int rows)
    {
        var (px, x, y, scale, shift) = Fixture(300, features, channels, 5);
        var floats = new ArrayTrainer(x, y, features);
        var bytes = new ArrayTrainer(px, y, features, scale, shift);
        var order = new Rng(9).Permutation(300);
        var (fx, fy) = floats.Gather(order, 17, rows);
        var (bx, by) = bytes.Gather(order, 17, rows);
        Assert.Equal(fy, by);
        Assert.Equal(fx.ShapeArray(), bx.ShapeArray());
        var a = fx.Span;
        var b = bx.Span;
        for (int i = 0; i < a.Length; i++)
            Assert.Equal(BitConverter.SingleToInt32Bits(a[i]), BitConverter.SingleToInt32Bits(b[i]));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 1)]    // fewer rows than the prefetch distance
    [InlineData(64, 1)]
    [InlineData(130, 2)]  // the threaded gather: each thread prefetches ahead within its own row range
    public void GatherCopiesExactlyTheOrderedRows(int rows, int threads)
    {
        const int features = 3 * 1024;
        var (px, x, y, scale, shift) = Fixture(300, features, 3, 6);
        var order = new Rng(10).Permutation(300);
        int saved = Sprout.Kernels.Workers.Threads;
        try
        {
            Sprout.Kernels.Workers.Threads = threads;
            foreach (var trainer in new[] { new ArrayTrainer(x, y, features), new ArrayTrainer(px, y, features, scale, shift) })
            {
                var (bx, by) = trainer.Gather(order, 100, rows);
                var got = bx.Span;
                for (int r = 0; r < rows; r++)
                {
                    int sample = order[100 + r];
                    Assert.Equal(y[sample], by[r]);
                    Assert.True(got.Slice(r * features, features).SequenceEqual(x.AsSpan(sample * features, features)), $"row {r}");
                }
            }
        }
        finally { Sprout.Kernels.Workers.Threads = saved; }
    }

    [Fact]
    public void ByteGrowthDataMatchesFloatGrowthData()
    {
        var (px, x, y, scale, shift) = Fixture(50, 2 * 6 * 6, 2, 3);
        var f = new GrowthData(x, y, 72, [2, 6, 6]);
        var b = new GrowthData(px, y, 72, scale, shift, [2, 6, 6]);
        Assert.Equal(x, b.X);                                    // materialised on demand
        var (hf, _) = f.Head(7);
        var (hb, _) = b.Head(7);
        Assert.Equal(hf.ShapeArray(), hb.ShapeArray());
        Assert.Equal(hf.ToArray(), hb.ToArray());
        int[] pick = [4, 0, 49, 4];
        var sb = b.Subset(pick);
        Assert.NotNull(sb.Pixels);                               // subsets stay compact
        Assert.Equal(f.Subset(pick).X, sb.X);
        Assert.Equal(pick.Select(i => y[i]), sb.Y);
        var flat = b.WithShape([72]);
        Assert.Same(px, flat.Pixels);
        Assert.Equal([3, 72], flat.Head(3).X.ShapeArray());
    }

    [Fact]
    public void ByteStorageRejectsMismatchedChannelMaps()
    {
        var (px, _, y, _, _) = Fixture(10, 12, 1, 1);
        Assert.Throws<ArgumentException>(() => new ArrayTrainer(px, y, 12, [1f, 1f, 1f, 1f, 1f], [0f, 0f, 0f, 0f, 0f]));
        Assert.Throws<ArgumentException>(() => new ArrayTrainer(px, y, 12, [1f], [0f, 0f]));
        Assert.Throws<ArgumentException>(() => new ArrayTrainer(px, y[..5], 12, [1f], [0f]));
    }
}
