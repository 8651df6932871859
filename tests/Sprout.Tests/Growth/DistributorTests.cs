using Sprout.Growth;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class DistributorTests
{
    [Fact]
    public void LargestRemainderIsExactAndFair()
    {
        Assert.Equal([4, 3, 3], Apportion.LargestRemainder([1, 1, 1], 10));
        Assert.Equal([1, 2, 4], Apportion.LargestRemainder([1.4, 2.3, 4.3], 7));
        Assert.Equal([0, 5, 0], Apportion.LargestRemainder([0, 3, 0], 5));
        Assert.Equal([2, 2], Apportion.LargestRemainder([0, 0], 4));       // no votes: equal shares
        Assert.Equal([1, 0, 1], Apportion.LargestRemainder([0.5, 0.2, 0.3], 2)); // 1.0/0.4/0.6 → floors 1,0,0, then .6
        var rng = new Rng(3);
        for (int t = 0; t < 200; t++)
        {
            var w = Enumerable.Range(0, 1 + rng.NextInt(6)).Select(_ => rng.NextDouble() * (rng.NextInt(4) == 0 ? 0 : 1)).ToArray();
            int total = rng.NextInt(50);
            var c = Apportion.LargestRemainder(w, total);
            Assert.Equal(total, c.Sum());
            double s = w.Sum();
            for (int i = 0; i < w.Length; i++)
            {
                double q = s > 0 ? total * w[i] / s : (double)total / w.Length;
                Assert.True(c[i] >= Math.Floor(q) && c[i] <= Math.Ceiling(q), $"count {c[i]} far from quota {q}");
            }
        }
        Assert.Throws<ArgumentException>(() => Apportion.LargestRemainder([-1.0], 3));
    }

    [Fact]
    public void VotesFavourTheLayerWhoseProbesAllPointDownhill()
    {
        var scores = new[]
        {
            new[] { -0.3, -0.1, -0.2, -0.05 },   // every probe votes
            new[] { 0.2, -0.1, 0.3, 0.4 },       // one vote
            new[] { 0.1, 0.2, 0.3, 0.4 },        // none
        };
        var a = SteepestVotingDistributor.VoteAllocation(scores, 10);
        Assert.Equal(10, a.Sum());
        Assert.Equal([8, 2, 0], a);
        var top = SteepestVotingDistributor.TopNAllocation(scores, 3);
        Assert.Equal([3, 0, 0], top);
        Assert.Equal([4, 1, 0], SteepestVotingDistributor.TopNAllocation(scores, 5));
    }

    [Theory]
    [InlineData("svod")]
    [InlineData("svod-topn")]
    public void ProbesLeaveTheModelBitIdenticalAndTheTotalIsExact(string name)
    {
        var model = GrowthFixtures.Mlp(7, 6, 9, 7, 5, 3);
        var data = GrowthFixtures.Random(600, 6, 3, 2);
        var before = GrowthFixtures.Weights(model);
        var shapes = model.Parameters().Select(p => p.ShapeArray()).ToArray();
        var x = data.Head(100).X;
        var logits = model.Logits(x);
        var d = Distributor.Create(name);
        var alloc = d.Allocate(new GrowthContext(model, data, new Rng(4)), 11);
        Assert.Equal(11, alloc.Sum());
        Assert.Equal(3, alloc.Length);
        Assert.Equal(shapes, model.Parameters().Select(p => p.ShapeArray()).ToArray());
        GrowthFixtures.AssertBitIdentical(before, GrowthFixtures.Weights(model));
        Assert.Equal(logits, model.Logits(x));
        Assert.NotNull(d.LastVotes);
    }

    [Fact]
    public void SvodScoreIsTheGateDerivative()
    {
        // dL/dz for a probe φ((1+z)u) equals ⟨θ, ∂L/∂θ⟩: check against a finite difference on z by scaling θ
        var model = GrowthFixtures.Mlp(9, 4, 6, 3);
        var data = GrowthFixtures.Random(200, 4, 3, 1);
        var svod = new SteepestVotingDistributor(SvodOptions.Paper with { ProbesPerLayer = 3, BatchSize = 200, ProbeInit = 0.5 });
        var scores = svod.ProbeScores(new GrowthContext(model, data, new Rng(6)), 2);
        Assert.Equal(3, scores[0].Length);
        // rebuild the probe-extended model with the same random draws and perturb z for probe 0
        var site = model.Sites[0];
        var rng = new Rng(6).Fork("svod/0").Fork("probes");
        int first = site.Grow(3);
        var w = new float[site.FanIn];
        var ow = new float[site.FanOut];
        for (int p = first; p < first + 3; p++)
        {
            rng.FillUniform(w, -0.5, 0.5); site.SetIncoming(p, w);
            site.SetBias(p, (float)rng.Uniform(-0.5, 0.5));
            rng.FillUniform(ow, -0.5, 0.5); site.SetOutgoing(p, ow);
        }
        var head = data.Head(200);
        var (x, y) = (head.X, head.Labels);
        double Loss(float z)
        {
            var inc = site.IncomingMatrix();
            int dd = site.IncomingLength;
            var scaled = (float[])inc.Clone();
            for (int k = 0; k < dd; k++) scaled[first * dd + k] *= 1 + z;
            site.SetIncomingMatrix(scaled);
            double l;
            using (Sprout.Autograd.Graph.NoGrad())
            using (TensorScope.Begin())
                l = Sprout.Autograd.Ops.CrossEntropy(model.Forward(x), y).Item();
            site.SetIncomingMatrix(inc);
            return l;
        }
        float h = 1e-2f;
        double fd = (Loss(h) - Loss(-h)) / (2 * h);
        Assert.Equal(fd, scores[0][0], 3);
    }

    [Fact]
    public void RasAndFixed()
    {
        var model = GrowthFixtures.Mlp(1, 4, 5, 5, 5, 2);
        var data = GrowthFixtures.Random(10, 4, 2, 1);
        var ctx = new GrowthContext(model, data, new Rng(2));
        var ras = Distributor.Create("ras").Allocate(ctx, 8);
        Assert.Equal(8, ras.Sum());
        Assert.All(ras, c => Assert.InRange(c, 2, 3));
        Assert.Equal([1, 0, 4], new FixedConfig([1, 0, 4]).Build().Allocate(ctx, 99));
        Assert.Throws<ArgumentException>(() => new FixedConfig([1]).Build().Allocate(ctx, 1));
    }
}
