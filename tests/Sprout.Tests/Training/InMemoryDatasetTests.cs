using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Training;

[Collection("Workers")]
public class InMemoryDatasetTests
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
        var floats = new InMemoryDataset(x, y, features);
        var bytes = new InMemoryDataset(px, y, features, scale, shift);
        var order = new Rng(9).Permutation(300);
        var f = floats.Gather(order, 17, rows);
        var fx = f.X;
        var b = bytes.Gather(order, 17, rows);
        var bx = b.X;
        Assert.Equal(f.Labels, b.Labels);
        Assert.Equal(fx.ShapeArray(), bx.ShapeArray());
        var sa = fx.Span;
        var sb = bx.Span;
        for (int i = 0; i < sa.Length; i++)
            Assert.Equal(BitConverter.SingleToInt32Bits(sa[i]), BitConverter.SingleToInt32Bits(sb[i]));
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
            foreach (var data in new[] { new InMemoryDataset(x, y, features), new InMemoryDataset(px, y, features, scale, shift) })
            {
                var batch = data.Gather(order, 100, rows);
                var by = batch.Labels;
                var got = batch.X.Span;
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
    public void ByteStorageMatchesFloatStorage()
    {
        var (px, x, y, scale, shift) = Fixture(50, 2 * 6 * 6, 2, 3);
        var f = new InMemoryDataset(x, y, 72, [2, 6, 6]);
        var b = new InMemoryDataset(px, y, 72, scale, shift, [2, 6, 6]);
        Assert.Equal(x, b.X);                                    // materialised on demand
        var hf = f.Head(7).X;
        var hb = b.Head(7).X;
        Assert.Equal(hf.ShapeArray(), hb.ShapeArray());
        Assert.Equal(hf.ToArray(), hb.ToArray());
        int[] pick = [4, 0, 49, 4];
        var sb = b.Subset(pick);
        Assert.NotNull(sb.Pixels);                               // subsets stay compact
        Assert.Equal(f.Subset(pick).X, sb.X);
        Assert.Equal(pick.Select(i => y[i]), sb.Labels!);
        var flat = b.WithShape([72]);
        Assert.Same(px, flat.Pixels);
        Assert.Equal([3, 72], flat.Head(3).X.ShapeArray());
    }

    [Fact]
    public void ByteStorageRejectsMismatchedChannelMaps()
    {
        var (px, _, y, _, _) = Fixture(10, 12, 1, 1);
        Assert.Throws<ArgumentException>(() => new InMemoryDataset(px, y, 12, [1f, 1f, 1f, 1f, 1f], [0f, 0f, 0f, 0f, 0f]));
        Assert.Throws<ArgumentException>(() => new InMemoryDataset(px, y, 12, [1f], [0f, 0f]));
        Assert.Throws<ArgumentException>(() => new InMemoryDataset(px, y[..5], 12, [1f], [0f]));
    }
}
