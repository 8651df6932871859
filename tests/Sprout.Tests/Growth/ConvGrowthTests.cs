using Sprout.Growth;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class ConvGrowthTests
{
    // A small version of the SWE backbone on 8×8 images: conv-BN-ReLU ×2, pool, conv-BN-ReLU ×2, pool, MLP head.
    internal static GrowableModel Backbone(ulong seed = 1)
    {
        var cfg = new SequentialConfig([
            new Conv2dConfig(3, 4, 3, 1, 1, Bias: false), new BatchNormConfig(4), ActivationConfig.Relu,
            new Conv2dConfig(4, 4, 3, 1, 1, Bias: false), new BatchNormConfig(4), ActivationConfig.Relu,
            new PoolConfig(PoolKind.Max, 2),
            new Conv2dConfig(4, 6, 3, 1, 1, Bias: false), new BatchNormConfig(6), ActivationConfig.Relu,
            new PoolConfig(PoolKind.Max, 2),
            new FlattenConfig(), new LinearConfig(6 * 2 * 2, 5), ActivationConfig.Relu, new LinearConfig(5, 3)]);
        return new GrowableModel((Sequential)cfg.Build(new Rng(seed)));
    }

    [Fact]
    public void FindsConvSitesWithBatchNormAndFlattenBlocks()
    {
        var m = Backbone();
        Assert.Equal(4, m.Sites.Count);
        Assert.True(m.IsConvSite(0));
        Assert.NotNull(m.Sites[0].Norm);
        Assert.Equal(1, m.Sites[0].OutBlock);
        Assert.Equal(4, m.Sites[2].OutBlock);   // 6 channels × 2×2 positions feed the Linear
        Assert.False(m.IsConvSite(3));
        Assert.Equal([4, 4, 6, 5], m.Widths());
    }

    [Fact]
    public void GrowingChannelsWithZeroOutgoingWeightsLeavesOutputsBitIdentical()
    {
        var m = Backbone();
        var rng = new Rng(2);
        var x = Tensor.Uniform(rng, -1, 1, 6, 3, 8, 8);
        // train-mode pass first so the BatchNorms hold non-trivial running statistics
        m.Module.Train();
        using (TensorScope.Begin()) m.Forward(x);
        var before = m.Logits(x);
        foreach (var site in m.Sites)
        {
            int first = site.Grow(3);
            var w = new float[site.FanIn];
            for (int j = first; j < site.Width; j++)
            {
                rng.FillNormal(w, 0, 1);   // active new channels: only their zero outgoing weights keep the output
                site.SetIncoming(j, w);
            }
        }
        Assert.Equal([7, 7, 9, 8], m.Widths());
        var bn = (BatchNorm)m.Module.Layers[1];
        Assert.Equal(7, bn.Channels);
        Assert.Equal(1f, bn.Gamma![6]);
        Assert.Equal(1f, bn.RunningVar[6]);
        Assert.Equal(0f, bn.RunningMean[6]);
        var after = m.Logits(x);
        for (int i = 0; i < before.Length; i++)
            Assert.Equal(BitConverter.SingleToInt32Bits(before[i]), BitConverter.SingleToInt32Bits(after[i]));
        // the Linear after Flatten grew by 3 channels × 4 positions
        Assert.Equal(9 * 4, ((Linear)m.Module.Layers[12]).InFeatures);
    }

    [Fact]
    public void GrownConvNetTrainsAndOptimizerStateFollows()
    {
        var m = Backbone();
        var rng = new Rng(3);
        var x = Tensor.Uniform(rng, -1, 1, 8, 3, 8, 8);
        int[] y = [0, 1, 2, 0, 1, 2, 0, 1];
        var opt = new Adam(m.Parameters(), 1e-2);
        var trainer = new Trainer(m.Module, opt);
        void Step() => trainer.Step(new Batch(x, y));
        Step();
        var conv = (Conv2d)m.Module.Layers[3];
        var m0 = (float[])opt.StateOf(conv.Weight)!.Slots[0].Clone();
        m.Sites[1].Grow(2);
        Step();
        var st = opt.StateOf(conv.Weight)!;
        Assert.Equal([6, 4, 3, 3], st.Shape);       // producer rows grew
        Assert.Equal(0.9f * m0[5], st.Slots[0][5] - 0.1f * conv.Weight.Grad![5], 5); // old moment kept and decayed
        var next = (Conv2d)m.Module.Layers[7];
        Assert.Equal([6, 6, 3, 3], opt.StateOf(next.Weight)!.Shape); // consumer inputs grew
    }

    [Fact]
    public void ConvSiteInputRowsTimesWeightsArePreActivations()
    {
        // a conv channel is one neuron applied at every position: patch rows · Wᵀ must equal the conv output
        var m = Backbone();
        var x = Tensor.Uniform(new Rng(4), -1, 1, 2, 3, 8, 8);
        using var _ = TensorScope.Begin();
        foreach (int s in new[] { 0, 1, 2 })
        {
            var site = m.Sites[s];
            var input = m.SiteInput(x, s);
            var pre = m.PreActivations(x, s);
            Assert.Equal(site.FanIn, input.Dim(1));
            Assert.Equal(input.Dim(0), pre.Dim(0));
            Assert.Equal(site.Width, pre.Dim(1));
            var w = new float[site.FanIn];
            for (int c = 0; c < site.Width; c++)
            {
                site.GetIncoming(c, w);
                for (int r = 0; r < input.Dim(0); r++)
                {
                    double u = site.GetBias(c);
                    for (int k = 0; k < w.Length; k++) u += input[r, k] * w[k];
                    Assert.Equal(u, pre[r, c], 4);
                }
            }
        }
    }

    [Theory]
    [InlineData("swe")]
    [InlineData("swe-reference")]
    [InlineData("swe-plus")]
    public void SweGrowsConvChannelsAndTheNetKeepsTraining(string name)
    {
        var m = Backbone();
        var rng = new Rng(5);
        var xs = new float[64 * 3 * 8 * 8];
        rng.FillUniform(xs, -1, 1);
        var ys = Enumerable.Range(0, 64).Select(i => i % 3).ToArray();
        var data = new InMemoryDataset(xs, ys, 3 * 8 * 8, [3, 8, 8]);
        var ext = (name == "swe-reference" ? new SweConfig(SweOptions.Reference with { AdjustSteps = 10 }) { Name = name } : GrowthMethods.Extender(name)).Build();
        var report = ext.Extend(new GrowthContext(m, data, rng.Fork("grow")), [2, 2, 3, 1]);
        Assert.Equal([6, 6, 9, 6], m.Widths());
        Assert.Equal(4, report.Count);
        var trainer = new Trainer(m.Module, new Adam(m.Parameters(), 1e-2));
        var order = InMemoryDataset.Identity(64);
        float first = 0, last = 0;
        for (int step = 0; step < 30; step++)
        {
            last = trainer.Step(data.Gather(order, 0, 64));
            if (step == 0) first = last;
        }
        Assert.True(float.IsFinite(last) && last < first, $"loss {first} → {last}");
    }

    [Theory]
    [InlineData("svod")]
    [InlineData("svod-topn")]
    [InlineData("ras")]
    public void DistributorsAllocateOnConvNetsWithoutChangingThem(string name)
    {
        var m = Backbone();
        var rng = new Rng(6);
        var xs = new float[64 * 3 * 8 * 8];
        rng.FillUniform(xs, -1, 1);
        var data = new InMemoryDataset(xs, Enumerable.Range(0, 64).Select(i => i % 3).ToArray(), 3 * 8 * 8, [3, 8, 8]);
        var before = m.CopyWeights();
        var dist = (name == "svod-topn" ? new SvodConfig(SvodOptions.TopN with { BatchSize = 32 }) { Name = name } : GrowthMethods.Distributor(name)).Build();
        var alloc = dist.Allocate(new GrowthContext(m, data, rng.Fork("d")), 10);
        Assert.Equal(10, alloc.Sum());
        Assert.Equal(4, alloc.Length);
        var after = m.CopyWeights();
        Assert.Equal(before.Length, after.Length);
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i], after[i]);
    }
}
