using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sprout.Kernels;

/// <summary>
/// Direct convolution for stride 1 (any kernel size and padding) on AVX-512, with no column matrix and no packing.
/// A chunk of images is copied once into a zero-padded buffer xp [G, C, Hp, Wp] (each channel followed by a little
/// zero slack); then the input under kernel tap (ki, kj) for the 16 output positions (oy, ox0 … ox0+15) of a row
/// segment is simply the 16 floats at xp[c, oy + ki, ox0 + kj …] — one unaligned vector load.
/// <list type="bullet">
/// <item>Forward (and the input gradient, which is a stride-1 convolution of dY): a tile is 8 output channels × 3 row
/// segments (24 accumulators); per reduction index k = (c, ki, kj) it loads 3 vectors and broadcasts 8 weights. With
/// at most 4 output channels the tile is 4 channels × 6 segments instead.</item>
/// <item>Weight gradient: a tile is 4 output channels × 6 reduction indices; per row segment it loads 4 dY vectors and
/// 6 input vectors; lane partial sums stay as vectors until the end of the chunk.</item>
/// </list>
/// The scalar references are <see cref="ForwardReference"/> and <see cref="WeightGradReference"/>.
/// </summary>
public static unsafe class DirectConv
{
    /// <summary>Output channels per forward tile.</summary>
    public const int MR = 8;

    private const int Lanes = 16;
    private const int FwdSlots = 3;
    private const int NarrowRows = 4, NarrowSlots = 6;
    private const int GradRows = 4, GradCols = 6;

    /// <summary>Row segments per chunk: the forward tile's set-up is amortised over the chunk's 3-segment blocks.</summary>
    internal const int ForwardChunkSegments = 96;

    /// <summary>Row segments per chunk of the weight gradient: a 4×6 tile streams the chunk's dY rows and shifted input rows
    /// once, so the chunk is kept small enough for those rows to stay in L1.</summary>
    internal const int GradChunkSegments = 48;

    [ThreadStatic] private static float[]? _xp;
    [ThreadStatic] private static int[]? _segs;
    [ThreadStatic] private static float[]? _acc;

    /// <summary>
    /// Whether <paramref name="g"/> runs on the direct kernels: stride 1, AVX-512 in use, not a plain 1×1 product, and
    /// output rows that fill at least three quarters of their 16-lane segments.
    /// </summary>
    public static bool Applies(in ConvGeometry g)
    {
        if (g.SH != 1 || g.SW != 1 || g.IsIdentity || Gemm.Kernel != Gemm.KernelKind.Vector512 || !Avx512F.IsSupported) return false;
        int segs = (g.OW + Lanes - 1) / Lanes;
        return g.OW * 4 >= segs * Lanes * 3;
    }

    // Padded layout of one chunk: channel stride S (Hp·Wp plus ≥ 15 floats of zero slack, whole cache lines).
    private readonly record struct Layout(int Hp, int Wp, int S, int ImageStride, int SegsPerRow, int Images)
    {
        public static Layout Of(in ConvGeometry g, int images)
        {
            int hp = g.H + 2 * g.PH, wp = g.W + 2 * g.PW;
            int s = (hp * wp + Lanes + 15) & ~15;
            return new Layout(hp, wp, s, g.C * s, (g.OW + Lanes - 1) / Lanes, images);
        }
    }

    // Images per chunk: enough row segments to amortise a tile's set-up, at most 16 images.
    private static int ChunkImages(in ConvGeometry g, int minSegments)
    {
        int segs = g.OH * ((g.OW + Lanes - 1) / Lanes);
        return Math.Clamp((minSegments + segs - 1) / segs, 1, 16);
    }

    // xp [images, C, Hp, Wp] (+ slack) = zero-padded copy of x [images, C, H, W]
    private static void Pad(float* x, in ConvGeometry g, in Layout l, float* xp)
    {
        new Span<float>(xp, l.Images * l.ImageStride).Clear();
        int hw = g.H * g.W;
        for (int i = 0; i < l.Images; i++)
            for (int c = 0; c < g.C; c++)
            {
                float* src = x + ((long)i * g.C + c) * hw;
                float* dst = xp + (long)i * l.ImageStride + (long)c * l.S + (long)g.PH * l.Wp + g.PW;
                for (int r = 0; r < g.H; r++)
                    new ReadOnlySpan<float>(src + (long)r * g.W, g.W).CopyTo(new Span<float>(dst + (long)r * l.Wp, g.W));
            }
    }

