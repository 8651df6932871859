using Sprout.Autograd;
using Sprout.Nn;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Autograd;

/// <summary>
/// <see cref="Ops.Dropout"/> on one process's rows of a batch split over processes (data-parallel training): each
/// part's mask is its slice of the whole batch's mask, and every part's stream ends where the whole batch's does.
/// </summary>
public class DropoutShardTests
{
    private static Tensor Random(Rng rng, params int[] shape)
    {
        var x = Tensor.Zeros(shape);
        rng.FillUniform(x.Span, -1, 1);
        return x;
    }

    private static Tensor Rows(Tensor x, int start, int count)
    {
        var shape = x.ShapeArray();
        int per = x.Length / shape[0];
        shape[0] = count;
        return Tensor.FromArray(x.Span.Slice(start * per, count * per), shape);
    }

    // the mask of the definition: one NextDouble per element in order, dropped below p
    private static float[] ReferenceMask(int length, float p, Rng rng)
    {
        var m = new float[length];
        for (int i = 0; i < length; i++) m[i] = rng.NextDouble() < p ? 0f : 1f / (1f - p);
        return m;
    }

    [Theory]
    [InlineData(new[] { 32, 32 })]         // 2 ranks × 32 of a batch of 64
    [InlineData(new[] { 21, 21, 22 })]     // 3 ranks of an uneven split
    [InlineData(new[] { 1, 6 })]           // a short last batch
    public void PartsWithTheirRowWindowsDrawTheWholeBatchsMask(int[] parts)
    {
        int rows = parts.Sum();
        var x = Random(new Rng(1), rows, 3, 2, 2);   // a conv activation: 12 draws per row
        var whole = new Rng(7).Fork("dropout");
        var expected = Ops.Dropout(x, 0.4f, whole, training: true).ToArray();
        int start = 0;
        foreach (int count in parts)
        {
            var rng = new Rng(7).Fork("dropout");
            var part = Ops.Dropout(Rows(x, start, count), 0.4f, rng, training: true, rowsBefore: start, rowsAfter: rows - start - count);
            Assert.Equal(expected.AsSpan(start * 12, count * 12).ToArray(), part.ToArray());
            // every part's stream stands where the whole batch's does: the next batch's masks agree too
            Assert.Equal(whole.GetState(), rng.GetState());
            start += count;
        }
    }

    [Fact]
    public void ThePartsGradientIsItsSliceOfTheWholeBatchsGradient()
    {
        var x = Random(new Rng(2), 10, 5);
        x.RequiresGrad = true;
        Ops.Sum(Ops.Dropout(x, 0.3f, new Rng(3), training: true)).Backward();
        var whole = x.Grad!.ToArray();
        var part = Rows(x, 4, 6);
        part.RequiresGrad = true;
        Ops.Sum(Ops.Dropout(part, 0.3f, new Rng(3), training: true, rowsBefore: 4)).Backward();
        Assert.Equal(whole.AsSpan(20, 30).ToArray(), part.Grad!.ToArray());
    }

    [Fact]
    public void TheDefaultWindowIsTheWholeBatchAsBefore()
    {
        var x = Random(new Rng(4), 8, 6);
        var y = Ops.Dropout(x, 0.25f, new Rng(9), training: true).ToArray();
        var mask = ReferenceMask(x.Length, 0.25f, new Rng(9));
        var xs = x.ToArray();
        for (int i = 0; i < xs.Length; i++) Assert.Equal(xs[i] * mask[i], y[i]);
        Assert.Equal(y, Ops.Dropout(x, 0.25f, new Rng(9), training: true, rowsBefore: 0, rowsAfter: 0).ToArray());
        // the layer's default shard is the whole batch
        var layer = (Dropout)new DropoutConfig(0.25f).Build(new Rng(9));
        Assert.True(layer.Shard.IsWhole);
        var twin = (Dropout)new DropoutConfig(0.25f).Build(new Rng(9));
        var stream = twin.NamedRngs().Single().Rng;
        var fromLayer = layer.Forward(x).ToArray();
        var fromOp = Ops.Dropout(x, 0.25f, stream, training: true).ToArray();
        Assert.Equal(fromOp, fromLayer);
    }

    [Fact]
    public void ALayersShardPlacesItsRows()
    {
        var x = Random(new Rng(5), 16, 4);
        var whole = (Dropout)new DropoutConfig(0.5f).Build(new Rng(6));
        var part = (Dropout)new DropoutConfig(0.5f).Build(new Rng(6));
        part.Shard = BatchShard.Of(8, 8, 16);
        Assert.Equal(new BatchShard(8, 0), part.Shard);
        var expected = whole.Forward(x).ToArray();
        Assert.Equal(expected.AsSpan(32, 32).ToArray(), part.Forward(Rows(x, 8, 8)).ToArray());
        Assert.Equal(whole.NamedRngs().Single().Rng.GetState(), part.NamedRngs().Single().Rng.GetState());
        // in evaluation the layer is the identity and draws nothing, whatever its shard
        var before = part.NamedRngs().Single().Rng.GetState();
        part.Eval();
        Assert.Same(x, part.Forward(x));
        Assert.Equal(before, part.NamedRngs().Single().Rng.GetState());
    }

    [Fact]
    public void BadWindowsAreRefused()
    {
        var x = Tensor.Ones(4, 2);
        Assert.Contains("must not be negative", Assert.Throws<ArgumentException>(() => Ops.Dropout(x, 0.5f, new Rng(1), true, rowsBefore: -1)).Message);
        Assert.Contains("must not be negative", Assert.Throws<ArgumentException>(() => Ops.Dropout(x, 0.5f, new Rng(1), true, rowsAfter: -2)).Message);
        Assert.Throws<ArgumentException>(() => BatchShard.Of(3, 2, 4));
        Assert.Throws<ArgumentException>(() => BatchShard.Of(-1, 2, 4));
    }
}
