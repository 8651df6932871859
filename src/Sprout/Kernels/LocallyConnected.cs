using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sprout.Kernels;

/// <summary>
/// Locally connected 2-D layer (an unshared convolution, valid padding): x [N, C, H, W], w [P, K, F] (P = OH·OW
/// positions, K = C·KH·KW taps in (c, ki, kj) order), bias [P, F] → y [N, F, P]. Per position the work is a GEMM
/// y_pos [N, F] = patches_pos [N, K] · w_pos [K, F]; two layouts run it:
/// <list type="bullet">
/// <item><see cref="Layout.Lanes"/> (many positions, few taps — the first layers): the 16 lanes of a Vector512 hold
/// 16 consecutive positions, so every product is elementwise across lanes and the positions never need transposing:
/// the patches are the im2col rows cut into 16-column blocks, and y and its gradient are read and written in place in
/// [N, F, P]. A register tile of 4 × 6 vectors takes an outer product of 4 rows of one operand with 6 of the other
/// (the GEMM micro-kernel's shape with vector × vector products instead of broadcast × vector).</item>
/// <item><see cref="Layout.Rows"/> (few positions, many taps — the deep layers): per position one
/// <see cref="Gemm.Multiply"/>, with the patches packed once as [P, N, K] and the output and its gradient transposed
/// between [N, F, P] and [P, N, F] by 8×8 register transposes.</item>
/// </list>
/// The scalar twins (<see cref="ForwardScalar"/>, <see cref="BackwardScalar"/>) compute the definition directly. The
/// Lanes layout sums in the twins' order (one FMA chain per output, bias first), so it equals them bit for bit; the
/// Rows layout sums in the GEMM's order. Work is split over <see cref="Workers"/> by images (forward, input gradient),
/// by positions (per-position GEMMs) or by positions × taps (lanes weight gradient), never inside a sum, so a result
/// does not depend on the thread count.
/// </summary>
public static unsafe class LocallyConnected
{
    /// <summary>How the per-position GEMMs are laid out.</summary>
    public enum Layout
    {
        /// <summary>Vector lanes over 16 positions: [P/16, N, K, 16] patches, [P/16, K, F, 16] weights (needs AVX-512).</summary>
        Lanes,
        /// <summary>One GEMM per position: [P, N, K] patches, the weights in place.</summary>
        Rows,
    }

    /// <summary>Lanes per vector (positions per block in the Lanes layout).</summary>
    public const int L = 16;

    // register tile: 4 rows of the first operand × 6 columns of the second (24 accumulators)
    private const int TR = 4, TC = 6;
    // reduction blocks (in vectors of 16 floats): the 4-row panel (≤ 16 KiB) stays in L1 across a block of columns
    private const int KB = 64, ColBlock = 96;

    /// <summary>Whether the Lanes layout can run here (it needs AVX-512 masked loads and stores).</summary>
    public static bool LanesSupported => Avx512F.IsSupported;

    /// <summary>
    /// The layout for a layer: Lanes when many positions share few taps (the per-position GEMM is too thin there:
    /// K &lt; 32, or P ≥ 64 positions so the lanes are nearly all used), else Rows.
    /// </summary>
    public static Layout Choose(int p, int k, int f) => LanesSupported && (p >= 64 || k < 32) ? Layout.Lanes : Layout.Rows;

    /// <summary>Blocks of 16 positions.</summary>
    public static int Vectors(int p) => (p + L - 1) / L;

    /// <summary>Floats of the packed patches (kept from the forward for the weight gradient).</summary>
    public static int PatchesSize(Layout layout, in ConvGeometry g, int n) =>
        Size(layout == Layout.Lanes ? (long)Vectors(g.OH * g.OW) * L * n * g.K : (long)g.OH * g.OW * n * g.K);

    /// <summary>Floats of the packed weights and bias (Lanes only; the Rows layout reads w in place).</summary>
    public static int PackedWeightsSize(Layout layout, int p, int k, int f) =>
        layout == Layout.Lanes ? Size((long)Vectors(p) * L * f * (k + 1)) : 0;

    /// <summary>Floats of the forward's work buffer (Rows: the output as [P, N, F]).</summary>
    public static int ForwardWorkSize(Layout layout, int n, int p, int f) => layout == Layout.Rows ? Size((long)p * n * f) : 0;

    /// <summary>Floats of the backward's work buffer for the gradients asked for.</summary>
    public static int BackwardWorkSize(Layout layout, in ConvGeometry g, int n, int f, bool dx, bool dw, bool db)
    {
        int p = g.OH * g.OW, k = g.K;
        long s = db ? (long)f * p : 0;
        if (layout == Layout.Lanes)
        {
            long ld = (long)Vectors(p) * L;
            if (dx) s += (long)n * k * ld;
            if (dw) s += ld * k * f;
        }
        else
        {
            if (dx || dw) s += (long)p * n * f;
            if (dx) s += (long)p * n * k;
        }
        return Size(s);
    }

    private static int Size(long s) => s <= int.MaxValue ? (int)s : throw new ArgumentException($"LocallyConnected: {s} floats of work exceed one buffer");

    // ---------------------------------------------------------------------------------------------------------------
    // Entry points

