using Xunit;
using Sprout.Data;
using Sprout.Tensors;

namespace Sprout.Tests.Data;

public class SplitTests
{
    [Fact]
    public void KFold_WithoutShuffle_MatchesSklearnLayout()
    {
        var folds = Splits.KFold(11, 3);
        Assert.Equal(3, folds.Length);
        Assert.Equal([0, 1, 2, 3], folds[0].Validation);
        Assert.Equal([4, 5, 6, 7], folds[1].Validation);
        Assert.Equal([8, 9, 10], folds[2].Validation);
        Assert.Equal([0, 1, 2, 3, 8, 9, 10], folds[1].Train);
    }

    [Theory]
    [InlineData(70000, 5, false)]
    [InlineData(103, 7, true)]
    [InlineData(10, 10, true)]
    public void KFold_SizesCoverEverythingWithoutOverlap(int n, int k, bool shuffle)
    {
        var folds = Splits.KFold(n, k, shuffle ? new Rng(5) : null);
        var allVal = new List<int>();
        for (int f = 0; f < k; f++)
        {
            var fold = folds[f];
            Assert.Equal(n / k + (f < n % k ? 1 : 0), fold.Validation.Length);
            Assert.Equal(n, fold.Train.Length + fold.Validation.Length);
            Assert.Empty(fold.Train.Intersect(fold.Validation));
            Assert.Equal(Enumerable.Range(0, n), fold.Train.Concat(fold.Validation).Order());
            allVal.AddRange(fold.Validation);
        }
        Assert.Equal(Enumerable.Range(0, n), allVal.Order());
    }

    [Fact]
    public void KFold_Shuffled_IsSeeded()
    {
        var a = Splits.KFold(50, 5, new Rng(1));
        var b = Splits.KFold(50, 5, new Rng(1));
        var c = Splits.KFold(50, 5, new Rng(2));
        Assert.Equal(a[0].Validation, b[0].Validation);
        Assert.NotEqual(a[0].Validation, c[0].Validation);
        Assert.NotEqual(Enumerable.Range(0, 10), a[0].Validation);
        Assert.Throws<ArgumentOutOfRangeException>(() => Splits.KFold(3, 5));
    }

    [Fact]
    public void Stratified_KeepsClassProportions()
    {
        // unbalanced: class c has 100 * (c + 1) samples, interleaved
        var labels = new List<int>();
        for (int c = 0; c < 4; c++) labels.AddRange(Enumerable.Repeat(c, 100 * (c + 1)));
        var rng = new Rng(3);
        var arr = labels.ToArray();
        rng.Shuffle(arr.AsSpan());
        var split = Splits.Stratified(arr, 4, 0.2, new Rng(9));
        Assert.Equal(arr.Length, split.Train.Length + split.Validation.Length);
        Assert.Empty(split.Train.Intersect(split.Validation));
        for (int c = 0; c < 4; c++)
        {
            int inVal = split.Validation.Count(i => arr[i] == c);
            int inTrain = split.Train.Count(i => arr[i] == c);
            Assert.Equal(20 * (c + 1), inVal);
            Assert.Equal(80 * (c + 1), inTrain);
        }
        var again = Splits.Stratified(arr, 4, 0.2, new Rng(9));
        Assert.Equal(split.Validation, again.Validation);
        var other = Splits.Stratified(arr, 4, 0.2, new Rng(10));
        Assert.NotEqual(split.Validation, other.Validation);
    }

    [Fact]
    public void Stratified_OnDataset_AndSubsets()
    {
        var data = Fixtures.Synthetic(100, 5);
        var split = Splits.Stratified(data, 0.1, new Rng(1));
        var val = data.Subset(split.Validation, "val");
        Assert.Equal(10, val.Count);
        Assert.All(val.ClassHistogram(), n => Assert.Equal(2, n));
    }
}
