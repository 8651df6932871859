using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sprout.Kernels;

/// <summary>
/// Locally connected 2-D layer (an unshared convolution, valid padding): x [N, C, H, W], w [P, K, F] (P = OH·OW
/// positions, K = C·KH·KW taps in (c, ki, kj) order), bias [P, F] → y [N, F, P]. Per position the work is a GEMM
/// y_pos [N, F] = patches_pos [N, K] · w_pos [K, F]; two layouts run it:
/// <list type="bullet">
/// <item><see cref="Layout.Lanes"/> (few taps, K &lt; 32 — a 1-channel first layer): the 16 lanes of a Vector512 hold
/// 16 consecutive positions, so every product is elementwise across lanes and the positions never need transposing:
/// the patches are the im2col rows (built with vector permutes straight from x) cut into 16-column blocks, packed
/// for one block of images at a time into a cache-resident scratch by the forward and again by the backward (x is
/// small; the patches are not kept), and y and its gradient are read and written in place in [N, F, P]. A register
/// tile of 4 × 6 vectors takes an outer product of 4 rows of one operand with 6 of the other (the GEMM
/// micro-kernel's shape with vector × vector products instead of broadcast × vector).</item>
/// <item><see cref="Layout.Rows"/> (the rest): per position one <see cref="Gemm.Multiply"/>, with the patches packed
/// once as [N, P, K] and the output and its gradient as [N, P, F] (read through leading dimensions P·K and P·F), each
/// image's [P, F] transposed to and from [N, F, P] by 8×8 register transposes.</item>
/// </list>
/// The scalar twins (<see cref="ForwardScalar"/>, <see cref="BackwardScalar"/>) compute the definition directly. The
/// Lanes layout sums in the twins' order (one FMA chain per output, bias first), so it equals them bit for bit; the
/// Rows layout sums in the GEMM's order. Work is split over <see cref="Workers"/> by images (packing, forward, col2im),
/// by positions (per-position GEMMs) or by blocks of 16 positions (Lanes forward weight packing), never inside a sum,
/// so a result does not depend on the thread count — except the Lanes backward, whose threads take image ranges with
/// their own weight and bias sums, added in range order (the same bits for the same thread count).
/// </summary>
public static unsafe class LocallyConnected
{
    /// <summary>How the per-position GEMMs are laid out.</summary>
    public enum Layout
    {
        /// <summary>Vector lanes over 16 positions: [P/16, images, K, 16] patches per block of images, [P/16, K, F, 16] weights (needs AVX-512).</summary>
        Lanes,
        /// <summary>One GEMM per position: [N, P, K] patches, the weights in place.</summary>
        Rows,
    }

    /// <summary>Lanes per vector (positions per block in the Lanes layout).</summary>
    public const int L = 16;

    // register tile: 4 rows of the first operand × 6 columns of the second (24 accumulators)
    private const int TR = 4, TC = 6;
    // longest reduction block (in vectors of 16 floats): the 4-row panel (≤ 32 KiB) stays in L1 across the columns
    private const int KB = 128;

    /// <summary>Whether the Lanes layout can run here (it needs AVX-512 masked loads and stores).</summary>
    public static bool LanesSupported => Avx512F.IsSupported;

    /// <summary>
    /// The layout for a layer: Lanes when the taps are too few (K &lt; 32) for a per-position GEMM to pay for its
    /// transposes (paper 003's 1-channel first layer: K = 9), else Rows. (Measured on paper 003's CIFAR first layer,
    /// K = 75 over 196 positions: Rows 11 ms, Lanes 17–20 ms forward + backward, one thread.)
    /// </summary>
    public static Layout Choose(int p, int k, int f) => LanesSupported && k < 32 ? Layout.Lanes : Layout.Rows;

    /// <summary>Blocks of 16 positions.</summary>
    public static int Vectors(int p) => (p + L - 1) / L;

    /// <summary>Floats of the packed patches kept from the forward for the weight gradient (Rows only: the Lanes layout
    /// packs them again from x).</summary>
    public static int PatchesSize(Layout layout, in ConvGeometry g, int n) =>
        layout == Layout.Lanes ? 0 : Size((long)g.OH * g.OW * n * g.K);