    /// <summary>
    /// y [N, F, P] = bias + Σ_t patches · w. <paramref name="b"/> [P, F] may be empty. <paramref name="patches"/>
    /// (<see cref="PatchesSize"/>) and <paramref name="packedWeights"/> (<see cref="PackedWeightsSize"/>) are filled
    /// here and read again by <see cref="Backward"/>; <paramref name="work"/> is <see cref="ForwardWorkSize"/> floats.
    /// </summary>
    public static void Forward(Layout layout, ReadOnlySpan<float> x, in ConvGeometry g, int n, ReadOnlySpan<float> w, ReadOnlySpan<float> b, int f,
        Span<float> y, Span<float> patches, Span<float> packedWeights, Span<float> work, int threads)
    {
        int p = g.OH * g.OW, k = g.K;
        if (g.PH != 0 || g.PW != 0) throw new ArgumentException("LocallyConnected: valid padding only");
        if (layout == Layout.Lanes && !LanesSupported) throw new PlatformNotSupportedException("LocallyConnected: the Lanes layout needs AVX-512");
        Check(x.Length, (long)n * g.C * g.H * g.W, "x");
        Check(w.Length, (long)p * k * f, "w");
        if (!b.IsEmpty) Check(b.Length, (long)p * f, "bias");
        Check(y.Length, (long)n * f * p, "y");
        Check(patches.Length, PatchesSize(layout, g, n), "patches");
        Check(packedWeights.Length, PackedWeightsSize(layout, p, k, f), "packed weights");
        Check(work.Length, ForwardWorkSize(layout, n, p, f), "work");
        var geo = g;
        bool hasBias = !b.IsEmpty;
        int parts = Math.Max(1, Math.Min(threads, n));
        Mark("");
        fixed (float* px = x, pw = w, pb = b, py = y, pp = patches, pk = packedWeights, pwork = work)
        {
            nint ax = (nint)px, aw = (nint)pw, ab = (nint)pb, ay = (nint)py, ap = (nint)pp, ak = (nint)pk, awork = (nint)pwork;
            if (layout == Layout.Lanes)
            {
                int pv = Vectors(p);
                // pack the weights (and bias) by positions × taps, the patches by images
                Workers.Run(parts, part =>
                {
                    var (s, e) = Split(pv * k, part, parts);
                    PackWeightLanes((float*)aw, p, k, f, (float*)ak, s, e);
                    if (hasBias) { var (bs, be) = Split(pv, part, parts); PackBiasLanes((float*)ab, p, f, (float*)ak + (long)pv * L * k * f, bs, be); }
                    var (i0, i1) = Split(n, part, parts);
                    PackPatchLanes((float*)ax, geo, n, (float*)ap, i0, i1);
                });
                Mark("r127");
                Workers.Run(parts, part =>
                {
                    var (i0, i1) = Split(n, part, parts);
                    ForwardLanes((float*)ap, (float*)ak, hasBias ? (float*)ak + (long)pv * L * k * f : null, n, p, k, f, (float*)ay, i0, i1);
                });
                Mark("r132");
            }
            else
            {
                // patches [N, P, K]; y_pos [N, F] (+)= patches_pos · w_pos into work [N, P, F] (both read with row stride
                // P·K or P·F); then each image's [P, F] is transposed into y [N, F, P]
                Workers.Run(parts, part =>
                {
                    var (i0, i1) = Split(n, part, parts);
                    PackPatchRows((float*)ax, geo, (float*)ap, i0, i1);
                });
                Mark("pack");
                int pparts = Math.Max(1, Math.Min(threads, p));
                long pk2 = (long)p * k, pf = (long)p * f;
                Workers.Run(pparts, part =>
                {
                    var (s, e) = Split(p, part, pparts);
                    for (int pos = s; pos < e; pos++)
                    {
                        float* yo = (float*)awork + (long)pos * f;
                        if (hasBias)
                            for (int i = 0; i < n; i++) new ReadOnlySpan<float>((float*)ab + (long)pos * f, f).CopyTo(new Span<float>(yo + i * pf, f));
                        Gemm.Multiply(n, f, k, Rest((float*)ap + (long)pos * k, n, pk2, k), (int)pk2, false,
                            new ReadOnlySpan<float>((float*)aw + (long)pos * k * f, k * f), f, false, Rest(yo, n, pf, f), (int)pf, hasBias);
                    }
                });
                Mark("gemm");
                Workers.Run(parts, part =>
                {
                    var (i0, i1) = Split(n, part, parts);
                    for (int i = i0; i < i1; i++) Transpose((float*)awork + i * pf, f, p, f, (float*)ay + i * pf, p);
                });
                Mark("yT");
            }
        }
    }

