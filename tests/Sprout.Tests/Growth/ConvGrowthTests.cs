using Sprout.Growth;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class ConvGrowthTests
{
    // A small version of the SWE backbone on 8×8 images: conv-BN-ReLU ×2, pool, conv-BN-ReLU ×2, pool, MLP head.
    private static GrowableModel Backbone(ulong seed = 1)
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
        void Step()
        {
            using var _ = TensorScope.Begin();
            opt.ZeroGrad();
            Sprout.Autograd.Ops.CrossEntropy(m.Forward(x), y).Backward();
            opt.Step();
        }
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
    public void SweRefusesConvSitesWithAClearMessage()
    {
        var m = Backbone();
        var e = Assert.Throws<NotSupportedException>(() =>
        {
            using var _ = TensorScope.Begin();
            m.SiteInput(Tensor.Zeros(2, 3, 8, 8), 0);
        });
        Assert.Contains("conv", e.Message);
    }
}