    /// <summary>Floats of the packed weights and bias (Lanes only; the Rows layout reads w in place).</summary>
    public static int PackedWeightsSize(Layout layout, int p, int k, int f) =>
        layout == Layout.Lanes ? Size((long)Vectors(p) * L * f * (k + 1)) : 0;

    /// <summary>Floats of the forward's work buffer (Rows: the output as [P, N, F]).</summary>
    public static int ForwardWorkSize(Layout layout, int n, int p, int f) => layout == Layout.Rows ? Size((long)p * n * f) : 0;

    /// <summary>Floats of the backward's work buffer for the gradients asked for.</summary>
    public static int BackwardWorkSize(Layout layout, in ConvGeometry g, int n, int f, bool dx, bool dw, bool db)
    {
        int p = g.OH * g.OW, k = g.K;
        long s = 0;
        if (layout == Layout.Lanes)
        {
            long ld = (long)Vectors(p) * L;
            if (db) s += ld * f;
            if (dw) s += ld * k * f;
        }
        else
        {
            if (db) s += (long)f * p;
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
    /// (<see cref="PatchesSize"/>: none in the Lanes layout) and <paramref name="packedWeights"/>
    /// (<see cref="PackedWeightsSize"/>) are filled here and read again by <see cref="Backward"/>;
    /// <paramref name="work"/> is <see cref="ForwardWorkSize"/> floats.
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
        fixed (float* px = x, pw = w, pb = b, py = y, pp = patches, pk = packedWeights, pwork = work)
        {
            nint ax = (nint)px, aw = (nint)pw, ab = (nint)pb, ay = (nint)py, ap = (nint)pp, ak = (nint)pk, awork = (nint)pwork;
            if (layout == Layout.Lanes)
            {
                int pv = Vectors(p);
                // pack the weights (and bias) by positions × taps; then each part packs the patches of a block of its
                // images into a scratch and multiplies them
                Workers.Run(parts, part =>
                {
                    var (s, e) = Split(pv * k, part, parts);
                    PackWeightLanes((float*)aw, p, k, f, (float*)ak, s, e);
                    if (hasBias) { var (bs, be) = Split(pv, part, parts); PackBiasLanes((float*)ab, p, f, (float*)ak + (long)pv * L * k * f, bs, be); }
                });
                Workers.Run(parts, part =>
                {
                    var (i0, i1) = Split(n, part, parts);
                    ForwardLanes((float*)ax, geo, (float*)ak, hasBias ? (float*)ak + (long)pv * L * k * f : null, f, (float*)ay, i0, i1, ImageBlock(n, p, k, f));
                });
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
                Workers.Run(parts, part =>
                {
                    var (i0, i1) = Split(n, part, parts);
                    for (int i = i0; i < i1; i++) Transpose((float*)awork + i * pf, f, p, f, (float*)ay + i * pf, p);
                });
            }
        }
    }

    /// <summary>
    /// The gradients of <see cref="Forward"/> given gy [N, F, P]: gx [N, C, H, W] (empty: not wanted), gw [P, K, F]
    /// (then multiplied by <paramref name="mask"/> [P, K, F] when it is not empty), gb [P, F]; each is overwritten, or
    /// added to when its accumulate flag is set. <paramref name="x"/> is the forward's input (the Lanes layout packs its
    /// patches again from it; the Rows layout reads <paramref name="patches"/> and may be given an empty x);
    /// <paramref name="patches"/> and <paramref name="packedWeights"/> are the forward's; <paramref name="work"/> is
    /// <see cref="BackwardWorkSize"/> floats.
    /// </summary>
    public static void Backward(Layout layout, ReadOnlySpan<float> gy, in ConvGeometry g, int n, int f, ReadOnlySpan<float> x, ReadOnlySpan<float> w,
        ReadOnlySpan<float> patches, ReadOnlySpan<float> packedWeights, ReadOnlySpan<float> mask,
        Span<float> gx, bool gxAccumulate, Span<float> gw, bool gwAccumulate, Span<float> gb, bool gbAccumulate, Span<float> work, int threads)
    {
        int p = g.OH * g.OW, k = g.K;
        bool dx = !gx.IsEmpty, dw = !gw.IsEmpty, db = !gb.IsEmpty;
        if (layout == Layout.Lanes && !LanesSupported) throw new PlatformNotSupportedException("LocallyConnected: the Lanes layout needs AVX-512");
        Check(gy.Length, (long)n * f * p, "gy");
        Check(w.Length, (long)p * k * f, "w");
        if (layout == Layout.Lanes) Check(x.Length, (long)n * g.C * g.H * g.W, "x");
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
        fixed (float* pgy = gy, px = x, pw = w, pp = patches, pk = packedWeights, pm = mask, pgx = gx, pgw = gw, pgb = gb, pwork = work)
        {
            nint agy = (nint)pgy, ax = (nint)px, aw = (nint)pw, ap = (nint)pp, ak = (nint)pk, am = (nint)pm, agx = (nint)pgx, agw = (nint)pgw, agb = (nint)pgb;
            float* next = pwork;
            if (layout == Layout.Lanes)
            {
                // one pass over gy: per block of images and per block of 16 positions, the input gradient (into a
                // block's dcol scratch, folded into gx as soon as the block is done), the weight gradient (into dwp
                // [P/16, K, F, 16]) and the bias gradient (into dbp [P/16, F, 16]), the last two continuing their chains
                // over the image blocks
                int pv = Vectors(p), ld = pv * L;
                nint dwp = 0, dbp = 0;
                if (db) { dbp = (nint)next; next += (long)ld * f; }
                if (dw) { dwp = (nint)next; next += (long)ld * k * f; }
                int ib = BackwardImageBlock(n, f);
                // Threads take ranges of images, each the whole one-part pass (col2im fused while its dcol is in cache)
                // with its own weight- and bias-gradient sums; those are added in part order, so the result depends
                // only on the thread count (on one thread: the scalar twin's chain, bit for bit). Splitting positions
                // instead made every thread pack patches and fold dcol back in a second pass over memory.
                int iparts = Math.Max(1, Math.Min(threads, n));
                long dwLen = dw ? (long)ld * k * f : 0, dbLen = db ? (long)ld * f : 0;
                var extra = Scratch.Get(ref _lanesPartSums, (int)((iparts - 1) * (dwLen + dbLen)));
                int chwAll = geo.C * geo.H * geo.W;
                long fpAll = (long)f * p;
                fixed (float* pextra = extra)
                {
                    nint aextra = (nint)pextra;
                    Workers.Run(iparts, part =>
                    {
                        var (i0, i1) = Split(n, part, iparts);
                        float* sums = (float*)aextra + (part - 1) * (dwLen + dbLen);
                        float* pdw = !dw ? null : part == 0 ? (float*)dwp : sums;
                        float* pdb = !db ? null : part == 0 ? (float*)dbp : sums + dwLen;
                        BackwardLanes((float*)ax + (long)i0 * chwAll, geo, (float*)agy + i0 * fpAll, (float*)ak, i1 - i0, f, pdw, pdb, ib,
                            dx ? (float*)agx + (long)i0 * chwAll : null, gxAccumulate);
                    });
                    for (int part = 1; part < iparts; part++)
                    {
                        float* sums = pextra + (part - 1) * (dwLen + dbLen);
                        if (dw) System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>((float*)dwp, (int)dwLen), new ReadOnlySpan<float>(sums, (int)dwLen), new Span<float>((float*)dwp, (int)dwLen));
                        if (db) System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>((float*)dbp, (int)dbLen), new ReadOnlySpan<float>(sums + dwLen, (int)dbLen), new Span<float>((float*)dbp, (int)dbLen));
                    }
                }
                int tparts = Math.Max(1, Math.Min(threads, pv * k));
                if (dw || db)
                    Workers.Run(tparts, part =>
                    {
                        var (s, e) = Split(pv * k, part, tparts);
                        if (dw) UnpackWeightGradLanes((float*)dwp, masked ? (float*)am : null, p, k, f, (float*)agw, gwAccumulate, s, e);
                        if (db)
                        {
                            var (b0, b1) = Split(pv, part, tparts);
                            UnpackBiasGradLanes((float*)dbp, p, f, (float*)agb, gbAccumulate, b0, b1);
                        }
                    });
                return;
            }
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
            }
            if (dx || dw)
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
                }
            }
        }
    }

    // the span of `rows` rows of `cols` floats with row stride ld, starting at p
    private static Span<float> Rest(float* p, int rows, long ld, int cols) => new(p, rows == 0 ? 0 : (int)((rows - 1) * ld + cols));


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

    // cp[v, i - i0, t, l] = im2col(x_i)[t, 16v + l] (0 past P) for images [i0, i1): each image's im2col [K, P/16·16]
    // into an L1 scratch (Im2ColLanes), cut into 16-position blocks
    private static void PackPatchLanes(float* x, in ConvGeometry g, int i0, int i1, float* cp)
    {
        int p = g.OH * g.OW, k = g.K, pv = Vectors(p), ld = pv * L, chw = g.C * g.H * g.W, cols = i1 - i0;
        var col = Scratch.Get(ref _lanesCol, k * ld);
        fixed (float* pc = col)
        {
            for (int t = 0; t < k; t++) new Span<float>(pc + (long)t * ld + p, ld - p).Clear();
            for (int i = i0; i < i1; i++)
            {
                Im2ColLanes(x + (long)i * chw, g, pc, ld, 0, g.OH);
                for (int v = 0; v < pv; v++)
                {
                    float* d = cp + ((long)v * cols + i - i0) * k * L, src = pc + v * L;
                    for (int t = 0; t < k; t++) Vector512.Store(Vector512.Load(src + (long)t * ld), d + t * L);
                }
            }
        }
    }

    [ThreadStatic] private static float[]? _lanesCol;

    // col[t, oy·OW + ox] = x(tap t at (oy, ox)) for one image and output rows [oy0, oy1) (valid padding; col's rows
    // have stride ld, and only those rows' positions are written). Each output row of a tap is cut into runs of up to
    // 16 outputs whose sources span at most 32 floats: two masked loads and one two-source permute (lane l takes source
    // float l·SW) make a run, and one masked store writes it.
    internal static void Im2ColLanes(float* x, in ConvGeometry g, float* col, int ld, int oy0, int oy1)
    {
        int ow = g.OW, sw = g.SW, hw = g.H * g.W;
        int run = Math.Min(L, 31 / sw + 1);
        var idx = Vector512<int>.Indices * sw;
        float* d = col;
        for (int c = 0; c < g.C; c++)
            for (int ki = 0; ki < g.KH; ki++)
                for (int kj = 0; kj < g.KW; kj++, d += ld)
                    for (int oy = oy0; oy < oy1; oy++)
                    {
                        float* src = x + (long)c * hw + (long)(oy * g.SH + ki) * g.W + kj;
                        float* dst = d + oy * ow;
                        for (int ox = 0; ox < ow; ox += run)
                        {
                            int len = Math.Min(run, ow - ox), need = (len - 1) * sw + 1;
                            float* s = src + (long)ox * sw;
                            var lo = Avx512F.MaskLoad(s, Gemm.LaneMask(need), Vector512<float>.Zero);
                            var hi = need > L ? Avx512F.MaskLoad(s + L, Gemm.LaneMask(need - L), Vector512<float>.Zero) : Vector512<float>.Zero;
                            Avx512F.MaskStore(dst + ox, Gemm.LaneMask(len), Avx512F.PermuteVar16x32x2(lo, idx, hi));
                        }
                    }
    }

    // The plan Col2ImLanes follows for a geometry, per (16-pixel chunk j of a row, kj): permute indices [16] and the
    // lanes reached [16] (-1 / 0), then for every entry the first position column and the count of columns reaching
    // the chunk. Ints: Col2ImPlanSize.
    internal static int Col2ImPlanSize(in ConvGeometry g) => (g.W + L - 1) / L * g.KW * (2 * L + 2);

    internal static void Col2ImPlan(in ConvGeometry g, int* plan)
    {
        int ow = g.OW, sw = g.SW, kw = g.KW, w = g.W, chunks = (w + L - 1) / L, entries = chunks * kw;
        int* first = plan + entries * 2 * L, count = first + entries;
        for (int j = 0; j < chunks; j++)
            for (int kj = 0; kj < kw; kj++)
            {
                int e = j * kw + kj, lo = int.MaxValue, hi = -1;
                int* ix = plan + e * 2 * L, mk = ix + L;
                for (int l = 0; l < L; l++)
                {
                    int px = j * L + l - kj;
                    bool hit = j * L + l < w && px >= 0 && px % sw == 0 && px / sw < ow;
                    mk[l] = hit ? -1 : 0;
                    ix[l] = hit ? px / sw : 0;
                    if (hit) { lo = Math.Min(lo, px / sw); hi = Math.Max(hi, px / sw); }
                }
                first[e] = hi < 0 ? 0 : lo;
                count[e] = hi < 0 ? 0 : hi - lo + 1;
                for (int l = 0; l < L; l++) ix[l] = mk[l] != 0 ? ix[l] - lo : 0;
            }
    }

    // gx(c, row r, 16j + l) (+)= Σ over taps t = (c, ki, kj) in ascending order of dcol[t, oy·OW + ox] where the tap
    // lands on that pixel (r = oy·SH + ki, 16j + l = ox·SW + kj): the adjoint of Im2ColLanes for one image, adding into
    // each pixel in the scalar twin's order (per pixel, taps ascending; a tap reaches a pixel from one position at
    // most). Each 16-pixel chunk of a row is summed in a register: per (ki, kj) one masked load of the positions that
    // land in the chunk and a one-source permute, blended in under the lanes they reach.
    internal static void Col2ImLanes(float* dcol, int ld, in ConvGeometry g, float* gx, bool acc, int* plan)
    {
        int oh = g.OH, ow = g.OW, sh = g.SH, kw = g.KW, w = g.W, hw = g.H * g.W, chunks = (w + L - 1) / L;
        int entries = chunks * kw;
        int* first = plan + entries * 2 * L, count = first + entries;
        for (int c = 0; c < g.C; c++)
            for (int r = 0; r < g.H; r++)
            {
                float* row = gx + (long)c * hw + (long)r * w;
                for (int j = 0; j < chunks; j++)
                {
                    var keep = Gemm.LaneMask(Math.Min(L, w - j * L));
                    var sum = acc ? Avx512F.MaskLoad(row + j * L, keep, Vector512<float>.Zero) : Vector512<float>.Zero;
                    for (int ki = 0; ki < g.KH; ki++)
                    {
                        int dy = r - ki;
                        if (dy < 0 || dy % sh != 0 || dy / sh >= oh) continue;
                        float* drow = dcol + (long)((c * g.KH + ki) * kw) * ld + dy / sh * ow;
                        for (int kj = 0; kj < kw; kj++, drow += ld)
                        {
                            int e = j * kw + kj, cnt = count[e];
                            if (cnt == 0) continue;
                            int* ix = plan + e * 2 * L;
                            var v = Avx512F.MaskLoad(drow + first[e], Gemm.LaneMask(cnt), Vector512<float>.Zero);
                            sum = Vector512.ConditionalSelect(Vector512.Load(ix + L).AsSingle(), sum + Avx512F.PermuteVar16x32(v, Vector512.Load(ix)), sum);
                        }
                    }
                    Avx512F.MaskStore(row + j * L, keep, sum);
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

    // Images per block of the Lanes forward: when the packed weights are small (≤ 1 MiB: the first layers), blocks whose
    // y slab [ib, F, P] fits in half of L2; else as many as the patch scratch [P/16, ib, K, 16] holds in 1 MiB (the
    // weights, too large to stay in cache, are then streamed once per block and position block).
    private static int ImageBlock(int n, int p, int k, int f)
    {
        long wbytes = (long)Vectors(p) * L * k * f * 4, slab = (long)f * p * 4, patches = (long)Vectors(p) * L * k * 4;
        long ib = wbytes > 1 << 20 ? (1 << 20) / patches : 512 * 1024 / slab / TC * TC;
        return (int)Math.Clamp(ib, TC, Math.Max(TC, n));
    }

    // cut [0, total) into near-equal blocks of at most `max` (75 → one block of 75; 200 → 100 + 100)
    private static int Blocks(int total, int max) => Math.Max(1, (total + max - 1) / max);

    // y[i, f, 16v + l] = bias[16v + l, f] + Σ_t cp[v, i, t, l] · wp[v, t, f, l] for images [i0, i1), in blocks of ib
    // whose patches cp [P/16, ib, K, 16] are packed into a scratch (L2) right before they are used. Tile rows = 4
    // filters (wp, in L1 across the images of a block), columns = 6 images (cp); the sum over t runs in near-equal
    // blocks of ≤ KB taps, a later block continuing the chain from y.
    private static void ForwardLanes(float* x, in ConvGeometry g, float* wp, float* bp, int f, float* y, int i0, int i1, int ib)
    {
        int p = g.OH * g.OW, k = g.K, pv = Vectors(p), rowTiles = RowTiles(f), kblocks = Blocks(k, KB);
        var scratch = Scratch.Get(ref _lanesPatches, pv * Math.Min(ib, i1 - i0) * k * L + L);
        fixed (float* ps = scratch)
        {
            float* cp = Align(ps);
            for (int c0 = i0; c0 < i1; c0 += ib)
            {
                int cols = Math.Min(ib, i1 - c0), colTiles = (cols + TC - 1) / TC;
                PackPatchLanes(x, g, c0, c0 + cols, cp);
                for (int v = 0; v < pv; v++)
                {
                    var mask = Gemm.LaneMask(Math.Min(L, p - v * L));
                    float* cpv = cp + (long)v * cols * k * L, wpv = wp + (long)v * k * f * L, yv = y + v * L;
                    for (int kb = 0, k0 = 0; kb < kblocks; kb++)
                    {
                        int kt = TileSize(k, kblocks, kb);
                        for (int rt = 0, r = 0; rt < rowTiles; rt++)
                        {
                            int tr = TileSize(f, rowTiles, rt);
                            float* a = wpv + ((long)k0 * f + r) * L;
                            float* bias = k0 == 0 && bp != null ? bp + ((long)v * f + r) * L : null;
                            for (int ct = 0, c = 0; ct < colTiles; ct++)
                            {
                                int tc = TileSize(cols, colTiles, ct);
                                Tile<No, Yes>(tr, tc, kt, a, L, (long)f * L, cpv + ((long)c * k + k0) * L, (long)k * L, L,
                                    yv + ((long)(c0 + c) * f + r) * p, p, (long)f * p, mask, k0 > 0, bias);
                                c += tc;
                            }
                            r += tr;
                        }
                        k0 += kt;
                    }
                }
            }
        }
    }

    [ThreadStatic] private static float[]? _lanesPatches;

    // a 64-byte aligned pointer into a scratch that has 16 floats to spare
    private static float* Align(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    // Images per block of the Lanes backward: gy's block of 16 positions for ib images, [ib, F, 16], is copied into an
    // aligned scratch that stays in L1 (≤ 24 KiB) while the three products read it: a multiple of the 6-column tile.
    private static int BackwardImageBlock(int n, int f) => Math.Clamp(24 * 1024 / (f * L * 4) / TC * TC, TC, Math.Max(TC, n));

    // For n images, in blocks of ib images. Per block, the patches of its images are packed again from x into
    // cp [P/16, ib, K, 16], and gy's rows are read once, in memory order, into gp [P/16, ib, F, 16] (zero past P); both
    // scratches stay in L2, and per position block v the three products read their slices from L1:
    //   dcol[i, t, 16v + l] = Σ_f gp[v, i, f, l] · wp[v, t, f, l]      (rows = 4 taps, columns = 6 images)
    //   dwp[v, t, f, l]     = Σ_i cp[v, i, t, l] · gp[v, i, f, l]      (rows = 4 taps, columns = 6 filters)
    //   dbp[v, f, l]        = Σ_i gp[v, i, f, l]
    // The sums over images continue their chains from one block to the next (the first block starts them). Null
    // outputs are skipped; dcol [ib, K, P/16·16] is a scratch for one image block, folded into gx (Col2ImLanes) as soon
    // as the block is done.
    private static void BackwardLanes(float* x, in ConvGeometry g, float* gy, float* wp, int n, int f, float* dwp, float* dbp,
        int ib, float* gx, bool gxAccumulate)
    {
        int p = g.OH * g.OW, k = g.K, ld = Vectors(p) * L, chw = g.C * g.H * g.W;
        int nv = Vectors(p);
        int rowTiles = RowTiles(k), fblocks = Blocks(f, KB), fTiles = (f + TC - 1) / TC;
        long fp = (long)f * p;
        bool dx = gx != null;
        ib = Math.Min(ib, n);
        var gyScratch = Scratch.Get(ref _lanesGy, nv * ib * f * L + L);
        var cpScratch = Scratch.Get(ref _lanesPatches, dwp != null ? nv * ib * k * L + L : 0);
        var dcolScratch = Scratch.Get(ref _lanesDcol, gx != null ? ib * k * ld + L : 0);
        var planScratch = Scratch.Get(ref _col2imPlan, gx != null ? Col2ImPlanSize(g) : 0);
        fixed (float* pgs = gyScratch, pcs = cpScratch, pds = dcolScratch)
        fixed (int* plan = planScratch)
        {
            if (gx != null) Col2ImPlan(g, plan);
            float* gpAll = Align(pgs), cpAll = Align(pcs);
            for (int c0 = 0; c0 < n; c0 += ib)
            {
                int cols = Math.Min(ib, n - c0), colTiles = (cols + TC - 1) / TC, nblocks = Blocks(cols, KB);
                long gpBlock = (long)cols * f * L, cpBlock = (long)cols * k * L;
                // the block's dcol rows: [cols, K, ld] in the scratch
                float* dc = dx ? Align(pds) : null;
                if (dwp != null) PackPatchLanes(x, g, c0, c0 + cols, cpAll);
                for (int i = 0; i < cols; i++)
                    for (int ff = 0; ff < f; ff++)
                    {
                        float* src = gy + (c0 + i) * fp + (long)ff * p, dst = gpAll + ((long)i * f + ff) * L;
                        int v = 0;
                        for (; v < nv && (v + 1) * L <= p; v++) Vector512.Store(Vector512.Load(src + v * L), dst + v * gpBlock);
                        for (; v < nv; v++) Vector512.Store(Avx512F.MaskLoad(src + v * L, Gemm.LaneMask(p - v * L), Vector512<float>.Zero), dst + v * gpBlock);
                    }
                for (int v = 0; v < nv; v++)
                {
                    var mask = Gemm.LaneMask(Math.Min(L, p - v * L));
                    float* wpv = wp + (long)v * k * f * L, gp = gpAll + v * gpBlock, cp = cpAll + v * cpBlock;
                    if (dx)
                        for (int fb = 0, f0 = 0; fb < fblocks; fb++)
                        {
                            int ft = TileSize(f, fblocks, fb);
                            for (int rt = 0, r = 0; rt < rowTiles; rt++)
                            {
                                int tr = TileSize(k, rowTiles, rt);
                                float* a = wpv + ((long)r * f + f0) * L;
                                for (int ct = 0, c = 0; ct < colTiles; ct++)
                                {
                                    int tc = TileSize(cols, colTiles, ct);
                                    Tile<No, No>(tr, tc, ft, a, (long)f * L, L, gp + ((long)c * f + f0) * L, (long)f * L, L,
                                        dc + ((long)c * k + r) * ld + v * L, ld, (long)k * ld, mask, f0 > 0, null);
                                    c += tc;
                                }
                                r += tr;
                            }
                            f0 += ft;
                        }
                    if (dwp != null)
                        for (int rt = 0, r = 0; rt < rowTiles; rt++)
                        {
                            int tr = TileSize(k, rowTiles, rt);
                            for (int nb = 0, n0 = 0; nb < nblocks; nb++)
                            {
                                int nt = TileSize(cols, nblocks, nb);
                                float* a = cp + ((long)n0 * k + r) * L;
                                for (int ct = 0, c = 0; ct < fTiles; ct++)
                                {
                                    int tc = TileSize(f, fTiles, ct);
                                    Tile<No, No>(tr, tc, nt, a, L, (long)k * L, gp + ((long)n0 * f + c) * L, L, (long)f * L,
                                        dwp + (((long)v * k + r) * f + c) * L, (long)f * L, L, mask, c0 + n0 > 0, null);
                                    c += tc;
                                }
                                n0 += nt;
                            }
                            r += tr;
                        }
                    if (dbp != null)
                        for (int ff = 0; ff < f; ff++)
                        {
                            float* d = dbp + ((long)v * f + ff) * L;
                            var acc = c0 > 0 ? Vector512.Load(d) : Vector512<float>.Zero;
                            for (int i = 0; i < cols; i++) acc += Vector512.Load(gp + ((long)i * f + ff) * L);
                            Vector512.Store(acc, d);
                        }
                }
                if (gx != null)
                    for (int i = 0; i < cols; i++) Col2ImLanes(dc + (long)i * k * ld, ld, g, gx + (long)(c0 + i) * chw, gxAccumulate, plan);
            }
        }
    }

    [ThreadStatic] private static float[]? _lanesGy, _lanesDcol, _lanesPartSums;
    [ThreadStatic] private static int[]? _col2imPlan;

    // gb[16v + l, f] = (acc ? gb : 0) + dbp[v, f, l] for position blocks [v0, v1)
    private static void UnpackBiasGradLanes(float* dbp, int p, int f, float* gb, bool acc, int v0, int v1)
    {
        for (int v = v0; v < v1; v++)
        {
            int lanes = Math.Min(L, p - v * L);
            for (int ff = 0; ff < f; ff++)
                for (int l = 0; l < lanes; l++)
                {
                    float val = dbp[((long)v * f + ff) * L + l];
                    long o = (long)(v * L + l) * f + ff;
                    gb[o] = acc ? gb[o] + val : val;
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
    private static Vector512<float> LoadC<TMC>(float* c, Vector512<float> mask) where TMC : struct, IFlag =>
        TMC.On ? Avx512F.MaskLoad(c, mask, Vector512<float>.Zero) : Vector512.Load(c);

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
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c04 = default, c05 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c24 = default, c25 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default, c34 = default, c35 = default;
        if (load)
        {
            c00 = LoadC<TMC>(c, mask);
            if (J > 1) c01 = LoadC<TMC>(c + j1, mask);
            if (J > 2) c02 = LoadC<TMC>(c + j2, mask);
            if (J > 3) c03 = LoadC<TMC>(c + j3, mask);
            if (J > 4) c04 = LoadC<TMC>(c + j4, mask);
            if (J > 5) c05 = LoadC<TMC>(c + j5, mask);
            if (R > 1)
            {
                c10 = LoadC<TMC>(c + r1, mask);
                if (J > 1) c11 = LoadC<TMC>(c + r1 + j1, mask);
                if (J > 2) c12 = LoadC<TMC>(c + r1 + j2, mask);
                if (J > 3) c13 = LoadC<TMC>(c + r1 + j3, mask);
                if (J > 4) c14 = LoadC<TMC>(c + r1 + j4, mask);
                if (J > 5) c15 = LoadC<TMC>(c + r1 + j5, mask);
            }
            if (R > 2)
            {
                c20 = LoadC<TMC>(c + r2, mask);
                if (J > 1) c21 = LoadC<TMC>(c + r2 + j1, mask);
                if (J > 2) c22 = LoadC<TMC>(c + r2 + j2, mask);
                if (J > 3) c23 = LoadC<TMC>(c + r2 + j3, mask);
                if (J > 4) c24 = LoadC<TMC>(c + r2 + j4, mask);
                if (J > 5) c25 = LoadC<TMC>(c + r2 + j5, mask);
            }
            if (R > 3)
            {
                c30 = LoadC<TMC>(c + r3, mask);
                if (J > 1) c31 = LoadC<TMC>(c + r3 + j1, mask);
                if (J > 2) c32 = LoadC<TMC>(c + r3 + j2, mask);
                if (J > 3) c33 = LoadC<TMC>(c + r3 + j3, mask);
                if (J > 4) c34 = LoadC<TMC>(c + r3 + j4, mask);
                if (J > 5) c35 = LoadC<TMC>(c + r3 + j5, mask);
            }
        }
        else if (bias != null)
        {
            var b0v = Vector512.Load(bias);
            c00 = b0v;
            if (J > 1) c01 = b0v;
            if (J > 2) c02 = b0v;
            if (J > 3) c03 = b0v;
            if (J > 4) c04 = b0v;
            if (J > 5) c05 = b0v;
            if (R > 1)
            {
                var b1v = Vector512.Load(bias + 1 * L);
                c10 = b1v;
                if (J > 1) c11 = b1v;
                if (J > 2) c12 = b1v;
                if (J > 3) c13 = b1v;
                if (J > 4) c14 = b1v;
                if (J > 5) c15 = b1v;
            }
            if (R > 2)
            {
                var b2v = Vector512.Load(bias + 2 * L);
                c20 = b2v;
                if (J > 1) c21 = b2v;
                if (J > 2) c22 = b2v;
                if (J > 3) c23 = b2v;
                if (J > 4) c24 = b2v;
                if (J > 5) c25 = b2v;
            }
            if (R > 3)
            {
                var b3v = Vector512.Load(bias + 3 * L);
                c30 = b3v;
                if (J > 1) c31 = b3v;
                if (J > 2) c32 = b3v;
                if (J > 3) c33 = b3v;
                if (J > 4) c34 = b3v;
                if (J > 5) c35 = b3v;
            }
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