    // Row segments of a chunk: (offset in xp, offset in the output [images, F, OH, OW] at channel 0, valid lanes)
    private static int Segments(in ConvGeometry g, in Layout l, int outChannels, int* seg)
    {
        int n = 0, ohw = g.OH * g.OW;
        for (int i = 0; i < l.Images; i++)
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox0 = 0; ox0 < g.OW; ox0 += Lanes, n++)
                {
                    seg[3 * n] = i * l.ImageStride + oy * l.Wp + ox0;
                    seg[3 * n + 1] = i * outChannels * ohw + oy * g.OW + ox0;
                    seg[3 * n + 2] = Math.Min(Lanes, g.OW - ox0);
                }
        return n;
    }

    // koff[k] = c·S + ki·Wp + kj for k = (c, ki, kj)
    private static void TapOffsets(in ConvGeometry g, in Layout l, int* koff)
    {
        int k = 0;
        for (int c = 0; c < g.C; c++)
            for (int ki = 0; ki < g.KH; ki++)
                for (int kj = 0; kj < g.KW; kj++) koff[k++] = c * l.S + ki * l.Wp + kj;
    }

    // A full chunk's layout and this thread's scratch: the padded images and the segment table (tap offsets after it).
    private static (Layout Full, float[] Xp, int[] Segs) ChunkBuffers(in ConvGeometry g, int minSegments)
    {
        int images = ChunkImages(g, minSegments);
        var full = Layout.Of(g, images);
        return (full, Scratch(ref _xp, (long)images * full.ImageStride), Scratch(ref _segs, 3L * images * g.OH * full.SegsPerRow + g.K));
    }

    // Pads images [i0, i0 + l.Images) of x into xp, lists their row segments (outputs have outChannels channels) and
    // the tap offsets; returns the number of segments.
    private static int PrepareChunk(float* x, in ConvGeometry g, in Layout l, int i0, int outChannels, float* xp, int* seg, out int* koff)
    {
        koff = seg + 3 * l.Images * g.OH * l.SegsPerRow;
        Pad(x + (long)i0 * g.C * g.H * g.W, g, l, xp);
        TapOffsets(g, l, koff);
        return Segments(g, l, outChannels, seg);
    }

    /// <summary>This thread's reusable pinned scratch array of at least <paramref name="size"/> elements (grown, never shrunk).</summary>
    internal static T[] Scratch<T>(ref T[]? buf, long size)
    {
        if (buf is null || buf.Length < size) buf = GC.AllocateUninitializedArray<T>((int)Math.Max(size, 4096), pinned: true);
        return buf;
    }

    // Touches cache lines [lines·part/parts, lines·(part+1)/parts) of p (64-byte lines) so they arrive in L2 ahead of use.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Prefetch(float* p, long lines, int part, int parts)
    {
        if (lines <= 0) return;
        long a = lines * part / parts, b = lines * (part + 1) / parts;
        for (long q = a; q < b; q++) Sse.Prefetch1(p + q * 16);
    }

    /// <summary>Weights w [m, K] packed for <see cref="Forward"/>: [⌈m/8⌉, K, 8], rows past m zero.</summary>
    public static float[] PackWeights(ReadOnlySpan<float> w, int m, int k)
    {
        int tiles = (m + MR - 1) / MR;
        var p = new float[tiles * k * MR];
        for (int t = 0; t < tiles; t++)
            for (int r = 0; r < MR && t * MR + r < m; r++)
                for (int q = 0; q < k; q++) p[((long)t * k + q) * MR + r] = w[(t * MR + r) * k + q];
        return p;
    }

    /// <summary>
    /// y [n, m, OH, OW] (+)= conv(x [n, C, H, W], w) (+ bias) for stride-1 geometry <paramref name="g"/>, with the
    /// weights packed by <see cref="PackWeights"/>. <paramref name="bias"/> is empty or [m].
    /// </summary>
    public static void Forward(int n, int m, ReadOnlySpan<float> packedW, ReadOnlySpan<float> x, in ConvGeometry g,
        ReadOnlySpan<float> bias, Span<float> y, bool accumulate)
    {
        int k = g.K, ohw = g.OH * g.OW, hw = g.H * g.W, tiles = (m + MR - 1) / MR;
        if (!Applies(g)) throw new ArgumentException("DirectConv: geometry not supported");
        if (packedW.Length < tiles * k * MR || x.Length < (long)n * g.C * hw || y.Length < (long)n * m * ohw || (bias.Length != 0 && bias.Length < m))
            throw new ArgumentException("DirectConv.Forward: operand too short");
        var (full, xpBuf, segBuf) = ChunkBuffers(g, ForwardChunkSegments);
        int gImages = full.Images;
        // bias padded to whole tiles (zeros past m), so each tile reads its 8 values in place
        int biasLen = tiles * MR;
        Span<float> biasPad = biasLen <= 2048 ? stackalloc float[biasLen] : new float[biasLen];
        biasPad.Clear();
        if (!bias.IsEmpty) bias[..m].CopyTo(biasPad);
        fixed (float* pw = packedW) fixed (float* px = x) fixed (float* py = y) fixed (float* pb = biasPad)
        fixed (float* xp = xpBuf) fixed (int* seg = segBuf)
        {
            for (int i0 = 0; i0 < n; i0 += gImages)
            {
                var l = full with { Images = Math.Min(gImages, n - i0) };
                int segs = PrepareChunk(px, g, l, i0, m, xp, seg, out int* koff);
                float* yc = py + (long)i0 * m * ohw;
                // the next chunk's images stream in from memory while this one computes
                int nextImages = Math.Min(gImages, n - i0 - l.Images);
                float* next = px + (long)(i0 + l.Images) * g.C * hw;
                long nextLines = (long)nextImages * g.C * hw / 16;
                if (m <= NarrowRows)
                {
                    // at most four output channels (an input gradient into RGB, say): a 4 × 6-segment tile wastes
                    // none of its rows where the 8-row tile would waste half or more
                    int nblocks = (segs + NarrowSlots - 1) / NarrowSlots;
                    for (int s = 0; s < segs; s += NarrowSlots)
                    {
                        Prefetch(next, nextLines, s / NarrowSlots, nblocks);
                        Kernel4x6(k, koff, pw, xp, seg + 3 * s, Math.Min(NarrowSlots, segs - s), pb, yc, ohw, m, accumulate);
                    }
                    continue;
                }
                int blocks = (segs + FwdSlots - 1) / FwdSlots;
                for (int s = 0; s < segs; s += FwdSlots)
                {
                    Prefetch(next, nextLines, s / FwdSlots, blocks);
                    int* s0 = seg + 3 * s;
                    int* s1 = s + 1 < segs ? s0 + 3 : s0;
                    int* s2 = s + 2 < segs ? s0 + 6 : s0;
                    int n1 = s + 1 < segs ? s1[2] : 0, n2 = s + 2 < segs ? s2[2] : 0;
                    for (int t = 0; t < tiles; t++)
                    {
                        int rows = Math.Min(MR, m - t * MR);
                        Kernel8x3(k, koff, pw + (long)t * k * MR, xp + s0[0], xp + s1[0], xp + s2[0], pb + t * MR,
                            yc + (long)t * MR * ohw, s0[1], s1[1], s2[1], s0[2], n1, n2, ohw, rows, accumulate);
                    }
                }
            }
        }
    }

    // y rows [rows ≤ 4] at y + r·ldy + yo_j (+)= b8[r] + Σ_q w[q, r] · x_j[koff[q] .. +16] for cnt ≤ 6 segments j
    // (w packed 8 rows per k, of which the first 4 are read)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel4x6(int k, int* koff, float* w, float* xp, int* seg, int cnt, float* b8, float* y, int ldy, int rows, bool acc)
    {
        float* x0 = xp + seg[0];
        float* x1 = cnt > 1 ? xp + seg[3] : x0, x2 = cnt > 2 ? xp + seg[6] : x0, x3 = cnt > 3 ? xp + seg[9] : x0;
        float* x4 = cnt > 4 ? xp + seg[12] : x0, x5 = cnt > 5 ? xp + seg[15] : x0;
        Vector512<float> c00 = Vector512.Create(b8[0]), c01 = c00, c02 = c00, c03 = c00, c04 = c00, c05 = c00;
        Vector512<float> c10 = Vector512.Create(b8[1]), c11 = c10, c12 = c10, c13 = c10, c14 = c10, c15 = c10;
        Vector512<float> c20 = Vector512.Create(b8[2]), c21 = c20, c22 = c20, c23 = c20, c24 = c20, c25 = c20;
        Vector512<float> c30 = Vector512.Create(b8[3]), c31 = c30, c32 = c30, c33 = c30, c34 = c30, c35 = c30;
        for (int q = 0; q < k; q++, w += MR)
        {
            int o = koff[q];
            var v0 = Vector512.Load(x0 + o);
            var v1 = Vector512.Load(x1 + o);
            var v2 = Vector512.Load(x2 + o);
            var v3 = Vector512.Load(x3 + o);
            var v4 = Vector512.Load(x4 + o);
            var v5 = Vector512.Load(x5 + o);
            var a = Vector512.Create(w[0]);
            c00 = Vector512.FusedMultiplyAdd(a, v0, c00); c01 = Vector512.FusedMultiplyAdd(a, v1, c01); c02 = Vector512.FusedMultiplyAdd(a, v2, c02);
            c03 = Vector512.FusedMultiplyAdd(a, v3, c03); c04 = Vector512.FusedMultiplyAdd(a, v4, c04); c05 = Vector512.FusedMultiplyAdd(a, v5, c05);
            a = Vector512.Create(w[1]);
            c10 = Vector512.FusedMultiplyAdd(a, v0, c10); c11 = Vector512.FusedMultiplyAdd(a, v1, c11); c12 = Vector512.FusedMultiplyAdd(a, v2, c12);
            c13 = Vector512.FusedMultiplyAdd(a, v3, c13); c14 = Vector512.FusedMultiplyAdd(a, v4, c14); c15 = Vector512.FusedMultiplyAdd(a, v5, c15);
            a = Vector512.Create(w[2]);
            c20 = Vector512.FusedMultiplyAdd(a, v0, c20); c21 = Vector512.FusedMultiplyAdd(a, v1, c21); c22 = Vector512.FusedMultiplyAdd(a, v2, c22);
            c23 = Vector512.FusedMultiplyAdd(a, v3, c23); c24 = Vector512.FusedMultiplyAdd(a, v4, c24); c25 = Vector512.FusedMultiplyAdd(a, v5, c25);
            a = Vector512.Create(w[3]);
            c30 = Vector512.FusedMultiplyAdd(a, v0, c30); c31 = Vector512.FusedMultiplyAdd(a, v1, c31); c32 = Vector512.FusedMultiplyAdd(a, v2, c32);
            c33 = Vector512.FusedMultiplyAdd(a, v3, c33); c34 = Vector512.FusedMultiplyAdd(a, v4, c34); c35 = Vector512.FusedMultiplyAdd(a, v5, c35);
        }
        Put6(y, seg, cnt, acc, c00, c01, c02, c03, c04, c05); if (rows == 1) return; y += ldy;
        Put6(y, seg, cnt, acc, c10, c11, c12, c13, c14, c15); if (rows == 2) return; y += ldy;
        Put6(y, seg, cnt, acc, c20, c21, c22, c23, c24, c25); if (rows == 3) return; y += ldy;
        Put6(y, seg, cnt, acc, c30, c31, c32, c33, c34, c35);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put6(float* y, int* seg, int cnt, bool acc, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2,
        Vector512<float> v3, Vector512<float> v4, Vector512<float> v5)
    {
        Gemm.Put(y + seg[1], seg[2], acc, v0);
        if (cnt > 1) Gemm.Put(y + seg[4], seg[5], acc, v1);
        if (cnt > 2) Gemm.Put(y + seg[7], seg[8], acc, v2);
        if (cnt > 3) Gemm.Put(y + seg[10], seg[11], acc, v3);
        if (cnt > 4) Gemm.Put(y + seg[13], seg[14], acc, v4);
        if (cnt > 5) Gemm.Put(y + seg[16], seg[17], acc, v5);
    }

    // y rows [rows ≤ 8] at y + r·ldy + yo_s (+)= b8[r] + Σ_q w[q, r] · x_s[koff[q] .. +16] for the 3 segments s
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x3(int k, int* koff, float* w, float* x0, float* x1, float* x2, float* b8,
        float* y, int yo0, int yo1, int yo2, int n0, int n1, int n2, int ldy, int rows, bool acc)
    {
        Vector512<float> c00 = Vector512.Create(b8[0]), c01 = c00, c02 = c00;
        Vector512<float> c10 = Vector512.Create(b8[1]), c11 = c10, c12 = c10;
        Vector512<float> c20 = Vector512.Create(b8[2]), c21 = c20, c22 = c20;
        Vector512<float> c30 = Vector512.Create(b8[3]), c31 = c30, c32 = c30;
        Vector512<float> c40 = Vector512.Create(b8[4]), c41 = c40, c42 = c40;
        Vector512<float> c50 = Vector512.Create(b8[5]), c51 = c50, c52 = c50;
        Vector512<float> c60 = Vector512.Create(b8[6]), c61 = c60, c62 = c60;
        Vector512<float> c70 = Vector512.Create(b8[7]), c71 = c70, c72 = c70;
        for (int q = 0; q < k; q++, w += MR)
        {
            int o = koff[q];
            var v0 = Vector512.Load(x0 + o);
            var v1 = Vector512.Load(x1 + o);
            var v2 = Vector512.Load(x2 + o);
            var a = Vector512.Create(w[0]);
            c00 = Vector512.FusedMultiplyAdd(a, v0, c00); c01 = Vector512.FusedMultiplyAdd(a, v1, c01); c02 = Vector512.FusedMultiplyAdd(a, v2, c02);
            a = Vector512.Create(w[1]);
            c10 = Vector512.FusedMultiplyAdd(a, v0, c10); c11 = Vector512.FusedMultiplyAdd(a, v1, c11); c12 = Vector512.FusedMultiplyAdd(a, v2, c12);
            a = Vector512.Create(w[2]);
            c20 = Vector512.FusedMultiplyAdd(a, v0, c20); c21 = Vector512.FusedMultiplyAdd(a, v1, c21); c22 = Vector512.FusedMultiplyAdd(a, v2, c22);
            a = Vector512.Create(w[3]);
            c30 = Vector512.FusedMultiplyAdd(a, v0, c30); c31 = Vector512.FusedMultiplyAdd(a, v1, c31); c32 = Vector512.FusedMultiplyAdd(a, v2, c32);
            a = Vector512.Create(w[4]);
            c40 = Vector512.FusedMultiplyAdd(a, v0, c40); c41 = Vector512.FusedMultiplyAdd(a, v1, c41); c42 = Vector512.FusedMultiplyAdd(a, v2, c42);
            a = Vector512.Create(w[5]);
            c50 = Vector512.FusedMultiplyAdd(a, v0, c50); c51 = Vector512.FusedMultiplyAdd(a, v1, c51); c52 = Vector512.FusedMultiplyAdd(a, v2, c52);
            a = Vector512.Create(w[6]);
            c60 = Vector512.FusedMultiplyAdd(a, v0, c60); c61 = Vector512.FusedMultiplyAdd(a, v1, c61); c62 = Vector512.FusedMultiplyAdd(a, v2, c62);
            a = Vector512.Create(w[7]);
            c70 = Vector512.FusedMultiplyAdd(a, v0, c70); c71 = Vector512.FusedMultiplyAdd(a, v1, c71); c72 = Vector512.FusedMultiplyAdd(a, v2, c72);
        }
        Put3(y, yo0, yo1, yo2, n0, n1, n2, acc, c00, c01, c02); if (rows == 1) return; y += ldy;
        Put3(y, yo0, yo1, yo2, n0, n1, n2, acc, c10, c11, c12); if (rows == 2) return; y += ldy;
        Put3(y, yo0, yo1, yo2, n0, n1, n2, acc, c20, c21, c22); if (rows == 3) return; y += ldy;
        Put3(y, yo0, yo1, yo2, n0, n1, n2, acc, c30, c31, c32); if (rows == 4) return; y += ldy;
        Put3(y, yo0, yo1, yo2, n0, n1, n2, acc, c40, c41, c42); if (rows == 5) return; y += ldy;
        Put3(y, yo0, yo1, yo2, n0, n1, n2, acc, c50, c51, c52); if (rows == 6) return; y += ldy;
        Put3(y, yo0, yo1, yo2, n0, n1, n2, acc, c60, c61, c62); if (rows == 7) return; y += ldy;
        Put3(y, yo0, yo1, yo2, n0, n1, n2, acc, c70, c71, c72);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put3(float* y, int yo0, int yo1, int yo2, int n0, int n1, int n2, bool acc,
        Vector512<float> v0, Vector512<float> v1, Vector512<float> v2)
    {
        Gemm.Put(y + yo0, n0, acc, v0);
        Gemm.Put(y + yo1, n1, acc, v1);
        Gemm.Put(y + yo2, n2, acc, v2);
    }

    /// <summary>
    /// dw [m, K] += dY ⋆ x: the weight gradient of a stride-1 convolution, dy [n, m, OH, OW], x [n, C, H, W].
    /// </summary>
    public static void WeightGrad(int n, int m, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, in ConvGeometry g, Span<float> dw)
    {
        int k = g.K, ohw = g.OH * g.OW, hw = g.H * g.W;
        if (!Applies(g)) throw new ArgumentException("DirectConv: geometry not supported");
        if (dy.Length < (long)n * m * ohw || x.Length < (long)n * g.C * hw || dw.Length < m * k)
            throw new ArgumentException("DirectConv.WeightGrad: operand too short");
        int fTiles = (m + GradRows - 1) / GradRows, kTiles = (k + GradCols - 1) / GradCols;
        var (full, xpBuf, segBuf) = ChunkBuffers(g, GradChunkSegments);
        int gImages = full.Images;
        const int tileFloats = GradRows * GradCols * Lanes;
        var accBuf = Scratch(ref _acc, (long)fTiles * kTiles * tileFloats);
        accBuf.AsSpan(0, fTiles * kTiles * tileFloats).Clear();
        fixed (float* pdy = dy) fixed (float* px = x) fixed (float* pdw = dw)
        fixed (float* xp = xpBuf) fixed (int* seg = segBuf) fixed (float* acc = accBuf)
        {
            for (int i0 = 0; i0 < n; i0 += gImages)
            {
                var l = full with { Images = Math.Min(gImages, n - i0) };
                int segs = PrepareChunk(px, g, l, i0, m, xp, seg, out int* koff);
                float* dyc = pdy + (long)i0 * m * ohw;
                int nextImages = Math.Min(gImages, n - i0 - l.Images);
                float* nextX = px + (long)(i0 + l.Images) * g.C * hw;
                float* nextDy = pdy + (long)(i0 + l.Images) * m * ohw;
                long xLines = (long)nextImages * g.C * hw / 16, dyLines = (long)nextImages * m * ohw / 16;
                for (int ft = 0; ft < fTiles; ft++)
                {
                    int f0 = ft * GradRows;
                    float* d0 = dyc + (long)Math.Min(f0, m - 1) * ohw, d1 = dyc + (long)Math.Min(f0 + 1, m - 1) * ohw;
                    float* d2 = dyc + (long)Math.Min(f0 + 2, m - 1) * ohw, d3 = dyc + (long)Math.Min(f0 + 3, m - 1) * ohw;
                    for (int kt = 0; kt < kTiles; kt++)
                    {
                        Prefetch(nextX, xLines, ft * kTiles + kt, fTiles * kTiles);
                        Prefetch(nextDy, dyLines, ft * kTiles + kt, fTiles * kTiles);
                        int q0 = kt * GradCols;
                        float* x0 = xp + koff[Math.Min(q0, k - 1)], x1 = xp + koff[Math.Min(q0 + 1, k - 1)], x2 = xp + koff[Math.Min(q0 + 2, k - 1)];
                        float* x3 = xp + koff[Math.Min(q0 + 3, k - 1)], x4 = xp + koff[Math.Min(q0 + 4, k - 1)], x5 = xp + koff[Math.Min(q0 + 5, k - 1)];
                        Kernel4x6(segs, seg, d0, d1, d2, d3, x0, x1, x2, x3, x4, x5, acc + ((long)ft * kTiles + kt) * tileFloats);
                    }
                }
            }
            // horizontal sums of the lane partials
            for (int ft = 0; ft < fTiles; ft++)
                for (int kt = 0; kt < kTiles; kt++)
                {
                    float* t = acc + ((long)ft * kTiles + kt) * tileFloats;
                    for (int r = 0; r < GradRows; r++)
                        for (int c = 0; c < GradCols; c++)
                        {
                            int f = ft * GradRows + r, q = kt * GradCols + c;
                            if (f < m && q < k) pdw[(long)f * k + q] += Vector512.Sum(Vector512.Load(t + (r * GradCols + c) * Lanes));
                        }
                }
        }
    }

    // acc[r, c] (lanes) += Σ_segments dy_r[seg] ⊙ x_c[seg] for 4 dY rows and 6 shifted input rows
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel4x6(int segs, int* seg, float* d0, float* d1, float* d2, float* d3,
        float* x0, float* x1, float* x2, float* x3, float* x4, float* x5, float* acc)
    {
        Vector512<float> a00 = Vector512.Load(acc), a01 = Vector512.Load(acc + 16), a02 = Vector512.Load(acc + 32);
        Vector512<float> a03 = Vector512.Load(acc + 48), a04 = Vector512.Load(acc + 64), a05 = Vector512.Load(acc + 80);
        Vector512<float> a10 = Vector512.Load(acc + 96), a11 = Vector512.Load(acc + 112), a12 = Vector512.Load(acc + 128);
        Vector512<float> a13 = Vector512.Load(acc + 144), a14 = Vector512.Load(acc + 160), a15 = Vector512.Load(acc + 176);
        Vector512<float> a20 = Vector512.Load(acc + 192), a21 = Vector512.Load(acc + 208), a22 = Vector512.Load(acc + 224);
        Vector512<float> a23 = Vector512.Load(acc + 240), a24 = Vector512.Load(acc + 256), a25 = Vector512.Load(acc + 272);
        Vector512<float> a30 = Vector512.Load(acc + 288), a31 = Vector512.Load(acc + 304), a32 = Vector512.Load(acc + 320);
        Vector512<float> a33 = Vector512.Load(acc + 336), a34 = Vector512.Load(acc + 352), a35 = Vector512.Load(acc + 368);
        for (int s = 0; s < segs; s++, seg += 3)
        {
            int xo = seg[0], yo = seg[1];
            Vector512<float> e0, e1, e2, e3;
            if (seg[2] == Lanes)
            {
                e0 = Vector512.Load(d0 + yo); e1 = Vector512.Load(d1 + yo); e2 = Vector512.Load(d2 + yo); e3 = Vector512.Load(d3 + yo);
            }
            else
            {
                // a partial segment: lanes past the row are zero in dY (and must not be read past the tensor's end)
                var mask = Gemm.LaneMask(seg[2]);
                e0 = Avx512F.MaskLoad(d0 + yo, mask, Vector512<float>.Zero); e1 = Avx512F.MaskLoad(d1 + yo, mask, Vector512<float>.Zero);
                e2 = Avx512F.MaskLoad(d2 + yo, mask, Vector512<float>.Zero); e3 = Avx512F.MaskLoad(d3 + yo, mask, Vector512<float>.Zero);
            }
            var v = Vector512.Load(x0 + xo);
            a00 = Vector512.FusedMultiplyAdd(e0, v, a00); a10 = Vector512.FusedMultiplyAdd(e1, v, a10);
            a20 = Vector512.FusedMultiplyAdd(e2, v, a20); a30 = Vector512.FusedMultiplyAdd(e3, v, a30);
            v = Vector512.Load(x1 + xo);
            a01 = Vector512.FusedMultiplyAdd(e0, v, a01); a11 = Vector512.FusedMultiplyAdd(e1, v, a11);
            a21 = Vector512.FusedMultiplyAdd(e2, v, a21); a31 = Vector512.FusedMultiplyAdd(e3, v, a31);
            v = Vector512.Load(x2 + xo);
            a02 = Vector512.FusedMultiplyAdd(e0, v, a02); a12 = Vector512.FusedMultiplyAdd(e1, v, a12);
            a22 = Vector512.FusedMultiplyAdd(e2, v, a22); a32 = Vector512.FusedMultiplyAdd(e3, v, a32);
            v = Vector512.Load(x3 + xo);
            a03 = Vector512.FusedMultiplyAdd(e0, v, a03); a13 = Vector512.FusedMultiplyAdd(e1, v, a13);
            a23 = Vector512.FusedMultiplyAdd(e2, v, a23); a33 = Vector512.FusedMultiplyAdd(e3, v, a33);
            v = Vector512.Load(x4 + xo);
            a04 = Vector512.FusedMultiplyAdd(e0, v, a04); a14 = Vector512.FusedMultiplyAdd(e1, v, a14);
            a24 = Vector512.FusedMultiplyAdd(e2, v, a24); a34 = Vector512.FusedMultiplyAdd(e3, v, a34);
            v = Vector512.Load(x5 + xo);
            a05 = Vector512.FusedMultiplyAdd(e0, v, a05); a15 = Vector512.FusedMultiplyAdd(e1, v, a15);
            a25 = Vector512.FusedMultiplyAdd(e2, v, a25); a35 = Vector512.FusedMultiplyAdd(e3, v, a35);
        }
        Vector512.Store(a00, acc); Vector512.Store(a01, acc + 16); Vector512.Store(a02, acc + 32);
        Vector512.Store(a03, acc + 48); Vector512.Store(a04, acc + 64); Vector512.Store(a05, acc + 80);
        Vector512.Store(a10, acc + 96); Vector512.Store(a11, acc + 112); Vector512.Store(a12, acc + 128);
        Vector512.Store(a13, acc + 144); Vector512.Store(a14, acc + 160); Vector512.Store(a15, acc + 176);
        Vector512.Store(a20, acc + 192); Vector512.Store(a21, acc + 208); Vector512.Store(a22, acc + 224);
        Vector512.Store(a23, acc + 240); Vector512.Store(a24, acc + 256); Vector512.Store(a25, acc + 272);
        Vector512.Store(a30, acc + 288); Vector512.Store(a31, acc + 304); Vector512.Store(a32, acc + 320);
        Vector512.Store(a33, acc + 336); Vector512.Store(a34, acc + 352); Vector512.Store(a35, acc + 368);
    }

    /// <summary>Scalar twin of <see cref="Forward"/> with unpacked weights w [m, C, KH, KW] (stride 1).</summary>
    public static void ForwardReference(int n, int m, ReadOnlySpan<float> w, ReadOnlySpan<float> x, in ConvGeometry g,
        ReadOnlySpan<float> bias, Span<float> y, bool accumulate)
    {
        int oh = g.OH, ow = g.OW;
        for (int i = 0; i < n; i++)
            for (int f = 0; f < m; f++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        float s = bias.Length != 0 ? bias[f] : 0f;
                        for (int c = 0; c < g.C; c++)
                            for (int ki = 0; ki < g.KH; ki++)
                                for (int kj = 0; kj < g.KW; kj++)
                                {
                                    int iy = oy - g.PH + ki, ix = ox - g.PW + kj;
                                    if ((uint)iy < (uint)g.H && (uint)ix < (uint)g.W)
                                        s += w[((f * g.C + c) * g.KH + ki) * g.KW + kj] * x[((i * g.C + c) * g.H + iy) * g.W + ix];
                                }
                        long o = ((long)(i * m + f) * oh + oy) * ow + ox;
                        y[(int)o] = accumulate ? y[(int)o] + s : s;
                    }
    }

    /// <summary>Scalar twin of <see cref="WeightGrad"/>.</summary>
    public static void WeightGradReference(int n, int m, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, in ConvGeometry g, Span<float> dw)
    {
        int oh = g.OH, ow = g.OW;
        for (int f = 0; f < m; f++)
            for (int c = 0; c < g.C; c++)
                for (int ki = 0; ki < g.KH; ki++)
                    for (int kj = 0; kj < g.KW; kj++)
                    {
                        double s = 0;
                        for (int i = 0; i < n; i++)
                            for (int oy = 0; oy < oh; oy++)
                                for (int ox = 0; ox < ow; ox++)
                                {
                                    int iy = oy - g.PH + ki, ix = ox - g.PW + kj;
                                    if ((uint)iy < (uint)g.H && (uint)ix < (uint)g.W)
                                        s += (double)dy[((i * m + f) * oh + oy) * ow + ox] * x[((i * g.C + c) * g.H + iy) * g.W + ix];
                                }
                        dw[((f * g.C + c) * g.KH + ki) * g.KW + kj] += (float)s;
                    }
    }
}
