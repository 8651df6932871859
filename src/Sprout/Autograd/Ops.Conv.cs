using System.Numerics.Tensors;
using Sprout.Kernels;
using Sprout.Tensors;

namespace Sprout.Autograd;

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution (cross-correlation, as PyTorch): x [N, C, H, W], w [F, C/groups, KH, KW], b [F] or null →
    /// [N, F, OH, OW]. im2col + GEMM per image and group; the batch is split over worker threads by a fixed
    /// partition (each part accumulates its own weight gradient, summed in part order). For stride 1 and one group
    /// the input gradient is itself a convolution of dY with the flipped, transposed kernel (same GEMM shape as the
    /// forward pass); otherwise it is Wᵀ·dY followed by col2im.
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor w, Tensor? b, int strideH = 1, int strideW = 1, int padH = 0, int padW = 0, int groups = 1)
    {
        if (x.Rank != 4 || w.Rank != 4)
            throw new ArgumentException($"Conv2d needs x [N,C,H,W] and w [F,C/groups,KH,KW], got {Tensor.FormatShape(x.Shape)} and {Tensor.FormatShape(w.Shape)}");
        int n = x.Dim(0), c = x.Dim(1), h = x.Dim(2), wd = x.Dim(3);
        int f = w.Dim(0), kh = w.Dim(2), kw = w.Dim(3);
        if (groups < 1 || c % groups != 0 || f % groups != 0)
            throw new ArgumentException($"Conv2d: {c} input and {f} output channels are not divisible by groups={groups}");
        int cg = c / groups, fg = f / groups;
        if (w.Dim(1) != cg)
            throw new ArgumentException($"Conv2d: weight {Tensor.FormatShape(w.Shape)} expects {w.Dim(1) * groups} input channels, input has {c}");
        if (strideH < 1 || strideW < 1 || padH < 0 || padW < 0) throw new ArgumentException("Conv2d: stride must be ≥ 1 and padding ≥ 0");
        if (b is not null && (b.Rank != 1 || b.Dim(0) != f)) throw new ArgumentException($"Conv2d: bias must be [{f}]");
        var g = new ConvGeometry(cg, h, wd, kh, kw, strideH, strideW, padH, padW);
        int oh = g.OH, ow = g.OW;
        if (oh <= 0 || ow <= 0) throw new ArgumentException($"Conv2d: a {kh}x{kw} kernel does not fit a {h}x{wd} input with padding {padH},{padW}");
        var y = NewOut([n, f, oh, ow]);
        ConvForward(x.Span, w.Span, b is null ? default : b.Span, b is not null, y.Span, n, c, f, groups, g);
        if (!Graph.Needs(x, w, b)) return y;
        Graph.Record(y, "Conv2d", b is null ? [x, w] : [x, w, b], () => ConvBackward(x, w, b, y, groups, g));
        return y;
    }

    // y [n, f, oh, ow] = conv(x [n, c, h, w], w [f, c/groups, kh, kw]) (+ bias)
    private static void ConvForward(ReadOnlySpan<float> xSpan, ReadOnlySpan<float> wSpan, ReadOnlySpan<float> bSpan, bool hasBias,
        Span<float> ySpan, int n, int c, int f, int groups, ConvGeometry g)
    {
        int cg = c / groups, fg = f / groups, hw = g.H * g.W, ohw = g.OH * g.OW, k = g.K;
        int ld = Im2Col.LeadingDimension(g);
        int parts = ConvParts(n, (long)f * ohw * k);
        if (UsesDepthwise(groups, c, f))
        {
            // one filter per channel: phase-plane multiply-adds, no column matrix (DepthwiseConv)
            unsafe
            {
                fixed (float* pw = wSpan) fixed (float* pb = bSpan)
                {
                    nint wa = (nint)pw, ba = (nint)pb;
                    int wLen = wSpan.Length, bLen = hasBias ? bSpan.Length : 0;
                    ImageParts(xSpan, ySpan, n, c * hw, f * ohw, parts, (count, xs, ys) =>
                        DepthwiseConv.Forward(count, c, new ReadOnlySpan<float>((float*)wa, wLen), xs, g, new ReadOnlySpan<float>((float*)ba, bLen), ys));
                }
            }
            return;
        }
        if (UsesBatchedColumns(groups, g))
        {
            // small planes: one GEMM over a chunk of images' columns instead of a tiny GEMM per image
            unsafe
            {
                fixed (float* pw = wSpan) fixed (float* pb = bSpan)
                {
                    nint wa = (nint)pw, ba = (nint)pb;
                    int wLen = wSpan.Length, bLen = hasBias ? bSpan.Length : 0;
                    ImageParts(xSpan, ySpan, n, c * hw, f * ohw, parts, (count, xs, ys) =>
                        BatchedForward(count, f, new ReadOnlySpan<float>((float*)wa, wLen), xs, g, new ReadOnlySpan<float>((float*)ba, bLen), ys));
                }
            }
            return;
        }
        if (UsesWinograd(groups, g, f))
        {
            // 3×3 stride 1 with enough channels: Winograd F(2×2, 3×3), 16 multiplies per 2×2 outputs instead of 36
            // transformed weights in this thread's buffer (the workers only read it, and this call waits for them)
            var u = _winogradU is { } wu && wu.Length >= 16 * f * c ? wu : _winogradU = new float[16 * f * c];
            Winograd.TransformWeights(wSpan, f, c, u);
            var biasW = hasBias ? bSpan.ToArray() : [];
            ImageParts(xSpan, ySpan, n, c * hw, f * ohw, parts, (count, xs, ys) => Winograd.Forward(count, f, u, xs, g, biasW, ys, accumulate: false));
            return;
        }
        if (UsesDirectConv(groups, g))
        {
            // stride 1: direct kernels on a zero-padded copy of each chunk of images
            var packed = DirectConv.PackWeights(wSpan, f, k);
            var biasArr = hasBias ? bSpan.ToArray() : [];
            ImageParts(xSpan, ySpan, n, c * hw, f * ohw, parts, (count, xs, ys) => DirectConv.Forward(count, f, packed, xs, g, biasArr, ys, accumulate: false));
            return;
        }
        // implicit GEMM (panels packed straight from the image) unless the image is its own column matrix
        bool implicitGemm = !g.IsIdentity && Gemm.Kernel == Gemm.KernelKind.Vector512 && UseImplicitGemm;
        var cols = ColumnBuffers(parts, g.IsIdentity || implicitGemm ? 0 : k * ld);
        var bias = hasBias ? bSpan.ToArray() : null;
        unsafe
        {
            fixed (float* px = xSpan) fixed (float* pw = wSpan) fixed (float* py = ySpan)
            {
                nint xa = (nint)px, wa = (nint)pw, ya = (nint)py;
                int xLen = xSpan.Length, wLen = wSpan.Length, yLen = ySpan.Length;
                Workers.Run(parts, part =>
                {
                    var (s, e) = Range(n, part, parts);
                    var xs = new ReadOnlySpan<float>((float*)xa, xLen);
                    var ws = new ReadOnlySpan<float>((float*)wa, wLen);
                    var ys = new Span<float>((float*)ya, yLen);
                    var col = cols[part].Span;
                    for (int i = s; i < e; i++)
                        for (int gi = 0; gi < groups; gi++)
                        {
                            var xin = xs.Slice((i * c + gi * cg) * hw, cg * hw);
                            ReadOnlySpan<float> colSpan = xin;
                            int ldc = ohw;
                            if (!g.IsIdentity && !implicitGemm)
                            {
                                ConvGemm.PackColumns(xin, g, 0, ohw, col, ld);
                                colSpan = col[..(k * ld)];
                                ldc = ld;
                            }
                            var yout = ys.Slice((i * f + gi * fg) * ohw, fg * ohw);
                            if (bias is not null)
                                for (int o = 0; o < fg; o++) yout.Slice(o * ohw, ohw).Fill(bias[gi * fg + o]);
                            // y_g [fg, ohw] (+)= W_g [fg, k] · col [k, ohw]
                            if (implicitGemm) ConvGemm.Forward(fg, ws.Slice(gi * fg * k, fg * k), xin, g, yout, bias is not null);
                            else Gemm.Multiply(fg, ohw, k, ws.Slice(gi * fg * k, fg * k), k, false, colSpan, ldc, false, yout, ohw, bias is not null);
                        }
                });
            }
        }
    }

    private delegate void ImagePart(int count, ReadOnlySpan<float> x, Span<float> y);

    // Splits n images of x (xPer floats each) and y (yPer floats each) into `parts` fixed ranges run on the workers.
    private static unsafe void ImageParts(ReadOnlySpan<float> xSpan, Span<float> ySpan, int n, int xPer, int yPer, int parts, ImagePart body)
    {
        fixed (float* px = xSpan) fixed (float* py = ySpan)
        {
            nint xa = (nint)px, ya = (nint)py;
            int xLen = xSpan.Length, yLen = ySpan.Length;
            Workers.Run(parts, part =>
            {
                var (s, e) = Range(n, part, parts);
                var xs = new ReadOnlySpan<float>((float*)xa, xLen).Slice(s * xPer, (e - s) * xPer);
                var ys = new Span<float>((float*)ya, yLen).Slice(s * yPer, (e - s) * yPer);
                body(e - s, xs, ys);
            });
        }
    }

    private static void ConvBackward(Tensor x, Tensor w, Tensor? b, Tensor y, int groups, ConvGeometry g)
    {
        int n = x.Dim(0), c = x.Dim(1), f = w.Dim(0);
        int cg = c / groups, fg = f / groups, hw = g.H * g.W, ohw = g.OH * g.OW, k = g.K;
        int ld = Im2Col.LeadingDimension(g);
        var gy = y.Grad!;

        var profile = Graph.Profile;
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        // input gradient
        if (x.RequiresGrad)
        {
            var gx = x.GradBuffer(out bool fresh);
            bool asConv = groups == 1 && g.SH == 1 && g.SW == 1 && g.PH <= g.KH - 1 && g.PW <= g.KW - 1 && !g.IsIdentity;
            if (UsesDepthwise(groups, c, f))
            {
                int dparts = ConvParts(n, (long)f * ohw * k);
                Workers.Run(dparts, part =>
                {
                    var (s, e) = Range(n, part, dparts);
                    DepthwiseConv.InputGrad(e - s, c, w.Span, gy.Span.Slice(s * f * ohw, (e - s) * f * ohw), g,
                        gx.Span.Slice(s * c * hw, (e - s) * c * hw), accumulate: !fresh);
                });
            }
            else if (UsesBatchedColumns(groups, g) && !asConv)
            {
                if (fresh) gx.Span.Clear();
                int bparts = ConvParts(n, (long)f * ohw * k);
                Workers.Run(bparts, part =>
                {
                    var (s, e) = Range(n, part, bparts);
                    BatchedInputGrad(e - s, f, w.Span, gy.Span.Slice(s * f * ohw, (e - s) * f * ohw), g, gx.Span.Slice(s * c * hw, (e - s) * c * hw));
                });
            }
            else if (asConv)
            {
                // dX = conv(dY, W') with W'[ci, fo, i, j] = W[fo, ci, kh−1−i, kw−1−j], padding k−1−p, stride 1
                var wt = Tensor.Empty(c, f, g.KH, g.KW);
                var ws = w.Span;
                var wts = wt.Span;
                int kk = g.KH * g.KW;
                for (int fo = 0; fo < f; fo++)
                    for (int ci = 0; ci < c; ci++)
                        for (int t = 0; t < kk; t++) wts[(ci * f + fo) * kk + (kk - 1 - t)] = ws[(fo * c + ci) * kk + t];
                var gt = new ConvGeometry(f, g.OH, g.OW, g.KH, g.KW, 1, 1, g.KH - 1 - g.PH, g.KW - 1 - g.PW);
                if (fresh) ConvForward(gy.Span, wts, default, false, gx.Span, n, f, c, 1, gt);
                else
                {
                    var tmp = Tensor.Empty(x.ShapeArray());
                    ConvForward(gy.Span, wts, default, false, tmp.Span, n, f, c, 1, gt);
                    TensorPrimitives.Add(gx.Span, tmp.Span, gx.Span);
                }
            }
            else
            {
                if (fresh) gx.Span.Clear();
                int parts = ConvParts(n, (long)f * ohw * k);
                var dcols = g.IsIdentity ? null : ColumnBuffers(parts, k * ld);
                Workers.Run(parts, part =>
                {
                    var (s, e) = Range(n, part, parts);
                    var gys = gy.Span;
                    var ws = w.Span;
                    var dxs = gx.Span;
                    for (int i = s; i < e; i++)
                        for (int gi = 0; gi < groups; gi++)
                        {
                            var go = gys.Slice((i * f + gi * fg) * ohw, fg * ohw);
                            var dxin = dxs.Slice((i * c + gi * cg) * hw, cg * hw);
                            if (dcols is null)
                            {
                                // dX_g [cg, ohw] += W_gᵀ [cg, fg] · dY_g [fg, ohw]
                                Gemm.Multiply(k, ohw, fg, ws.Slice(gi * fg * k, fg * k), k, true, go, ohw, false, dxin, ohw, true);
                            }
                            else
                            {
                                var dcol = dcols[part].Span;
                                Gemm.Multiply(k, ohw, fg, ws.Slice(gi * fg * k, fg * k), k, true, go, ohw, false, dcol, ld, false);
                                Im2Col.Backward(dcol, g, dxin, ld);
                            }
                        }
                });
            }
        }

        if (profile is not null && x.RequiresGrad)
        {
            profile.Add($"  Conv2d dX {c}←{f} @{g.H}", System.Diagnostics.Stopwatch.GetTimestamp() - t0);
            t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        }
        // weight gradient: per-part accumulators summed in part order
        if (w.RequiresGrad)
        {
            int parts = ConvParts(n, (long)f * ohw * k);
            bool winograd = groups == 1 && UseWinograd && Winograd.AppliesToWeightGrad(g, f);
            bool depthwise = UsesDepthwise(groups, c, f);
            bool batched = !winograd && UsesBatchedColumns(groups, g);
            bool direct = winograd || UsesDirectConv(groups, g);
            var cols = ColumnBuffers(parts, g.IsIdentity || direct || depthwise || batched ? 0 : k * ld);
            var dws = new Tensor[parts];
            for (int p = 0; p < parts; p++) dws[p] = Tensor.Zeros(w.ShapeArray());
            Workers.Run(parts, part =>
            {
                var (s, e) = Range(n, part, parts);
                var gys = gy.Span;
                var xs = x.Span;
                var col = cols[part].Span;
                var dw = dws[part].Span;
                if (batched)
                {
                    BatchedWeightGrad(e - s, f, gys.Slice(s * f * ohw, (e - s) * f * ohw), xs.Slice(s * c * hw, (e - s) * c * hw), g, dw);
                    return;
                }
                if (depthwise)
                {
                    DepthwiseConv.WeightGrad(e - s, c, gys.Slice(s * f * ohw, (e - s) * f * ohw), xs.Slice(s * c * hw, (e - s) * c * hw), g, dw);
                    return;
                }
                if (winograd)
                {
                    Winograd.WeightGrad(e - s, f, gys.Slice(s * f * ohw, (e - s) * f * ohw), xs.Slice(s * c * hw, (e - s) * c * hw), g, dw);
                    return;
                }
                if (direct)
                {
                    DirectConv.WeightGrad(e - s, f, gys.Slice(s * f * ohw, (e - s) * f * ohw), xs.Slice(s * c * hw, (e - s) * c * hw), g, dw);
                    return;
                }
                for (int i = s; i < e; i++)
                    for (int gi = 0; gi < groups; gi++)
                    {
                        var go = gys.Slice((i * f + gi * fg) * ohw, fg * ohw);
                        var xin = xs.Slice((i * c + gi * cg) * hw, cg * hw);
                        ReadOnlySpan<float> colSpan = xin;
                        int ldc = ohw;
                        if (!g.IsIdentity)
                        {
                            ConvGemm.PackColumns(xin, g, 0, ohw, col, ld);
                            colSpan = col[..(k * ld)];
                            ldc = ld;
                        }
                        // dW_g [fg, k] += dY_g [fg, ohw] · colᵀ [ohw, k]
                        Gemm.Multiply(fg, k, ohw, go, ohw, false, colSpan, ldc, true, dw.Slice(gi * fg * k, fg * k), k, true);
                    }
            });
            for (int p = 1; p < parts; p++) TensorPrimitives.Add(dws[0].Span, dws[p].Span, dws[0].Span);
            AccumulateGrad(w, dws[0].Span);
            profile?.Add($"  Conv2d dW {c}→{f} @{g.H}", System.Diagnostics.Stopwatch.GetTimestamp() - t0);
        }

        if (b is not null && b.RequiresGrad)
        {
            var gb = b.GradBuffer(out bool fresh);
            var d = gb.Span;
            var gys = gy.Span;
            for (int o = 0; o < f; o++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++) sum += TensorPrimitives.Sum(gys.Slice((i * f + o) * ohw, ohw));
                d[o] = fresh ? (float)sum : d[o] + (float)sum;
            }
        }
    }

    /// <summary>Whether one-group convolutions with small output planes (64 positions or fewer, where a GEMM per
    /// image is too small to run well) multiply a chunk of images' columns at once; switch it off to compare.</summary>
    public static bool UseBatchedColumns { get; set; } = true;

    private static bool UsesBatchedColumns(int groups, in ConvGeometry g) => groups == 1 && UseBatchedColumns && g.OH * g.OW <= 64;

    [ThreadStatic] private static float[]? _bcols, _bout;

    // images per chunk so the column matrix stays within ~1M floats (4 MB)
    private static int BatchChunk(int k, int ohw, int images) => Math.Clamp((1 << 17) / Math.Max(1, k * ohw), 1, Math.Max(1, images));

    // cols [K, count·ohw]: image j's im2col columns at column j·ohw
    private static void PackBatch(ReadOnlySpan<float> x, int count, in ConvGeometry g, Span<float> cols)
    {
        int chw = g.C * g.H * g.W, ohw = g.OH * g.OW, ld = count * ohw;
        bool padded = g.SH == 1 && g.SW == 1 && !g.IsIdentity;
        for (int j = 0; j < count; j++)
            if (padded) ConvGemm.PackColumnsPadded(x.Slice(j * chw, chw), g, cols[(j * ohw)..], ld);
            else ConvGemm.PackColumns(x.Slice(j * chw, chw), g, 0, ohw, cols[(j * ohw)..], ld);
    }

    // y [n, f, ohw] = W [f, K] · im2col(x) (+ bias) for n images, a chunk of images per GEMM
    private static void BatchedForward(int n, int f, ReadOnlySpan<float> w, ReadOnlySpan<float> x, in ConvGeometry g, ReadOnlySpan<float> bias, Span<float> y)
    {
        int k = g.K, ohw = g.OH * g.OW, chw = g.C * g.H * g.W, chunk = BatchChunk(k, ohw, n);
        for (int i0 = 0; i0 < n; i0 += chunk)
        {
            int count = Math.Min(chunk, n - i0), ld = count * ohw;
            var cols = Scratch.Get(ref _bcols, k * ld);
            var outp = Scratch.Get(ref _bout, f * ld);
            PackBatch(x.Slice(i0 * chw, count * chw), count, g, cols);
            // out [f, count·ohw] = W [f, K] · cols [K, count·ohw]
            Gemm.Multiply(f, ld, k, w, k, false, cols, ld, false, outp, ld, false);
            for (int j = 0; j < count; j++)
                for (int o = 0; o < f; o++)
                {
                    var src = outp.Slice(o * ld + j * ohw, ohw);
                    var dst = y.Slice(((i0 + j) * f + o) * ohw, ohw);
                    if (bias.IsEmpty) src.CopyTo(dst);
                    else TensorPrimitives.Add(src, bias[o], dst);
                }
        }
    }

    // dyT [f, count·ohw]: dY of a chunk of images, channel-major
    private static void GatherDy(ReadOnlySpan<float> dy, int count, int f, int ohw, Span<float> dyT)
    {
        int ld = count * ohw;
        for (int j = 0; j < count; j++)
            for (int o = 0; o < f; o++) dy.Slice((j * f + o) * ohw, ohw).CopyTo(dyT.Slice(o * ld + j * ohw, ohw));
    }

    // dx [n, C, H, W] += col2im(Wᵀ · dY) for n images
    private static void BatchedInputGrad(int n, int f, ReadOnlySpan<float> w, ReadOnlySpan<float> dy, in ConvGeometry g, Span<float> dx)
    {
        int k = g.K, ohw = g.OH * g.OW, chw = g.C * g.H * g.W, chunk = BatchChunk(k, ohw, n);
        for (int i0 = 0; i0 < n; i0 += chunk)
        {
            int count = Math.Min(chunk, n - i0), ld = count * ohw;
            var dyT = Scratch.Get(ref _bout, f * ld);
            var dcols = Scratch.Get(ref _bcols, k * ld);
            GatherDy(dy.Slice(i0 * f * ohw, count * f * ohw), count, f, ohw, dyT);
            // dcols [K, count·ohw] = Wᵀ [K, f] · dyT [f, count·ohw]
            Gemm.Multiply(k, ld, f, w, k, true, dyT, ld, false, dcols, ld, false);
            for (int j = 0; j < count; j++) Im2Col.Backward(dcols[(j * ohw)..], g, dx.Slice((i0 + j) * chw, chw), ld);
        }
    }

    // dw [f, K] += dY · im2col(x)ᵀ over n images
    private static void BatchedWeightGrad(int n, int f, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, in ConvGeometry g, Span<float> dw)
    {
        int k = g.K, ohw = g.OH * g.OW, chw = g.C * g.H * g.W, chunk = BatchChunk(k, ohw, n);
        for (int i0 = 0; i0 < n; i0 += chunk)
        {
            int count = Math.Min(chunk, n - i0), ld = count * ohw;
            var dyT = Scratch.Get(ref _bout, f * ld);
            var cols = Scratch.Get(ref _bcols, k * ld);
            GatherDy(dy.Slice(i0 * f * ohw, count * f * ohw), count, f, ohw, dyT);
            PackBatch(x.Slice(i0 * chw, count * chw), count, g, cols);
            // dw [f, K] += dyT [f, count·ohw] · colsᵀ [count·ohw, K]
            Gemm.Multiply(f, k, ld, dyT, ld, false, cols, ld, true, dw, k, true);
        }
    }

    /// <summary>Whether depthwise convolutions (groups = input channels = output channels) use <see cref="DepthwiseConv"/>;
    /// switch it off to compare with the per-channel GEMM.</summary>
    public static bool UseDepthwise { get; set; } = true;

    private static bool UsesDepthwise(int groups, int c, int f) => groups > 1 && groups == c && f == c && UseDepthwise;

    /// <summary>Whether stride-1 convolutions use the direct kernels (<see cref="DirectConv"/>) where they apply; switch it
    /// off to compare with the implicit GEMM.</summary>
    public static bool UseDirectConv { get; set; } = true;

    private static bool UsesDirectConv(int groups, in ConvGeometry g) => groups == 1 && UseDirectConv && DirectConv.Applies(g);

    [ThreadStatic] private static float[]? _winogradU;

    /// <summary>Whether 3×3 stride-1 convolutions (forward and input gradient) use Winograd F(2×2, 3×3)
    /// (<see cref="Winograd"/>) where it applies; switch it off to compare with the direct kernels.</summary>
    public static bool UseWinograd { get; set; } = true;

    private static bool UsesWinograd(int groups, in ConvGeometry g, int outChannels) => groups == 1 && UseWinograd && Winograd.Applies(g, outChannels);

    /// <summary>Whether convolutions use the implicit GEMM (switch it off to compare with explicit im2col + GEMM).</summary>
    public static bool UseImplicitGemm { get; set; } = true;

    // How many batch parts to run in parallel: one per thread when the per-image work is worth a hand-off.
    private static int ConvParts(int n, long macsPerImage) =>
        Workers.Threads > 1 && n > 1 && macsPerImage * n >= 1L << 20 ? Math.Min(Workers.Threads, n) : 1;

    private static (int Start, int End) Range(int n, int part, int parts) =>
        ((int)((long)n * part / parts), (int)((long)n * (part + 1) / parts));

    private static Tensor[] ColumnBuffers(int parts, int size)
    {
        var r = new Tensor[parts];
        for (int p = 0; p < parts; p++) r[p] = Tensor.Empty(Math.Max(1, size));
        return r;
    }
}
