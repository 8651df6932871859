using Sprout.Autograd;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class GrowthSiteTests
{
    [Fact]
    public void ZeroOutgoingInsertionLeavesOutputsBitIdentical()
    {
        var model = GrowthFixtures.Mlp(3, 7, 12, 9, 4);
        var data = GrowthFixtures.Random(64, 7, 4, 5);
        var x = data.Head(64).X;
        var before = model.Logits(x);
        var rng = new Rng(11);
        foreach (var site in model.Sites)
        {
            int first = site.Grow(5);
            var w = new float[site.FanIn];
            for (int j = first; j < site.Width; j++)
            {
                rng.FillNormal(w, 0, 1);
                site.SetIncoming(j, w);
                site.SetBias(j, 0.5f);   // active new neurons: only the zero outgoing weights keep the output
            }
        }
        Assert.Equal([17, 14], model.Widths());
        var after = model.Logits(x);
        Assert.Equal(before.Length, after.Length);
        for (int i = 0; i < before.Length; i++)
            Assert.Equal(BitConverter.SingleToInt32Bits(before[i]), BitConverter.SingleToInt32Bits(after[i]));
    }

    [Fact]
    public void GrowKeepsOldEntriesAtTheirMultiIndex()
    {
        var model = GrowthFixtures.Mlp(1, 3, 4, 2);
        var site = model.Sites[0];
        var inOld = site.InWeight.ToArray();
        var outOld = site.OutWeight.ToArray();
        var biasOld = site.InBias!.ToArray();
        site.Grow(2);
        Assert.Equal([6, 3], site.InWeight.ShapeArray());
        Assert.Equal([2, 6], site.OutWeight.ShapeArray());
        for (int i = 0; i < 4; i++)
        {
            for (int k = 0; k < 3; k++) Assert.Equal(inOld[i * 3 + k], site.InWeight[i, k]);
            Assert.Equal(biasOld[i], site.InBias![i]);
            for (int o = 0; o < 2; o++) Assert.Equal(outOld[o * 4 + i], site.OutWeight[o, i]);
        }
        for (int o = 0; o < 2; o++) { Assert.Equal(0f, site.OutWeight[o, 4]); Assert.Equal(0f, site.OutWeight[o, 5]); }
    }

    [Fact]
    public void BlockedConsumerAndNormFollowConvLayout()
    {
        // a conv-like producer [C=2, Cin=3, 1, 1] feeding a Linear through Flatten with H·W = 4 columns per channel
        var prod = new Tensor(Enumerable.Range(0, 6).Select(i => (float)i).ToArray(), 2, 3, 1, 1);
        var cons = new Tensor(Enumerable.Range(0, 3 * 8).Select(i => (float)(100 + i)).ToArray(), 3, 8);
        var norm = new NormParams(Tensor.FromArray([2f, 3f], 2), Tensor.FromArray([0.5f, 0.25f], 2),
            Tensor.FromArray([0.1f, 0.2f], 2), Tensor.FromArray([4f, 5f], 2));
        var site = new GrowthSite("conv", prod, null, cons, outAxis: 1, outBlock: 4, norm: norm);
        Assert.Equal(3, site.FanIn);
        Assert.Equal(12, site.FanOut);
        site.Grow(1);
        Assert.Equal([3, 3, 1, 1], prod.ShapeArray());
        Assert.Equal([3, 12], cons.ShapeArray());
        // old columns keep their place; channel 2 owns columns 8..11
        Assert.Equal(101f, cons[0, 1]);
        Assert.Equal(115f, cons[1, 7]);
        site.SetOutgoing(2, Enumerable.Repeat(7f, 12).ToArray());
        for (int o = 0; o < 3; o++)
            for (int c = 8; c < 12; c++) Assert.Equal(7f, cons[o, c]);
        Assert.Equal([2f, 3f, 1f], norm.Gamma!.ToArray());
        Assert.Equal([0.5f, 0.25f, 0f], norm.Beta!.ToArray());
        Assert.Equal([0.1f, 0.2f, 0f], norm.RunningMean!.ToArray());
        Assert.Equal([4f, 5f, 1f], norm.RunningVar!.ToArray());
    }

    [Fact]
    public void OptimizerStateFollowsGrowthOldMomentsKept()
    {
        var model = GrowthFixtures.Mlp(2, 4, 5, 3);
        var data = GrowthFixtures.Random(32, 4, 3, 9);
        var opt = new Sprout.Optim.Adam(model.Parameters(), 1e-2);
        var trainer = new Trainer(model.Module, opt);
        var batch = data.Head(32);
        trainer.Step(batch);
        var site = model.Sites[0];
        var w = site.InWeight;
        var m0 = (float[])opt.StateOf(w)!.Slots[0].Clone();
        var v0 = (float[])opt.StateOf(w)!.Slots[1].Clone();
        site.Grow(2);
        var rng = new Rng(4);
        var row = new float[4];
        var outg = new float[site.FanOut];
        for (int j = 5; j < 7; j++) { rng.FillNormal(row, 0, 1); site.SetIncoming(j, row); rng.FillNormal(outg, 0, 1); site.SetOutgoing(j, outg); }
        // gradient of the grown net, then one step: m = β1·m_old + (1−β1)·g, with m_old = 0 for new rows
        trainer.Step(batch);
        var g = w.Grad!.ToArray();   // the update leaves the gradient in place
        var st = opt.StateOf(w)!;
        Assert.Equal([7, 4], st.Shape);
        Assert.Equal(2, st.Step);
        for (int i = 0; i < 7 * 4; i++)
        {
            float mOld = i < 20 ? m0[i] : 0f, vOld = i < 20 ? v0[i] : 0f;
            Assert.Equal(0.9f * mOld + 0.1f * g[i], st.Slots[0][i], 6);
            Assert.Equal(0.999f * vOld + 0.001f * g[i] * g[i], st.Slots[1][i], 6);
        }
        Assert.True(g[20..].Any(v => v != 0), "new rows should get a gradient");
    }
}
