namespace Sprout.Kernels;

/// <summary>Geometry of a 2-D convolution window over one image.</summary>
/// <param name="C">Input channels (of one group).</param>
/// <param name="H">Input height.</param>
/// <param name="W">Input width.</param>
/// <param name="KH">Kernel height.</param>
/// <param name="KW">Kernel width.</param>
/// <param name="SH">Vertical stride.</param>
/// <param name="SW">Horizontal stride.</param>
/// <param name="PH">Top/bottom zero padding.</param>
/// <param name="PW">Left/right zero padding.</param>
public readonly record struct ConvGeometry(int C, int H, int W, int KH, int KW, int SH, int SW, int PH, int PW)
{
    /// <summary>Output height.</summary>
    public int OH => (H + 2 * PH - KH) / SH + 1;

    /// <summary>Output width.</summary>
    public int OW => (W + 2 * PW - KW) / SW + 1;

    /// <summary>Rows of the column matrix: C·KH·KW (order c, ki, kj).</summary>
    public int K => C * KH * KW;

    /// <summary>Whether the column matrix is the image itself (1×1, stride 1, no padding).</summary>
    public bool IsIdentity => KH == 1 && KW == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0;
}

/// <summary>
/// im2col / col2im: the column matrix col [C·KH·KW, OH·OW] holds, in row (c, ki, kj), the input value under kernel
/// tap (ki, kj) of channel c for every output position (zero where the window hangs over the padding).
/// </summary>
public static class Im2Col
{
    /// <summary>
    /// A row stride for the column matrix: OH·OW, padded when it is a multiple of 128 floats (rows that far apart
    /// alias the same L1 sets when the GEMM reads them in place).
    /// </summary>
    public static int LeadingDimension(in ConvGeometry g)
    {
        int ohw = g.OH * g.OW;
        return ohw % 128 == 0 ? ohw + 16 : ohw;
    }

    /// <summary>col = im2col(x), x: [C, H, W] of one image; col rows have stride <paramref name="ld"/> (≥ OH·OW).</summary>
    public static void Forward(ReadOnlySpan<float> x, in ConvGeometry g, Span<float> col, int ld)
    {
        int oh = g.OH, ow = g.OW, ohw = ld;
        int row = 0;
        for (int c = 0; c < g.C; c++)
        {
            var xc = x.Slice(c * g.H * g.W, g.H * g.W);
            for (int ki = 0; ki < g.KH; ki++)
                for (int kj = 0; kj < g.KW; kj++, row++)
                {
                    var dst = col.Slice(row * ohw, oh * ow);
                    for (int y = 0; y < oh; y++)
                    {
                        int iy = y * g.SH - g.PH + ki;
                        var d = dst.Slice(y * ow, ow);
                        if ((uint)iy >= (uint)g.H)
                        {
                            d.Clear();
                            continue;
                        }
                        var src = xc.Slice(iy * g.W, g.W);
                        // output columns whose input column lies inside the image: [x0, x1)
                        int x0 = Math.Max(0, CeilDiv(g.PW - kj, g.SW));
                        int x1 = Math.Min(ow, CeilDiv(g.W + g.PW - kj, g.SW));
                        if (x1 < x0) x1 = x0;
                        d[..x0].Clear();
                        d[x1..].Clear();
                        if (g.SW == 1)
                            src.Slice(x0 - g.PW + kj, x1 - x0).CopyTo(d[x0..x1]);
                        else
                            for (int xx = x0; xx < x1; xx++) d[xx] = src[xx * g.SW - g.PW + kj];
                    }
                }
        }
    }

    /// <summary>dx += col2im(dcol): the adjoint of <see cref="Forward"/>, dx: [C, H, W]; dcol rows have stride <paramref name="ld"/>.</summary>
    public static void Backward(ReadOnlySpan<float> dcol, in ConvGeometry g, Span<float> dx, int ld)
    {
        int oh = g.OH, ow = g.OW, ohw = ld;
        int row = 0;
        for (int c = 0; c < g.C; c++)
        {
            var dxc = dx.Slice(c * g.H * g.W, g.H * g.W);
            for (int ki = 0; ki < g.KH; ki++)
                for (int kj = 0; kj < g.KW; kj++, row++)
                {
                    var src = dcol.Slice(row * ohw, oh * ow);
                    int x0 = Math.Max(0, CeilDiv(g.PW - kj, g.SW));
                    int x1 = Math.Min(ow, CeilDiv(g.W + g.PW - kj, g.SW));
                    if (x1 <= x0) continue;
                    for (int y = 0; y < oh; y++)
                    {
                        int iy = y * g.SH - g.PH + ki;
                        if ((uint)iy >= (uint)g.H) continue;
                        var d = dxc.Slice(iy * g.W, g.W);
                        var s = src.Slice(y * ow, ow);
                        if (g.SW == 1 && x1 - x0 >= 16)
                        {
                            var dd = d.Slice(x0 - g.PW + kj, x1 - x0);
                            System.Numerics.Tensors.TensorPrimitives.Add(dd, s[x0..x1], dd);
                        }
                        else if (g.SW == 1)
                        {
                            // short rows (small planes): a call per row would cost more than its few adds
                            for (int xx = x0, o = x0 - g.PW + kj; xx < x1; xx++, o++) d[o] += s[xx];
                        }
                        else
                            for (int xx = x0; xx < x1; xx++) d[xx * g.SW - g.PW + kj] += s[xx];
                    }
                }
        }
    }

    private static int CeilDiv(int a, int b) => a >= 0 ? (a + b - 1) / b : -((-a) / b);
}