    /// <summary>
    /// The gradients of <see cref="Forward"/> given gy [N, F, P]: gx [N, C, H, W] (empty: not wanted), gw [P, K, F]
    /// (then multiplied by <paramref name="mask"/> [P, K, F] when it is not empty), gb [P, F]; each is overwritten, or
    /// added to when its accumulate flag is set. <paramref name="patches"/> and <paramref name="packedWeights"/> are
    /// the forward's; <paramref name="work"/> is <see cref="BackwardWorkSize"/> floats.
    /// </summary>
    public static void Backward(Layout layout, ReadOnlySpan<float> gy, in ConvGeometry g, int n, int f, ReadOnlySpan<float> w,
        ReadOnlySpan<float> patches, ReadOnlySpan<float> packedWeights, ReadOnlySpan<float> mask,
        Span<float> gx, bool gxAccumulate, Span<float> gw, bool gwAccumulate, Span<float> gb, bool gbAccumulate, Span<float> work, int threads)
    {
        int p = g.OH * g.OW, k = g.K;
        bool dx = !gx.IsEmpty, dw = !gw.IsEmpty, db = !gb.IsEmpty;
        if (layout == Layout.Lanes && !LanesSupported) throw new PlatformNotSupportedException("LocallyConnected: the Lanes layout needs AVX-512");
        Check(gy.Length, (long)n * f * p, "gy");
        Check(w.Length, (long)p * k * f, "w");
        Check(patches.Length, PatchesSize(layout, g, n), "patches");
        Check(packedWeights.Length, PackedWeightsSize(layout, p, k, f), "packed weights");
        if (dx) Check(gx.Length, (long)n * g.C * g.H * g.W, "gx");
        if (dw) Check(gw.Length, (long)p * k * f, "gw");
        if (dw && !mask.IsEmpty) Check(mask.Length, (long)p * k * f, "mask");
        if (db) Check(gb.Length, (long)p * f, "gb");
        Check(work.Length, BackwardWorkSize(layout, g, n, f, dx, dw, db), "work");
        var geo = g;
        bool masked = !mask.IsEmpty;
        int parts = Math.Max(1, Math.Min(threads, n));
        Mark("");
        fixed (float* pgy = gy, pw = w, pp = patches, pk = packedWeights, pm = mask, pgx = gx, pgw = gw, pgb = gb, pwork = work)
        {
            nint agy = (nint)pgy, aw = (nint)pw, ap = (nint)pp, ak = (nint)pk, am = (nint)pm, agx = (nint)pgx, agw = (nint)pgw, agb = (nint)pgb;
            float* next = pwork;
            nint bsum = 0;
            if (db) { bsum = (nint)next; next += (long)f * p; }
            if (db)
            {
                int bparts = Math.Max(1, Math.Min(threads, f));
                Workers.Run(bparts, part =>
                {
                    var (f0, f1) = Split(f, part, bparts);
                    BiasGrad((float*)agy, n, f, p, (float*)bsum, (float*)agb, gbAccumulate, f0, f1);
                });
                Mark("r202");
            }
            if (layout == Layout.Lanes)
            {
                int pv = Vectors(p), ld = pv * L;
                nint dcol = 0, dwp = 0;
                if (dx) { dcol = (nint)next; next += (long)n * k * ld; }
                if (dw) { dwp = (nint)next; next += (long)ld * k * f; }
                if (dw)
                {
                    int units = pv * RowTiles(k);
                    int wparts = Math.Max(1, Math.Min(threads, units));
                    Workers.Run(wparts, part =>
                    {
                        var (u0, u1) = Split(units, part, wparts);
                        WeightGradLanes((float*)ap, (float*)agy, n, p, k, f, (float*)dwp, u0, u1);
                    });
                    Mark("r218");
                    int tparts = Math.Max(1, Math.Min(threads, pv * k));
                    Workers.Run(tparts, part =>
                    {
                        var (s, e) = Split(pv * k, part, tparts);
                        UnpackWeightGradLanes((float*)dwp, masked ? (float*)am : null, p, k, f, (float*)agw, gwAccumulate, s, e);
                    });
                    Mark("r224");
                }
                if (dx)
                {
                    Workers.Run(parts, part =>
                    {
                        var (i0, i1) = Split(n, part, parts);
                        InputGradLanes((float*)agy, (float*)ak, n, p, k, f, (float*)dcol, ld, i0, i1);
                        int chw = geo.C * geo.H * geo.W;
                        for (int i = i0; i < i1; i++)
                        {
                            var gxi = new Span<float>((float*)agx + (long)i * chw, chw);
                            if (!gxAccumulate) gxi.Clear();
                            Im2Col.Backward(new ReadOnlySpan<float>((float*)dcol + (long)i * k * ld, k * ld), geo, gxi, ld);
                        }
                    });
                    Mark("r239");
                }
            }
            else if (dx || dw)
            {
                nint gyp = (nint)next; next += (long)p * n * f;
                nint dxp = 0;
                if (dx) { dxp = (nint)next; next += (long)p * n * k; }
                long pk2 = (long)p * k, pf = (long)p * f;
                // gy [N, F, P] → [N, P, F], image by image
                Workers.Run(parts, part =>
                {
                    var (i0, i1) = Split(n, part, parts);
                    for (int i = i0; i < i1; i++) Transpose((float*)agy + i * pf, p, f, p, (float*)gyp + i * pf, f);
                });
                Mark("gyT");
                int pparts = Math.Max(1, Math.Min(threads, p));
                Workers.Run(pparts, part =>
                {
                    var (s, e) = Split(p, part, pparts);
                    for (int pos = s; pos < e; pos++)
                    {
                        var gpos = Rest((float*)gyp + (long)pos * f, n, pf, f);
                        var wpos = new ReadOnlySpan<float>((float*)aw + (long)pos * k * f, k * f);
                        if (dw)
                        {
                            // gw_pos [K, F] (+)= patches_posᵀ [K, N] · gy_pos [N, F]
                            var d = new Span<float>((float*)agw + (long)pos * k * f, k * f);
                            Gemm.Multiply(k, f, n, Rest((float*)ap + (long)pos * k, n, pk2, k), (int)pk2, true, gpos, (int)pf, false, d, f, gwAccumulate);
                            if (masked) System.Numerics.Tensors.TensorPrimitives.Multiply(d, new ReadOnlySpan<float>((float*)am + (long)pos * k * f, k * f), d);
                        }
                        // dpatches_pos [N, K] = gy_pos [N, F] · w_posᵀ [F, K]
                        if (dx) Gemm.Multiply(n, k, f, gpos, (int)pf, false, wpos, f, true, Rest((float*)dxp + (long)pos * k, n, pk2, k), (int)pk2, false);
                    }
                });
                Mark("gemms");
                if (dx)
                {
                    Workers.Run(parts, part =>
                    {
                        var (i0, i1) = Split(n, part, parts);
                        int chw = geo.C * geo.H * geo.W;
                        for (int i = i0; i < i1; i++)
                        {
                            float* gxi = (float*)agx + (long)i * chw;
                            if (!gxAccumulate) new Span<float>(gxi, chw).Clear();
                            Col2ImRows((float*)dxp + i * pk2, geo, gxi);
                        }
                    });
                    Mark("col2im");
                }
            }
        }
    }

    // the span of `rows` rows of `cols` floats with row stride ld, starting at p
    private static Span<float> Rest(float* p, int rows, long ld, int cols) => new(p, rows == 0 ? 0 : (int)((rows - 1) * ld + cols));

    internal static readonly bool Trace = Environment.GetEnvironmentVariable("SPROUT_LC_TRACE") == "1";
    private static long _t0;
    /// <summary>temporary</summary>
    public static readonly Dictionary<string, double> Mins = new();
    private static void Mark(string what) { if (!Trace) return; long t = System.Diagnostics.Stopwatch.GetTimestamp(); if (what.Length > 0) { double ms = (t - _t0) * 1e3 / System.Diagnostics.Stopwatch.Frequency; Mins[what] = Math.Min(ms, Mins.GetValueOrDefault(what, 1e9)); } _t0 = t; }

    private static void Check(int have, long need, string what)
    {
        if (have < need) throw new ArgumentException($"LocallyConnected: {what} holds {have} floats, needs {need}");
    }

