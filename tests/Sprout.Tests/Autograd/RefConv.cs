namespace Sprout.Tests.Autograd;

/// <summary>Naive double-precision references for the conv-family ops.</summary>
public static class RefConv
{
    // The plain 7-loop convolution: n, f, oy, ox, c, ky, kx.
    public static DT Conv2d(DT x, DT w, DT? b, int sh, int sw, int ph, int pw, int groups)
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int f = w.Shape[0], cg = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3];
        int fg = f / groups;
        int oh = (h + 2 * ph - kh) / sh + 1, ow = (wd + 2 * pw - kw) / sw + 1;
        var y = new double[n * f * oh * ow];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < f; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double s = b is null ? 0 : b.Data[o];
                        int gi = o / fg;
                        for (int cc = 0; cc < cg; cc++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++)
                                {
                                    int iy = oy * sh - ph + ky, ix = ox * sw - pw + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    int ci = gi * cg + cc;
                                    s += x.Data[((i * c + ci) * h + iy) * wd + ix] * w.Data[((o * cg + cc) * kh + ky) * kw + kx];
                                }
                        y[((i * f + o) * oh + oy) * ow + ox] = s;
                    }
        return new DT(y, [n, f, oh, ow]);
    }

    // w [P, K, F] with K in (c, ky, kx) order; bias [P, F].
    public static DT LocallyConnected(DT x, DT w, DT? b, int kh, int kw, int sh, int sw)
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int oh = (h - kh) / sh + 1, ow = (wd - kw) / sw + 1, p = oh * ow, f = w.Shape[2], k = c * kh * kw;
        var y = new double[n * f * p];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < f; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        int pos = oy * ow + ox;
                        double s = b is null ? 0 : b.Data[pos * f + o];
                        for (int cc = 0; cc < c; cc++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++)
                                {
                                    int kk = (cc * kh + ky) * kw + kx;
                                    s += x.Data[((i * c + cc) * h + oy * sh + ky) * wd + ox * sw + kx] * w.Data[(pos * k + kk) * f + o];
                                }
                        y[(i * f + o) * p + pos] = s;
                    }
        return new DT(y, [n, f, oh, ow]);
    }

    public static DT BatchNormTrain(DT x, DT? gamma, DT? beta, double eps)
    {
        int n = x.Shape[0], c = x.Shape[1], hw = x.Length / (n * c);
        var y = new double[x.Length];
        for (int ch = 0; ch < c; ch++)
        {
            double s = 0, m = n * hw;
            for (int i = 0; i < n; i++) for (int j = 0; j < hw; j++) s += x.Data[(i * c + ch) * hw + j];
            double mu = s / m, v = 0;
            for (int i = 0; i < n; i++) for (int j = 0; j < hw; j++) { double d = x.Data[(i * c + ch) * hw + j] - mu; v += d * d; }
            double istd = 1 / Math.Sqrt(v / m + eps);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < hw; j++)
                {
                    int o = (i * c + ch) * hw + j;
                    y[o] = (x.Data[o] - mu) * istd * (gamma?.Data[ch] ?? 1) + (beta?.Data[ch] ?? 0);
                }
        }
        return new DT(y, x.Shape);
    }

    public static DT Pool(DT x, int k, int s, int p, bool max)
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
        var y = new double[n * c * oh * ow];
        for (int pl = 0; pl < n * c; pl++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    double acc = max ? double.NegativeInfinity : 0;
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++)
                        {
                            int iy = oy * s - p + ky, ix = ox * s - p + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            double v = x.Data[pl * h * w + iy * w + ix];
                            acc = max ? Math.Max(acc, v) : acc + v;
                        }
                    y[(pl * oh + oy) * ow + ox] = max ? acc : acc / (k * k);
                }
        return new DT(y, [n, c, oh, ow]);
    }

    public static DT AdaptiveAvg(DT x, int oh, int ow)
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        var y = new double[n * c * oh * ow];
        for (int pl = 0; pl < n * c; pl++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    int y0 = i * h / oh, y1 = ((i + 1) * h + oh - 1) / oh, x0 = j * w / ow, x1 = ((j + 1) * w + ow - 1) / ow;
                    double s = 0;
                    for (int yy = y0; yy < y1; yy++) for (int xx = x0; xx < x1; xx++) s += x.Data[pl * h * w + yy * w + xx];
                    y[(pl * oh + i) * ow + j] = s / ((y1 - y0) * (x1 - x0));
                }
        return new DT(y, [n, c, oh, ow]);
    }
}
