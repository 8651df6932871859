using Sprout.Optim;
using Xunit;

namespace Sprout.Tests.Optim;

/// <summary>Optimizer steps against values computed by hand (PyTorch's formulas) on tiny cases.</summary>
public class OptimizerTests
{
    private static Tensor Param(params float[] v)
    {
        var t = Tensor.FromArray(v, v.Length);
        t.RequiresGrad = true;
        return t;
    }

    private static void SetGrad(Tensor p, params float[] g) => p.Grad = Tensor.FromArray(g, g.Length);

    [Fact]
    public void SgdPlain()
    {
        var p = Param(1f, -2f);
        var opt = new Sgd([p], 0.1);
        SetGrad(p, 0.5f, -1f);
        opt.Step();
        Assert.Equal(0.95f, p[0], 6);
        Assert.Equal(-1.9f, p[1], 6);
    }

    [Fact]
    public void SgdMomentumAndWeightDecay()
    {
        var p = Param(1f);
        var opt = new Sgd([p], 0.1, momentum: 0.9, weightDecay: 0.01);
        SetGrad(p, 0.5f);
        opt.Step(); // g' = 0.5 + 0.01 = 0.51; buf = 0.51; p = 1 - 0.051 = 0.949
        Assert.Equal(0.949f, p[0], 6);
        SetGrad(p, 0.5f);
        opt.Step(); // g' = 0.5 + 0.00949 = 0.50949; buf = 0.9*0.51 + 0.50949 = 0.96849; p = 0.949 - 0.096849
        Assert.Equal(0.949f - 0.096849f, p[0], 5);
    }

    [Fact]
    public void SgdNesterov()
    {
        var p = Param(2f);
        var opt = new Sgd([p], 0.5, momentum: 0.5, nesterov: true);
        SetGrad(p, 1f);
        opt.Step(); // buf = 1; d = 1 + 0.5 = 1.5; p = 2 - 0.75
        Assert.Equal(1.25f, p[0], 6);
        SetGrad(p, 1f);
        opt.Step(); // buf = 0.5 + 1 = 1.5; d = 1 + 0.75 = 1.75; p = 1.25 - 0.875
        Assert.Equal(0.375f, p[0], 6);
    }

    [Fact]
    public void AdamFirstTwoSteps()
    {
        var p = Param(1f);
        var opt = new Adam([p], 0.1);
        SetGrad(p, 2f);
        opt.Step(); // m̂ = 2, v̂ = 4 → step = 0.1 · 2/(2+1e-8)
        Assert.Equal(0.9f, p[0], 5);
        SetGrad(p, -1f);
        opt.Step();
        double m = 0.9 * 0.2 + 0.1 * -1, v = 0.999 * 0.004 + 0.001 * 1;
        double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
        Assert.Equal((float)(0.9 - 0.1 * mh / (Math.Sqrt(vh) + 1e-8)), p[0], 5);
    }

    [Fact]
    public void AdamWDecaysWeightsDirectly()
    {
        var p = Param(2f);
        var opt = new AdamW([p], 0.1, weightDecay: 0.5);
        SetGrad(p, 0f);
        opt.Step(); // zero gradient: only decay p·(1 − lr·wd) = 2·0.95
        Assert.Equal(1.9f, p[0], 6);
        var q = Param(2f);
        var l2 = new Adam([q], 0.1, weightDecay: 0.5);
        SetGrad(q, 0f);
        l2.Step(); // coupled L2: g' = 1 → normalised step of lr
        Assert.Equal(1.9f, q[0], 5);
        SetGrad(q, 0f);
        SetGrad(p, 0f);
        opt.Step();
        l2.Step();
        Assert.NotEqual(p[0], q[0]); // the two rules differ from the second step on
    }

    [Fact]
    public void RmsPropWithMomentum()
    {
        var p = Param(1f);
        var opt = new RmsProp([p], 0.01, alpha: 0.9, eps: 0, momentum: 0.1);
        SetGrad(p, 2f);
        opt.Step(); // sq = 0.1·4 = 0.4; avg = √0.4; buf = 2/√0.4; p -= 0.01·buf
        double buf = 2 / Math.Sqrt(0.4);
        Assert.Equal((float)(1 - 0.01 * buf), p[0], 6);
        SetGrad(p, 2f);
        opt.Step(); // sq = 0.36 + 0.4 = 0.76; buf = 0.1·buf + 2/√0.76
        double buf2 = 0.1 * buf + 2 / Math.Sqrt(0.76);
        Assert.Equal((float)(1 - 0.01 * buf - 0.01 * buf2), p[0], 5);
    }

    [Fact]
    public void RmsPropCentered()
    {
        var p = Param(0f);
        var opt = new RmsProp([p], 0.1, alpha: 0.5, eps: 0, centered: true);
        SetGrad(p, 1f);
        opt.Step(); // sq = 0.5, ga = 0.5 → avg = √(0.5 − 0.25) = 0.5; p −= 0.1 · 1/0.5
        Assert.Equal(-0.2f, p[0], 6);
    }