    private static (int Start, int End) Split(int n, int part, int parts) =>
        ((int)((long)n * part / parts), (int)((long)n * (part + 1) / parts));

    private static int RowTiles(int rows) => (rows + TR - 1) / TR;

    // size of tile t when `total` is cut into `tiles` near-equal tiles (20 into 4 → 5,5,5,5; 9 into 3 → 3,3,3)
    private static int TileSize(int total, int tiles, int t) => total / tiles + (t < total % tiles ? 1 : 0);

    // ---------------------------------------------------------------------------------------------------------------
    // Lanes layout: packing

    // cp[v, i, t, l] = im2col(x_i)[t, 16v + l] (0 past P) for images [i0, i1): the patches cut into 16-position blocks
    private static void PackPatchLanes(float* x, in ConvGeometry g, int n, float* cp, int i0, int i1)
    {
        int p = g.OH * g.OW, k = g.K, pv = Vectors(p), chw = g.C * g.H * g.W;
        for (int i = i0; i < i1; i++)
        {
            var xi = new ReadOnlySpan<float>(x + (long)i * chw, chw);
            for (int v = 0; v < pv; v++)
            {
                int lanes = Math.Min(L, p - v * L);
                float* d = cp + ((long)v * n + i) * k * L;
                ConvGemm.PackColumns(xi, g, v * L, lanes, new Span<float>(d, k * L), L);
                if (lanes < L)
                    for (int t = 0; t < k; t++) new Span<float>(d + t * L + lanes, L - lanes).Clear();
            }
        }
    }

    // wp[v, t, f, l] = w[16v + l, t, f] (0 past P) for (v, t) pairs [u0, u1): a 16 × F → F × 16 transpose each
    private static void PackWeightLanes(float* w, int p, int k, int f, float* wp, int u0, int u1)
    {
        for (int u = u0; u < u1; u++)
        {
            int v = u / k, t = u - v * k, lanes = Math.Min(L, p - v * L);
            float* d = wp + (long)u * f * L;
            Transpose(w + ((long)v * L * k + t) * f, (long)k * f, lanes, f, d, L);
            if (lanes < L)
                for (int ff = 0; ff < f; ff++) new Span<float>(d + ff * L + lanes, L - lanes).Clear();
        }
    }

    // bp[v, f, l] = b[16v + l, f] for blocks [v0, v1)
    private static void PackBiasLanes(float* b, int p, int f, float* bp, int v0, int v1)
    {
        for (int v = v0; v < v1; v++)
        {
            int lanes = Math.Min(L, p - v * L);
            float* d = bp + (long)v * f * L;
            Transpose(b + (long)v * L * f, f, lanes, f, d, L);
            if (lanes < L)
                for (int ff = 0; ff < f; ff++) new Span<float>(d + ff * L + lanes, L - lanes).Clear();
        }
    }

