using Sprout.Diagnostics;
using Sprout.Nn;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Diagnostics;

/// <summary>Paper 003's filter distances: 0 for identical filters, growing with injected differences, by hand on a small layer.</summary>
public class FilterDistanceTests
{
    [Fact]
    public void IdenticalFiltersMeasureZeroAndAnInjectedDifferenceGrowsTheDistance()
    {
        // 5×5 positions, blocks of 6 weights, every position the same block
        var rng = new Rng(2);
        var block = Enumerable.Range(0, 6).Select(_ => (float)rng.Normal()).ToArray();
        var w = Enumerable.Range(0, 25).SelectMany(_ => block).ToArray();
        foreach (int r in new[] { 1, 2 })
        {
            var same = FilterDistance.Measure(w, 5, 5, r);
            Assert.Equal(0, same.Euclidean, 12);
            Assert.Equal(0, same.Cosine, 12);
            Assert.Equal((5 - 2 * r) * (5 - 2 * r) * 8 * r, same.Pairs);   // centres r from every border, 8r neighbours each
        }
        // a difference d added to one weight of the centre position (2, 2): at radius 1 its 8 pairs differ by d each, so the
        // mean over the 9 centres' 72 pairs is (8 + 8·[each neighbour-centre pair that includes (2, 2)]) d / 72 / ‖W‖
        double previous = 0;
        foreach (float d in new[] { 0.1f, 0.5f, 2f })
        {
            var v = (float[])w.Clone();
            v[(2 * 5 + 2) * 6 + 3] += d;
            double norm = Math.Sqrt(v.Sum(x => (double)x * x));
            var m = FilterDistance.Measure(v, 5, 5, 1);
            // (2, 2) is a centre (8 pairs) and a neighbour of the 8 other centres (8 pairs): 16 of 72 pairs differ by |d|
            Assert.Equal(16 * d / norm / 72, m.Euclidean, 6);
            Assert.True(m.Euclidean > previous);
            Assert.True(m.Cosine > 0);
            previous = m.Euclidean;
        }
        // at radius 2 the one centre (2, 2) pairs with its 16 ring positions: all differ
        var far = (float[])w.Clone();
        far[(2 * 5 + 2) * 6] += 1;
        double n2 = Math.Sqrt(far.Sum(x => (double)x * x));
        Assert.Equal(1 / n2, FilterDistance.Measure(far, 5, 5, 2).Euclidean, 6);
        // no position is 3 from every border of 5×5
        Assert.Equal(0, FilterDistance.Measure(w, 5, 5, 3).Pairs);
        Assert.True(double.IsNaN(FilterDistance.Measure(w, 5, 5, 3).Euclidean));
    }

    [Fact]
    public void ALocallyConnectedLayerStartedAsAConvolutionMeasuresZeroAndAnUnsharedOneDoesNot()
    {
        var shared = new LocallyConnected2d(new LocallyConnected2dConfig(1, 13, 13, 4, 3, 1, Init: LcInit.SharedConv), new Rng(1));
        var free = new LocallyConnected2d(new LocallyConnected2dConfig(1, 13, 13, 4, 3, 1), new Rng(1));
        foreach (int r in new[] { 1, 4 })
        {
            Assert.Equal(0, FilterDistance.Measure(shared, r).Euclidean, 12);
            Assert.True(FilterDistance.Measure(free, r).Euclidean > 0.01);
            Assert.True(FilterDistance.Measure(free, r).Cosine > 0.5);   // independent random blocks are near orthogonal
        }
        Assert.Throws<ArgumentException>(() => FilterDistance.Measure(new float[10], 2, 2, 1));
    }
}
