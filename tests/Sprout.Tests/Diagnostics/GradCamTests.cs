using Sprout.Diagnostics;
using Sprout.Nn;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Diagnostics;

/// <summary>Grad-CAM: the map follows the evidence, and equals the formula on a model where it can be worked out.</summary>
[Collection("Workers")]
public class GradCamTests
{
    // conv 3×3 (positive filters, no bias) → ReLU → global average pool → Linear: the score counts the object's pixels
    private static Sequential Detector()
    {
        var conv = new Conv2d(new Conv2dConfig(1, 2, 3, 1, 1, Bias: false), new Rng(1));
        new Rng(2).FillUniform(conv.Weight.Span, 0.1f, 1f);
        var head = new Linear(new LinearConfig(2, 2), new Rng(3));
        head.Weight.Span.Clear();
        head.Bias!.Span.Clear();
        head.Weight.Span[0] = 1; head.Weight.Span[1] = 1;   // class 0: the object's evidence; class 1: nothing
        return new Sequential(conv, new Activation(ActivationConfig.Relu), new Pool(new PoolConfig(PoolKind.AdaptiveAverage)),
            new Flatten(), head);
    }

    // a 1×16×16 image, zero except a 3×3 object of positive pixels at (top, left)
    private static float[] Object(int top, int left)
    {
        var img = new float[16 * 16];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) img[(top + i) * 16 + left + j] = 1 + 0.1f * (i + j);
        return img;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(11, 4)]
    [InlineData(6, 12)]
    public void TheMapHighlightsTheRegionTheScoreDependsOn(int top, int left)
    {
        var model = Detector();
        var maps = GradCam.Compute(model, new Tensor(Object(top, left), 1, 1, 16, 16), GradCam.DefaultLayer(model)!.Value);
        var m = maps[0];
        Assert.Equal(0, m.Class);
        Assert.Equal((16, 16), (m.Height, m.Width));
        // the peak sits on the object, and nothing further than the filter's reach (1 pixel) lights up
        int peak = Array.IndexOf(m.Map, m.Map.Max());
        Assert.InRange(peak / 16, top, top + 2);
        Assert.InRange(peak % 16, left, left + 2);
        Assert.Equal(1f, m.Map[peak]);
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 16; j++)
                if (i < top - 1 || i > top + 3 || j < left - 1 || j > left + 3)
                    Assert.Equal(0f, m.Map[i * 16 + j]);
    }

    [Fact]
    public void TheRawMapEqualsTheFormulaForALinearHead()
    {
        // conv → ReLU → Flatten → Linear: ∂y_c/∂A_k is W_c's block k, so α_k is that block's mean
        var conv = new Conv2d(new Conv2dConfig(2, 3, 3, 1, 1), new Rng(4));
        var head = new Linear(new LinearConfig(3 * 5 * 5, 4), new Rng(5));
        var model = new Sequential(conv, new Activation(ActivationConfig.Relu), new Flatten(), head);
        var x = new float[2 * 2 * 5 * 5];
        new Rng(6).FillUniform(x, -1, 1);
        var images = new Tensor(x, 2, 2, 5, 5);
        var maps = GradCam.Compute(model, images, 1, classes: [3, 1]);
        float[] a;
        using (Sprout.Autograd.Graph.NoGrad())
        using (TensorScope.Begin())
            a = new Activation(ActivationConfig.Relu).Forward(conv.Forward(new Tensor((float[])x.Clone(), 2, 2, 5, 5))).ToArray();
        var w = head.Weight.Span;
        for (int r = 0; r < 2; r++)
        {
            int c = r == 0 ? 3 : 1;
            Assert.Equal(c, maps[r].Class);
            for (int p = 0; p < 25; p++)
            {
                double v = 0;
                for (int k = 0; k < 3; k++)
                {
                    double alpha = 0;
                    for (int q = 0; q < 25; q++) alpha += w[c * 75 + k * 25 + q];
                    v += alpha / 25 * a[(r * 3 + k) * 25 + p];
                }
                Assert.Equal(Math.Max(0, v), maps[r].Raw[p], 5);
            }
            Assert.Equal(maps[r].Raw, maps[r].Map.Select(v => v * maps[r].Raw.Max()).ToArray(), new FloatTolerance(1e-5f));
        }
        Assert.All(model.Parameters(), p => Assert.Null(p.Grad));   // gradients cleared after
    }

    [Fact]
    public void UpsamplingUsesHalfPixelCentres()
    {
        // as PyTorch's interpolate(mode="bilinear", align_corners=False)
        Assert.Equal([1f, 1.75f, 3.25f, 4f], GradCam.Upsample([1f, 4f], 1, 2, 1, 4));
        Assert.All(GradCam.Upsample([2f, 2f, 2f, 2f], 2, 2, 7, 5), v => Assert.Equal(2f, v));
        Assert.Throws<ArgumentException>(() => GradCam.Upsample([1f], 1, 2, 1, 4));
    }

    [Fact]
    public void LayersAndInputsThatCannotGiveAMapAreRejected()
    {
        var model = Detector();
        Assert.Equal(1, GradCam.DefaultLayer(model));
        Assert.Null(GradCam.DefaultLayer(new Sequential(new Linear(new LinearConfig(2, 2), new Rng(1)))));
        var img = new Tensor(Object(1, 1), 1, 1, 16, 16);
        Assert.Contains("rank", Assert.Throws<ArgumentException>(() => GradCam.Compute(model, img, 3)).Message);   // after Flatten
        Assert.Contains("before the output", Assert.Throws<ArgumentException>(() => GradCam.Compute(model, img, 4)).Message);
        Assert.Contains("outside", Assert.Throws<ArgumentException>(() => GradCam.Compute(model, img, 1, classes: [7])).Message);
        Assert.Contains("[N, C, H, W]", Assert.Throws<ArgumentException>(() => GradCam.Compute(model, new Tensor(new float[4], 2, 2), 1)).Message);
    }

    private sealed class FloatTolerance(float tol) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tol;
        public int GetHashCode(float obj) => 0;
    }
}
