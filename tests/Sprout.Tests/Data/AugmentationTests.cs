using Xunit;
using Sprout.Data;
using Sprout.Tensors;

namespace Sprout.Tests.Data;

public class AugmentationTests
{
    private static float[] Image(ImageShape s, ulong seed = 3)
    {
        var rng = new Rng(seed);
        var img = new float[s.Size];
        for (int i = 0; i < img.Length; i++) img[i] = (float)rng.NextDouble();
        return img;
    }

    private static float[] Run(IAugmentation a, float[] img, ImageShape s, ulong seed = 1)
    {
        var copy = (float[])img.Clone();
        a.Apply(copy, new float[s.Size], s, new Rng(seed));
        return copy;
    }

    [Theory]
    [InlineData(Interpolation.Bilinear)]
    [InlineData(Interpolation.Nearest)]
    public void TranslationByZero_IsIdentity(Interpolation mode)
    {
        var s = new ImageShape(3, 7, 5);
        var img = Image(s);
        Assert.Equal(img, Run(new FixedTranslate(0, 0, mode), img, s));
        Assert.Equal(img, Run(new RandomTranslate(0, mode), img, s));
    }

    [Theory]
    [InlineData(6, 8)]
    [InlineData(7, 5)]
    [InlineData(1, 1)]
    public void QuadrantSwapTwice_IsIdentity_AndMovesTheDocumentedBlocks(int h, int w)
    {
        var s = new ImageShape(2, h, w);
        var img = Image(s);
        var once = Run(new QuadrantSwap(), img, s);
        Assert.Equal(img, Run(new QuadrantSwap(), once, s));
        int h2 = h / 2, w2 = w / 2;
        for (int c = 0; c < 2; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = c * h * w + y * w + x;
                    bool tr = y < h2 && x >= w - w2, bl = y >= h - h2 && x < w2;
                    if (tr) Assert.Equal(img[c * h * w + (h - h2 + y) * w + (x - (w - w2))], once[i]);
                    else if (bl) Assert.Equal(img[c * h * w + (y - (h - h2)) * w + (x + (w - w2))], once[i]);
                    else Assert.Equal(img[i], once[i]); // middle row/column of odd sizes and the other quadrants stay
                }
        if (h > 1) Assert.NotEqual(img, once);
    }