    // gw[16v + l, t, f] = (acc ? gw : 0) + dwp[v, t, f, l], times mask[16v + l, t, f] when given, for (v, t) pairs [u0, u1)
    private static void UnpackWeightGradLanes(float* dwp, float* mask, int p, int k, int f, float* gw, bool acc, int u0, int u1)
    {
        Span<float> tmp = f * L <= 4096 ? stackalloc float[f * L] : new float[f * L];
        fixed (float* pt = tmp)
        {
            for (int u = u0; u < u1; u++)
            {
                int v = u / k, t = u - v * k, lanes = Math.Min(L, p - v * L);
                Transpose(dwp + (long)u * f * L, L, f, lanes, pt, f);
                for (int l = 0; l < lanes; l++)
                {
                    long off = ((long)(v * L + l) * k + t) * f;
                    var src = new ReadOnlySpan<float>(pt + l * f, f);
                    var dst = new Span<float>(gw + off, f);
                    if (acc) System.Numerics.Tensors.TensorPrimitives.Add(dst, src, dst);
                    else src.CopyTo(dst);
                    if (mask != null) System.Numerics.Tensors.TensorPrimitives.Multiply(dst, new ReadOnlySpan<float>(mask + off, f), dst);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Lanes layout: the three products. Each is a GEMM whose elements are 16-lane vectors multiplied lane by lane.

    // y[i, f, 16v + l] = bias[16v + l, f] + Σ_t cp[v, i, t, l] · wp[v, t, f, l] for images [i0, i1).
    // Tile rows = 4 filters (wp, in L1 across a column block), columns = 6 images (cp); the sum over t runs in blocks
    // of KB, a later block continuing the chain from y.
    private static void ForwardLanes(float* cp, float* wp, float* bp, int n, int p, int k, int f, float* y, int i0, int i1)
    {
        int pv = Vectors(p), rowTiles = RowTiles(f);
        for (int v = 0; v < pv; v++)
        {
            var mask = Gemm.LaneMask(Math.Min(L, p - v * L));
            float* cpv = cp + (long)v * n * k * L, wpv = wp + (long)v * k * f * L, yv = y + v * L;
            for (int k0 = 0; k0 < k; k0 += KB)
            {
                int kt = Math.Min(KB, k - k0);
                for (int c0 = i0; c0 < i1; c0 += ColBlock)
                {
                    int cols = Math.Min(ColBlock, i1 - c0), colTiles = (cols + TC - 1) / TC;
                    for (int rt = 0, r = 0; rt < rowTiles; rt++)
                    {
                        int tr = TileSize(f, rowTiles, rt);
                        float* a = wpv + ((long)k0 * f + r) * L;
                        float* bias = k0 == 0 && bp != null ? bp + ((long)v * f + r) * L : null;
                        for (int ct = 0, c = c0; ct < colTiles; ct++)
                        {
                            int tc = TileSize(cols, colTiles, ct);
                            Tile<No, Yes>(tr, tc, kt, a, L, (long)f * L, cpv + ((long)c * k + k0) * L, (long)k * L, L,
                                yv + ((long)c * f + r) * p, p, (long)f * p, mask, k0 > 0, bias);
                            c += tc;
                        }
                        r += tr;
                    }
                }
            }
        }
    }

    // dcol[i, t, 16v + l] = Σ_f gy[i, f, 16v + l] · wp[v, t, f, l] for images [i0, i1) (dcol rows of ld floats).
    // Tile rows = 4 taps (wp), columns = 6 images (gy, read in place under the lane mask); the sum over f runs in
    // blocks of KB.
    private static void InputGradLanes(float* gy, float* wp, int n, int p, int k, int f, float* dcol, int ld, int i0, int i1)
    {
        int pv = Vectors(p), rowTiles = RowTiles(k);
        for (int v = 0; v < pv; v++)
        {
            var mask = Gemm.LaneMask(Math.Min(L, p - v * L));
            float* wpv = wp + (long)v * k * f * L;
            for (int f0 = 0; f0 < f; f0 += KB)
            {
                int ft = Math.Min(KB, f - f0);
                for (int c0 = i0; c0 < i1; c0 += ColBlock)
                {
                    int cols = Math.Min(ColBlock, i1 - c0), colTiles = (cols + TC - 1) / TC;
                    for (int rt = 0, r = 0; rt < rowTiles; rt++)
                    {
                        int tr = TileSize(k, rowTiles, rt);
                        float* a = wpv + ((long)r * f + f0) * L;
                        for (int ct = 0, c = c0; ct < colTiles; ct++)
                        {
                            int tc = TileSize(cols, colTiles, ct);
                            Tile<Yes, No>(tr, tc, ft, a, (long)f * L, L, gy + ((long)c * f + f0) * p + v * L, (long)f * p, p,
                                dcol + ((long)c * k + r) * ld + v * L, ld, (long)k * ld, mask, f0 > 0, null);
                            c += tc;
                        }
                        r += tr;
                    }
                }
            }
        }
    }

    // dwp[v, t, f, l] = Σ_i cp[v, i, t, l] · gy[i, f, 16v + l] for units u = v·rowTiles + (tile of 4 taps) in [u0, u1).
    // Tile rows = 4 taps (cp), columns = 6 filters (gy under the lane mask); the sum over images runs in blocks of KB.
    private static void WeightGradLanes(float* cp, float* gy, int n, int p, int k, int f, float* dwp, int u0, int u1)
    {
        int rowTiles = RowTiles(k), colTiles = (f + TC - 1) / TC;
        for (int u = u0; u < u1; u++)
        {
            int v = u / rowTiles, rt = u - v * rowTiles;
            int r = 0;
            for (int q = 0; q < rt; q++) r += TileSize(k, rowTiles, q);
            int tr = TileSize(k, rowTiles, rt);
            var mask = Gemm.LaneMask(Math.Min(L, p - v * L));
            for (int n0 = 0; n0 < n; n0 += KB)
            {
                int nt = Math.Min(KB, n - n0);
                float* a = cp + (((long)v * n + n0) * k + r) * L;
                for (int ct = 0, c = 0; ct < colTiles; ct++)
                {
                    int tc = TileSize(f, colTiles, ct);
                    Tile<Yes, No>(tr, tc, nt, a, L, (long)k * L, gy + ((long)n0 * f + c) * p + v * L, p, (long)f * p,
                        dwp + (((long)v * k + r) * f + c) * L, (long)f * L, L, mask, n0 > 0, null);
                    c += tc;
                }
            }
        }
    }

    private interface IFlag { static abstract bool On { get; } }
    private struct Yes : IFlag { public static bool On => true; }
    private struct No : IFlag { public static bool On => false; }

    private static void Tile<TMB, TMC>(int tr, int tc, int kt, float* a, long rsA, long stA, float* b, long csB, long stB,
        float* c, long rsC, long csC, Vector512<float> mask, bool load, float* bias)
        where TMB : struct, IFlag where TMC : struct, IFlag
    {
        switch (tr)
        {
            case 4: TileR<N4, TMB, TMC>(tc, kt, a, rsA, stA, b, csB, stB, c, rsC, csC, mask, load, bias); break;
            case 3: TileR<N3, TMB, TMC>(tc, kt, a, rsA, stA, b, csB, stB, c, rsC, csC, mask, load, bias); break;
            case 2: TileR<N2, TMB, TMC>(tc, kt, a, rsA, stA, b, csB, stB, c, rsC, csC, mask, load, bias); break;
            case 1: TileR<N1, TMB, TMC>(tc, kt, a, rsA, stA, b, csB, stB, c, rsC, csC, mask, load, bias); break;
            default: throw new ArgumentOutOfRangeException(nameof(tr));
        }
    }

    private static void TileR<TRn, TMB, TMC>(int tc, int kt, float* a, long rsA, long stA, float* b, long csB, long stB,
        float* c, long rsC, long csC, Vector512<float> mask, bool load, float* bias)
        where TRn : struct, IConst where TMB : struct, IFlag where TMC : struct, IFlag
    {
        switch (tc)
        {
            case 6: Kernel<TRn, N6, TMB, TMC>(kt, a, rsA, stA, b, csB, stB, c, rsC, csC, mask, load, bias); break;
            case 5: Kernel<TRn, N5, TMB, TMC>(kt, a, rsA, stA, b, csB, stB, c, rsC, csC, mask, load, bias); break;
            case 4: Kernel<TRn, N4, TMB, TMC>(kt, a, rsA, stA, b, csB, stB, c, rsC, csC, mask, load, bias); break;
            case 3: Kernel<TRn, N3, TMB, TMC>(kt, a, rsA, stA, b, csB, stB, c, rsC, csC, mask, load, bias); break;
            case 2: Kernel<TRn, N2, TMB, TMC>(kt, a, rsA, stA, b, csB, stB, c, rsC, csC, mask, load, bias); break;
            case 1: Kernel<TRn, N1, TMB, TMC>(kt, a, rsA, stA, b, csB, stB, c, rsC, csC, mask, load, bias); break;
            default: throw new ArgumentOutOfRangeException(nameof(tc));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> LoadB<TMB>(float* p, Vector512<float> mask) where TMB : struct, IFlag =>
        TMB.On ? Avx512F.MaskLoad(p, mask, Vector512<float>.Zero) : Vector512.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Init<TMC>(float* c, Vector512<float> mask, bool load, float* bias) where TMC : struct, IFlag =>
        load ? (TMC.On ? Avx512F.MaskLoad(c, mask, Vector512<float>.Zero) : Vector512.Load(c))
        : bias != null ? Vector512.Load(bias) : Vector512<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put<TMC>(float* c, Vector512<float> mask, Vector512<float> v) where TMC : struct, IFlag
    {
        if (TMC.On) Avx512F.MaskStore(c, mask, v);
        else Vector512.Store(v, c);
    }

    // The micro-kernel: C(r, j) = init + Σ_{q < kt} A(r, q) ⊙ B(j, q) for r < R ≤ 4, j < J ≤ 6, one FMA chain per lane:
    //   A(r, q) = a[r·rsA + q·stA ..+16]; B(j, q) = b[j·csB + q·stB ..+16] (under the lane mask when TMB);
    //   C(r, j) at c[r·rsC + j·csC ..+16] (only the masked lanes stored when TMC);
    //   init = C's value when load, else bias[16·r ..+16] when bias is given, else 0.
    // Per step: R + J loads, R·J FMAs (4 × 6: 10 loads for 24 FMAs, the GEMM micro-kernel's ratio).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel<TRn, TCn, TMB, TMC>(int kt, float* a, long rsA, long stA, float* b, long csB, long stB,
        float* c, long rsC, long csC, Vector512<float> mask, bool load, float* bias)
        where TRn : struct, IConst where TCn : struct, IConst where TMB : struct, IFlag where TMC : struct, IFlag
    {
        int R = TRn.N, J = TCn.N;
        long r1 = rsC, r2 = 2 * rsC, r3 = 3 * rsC, j1 = csC, j2 = 2 * csC, j3 = 3 * csC, j4 = 4 * csC, j5 = 5 * csC;
        float* bias1 = bias == null ? null : bias + L, bias2 = bias == null ? null : bias + 2 * L, bias3 = bias == null ? null : bias + 3 * L;
        Vector512<float> c00 = Init<TMC>(c, mask, load, bias), c01 = default, c02 = default, c03 = default, c04 = default, c05 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c24 = default, c25 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default, c34 = default, c35 = default;
        if (J > 1) c01 = Init<TMC>(c + j1, mask, load, bias);
        if (J > 2) c02 = Init<TMC>(c + j2, mask, load, bias);
        if (J > 3) c03 = Init<TMC>(c + j3, mask, load, bias);
        if (J > 4) c04 = Init<TMC>(c + j4, mask, load, bias);
        if (J > 5) c05 = Init<TMC>(c + j5, mask, load, bias);
        if (R > 1)
        {
            c10 = Init<TMC>(c + r1, mask, load, bias1);
            if (J > 1) c11 = Init<TMC>(c + r1 + j1, mask, load, bias1);
            if (J > 2) c12 = Init<TMC>(c + r1 + j2, mask, load, bias1);
            if (J > 3) c13 = Init<TMC>(c + r1 + j3, mask, load, bias1);
            if (J > 4) c14 = Init<TMC>(c + r1 + j4, mask, load, bias1);
            if (J > 5) c15 = Init<TMC>(c + r1 + j5, mask, load, bias1);
        }
        if (R > 2)
        {
            c20 = Init<TMC>(c + r2, mask, load, bias2);
            if (J > 1) c21 = Init<TMC>(c + r2 + j1, mask, load, bias2);
            if (J > 2) c22 = Init<TMC>(c + r2 + j2, mask, load, bias2);
            if (J > 3) c23 = Init<TMC>(c + r2 + j3, mask, load, bias2);
            if (J > 4) c24 = Init<TMC>(c + r2 + j4, mask, load, bias2);
            if (J > 5) c25 = Init<TMC>(c + r2 + j5, mask, load, bias2);
        }
        if (R > 3)
        {
            c30 = Init<TMC>(c + r3, mask, load, bias3);
            if (J > 1) c31 = Init<TMC>(c + r3 + j1, mask, load, bias3);
            if (J > 2) c32 = Init<TMC>(c + r3 + j2, mask, load, bias3);
            if (J > 3) c33 = Init<TMC>(c + r3 + j3, mask, load, bias3);
            if (J > 4) c34 = Init<TMC>(c + r3 + j4, mask, load, bias3);
            if (J > 5) c35 = Init<TMC>(c + r3 + j5, mask, load, bias3);
        }
        long a1 = rsA, a2 = 2 * rsA, a3 = 3 * rsA, b1 = csB, b2 = 2 * csB, b3 = 3 * csB, b4 = 4 * csB, b5 = 5 * csB;
        Vector512<float> x1 = default, x2 = default, x3 = default;
        for (int q = 0; q < kt; q++)
        {
            var x0 = Vector512.Load(a);
            if (R > 1) x1 = Vector512.Load(a + a1);
            if (R > 2) x2 = Vector512.Load(a + a2);
            if (R > 3) x3 = Vector512.Load(a + a3);
            var y = LoadB<TMB>(b, mask);
            c00 = Vector512.FusedMultiplyAdd(x0, y, c00);
            if (R > 1) c10 = Vector512.FusedMultiplyAdd(x1, y, c10);
            if (R > 2) c20 = Vector512.FusedMultiplyAdd(x2, y, c20);
            if (R > 3) c30 = Vector512.FusedMultiplyAdd(x3, y, c30);
            if (J > 1)
            {
                y = LoadB<TMB>(b + b1, mask);
                c01 = Vector512.FusedMultiplyAdd(x0, y, c01);
                if (R > 1) c11 = Vector512.FusedMultiplyAdd(x1, y, c11);
                if (R > 2) c21 = Vector512.FusedMultiplyAdd(x2, y, c21);
                if (R > 3) c31 = Vector512.FusedMultiplyAdd(x3, y, c31);
            }
            if (J > 2)
            {
                y = LoadB<TMB>(b + b2, mask);
                c02 = Vector512.FusedMultiplyAdd(x0, y, c02);
                if (R > 1) c12 = Vector512.FusedMultiplyAdd(x1, y, c12);
                if (R > 2) c22 = Vector512.FusedMultiplyAdd(x2, y, c22);
                if (R > 3) c32 = Vector512.FusedMultiplyAdd(x3, y, c32);
            }
            if (J > 3)
            {
                y = LoadB<TMB>(b + b3, mask);
                c03 = Vector512.FusedMultiplyAdd(x0, y, c03);
                if (R > 1) c13 = Vector512.FusedMultiplyAdd(x1, y, c13);
                if (R > 2) c23 = Vector512.FusedMultiplyAdd(x2, y, c23);
                if (R > 3) c33 = Vector512.FusedMultiplyAdd(x3, y, c33);
            }
            if (J > 4)
            {
                y = LoadB<TMB>(b + b4, mask);
                c04 = Vector512.FusedMultiplyAdd(x0, y, c04);
                if (R > 1) c14 = Vector512.FusedMultiplyAdd(x1, y, c14);
                if (R > 2) c24 = Vector512.FusedMultiplyAdd(x2, y, c24);
                if (R > 3) c34 = Vector512.FusedMultiplyAdd(x3, y, c34);
            }
            if (J > 5)
            {
                y = LoadB<TMB>(b + b5, mask);
                c05 = Vector512.FusedMultiplyAdd(x0, y, c05);
                if (R > 1) c15 = Vector512.FusedMultiplyAdd(x1, y, c15);
                if (R > 2) c25 = Vector512.FusedMultiplyAdd(x2, y, c25);
                if (R > 3) c35 = Vector512.FusedMultiplyAdd(x3, y, c35);
            }
            a += stA;
            b += stB;
        }
        Put<TMC>(c, mask, c00);
        if (J > 1) Put<TMC>(c + j1, mask, c01);
        if (J > 2) Put<TMC>(c + j2, mask, c02);
        if (J > 3) Put<TMC>(c + j3, mask, c03);
        if (J > 4) Put<TMC>(c + j4, mask, c04);
        if (J > 5) Put<TMC>(c + j5, mask, c05);
        if (R > 1)
        {
            Put<TMC>(c + r1, mask, c10);
            if (J > 1) Put<TMC>(c + r1 + j1, mask, c11);
            if (J > 2) Put<TMC>(c + r1 + j2, mask, c12);
            if (J > 3) Put<TMC>(c + r1 + j3, mask, c13);
            if (J > 4) Put<TMC>(c + r1 + j4, mask, c14);
            if (J > 5) Put<TMC>(c + r1 + j5, mask, c15);
        }
        if (R > 2)
        {
            Put<TMC>(c + r2, mask, c20);
            if (J > 1) Put<TMC>(c + r2 + j1, mask, c21);
            if (J > 2) Put<TMC>(c + r2 + j2, mask, c22);
            if (J > 3) Put<TMC>(c + r2 + j3, mask, c23);
            if (J > 4) Put<TMC>(c + r2 + j4, mask, c24);
            if (J > 5) Put<TMC>(c + r2 + j5, mask, c25);
        }
        if (R > 3)
        {
            Put<TMC>(c + r3, mask, c30);
            if (J > 1) Put<TMC>(c + r3 + j1, mask, c31);
            if (J > 2) Put<TMC>(c + r3 + j2, mask, c32);
            if (J > 3) Put<TMC>(c + r3 + j3, mask, c33);
            if (J > 4) Put<TMC>(c + r3 + j4, mask, c34);
            if (J > 5) Put<TMC>(c + r3 + j5, mask, c35);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Rows layout and shared pieces

    // xp[i, pos, t] = x(i, tap t at pos) for images [i0, i1): per position, each (channel, kernel row) is KW
    // consecutive floats of x (scalar moves: masked vector moves of 3–5 floats measured 2–3× slower here)
    private static void PackPatchRows(float* x, in ConvGeometry g, float* xp, int i0, int i1)
    {
        int oh = g.OH, ow = g.OW, p = oh * ow, k = g.K, kh = g.KH, kw = g.KW, hw = g.H * g.W, chw = g.C * hw;
        for (int i = i0; i < i1; i++)
        {
            float* d = xp + (long)i * p * k;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    float* src = x + (long)i * chw + (long)oy * g.SH * g.W + (long)ox * g.SW;
                    for (int c = 0; c < g.C; c++, src += hw)
                        for (int ki = 0; ki < kh; ki++, d += kw)
                        {
                            float* sr = src + ki * g.W;
                            if (kw == 3) { d[0] = sr[0]; d[1] = sr[1]; d[2] = sr[2]; }
                            else if (kw == 5) { d[0] = sr[0]; d[1] = sr[1]; d[2] = sr[2]; d[3] = sr[3]; d[4] = sr[4]; }
                            else for (int j = 0; j < kw; j++) d[j] = sr[j];
                        }
                }
        }
    }

    // gx_i (C, H, W) += col2im of dxp_i [P, K] (the adjoint of PackPatchRows), KW floats at a time (scalar: windows
    // of neighbouring positions overlap, and a masked vector load right after an overlapping masked store stalls)
    private static void Col2ImRows(float* dxp, in ConvGeometry g, float* gx)
    {
        int oh = g.OH, ow = g.OW, kh = g.KH, kw = g.KW, hw = g.H * g.W;
        float* s = dxp;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
            {
                float* dst = gx + (long)oy * g.SH * g.W + (long)ox * g.SW;
                for (int c = 0; c < g.C; c++, dst += hw)
                    for (int ki = 0; ki < kh; ki++, s += kw)
                    {
                        float* dr = dst + ki * g.W;
                        if (kw == 3) { dr[0] += s[0]; dr[1] += s[1]; dr[2] += s[2]; }
                        else if (kw == 5) { dr[0] += s[0]; dr[1] += s[1]; dr[2] += s[2]; dr[3] += s[3]; dr[4] += s[4]; }
                        else for (int j = 0; j < kw; j++) dr[j] += s[j];
                    }
            }
    }

    // gb[pos, f] (+)= Σ_i gy[i, f, pos] for filters [f0, f1): the sums are gathered along positions in sum [F, P]
    // (one add chain over the images, in order), then written transposed.
    private static void BiasGrad(float* gy, int n, int f, int p, float* sum, float* gb, bool acc, int f0, int f1)
    {
        long fp = (long)f * p;
        int len = (f1 - f0) * p;
        if (len <= 0) return;
        var s = new Span<float>(sum + (long)f0 * p, len);
        if (n == 0) s.Clear();
        else new ReadOnlySpan<float>(gy + (long)f0 * p, len).CopyTo(s);
        for (int i = 1; i < n; i++) System.Numerics.Tensors.TensorPrimitives.Add(s, new ReadOnlySpan<float>(gy + i * fp + (long)f0 * p, len), s);
        for (int pos = 0; pos < p; pos++)
            for (int ff = f0; ff < f1; ff++)
            {
                float v = sum[(long)ff * p + pos];
                gb[(long)pos * f + ff] = acc ? gb[(long)pos * f + ff] + v : v;
            }
    }

    /// <summary>
    /// dst[c, r] = src[r, c] for r &lt; rows, c &lt; cols; src rows have stride <paramref name="lds"/>, dst rows stride
    /// <paramref name="ldd"/>. 8×8 blocks go through AVX registers, the edges are scalar.
    /// </summary>
    internal static void Transpose(float* src, long lds, int rows, int cols, float* dst, long ldd)
    {
        int r = 0;
        if (Avx.IsSupported)
        {
            for (; r + 8 <= rows; r += 8)
            {
                int c = 0;
                for (; c + 8 <= cols; c += 8) Gemm.Transpose8x8(src + r * lds + c, lds, dst + c * ldd + r, ldd);
                for (; c < cols; c++)
                    for (int rr = r; rr < r + 8; rr++) dst[c * ldd + rr] = src[rr * lds + c];
            }
        }
        for (; r < rows; r++)
            for (int c = 0; c < cols; c++) dst[c * ldd + r] = src[r * lds + c];
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Scalar twins: the definition, one FMA chain per output

    /// <summary>
    /// The forward by its definition: y[i, f, pos] = fma chain over taps t of x(i, tap t at pos) · w[pos, t, f],
    /// starting from bias[pos, f] (or 0). The Lanes layout equals it bit for bit.
    /// </summary>
    public static void ForwardScalar(ReadOnlySpan<float> x, in ConvGeometry g, int n, ReadOnlySpan<float> w, ReadOnlySpan<float> b, int f, Span<float> y)
    {
        int p = g.OH * g.OW, k = g.K;
        for (int i = 0; i < n; i++)
            for (int ff = 0; ff < f; ff++)
                for (int pos = 0; pos < p; pos++)
                {
                    float s = b.IsEmpty ? 0f : b[pos * f + ff];
                    for (int t = 0; t < k; t++) s = MathF.FusedMultiplyAdd(Tap(x, g, i, pos, t), w[(pos * k + t) * f + ff], s);
                    y[(i * f + ff) * p + pos] = s;
                }
    }

    /// <summary>
    /// The gradients by their definition (same contract as <see cref="Backward"/>): per image, position and tap the
    /// input gradient is an fma chain over filters, added into gx tap by tap (taps outer, positions inner); the weight
    /// gradient an fma chain over images; the bias gradient an add chain over images.
    /// </summary>
    public static void BackwardScalar(ReadOnlySpan<float> gy, in ConvGeometry g, int n, int f, ReadOnlySpan<float> x, ReadOnlySpan<float> w,
        ReadOnlySpan<float> mask, Span<float> gx, bool gxAccumulate, Span<float> gw, bool gwAccumulate, Span<float> gb, bool gbAccumulate)
    {
        int p = g.OH * g.OW, k = g.K;
        if (!gx.IsEmpty)
        {
            if (!gxAccumulate) gx[..(n * g.C * g.H * g.W)].Clear();
            for (int i = 0; i < n; i++)
                for (int t = 0; t < k; t++)
                    for (int pos = 0; pos < p; pos++)
                    {
                        float s = 0f;
                        for (int ff = 0; ff < f; ff++) s = MathF.FusedMultiplyAdd(gy[(i * f + ff) * p + pos], w[(pos * k + t) * f + ff], s);
                        gx[TapIndex(g, i, pos, t)] += s;
                    }
        }
        if (!gw.IsEmpty)
            for (int pos = 0; pos < p; pos++)
                for (int t = 0; t < k; t++)
                    for (int ff = 0; ff < f; ff++)
                    {
                        float s = 0f;
                        for (int i = 0; i < n; i++) s = MathF.FusedMultiplyAdd(Tap(x, g, i, pos, t), gy[(i * f + ff) * p + pos], s);
                        int o = (pos * k + t) * f + ff;
                        float v = gwAccumulate ? gw[o] + s : s;
                        gw[o] = mask.IsEmpty ? v : v * mask[o];
                    }
        if (!gb.IsEmpty)
            for (int pos = 0; pos < p; pos++)
                for (int ff = 0; ff < f; ff++)
                {
                    float s = 0f;
                    for (int i = 0; i < n; i++) s += gy[(i * f + ff) * p + pos];
                    gb[pos * f + ff] = gbAccumulate ? gb[pos * f + ff] + s : s;
                }
    }

    private static float Tap(ReadOnlySpan<float> x, in ConvGeometry g, int i, int pos, int t) => x[TapIndex(g, i, pos, t)];

    // index in x [N, C, H, W] of tap t = (c, ki, kj) of output position pos of image i (valid padding)
    private static int TapIndex(in ConvGeometry g, int i, int pos, int t)
    {
        int oy = pos / g.OW, ox = pos - oy * g.OW;
        int c = t / (g.KH * g.KW), r = t - c * g.KH * g.KW, ki = r / g.KW, kj = r - ki * g.KW;
        return ((i * g.C + c) * g.H + oy * g.SH + ki) * g.W + ox * g.SW + kj;
    }
}
