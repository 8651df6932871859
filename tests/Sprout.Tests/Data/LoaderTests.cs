using Xunit;
using Sprout.Data;
using Sprout.Tensors;

namespace Sprout.Tests.Data;

public class LoaderTests
{
    private static List<int> Visit(DataLoader loader, int epoch, List<int>? sizes = null)
    {
        var seen = new List<int>();
        foreach (var b in loader.Epoch(epoch))
        {
            sizes?.Add(b.Count);
            Assert.Equal(b.Count, b.X.Dim(0));
            for (int i = 0; i < b.Count; i++) Assert.Equal(loader.Data.Labels[b.SampleIndices[i]], b.Y[i]);
            seen.AddRange(b.SampleIndices.ToArray());
        }
        return seen;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(16)]
    public void EverySampleOncePerEpoch_WithSmallLastBatch(int prefetch)
    {
        var data = Fixtures.Synthetic(103, 10);
        using var loader = new DataLoader(data, new DataLoaderOptions { BatchSize = 10, Seed = 1, Prefetch = prefetch });
        Assert.Equal(11, loader.BatchesPerEpoch);
        for (int e = 0; e < 3; e++)
        {
            var sizes = new List<int>();
            var seen = Visit(loader, e, sizes);
            Assert.Equal(Enumerable.Range(0, 103), seen.Order());
            Assert.Equal(Enumerable.Repeat(10, 10).Append(3), sizes);
        }
    }

    [Fact]
    public void DropLast_SkipsTheRemainder()
    {
        var data = Fixtures.Synthetic(103, 10);
        using var loader = new DataLoader(data, new DataLoaderOptions { BatchSize = 10, DropLast = true, Seed = 4 });
        Assert.Equal(10, loader.BatchesPerEpoch);
        Assert.Equal(100, loader.SamplesPerEpoch);
        var sizes = new List<int>();
        var seen = Visit(loader, 0, sizes);
        Assert.Equal(100, seen.Count);
        Assert.Equal(100, seen.Distinct().Count());
        Assert.All(sizes, n => Assert.Equal(10, n));
    }

    [Fact]
    public void Order_IsReproduciblePerSeedAndEpoch_AndDiffersOtherwise()
    {
        var data = Fixtures.Synthetic(200, 10);
        using var a = new DataLoader(data, new DataLoaderOptions { BatchSize = 16, Seed = 42 });
        using var b = new DataLoader(data, new DataLoaderOptions { BatchSize = 16, Seed = 42, Prefetch = 0 });
        using var c = new DataLoader(data, new DataLoaderOptions { BatchSize = 16, Seed = 43 });
        var a0 = Visit(a, 0);
        Assert.Equal(a0, Visit(b, 0));
        Assert.Equal(a0, Visit(a, 0));
        Assert.Equal(a0, a.Order(0));
        Assert.NotEqual(a0, Visit(a, 1));
        Assert.NotEqual(a0, Visit(c, 0));
        Assert.NotEqual(Enumerable.Range(0, 200), a0);
    }