    [Fact]
    public void IntegerShift_MovesPixelsExactly()
    {
        var s = new ImageShape(1, 4, 4);
        var img = Image(s);
        var outp = Run(new FixedTranslate(0.25, -0.5, Interpolation.Nearest), img, s); // dx = +1, dy = -2
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++)
                Assert.Equal(img[Math.Clamp(y + 2, 0, 3) * 4 + Math.Clamp(x - 1, 0, 3)], outp[y * 4 + x]);
    }

    [Fact]
    public void BilinearHalfPixelShift_AveragesNeighbours()
    {
        var s = new ImageShape(1, 1, 4);
        float[] img = [0f, 1f, 3f, 7f];
        var outp = Run(new FixedTranslate(0.125, 0), img, s); // dx = 0.5
        Assert.Equal([0f, 0.5f, 2f, 5f], outp);
    }

    [Fact]
    public void NearestFill_OnlyCopiesEdgePixels_AfterLargeShift()
    {
        var s = new ImageShape(2, 10, 12);
        var img = Image(s);
        var edge = new HashSet<float>();
        for (int c = 0; c < 2; c++)
            for (int y = 0; y < 10; y++)
                for (int x = 0; x < 12; x++)
                    if (y == 0 || y == 9 || x == 0 || x == 11) edge.Add(img[c * 120 + y * 12 + x]);

        // integer mode, both axes: shift (7, -6) → all pixels with x < 7 or y >= 4 are fill
        var outp = Run(new FixedTranslate(7 / 12.0, -0.6, Interpolation.Nearest), img, s);
        for (int c = 0; c < 2; c++)
            for (int y = 0; y < 10; y++)
                for (int x = 0; x < 12; x++)
                    if (x < 7 || y >= 4) Assert.Contains(outp[c * 120 + y * 12 + x], edge);

        // continuous shift along x only with bilinear: every filled pixel equals the left edge pixel of its row
        var cont = Run(new FixedTranslate(0.7, 0), img, s); // dx = 8.4
        for (int c = 0; c < 2; c++)
            for (int y = 0; y < 10; y++)
                for (int x = 0; x <= 8; x++)
                    Assert.Equal(img[c * 120 + y * 12], cont[c * 120 + y * 12 + x]);

        // random shifts up to 90%: in nearest mode every output pixel is a source pixel; fill pixels are edge pixels
        var all = new HashSet<float>(img);
        for (ulong seed = 0; seed < 20; seed++)
            foreach (var v in Run(new RandomTranslate(0.9, Interpolation.Nearest), img, s, seed)) Assert.Contains(v, all);
    }

    [Fact]
    public void RandomTranslate_StaysWithinRange_AndIsSeeded()
    {
        var s = new ImageShape(1, 8, 8);
        var img = Image(s);
        Assert.Equal(Run(new RandomTranslate(0.2), img, s, 5), Run(new RandomTranslate(0.2), img, s, 5));
        Assert.NotEqual(Run(new RandomTranslate(0.2), img, s, 5), Run(new RandomTranslate(0.2), img, s, 6));
        // a one-hot pixel in the middle moves by at most 0.2 * 8 = 1.6 pixels
        var dot = new float[64];
        dot[4 * 8 + 4] = 1;
        for (ulong seed = 0; seed < 50; seed++)
        {
            var o = Run(new RandomTranslate(0.2), dot, s, seed);
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 8; x++)
                    if (o[y * 8 + x] != 0) Assert.True(Math.Abs(y - 4) <= 2 && Math.Abs(x - 4) <= 2, $"seed {seed}: mass at ({y},{x})");
        }
    }

    [Fact]
    public void Rotation_ZeroIsIdentity_NinetyIsCounterClockwise()
    {
        var s = new ImageShape(1, 3, 3);
        float[] img = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        var tmp = new float[9];
        var r0 = (float[])img.Clone();
        ImageKernels.Rotate(r0, tmp, s, 0);
        Assert.Equal(img, r0);
        var r90 = (float[])img.Clone();
        ImageKernels.Rotate(r90, tmp, s, 90);
        float[] expected = [3, 6, 9, 2, 5, 8, 1, 4, 7];
        for (int i = 0; i < 9; i++) Assert.Equal(expected[i], r90[i], 4);
        Assert.Equal(36, RandomRotate.FromFraction(0.1).MaxDegrees);
        Assert.Equal(Run(new RandomRotate(30), img, s, 9), Run(new RandomRotate(30), img, s, 9));
    }

    [Fact]
    public void GaussianNoise_HasRequestedSpread_NoClipping()
    {
        var s = new ImageShape(1, 100, 100);
        var zeros = new float[s.Size];
        var o = Run(new GaussianNoise(0.5), zeros, s);
        double m = o.Average(v => (double)v), sd = Math.Sqrt(o.Average(v => (double)v * v) - m * m);
        Assert.InRange(m, -0.02, 0.02);
        Assert.InRange(sd, 0.48, 0.52);
        Assert.Contains(o, v => v < 0);
        Assert.Contains(o, v => v > 1);
    }

    [Fact]
    public void EdgeNoise_TouchesOnlyTheBorder()
    {
        var s = new ImageShape(2, 16, 14);
        var img = Image(s);
        var o = Run(new EdgeNoise(0.3), img, s);
        for (int c = 0; c < 2; c++)
            for (int y = 0; y < 16; y++)
                for (int x = 0; x < 14; x++)
                {
                    int i = c * 224 + y * 14 + x;
                    bool border = y < 5 || y >= 11 || x < 5 || x >= 9;
                    if (border) Assert.NotEqual(img[i], o[i]);
                    else Assert.Equal(img[i], o[i]);
                }
    }

    [Fact]
    public void CropWithPadding_ShiftsAndZeroFills()
    {
        var s = new ImageShape(1, 4, 4);
        var img = Image(s);
        var o = (float[])img.Clone();
        RandomCropPad.Crop(o, new float[16], s, ox: 2, oy: -1);
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++)
            {
                int sy = y - 1, sx = x + 2;
                float want = sy is >= 0 and < 4 && sx is >= 0 and < 4 ? img[sy * 4 + sx] : 0f;
                Assert.Equal(want, o[y * 4 + x]);
            }
        Assert.Equal(img, Run(new RandomCropPad(0), img, s));
        // p = 4 on 32x32: some seeds shift, and the result always has the original size and zero or source values
        var big = new ImageShape(3, 32, 32);
        var bi = Image(big);
        var set = new HashSet<float>(bi) { 0f };
        bool changed = false;
        for (ulong seed = 0; seed < 10; seed++)
        {
            var r = Run(new RandomCropPad(4), bi, big, seed);
            changed |= !r.SequenceEqual(bi);
            Assert.All(r, v => Assert.Contains(v, set));
        }
        Assert.True(changed);
    }

    [Fact]
    public void HorizontalFlip_MirrorsRows_WithProbability()
    {
        var s = new ImageShape(1, 2, 3);
        float[] img = [1, 2, 3, 4, 5, 6];
        Assert.Equal([3f, 2, 1, 6, 5, 4], Run(new HorizontalFlip(1.0), img, s));
        Assert.Equal(img, Run(new HorizontalFlip(0.0), img, s));
        int flips = 0;
        for (ulong seed = 0; seed < 400; seed++)
            if (Run(new HorizontalFlip(), img, s, seed)[0] == 3) flips++;
        Assert.InRange(flips, 150, 250);
    }

    [Fact]
    public void Compose_AppliesInOrder()
    {
        var s = new ImageShape(1, 2, 2);
        float[] img = [1, 2, 3, 4];
        var o = Run(new Compose(new HorizontalFlip(1), new FixedTranslate(0.5, 0, Interpolation.Nearest)), img, s);
        // flip → [2,1,4,3]; shift right by 1 with nearest fill → [2,2,4,4]
        Assert.Equal([2f, 2, 4, 4], o);
    }

    // hand-computed cases of the augmentations of paper 003's study (training and evaluation transforms)

    [Fact]
    public void RandomTranslationShiftsByTheDrawnFractionWithBilinearSamplingAndNearestFill()
    {
        // a ramp along x: value = x. A shift by dx = u·a·W pixels (u the stream's first uniform draw in (−1, 1)) samples
        // x − dx, clamped to [0, W−1] (nearest fill), linearly between pixels
        var s = new ImageShape(1, 1, 10);
        float[] ramp = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        var rng = new Rng(11);
        double dx = rng.Uniform(-0.3 * 10, 0.3 * 10);
        var o = Run(new RandomTranslate(0.3), ramp, s, 11);
        for (int x = 0; x < 10; x++) Assert.Equal(Math.Clamp(x - dx, 0, 9), o[x], 5);
        // a fixed 25% shift right by 2.5 pixels: 0, 0, 0, 0.5, 1.5, …, 6.5
        var f = Run(new FixedTranslate(0.25, 0), ramp, s);
        Assert.Equal(new[] { 0f, 0f, 0f, 0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f }, f);
    }

    [Fact]
    public void RotationByFortyFiveDegreesSamplesTheRotatedCoordinate()
    {
        // a linear image f(y, x) = 1 + 3y + x is sampled exactly by bilinear interpolation; output (0, 1) comes from
        // (y, x) = (1 − cos 45°, 1 + sin 45°) about the centre (1, 1)
        var s = new ImageShape(1, 3, 3);
        float[] img = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        var r = (float[])img.Clone();
        ImageKernels.Rotate(r, new float[9], s, 45);
        double c = Math.Sqrt(0.5);
        Assert.Equal(1 + 3 * (1 - c) + (1 + c), r[1], 4);
        Assert.Equal(5, r[4], 5);                           // the centre stays
        // a random rotation is a fixed one by the stream's first draw in ±r
        double deg = new Rng(4).Uniform(-45, 45);
        var expected = (float[])img.Clone();
        ImageKernels.Rotate(expected, new float[9], s, deg);
        Assert.Equal(expected, Run(new RandomRotate(45), img, s, 4));
    }

    [Fact]
    public void NoiseAddsTheStreamsNormalsScaledBySigmaAndEdgeNoiseOnlyInTheBorderInRowOrder()
    {
        var s = new ImageShape(1, 12, 12);
        var img = Image(s);
        var normals = new Rng(8);
        var o = Run(new GaussianNoise(0.15), img, s, 8);
        for (int i = 0; i < img.Length; i++) Assert.Equal(img[i] + (float)(0.15 * normals.Normal()), o[i]);
        // edge noise of the config (paper 003: a 5-pixel border): the border pixels in row order draw the stream's normals
        var cfg = new AugmentationConfig(EdgeNoise: 0.15);
        Assert.Equal(5, cfg.Border);
        var e = Run(cfg.Build()!, img, s, 8);
        normals = new Rng(8);
        for (int y = 0; y < 12; y++)
            for (int x = 0; x < 12; x++)
            {
                int i = y * 12 + x;
                bool border = y < 5 || y >= 7 || x < 5 || x >= 7;
                Assert.Equal(border ? img[i] + (float)(0.15 * normals.Normal()) : img[i], e[i]);
            }
        // the config writes edgeNoise only when it is on, and checks its range
        Assert.DoesNotContain("edge", System.Text.Json.JsonSerializer.Serialize(new AugmentationConfig(Translate: 0.1)), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("edgeNoise", Assert.Throws<ArgumentException>(() => new AugmentationConfig(EdgeNoise: -1).Validate()).Message);
        Assert.Equal("edge noise σ 0.15 in a 5 px border", cfg.ToString());
    }

    [Fact]
    public void QuadrantSwapOfAFourByFourImage()
    {
        var s = new ImageShape(1, 4, 4);
        float[] img = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
        // quadrant I (top right: 3, 4, 7, 8) trades places with quadrant III (bottom left: 9, 10, 13, 14)
        Assert.Equal(new float[] { 1, 2, 9, 10, 5, 6, 13, 14, 3, 4, 11, 12, 7, 8, 15, 16 }, Run(new QuadrantSwap(), img, s));
    }
}
