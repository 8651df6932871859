using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class SplitTests
{
    [Fact]
    public void ZeroDeltaSplitsOfAConvNetWithBatchNormKeepItsOutputs()
    {
        var (m, x) = GrowthFixtures.BackboneWithNormState(5, 6);
        var before = m.Logits(x);
        m.Sites[0].Split([3, 0], []);
        m.Sites[2].Split([1, 4, 5], []);
        Assert.Equal([6, 4, 9, 5], m.Widths());
        Assert.True(GrowthFixtures.RelativeMaxDiff(before, m.Logits(x)) < 1e-5);
        var site = m.Sites[2];
        var norm = site.Norm!;
        int[] parents = [1, 4, 5];
        for (int k = 0; k < 3; k++)
        {
            int p = parents[k], j = 6 + k;
            Assert.Equal(GrowthFixtures.Incoming(site, p), GrowthFixtures.Incoming(site, j));
            Assert.Equal(norm.Gamma![p], norm.Gamma[j]);
            Assert.Equal(norm.Beta![p], norm.Beta[j]);
            Assert.Equal(norm.RunningMean![p], norm.RunningMean[j]);
            Assert.Equal(norm.RunningVar![p], norm.RunningVar[j]);
            Assert.NotEqual(1f, norm.RunningVar[j]);
            Assert.Equal(GrowthFixtures.Outgoing(site, p), GrowthFixtures.Outgoing(site, j));
        }
    }

    [Fact]
    public void ASplitMovesParentAndCopyOppositeWaysAndHalvesTheOutgoingWeights()
    {
        var m = GrowthFixtures.Mlp(2, 3, 5, 4);
        var site = m.Sites[0];
        var parentIn = GrowthFixtures.Incoming(site, 2);
        var parentOut = GrowthFixtures.Outgoing(site, 2);
        float bias = site.GetBias(2);
        float[] delta = [0.1f, -0.2f, 0.3f];
        Assert.Equal(5, site.Split([2], delta));
        for (int t = 0; t < 3; t++)
        {
            Assert.Equal(parentIn[t] + delta[t], GrowthFixtures.Incoming(site, 2)[t], 6);
            Assert.Equal(parentIn[t] - delta[t], GrowthFixtures.Incoming(site, 5)[t], 6);
        }
        Assert.Equal(bias, site.GetBias(5));
        for (int t = 0; t < parentOut.Length; t++)
        {
            Assert.Equal(parentOut[t] / 2, GrowthFixtures.Outgoing(site, 2)[t]);
            Assert.Equal(parentOut[t] / 2, GrowthFixtures.Outgoing(site, 5)[t]);
        }
    }

    [Fact]
    public void ASplitRejectsRepeatedOrMissingParentsAndWrongDeltaLengths()
    {
        var site = GrowthFixtures.Mlp(2, 3, 5, 4).Sites[0];
        Assert.Throws<ArgumentException>(() => site.Split([1, 1], []));
        Assert.Throws<ArgumentOutOfRangeException>(() => site.Split([5], []));
        Assert.Throws<ArgumentException>(() => site.Split([1], new float[2]));
        Assert.Equal(5, site.Width);
    }
}