    [Fact]
    public void StateFollowsGrowthKeepingOldMoments()
    {
        var w = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        w.RequiresGrad = true;
        var opt = new Adam([w], 0.01);
        w.Grad = Tensor.FromArray(new float[] { 1, -1, 2, -2, 3, -3 }, 2, 3);
        opt.Step();
        var before = opt.StateOf(w)!;
        var m = (float[])before.Slots[0].Clone();
        var v = (float[])before.Slots[1].Clone();
        // grow: one new row and one new column, old entries keep their (i, j)
        w.Replace(Sprout.Tensors.Embed.Corner(w.Span, [2, 3], [3, 4]), 3, 4);
        w.Grad = Tensor.Zeros(3, 4);
        var old = w.ToArray();
        opt.Step();
        var st = opt.StateOf(w)!;
        Assert.Equal([3, 4], st.Shape);
        Assert.Equal(2, st.Step);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
            {
                Assert.Equal(m[i * 3 + j] * 0.9f, st.Slots[0][i * 4 + j], 6);           // old moment decayed, not reset
                Assert.Equal(v[i * 3 + j] * 0.999f, st.Slots[1][i * 4 + j], 6);
            }
        for (int j = 0; j < 4; j++) Assert.Equal(0f, st.Slots[0][2 * 4 + j]);       // new row: zero moments
        for (int i = 0; i < 3; i++) Assert.Equal(0f, st.Slots[1][i * 4 + 3]);       // new column too
        Assert.Equal(old[2 * 4 + 1], w[2, 1]);                                       // zero grad, zero moment: new entries unchanged
    }

    [Fact]
    public void StateResetOnGrowthWhenAsked()
    {
        var w = Tensor.FromArray(new float[] { 1, 2 }, 2);
        w.RequiresGrad = true;
        var opt = new Adam([w], 0.01) { OnGrowth = GrowthStatePolicy.Reset };
        w.Grad = Tensor.FromArray(new float[] { 1, 1 }, 2);
        opt.Step();
        w.Replace(new float[] { 1, 2, 0 }, 3);
        w.Grad = Tensor.FromArray(new float[] { 1, 1, 1 }, 3);
        opt.Step();
        var st = opt.StateOf(w)!;
        Assert.Equal(1, st.Step);
        Assert.Equal(0.1f, st.Slots[0][0], 6); // fresh m = (1−β1)·g
    }

    [Fact]
    public void WarmGrowthGivesNewEntriesTheOldMeanSecondMoment()
    {
        var w = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2);
        w.RequiresGrad = true;
        var opt = new Adam([w], 0.01) { OnGrowth = GrowthStatePolicy.Warm };
        w.Grad = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2);
        for (int k = 0; k < 50; k++) opt.Step();
        var v = (float[])opt.StateOf(w)!.Slots[1].Clone();
        var m = (float[])opt.StateOf(w)!.Slots[0].Clone();
        float meanV = v.Average();
        w.Replace(Sprout.Tensors.Embed.Corner(w.Span, [2, 2], [3, 2]), 3, 2);
        w.Grad = Tensor.Zeros(3, 2);
        w.Grad.Span[4] = 1f; // a unit gradient on one new entry
        float before = w[2, 0];
        opt.Step();
        var st = opt.StateOf(w)!;
        for (int k = 0; k < 4; k++) Assert.Equal(v[k] * 0.999f, st.Slots[1][k], 5);   // old entries: kept
        Assert.Equal(meanV * 0.999f + 0.001f, st.Slots[1][4], 5);                    // new: old mean, then the update
        Assert.Equal(meanV * 0.999f, st.Slots[1][5], 5);
        Assert.Equal(0f, st.Slots[0][5]);
        // the new entry moves far less than the ≈ 3·lr a zero second moment would give after 51 steps
        float moved = before - w[2, 0];
        Assert.True(moved > 0 && moved < 0.01f, $"moved {moved}");
        Assert.Equal(m[0] * 0.9f, st.Slots[0][0], 5);
    }

    [Fact]
    public void KeptGrowthGivesNewEntriesLargeFirstSteps()
    {
        // the failure Warm avoids: with a zero second moment a new entry's first step is (1−β1)/√(1−β2) ≈ 3.16 lr
        var w = Tensor.FromArray(new float[] { 1, 2 }, 2);
        w.RequiresGrad = true;
        var opt = new Adam([w], 0.01);
        w.Grad = Tensor.FromArray(new float[] { 1, 1 }, 2);
        for (int k = 0; k < 5000; k++) opt.Step();
        w.Replace(new float[] { w[0], w[1], 0 }, 3);
        w.Grad = Tensor.FromArray(new float[] { 0, 0, 1e-3f }, 3);
        opt.Step();
        Assert.Equal(-0.0316f, w[2], 3);
    }

    [Theory]
    [InlineData(0, 1.0)]
    [InlineData(9, 1.0)]
    [InlineData(10, 0.1)]
    [InlineData(25, 0.01)]
    public void StepSchedule(int t, double f) => Assert.Equal(f, new StepLr(10).Factor(t), 10);

    [Fact]
    public void OtherSchedules()
    {
        Assert.Equal(1.0, new CosineLr(100).Factor(0), 10);
        Assert.Equal(0.5, new CosineLr(100).Factor(50), 10);
        Assert.Equal(0.1, new CosineLr(100, 0.1).Factor(100), 10);
        Assert.Equal(0.01, new MultiStepLr([79, 119]).Factor(120), 10);
        Assert.Equal(0.1, new MultiStepLr([79, 119]).Factor(79), 10);
        var w = new WarmupLr(4, new ConstantLr());
        Assert.Equal(0.2, w.Factor(0), 10);
        Assert.Equal(1.0, w.Factor(4), 10);
    }

    [Fact]
    public void ClipByNorm()
    {
        var a = Param(0f, 0f);
        var b = Param(0f);
        SetGrad(a, 3f, 0f);
        SetGrad(b, 4f);
        double norm = GradClip.ClipByNorm([a, b], 1.0);
        Assert.Equal(5.0, norm, 6);
        Assert.Equal(0.6f, a.Grad![0], 4);
        Assert.Equal(0.8f, b.Grad![0], 4);
    }
}