    [Fact]
    public void NoShuffle_VisitsInOrder()
    {
        var data = Fixtures.Synthetic(50, 5);
        using var loader = new DataLoader(data, new DataLoaderOptions { BatchSize = 7, Shuffle = false });
        Assert.Equal(Enumerable.Range(0, 50), Visit(loader, 3));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Values_AreScaledAndNormalisedPerChannel(bool flatten)
    {
        var data = Fixtures.Synthetic(9, 3, channels: 3, side: 5);
        float[] mean = [0.1f, 0.5f, 0.9f], std = [0.2f, 0.25f, 0.5f];
        using var loader = new DataLoader(data, new DataLoaderOptions { BatchSize = 4, Seed = 2, Mean = mean, Std = std, Flatten = flatten });
        foreach (var b in loader.Epoch(0))
        {
            if (flatten) Assert.Equal([b.Count, 75], b.X.ShapeArray());
            else Assert.Equal([b.Count, 3, 5, 5], b.X.ShapeArray());
            var x = b.X.Span;
            for (int i = 0; i < b.Count; i++)
            {
                var src = data.Sample(b.SampleIndices[i]);
                for (int k = 0; k < 75; k++)
                {
                    int c = k / 25;
                    Assert.Equal((src[k] / 255f - mean[c]) / std[c], x[i * 75 + k], 4);
                }
            }
        }
    }

    [Fact]
    public void Augmentation_IsSeededPerEpoch_AndAppliedBeforeNormalisation()
    {
        var data = Fixtures.Synthetic(40, 4, side: 6);
        DataLoader Make(ulong seed) => new(data, new DataLoaderOptions
        {
            BatchSize = 8, Seed = seed, Augmentation = new Compose(new RandomTranslate(0.3), new GaussianNoise(0.1)), Mean = [0.5f], Std = [0.5f],
        });
        static List<float[]> Xs(DataLoader l, int e) => l.Epoch(e).Select(b => b.X.ToArray()).ToList();
        using var a = Make(9);
        using var b = Make(9);
        using var c = Make(10);
        var x0 = Xs(a, 0);
        Assert.Equal(x0, Xs(b, 0));
        Assert.NotEqual(x0, Xs(a, 1));
        Assert.NotEqual(x0, Xs(c, 0));

        // an augmentation that records its input sees [0,1] pixels, not normalised ones
        var probe = new Probe();
        using var p = new DataLoader(data, new DataLoaderOptions { BatchSize = 8, Augmentation = probe, Mean = [0.5f], Std = [0.1f] });
        foreach (var _ in p.Epoch(0)) { }
        Assert.InRange(probe.Min, 0f, 1f);
        Assert.InRange(probe.Max, 0f, 1f);
        Assert.Equal(40, probe.Calls);
    }

    private sealed class Probe : IAugmentation
    {
        public float Min = float.MaxValue, Max = float.MinValue;
        public int Calls;

        public void Apply(Span<float> image, Span<float> scratch, ImageShape shape, Rng rng)
        {
            Calls++;
            foreach (var v in image) { Min = Math.Min(Min, v); Max = Math.Max(Max, v); }
        }
    }

    private sealed class Boom : IAugmentation
    {
        public void Apply(Span<float> image, Span<float> scratch, ImageShape shape, Rng rng) => throw new InvalidOperationException("boom");
    }

    [Fact]
    public void ProducerErrors_SurfaceInTheConsumer()
    {
        var data = Fixtures.Synthetic(20, 2);
        using var loader = new DataLoader(data, new DataLoaderOptions { BatchSize = 4, Augmentation = new Boom() });
        var e = Assert.Throws<InvalidOperationException>(() => { foreach (var _ in loader.Epoch(0)) { } });
        Assert.Equal("boom", e.Message);
    }

    [Fact]
    public void BreakingOut_StopsTheEpoch_AndTheLoaderStaysUsable()
    {
        var data = Fixtures.Synthetic(500, 10);
        using var loader = new DataLoader(data, new DataLoaderOptions { BatchSize = 10, Seed = 3, Prefetch = 4 });
        int n = 0;
        foreach (var b in loader.Epoch(0))
        {
            b.Dispose(); // early release is allowed, and MoveNext must not release it twice
            if (++n == 3) break;
        }
        Assert.Equal(Enumerable.Range(0, 500), Visit(loader, 1).Order());
        // two epochs at once on one loader are refused
        using var it = loader.Epoch(2).GetEnumerator();
        Assert.True(it.MoveNext());
        Assert.Throws<InvalidOperationException>(() => loader.Epoch(3).GetEnumerator().MoveNext());
    }

    [Fact]
    public void Buffers_AreRecycled_NoPerBatchAllocation()
    {
        var data = Fixtures.Synthetic(64 * 200, 10, side: 28);
        foreach (int prefetch in new[] { 0, 4 })
        {
            using var loader = new DataLoader(data, new DataLoaderOptions { BatchSize = 64, Seed = 1, Flatten = true, Prefetch = prefetch });
            var arrays = new HashSet<float[]>(ReferenceEqualityComparer.Instance);
            foreach (var b in loader.Epoch(0)) arrays.Add(GetX(b));
            Assert.True(arrays.Count <= prefetch + 1, $"prefetch {prefetch}: {arrays.Count} distinct X buffers");
            long before = GC.GetAllocatedBytesForCurrentThread();
            int batches = 0;
            foreach (var b in loader.Epoch(1)) batches++;
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(200, batches);
            // no per-batch buffers: well under one batch's 200 KB per epoch (a wait handle made lazily when the
            // consumer has to block under load is allowed)
            Assert.True(allocated < 200 * 64, $"prefetch {prefetch}: {allocated} bytes allocated in an epoch of 200 batches");
        }
    }

    private static float[] GetX(Batch b)
    {
        // the X tensor wraps the batch's own array: its span starts at element 0 of that array
        var arr = (float[])typeof(Batch).GetField("XData", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(b)!;
        Assert.True(b.X.Span.Overlaps(arr));
        return arr;
    }
}
