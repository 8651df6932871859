using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sprout.Kernels;

/// <summary>
/// 3×3 stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin and Gray, 2016) on AVX-512: each 2×2
/// block of outputs ("tile") costs 16 multiplies per (input, output) channel pair instead of 36.
/// <code>
///   V = Bᵀ d B   (d: the tile's 4×4 input window)      Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
///   U = G g Gᵀ   (g: the 3×3 kernel)                   G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
///   Y = Aᵀ [Σ_c U_c ⊙ V_c] A                          Aᵀ = [1 1 1 0; 0 1 −1 −1]
/// </code>
/// Sixteen tiles sit in the sixteen lanes of a vector (one tile row of a 32-wide output, or two tile rows of a 16-wide
/// one). Per image and block of 64 tiles: the input transform writes V [16 positions, C, 64 tiles] (the 4×4 windows are
/// deinterleaved from a zero-padded copy of the image with two-source permutes); the sixteen products
/// M[p] [F, 64] = U[p] [F, C] · V[p] [C, 64] run on the GEMM's Vector512 micro-kernels, one output-channel tile (≤ 6
/// channels) at a time so M stays in L1; the output transform adds the bias and interleaves the 2×2 results back into
/// the output rows. Each output is the same sum for any thread count. <see cref="ForwardReference"/> is the scalar twin
/// (the same transforms and summation order).
/// </summary>
public static unsafe class Winograd
{
    private const int Lanes = 16;
    private const int BlockVectors = 4;
    private const int BlockTiles = Lanes * BlockVectors;
    private const int Positions = 16;

    [ThreadStatic] private static float[]? _xp;
    [ThreadStatic] private static float[]? _v;
    [ThreadStatic] private static float[]? _m;
    [ThreadStatic] private static float[]? _s;
    [ThreadStatic] private static float[]? _dyT;

    /// <summary>Fewest input (and output) channels for which the transforms pay for themselves (a tuning knob).</summary>
    public static int MinChannels { get; set; } = 8;

    /// <summary>
    /// Whether <paramref name="g"/> with <paramref name="outChannels"/> outputs runs here: a 3×3 kernel, stride 1, at
    /// least <see cref="MinChannels"/> input and output channels, AVX-512 in use, an even output size, and output rows of 16·k or 8 tiles (with an even number of tile
    /// rows), so that every vector holds 16 whole tiles.
    /// </summary>
    public static bool Applies(in ConvGeometry g, int outChannels)
    {
        if (g.KH != 3 || g.KW != 3 || g.SH != 1 || g.SW != 1 || g.C < MinChannels || outChannels < MinChannels) return false;
        if (Gemm.Kernel != Gemm.KernelKind.Vector512 || !Avx512F.IsSupported) return false;
        int oh = g.OH, ow = g.OW;
        if (oh <= 0 || ow <= 0 || oh % 2 != 0 || ow % 2 != 0) return false;
        int tilesPerRow = ow / 2, tileRows = oh / 2;
        return tilesPerRow % Lanes == 0 || (tilesPerRow == Lanes / 2 && tileRows % 2 == 0);
    }

    /// <summary>U [16, m, c] with U[4a + b, o, ci] = (G·w[o, ci]·Gᵀ)[a, b] for weights w [m, c, 3, 3].</summary>
    public static float[] TransformWeights(ReadOnlySpan<float> w, int m, int c)
    {
        var u = new float[Positions * m * c];
        TransformWeights(w, m, c, u);
        return u;
    }

    /// <summary>The weight transform into <paramref name="u"/> (at least 16·m·c floats), e.g. a reused buffer.</summary>
    public static void TransformWeights(ReadOnlySpan<float> w, int m, int c, Span<float> u)
    {
        if (w.Length < m * c * 9 || u.Length < Positions * m * c) throw new ArgumentException("Winograd.TransformWeights: operand too short");
        Span<float> t = stackalloc float[12];
        for (int o = 0; o < m; o++)
            for (int ci = 0; ci < c; ci++)
            {
                var g = w.Slice((o * c + ci) * 9, 9);
                // t [4, 3] = G · g
                for (int j = 0; j < 3; j++)
                {
                    t[j] = g[j];
                    t[3 + j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                    t[6 + j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                    t[9 + j] = g[6 + j];
                }
                // (t · Gᵀ) [4, 4]
                for (int a = 0; a < 4; a++)
                {
                    float r0 = t[3 * a], r1 = t[3 * a + 1], r2 = t[3 * a + 2];
                    int at = a * 4 * m * c + o * c + ci, step = m * c;
                    u[at] = r0;
                    u[at + step] = 0.5f * (r0 + r1 + r2);
                    u[at + 2 * step] = 0.5f * (r0 - r1 + r2);
                    u[at + 3 * step] = r2;
                }
            }
    }

    /// <summary>
    /// y [n, m, OH, OW] (+)= conv3×3(x [n, C, H, W]) (+ bias) for a geometry where <see cref="Applies"/>(g, m) holds, with
    /// weights transformed by <see cref="TransformWeights(ReadOnlySpan{float}, int, int)"/>. <paramref name="bias"/> is empty or [m].
    /// </summary>
    public static void Forward(int n, int m, ReadOnlySpan<float> u, ReadOnlySpan<float> x, in ConvGeometry g,
        ReadOnlySpan<float> bias, Span<float> y, bool accumulate)
    {
        if (!Applies(g, m)) throw new ArgumentException("Winograd: geometry not supported");
        int c = g.C, hw = g.H * g.W, ow = g.OW, ohw = g.OH * ow;
        if (u.Length < Positions * m * c || x.Length < (long)n * c * hw || y.Length < (long)n * m * ohw || (bias.Length != 0 && bias.Length < m))
            throw new ArgumentException("Winograd.Forward: operand too short");
        var (wp, plane, tilesPerRow, tilesPerImage, inHi, outHi) = Tiling.Of(g);
        var xpBuf = DirectConv.Scratch(ref _xp, (long)c * plane);
        var vBuf = DirectConv.Scratch(ref _v, Positions * PositionStride(c));
        var mBuf = DirectConv.Scratch(ref _m, (long)Positions * Gemm.MR * BlockTiles);
        Span<float> biasPad = m <= 1024 ? stackalloc float[m] : new float[m];
        biasPad.Clear();
        if (!bias.IsEmpty) bias[..m].CopyTo(biasPad);
        int rowTiles = (m + Gemm.MR - 1) / Gemm.MR;
        fixed (float* pu = u) fixed (float* px = x) fixed (float* py = y) fixed (float* pb = biasPad)
        fixed (float* xp = xpBuf) fixed (float* v = vBuf) fixed (float* mt = mBuf)
        {
            // the padding border stays zero: only the interior is rewritten per image
            new Span<float>(xp, c * plane).Clear();
            // the next image is prefetched (to L2) a slice per product call while this one computes
            int calls = (tilesPerImage + BlockTiles - 1) / BlockTiles * rowTiles * Positions;
            long lines = (long)c * hw / 16;
            for (int i = 0; i < n; i++)
            {
                PadImage(px + (long)i * c * hw, g, xp, plane, wp);
                float* yi = py + (long)i * m * ohw;
                float* next = px + (long)(i + 1) * c * hw;
                long nextLines = i + 1 < n ? lines : 0;
                int call = 0;
                for (int t0 = 0; t0 < tilesPerImage; t0 += BlockTiles)
                {
                    int nv = Math.Min(BlockVectors, (tilesPerImage - t0) / Lanes);
                    InputTransform(xp, c, plane, wp, tilesPerRow, inHi, t0, nv, v, BlockTiles, PositionStride(c));
                    for (int rt = 0, o = 0, rows; rt < rowTiles; rt++, o += rows)
                    {
                        // near-equal output-channel tiles (16 → 6, 5, 5)
                        rows = m / rowTiles + (rt < m % rowTiles ? 1 : 0);
                        for (int p = 0; p < Positions; p++, call++)
                        {
                            DirectConv.Prefetch(next, nextLines, call, calls);
                            Gemm.Kernel512(rows, nv, c, pu + ((long)p * m + o) * c, c, 1, v + p * PositionStride(c), BlockTiles,
                                mt + p * Gemm.MR * BlockTiles, BlockTiles, false);
                        }
                        OutputTransform(mt, rows, nv, pb + o, yi + (long)o * ohw, ohw, ow, tilesPerRow, outHi, t0, accumulate);
                    }
                }
            }
        }
    }

    // How an image's 2×2 output tiles map onto the padded input copy xp [C, Hp, Wp] (channel stride Plane: Hp·Wp plus
    // slack, since the permute loads read up to 2 floats past a row) and onto vectors of 16 tiles. InHi / OutHi: where
    // lanes 8..15 find their inputs / put their outputs relative to lanes 0..7 — 16 columns on (a multiple of) a
    // 16-tile row, or two padded input rows (two output rows) down when a row holds 8 tiles.
    private readonly record struct Tiling(int Wp, int Plane, int TilesPerRow, int TilesPerImage, int InHi, int OutHi)
    {
        public static Tiling Of(in ConvGeometry g)
        {
            int hp = g.H + 2 * g.PH, wp = g.W + 2 * g.PW, tilesPerRow = g.OW / 2;
            bool halfRow = tilesPerRow == Lanes / 2;
            return new Tiling(wp, (hp * wp + 2 * Lanes + 15) & ~15, tilesPerRow, g.OH / 2 * tilesPerRow,
                halfRow ? 2 * wp : Lanes, halfRow ? 2 * g.OW : Lanes);
        }
    }

    // Floats between positions in v [16][C][64]: a cache line more than C·64, so the sixteen stores of a tile vector do
    // not all land in one L1 set (a stride of 4 or 8 KiB would).
    private static long PositionStride(int c) => (long)c * BlockTiles + Lanes;

    // The interior of xp [C, Hp, Wp] (channel stride `plane`) = x [C, H, W]; the border was zeroed once.
    private static void PadImage(float* x, in ConvGeometry g, float* xp, int plane, int wp)
    {
        int hw = g.H * g.W;
        for (int ci = 0; ci < g.C; ci++)
        {
            float* src = x + (long)ci * hw;
            float* dst = xp + (long)ci * plane + g.PH * wp + g.PW;
            for (int r = 0; r < g.H; r++)
                new ReadOnlySpan<float>(src + (long)r * g.W, g.W).CopyTo(new Span<float>(dst + (long)r * wp, g.W));
        }
    }

    private static readonly Vector512<int> Even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> Odd = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    private static readonly Vector512<int> InterleaveLo = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static readonly Vector512<int> InterleaveHi = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

    // v [16 positions (stride ps)][C (stride ldv)][tiles] for tiles t0 … t0 + 16·nv of the image (written from v[0]):
    // V = Bᵀ d B per tile and channel.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputTransform(float* xp, int c, int plane, int wp, int tilesPerRow, int inHi, int t0, int nv, float* v, int ldv, long ps)
    {
        var even = Even;
        var odd = Odd;
        for (int vi = 0; vi < nv; vi++)
        {
            int t = t0 + vi * Lanes, tr = t / tilesPerRow, tc = t % tilesPerRow;
            long at = 2L * tr * wp + 2 * tc;
            for (int ci = 0; ci < c; ci++)
            {
                float* a = xp + (long)ci * plane + at;
                // rows of d times B: r_i = (d_i0 − d_i2, d_i1 + d_i2, d_i2 − d_i1, d_i1 − d_i3)
                RowB(a, inHi, even, odd, out var r00, out var r01, out var r02, out var r03);
                RowB(a + wp, inHi, even, odd, out var r10, out var r11, out var r12, out var r13);
                RowB(a + 2 * wp, inHi, even, odd, out var r20, out var r21, out var r22, out var r23);
                RowB(a + 3 * wp, inHi, even, odd, out var r30, out var r31, out var r32, out var r33);
                // Bᵀ times those rows
                float* o = v + (long)ci * ldv + vi * Lanes;
                Vector512.Store(r00 - r20, o); Vector512.Store(r01 - r21, o + ps);
                Vector512.Store(r02 - r22, o + 2 * ps); Vector512.Store(r03 - r23, o + 3 * ps);
                Vector512.Store(r10 + r20, o + 4 * ps); Vector512.Store(r11 + r21, o + 5 * ps);
                Vector512.Store(r12 + r22, o + 6 * ps); Vector512.Store(r13 + r23, o + 7 * ps);
                Vector512.Store(r20 - r10, o + 8 * ps); Vector512.Store(r21 - r11, o + 9 * ps);
                Vector512.Store(r22 - r12, o + 10 * ps); Vector512.Store(r23 - r13, o + 11 * ps);
                Vector512.Store(r10 - r30, o + 12 * ps); Vector512.Store(r11 - r31, o + 13 * ps);
                Vector512.Store(r12 - r32, o + 14 * ps); Vector512.Store(r13 - r33, o + 15 * ps);
            }
        }
    }

    // One input row of 16 tiles: lane l's window starts at a[2l] (lanes 8..15 at a[inHi + 2(l − 8)] when inHi ≠ 16);
    // d_j = a[2l + j] comes from the even/odd lanes of two loads, and the row is multiplied by B.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowB(float* a, int inHi, Vector512<int> even, Vector512<int> odd,
        out Vector512<float> s0, out Vector512<float> s1, out Vector512<float> s2, out Vector512<float> s3)
    {
        var l0 = Vector512.Load(a);
        var l1 = Vector512.Load(a + inHi);
        var l2 = Vector512.Load(a + 2);
        var l3 = Vector512.Load(a + inHi + 2);
        var d0 = Avx512F.PermuteVar16x32x2(l0, even, l1);
        var d1 = Avx512F.PermuteVar16x32x2(l0, odd, l1);
        var d2 = Avx512F.PermuteVar16x32x2(l2, even, l3);
        var d3 = Avx512F.PermuteVar16x32x2(l2, odd, l3);
        s0 = d0 - d2;
        s1 = d1 + d2;
        s2 = d2 - d1;
        s3 = d1 - d3;
    }

    // Y = Aᵀ M A (+ bias) for `rows` output channels and the block's 16·nv tiles; M [16 positions][MR][64 tiles].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OutputTransform(float* mt, int rows, int nv, float* bias, float* y, int ohw, int ow, int tilesPerRow,
        int outHi, int t0, bool acc)
    {
        var lo = InterleaveLo;
        var hi = InterleaveHi;
        const int ps = Gemm.MR * BlockTiles;
        for (int r = 0; r < rows; r++)
        {
            var b = Vector512.Create(bias[r]);
            for (int vi = 0; vi < nv; vi++)
            {
                float* m = mt + r * BlockTiles + vi * Lanes;
                // each row of M times A: (m0 + m1 + m2, m1 − m2 − m3)
                ColA(m, ps, out var a00, out var a01);
                ColA(m + 4 * ps, ps, out var a10, out var a11);
                ColA(m + 8 * ps, ps, out var a20, out var a21);
                ColA(m + 12 * ps, ps, out var a30, out var a31);
                // Aᵀ times those
                var y00 = a00 + a10 + a20 + b;
                var y01 = a01 + a11 + a21 + b;
                var y10 = a10 - a20 - a30 + b;
                var y11 = a11 - a21 - a31 + b;
                int t = t0 + vi * Lanes, tr = t / tilesPerRow, tc = t % tilesPerRow;
                float* dst = y + (long)r * ohw + 2L * tr * ow + 2 * tc;
                Gemm.Put(dst, Lanes, acc, Avx512F.PermuteVar16x32x2(y00, lo, y01));
                Gemm.Put(dst + outHi, Lanes, acc, Avx512F.PermuteVar16x32x2(y00, hi, y01));
                Gemm.Put(dst + ow, Lanes, acc, Avx512F.PermuteVar16x32x2(y10, lo, y11));
                Gemm.Put(dst + ow + outHi, Lanes, acc, Avx512F.PermuteVar16x32x2(y10, hi, y11));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ColA(float* m, int ps, out Vector512<float> s0, out Vector512<float> s1)
    {
        var m0 = Vector512.Load(m);
        var m1 = Vector512.Load(m + ps);
        var m2 = Vector512.Load(m + 2 * ps);
        var m3 = Vector512.Load(m + 3 * ps);
        s0 = m0 + m1 + m2;
        s1 = m1 - m2 - m3;
    }

    /// <summary>Whether <see cref="WeightGrad"/> runs for this geometry and <paramref name="outChannels"/>: as
    /// <see cref="Applies"/>, with a multiple of 16 output channels.</summary>
    public static bool AppliesToWeightGrad(in ConvGeometry g, int outChannels) => Applies(g, outChannels) && outChannels % Lanes == 0;

    /// <summary>
    /// dw [m, C, 3, 3] += ∂L/∂w for y = conv3×3(x) and dy = ∂L/∂y [n, m, OH, OW], by the transposed algorithm: the
    /// gradient of U is Σ over tiles of (A·δ·Aᵀ) ⊙ V (δ: a tile's 2×2 output gradient, V: the forward's input transform),
    /// and dw = Gᵀ·∂U·G. Per chunk of whole images (≥ 128 tiles): V [16][C][T] as in the forward pass; dy is transposed to
    /// [pixel, m] with 8×8 register transposes so that Δ = A·δ·Aᵀ comes out as Δ [16][T][m], output channels in lanes;
    /// then the sums over tiles, Sᵀ[p] [C, m] += V[p] [C, T]·Δ[p] [T, m], run on the GEMM's Vector512 micro-kernels
    /// with the tiles as the reduction (accumulators stay in registers along T). Needs <see cref="AppliesToWeightGrad"/>.
    /// </summary>
    public static void WeightGrad(int n, int m, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, in ConvGeometry g, Span<float> dw)
    {
        if (!AppliesToWeightGrad(g, m)) throw new ArgumentException("Winograd: geometry not supported");
        int c = g.C, hw = g.H * g.W, ow = g.OW, ohw = g.OH * ow;
        if (dy.Length < (long)n * m * ohw || x.Length < (long)n * c * hw || dw.Length < m * c * 9)
            throw new ArgumentException("Winograd.WeightGrad: operand too short");
        var (wp, plane, tilesPerRow, tilesPerImage, inHi, _) = Tiling.Of(g);
        int images = Math.Max(1, Math.Min(n, (GradChunkTiles + tilesPerImage - 1) / tilesPerImage));
        int t = images * tilesPerImage, ld = t + Lanes; // V's channel stride, off a multiple of 4 KiB
        long psV = (long)c * ld + Lanes, psD = (long)t * m + Lanes;
        var xpBuf = DirectConv.Scratch(ref _xp, (long)c * plane);
        var vBuf = DirectConv.Scratch(ref _v, Positions * psV);
        var dBuf = DirectConv.Scratch(ref _m, Positions * psD);
        var sBuf = DirectConv.Scratch(ref _s, Positions * m * c);
        var tBuf = DirectConv.Scratch(ref _dyT, (long)ohw * m);
        Span<float> r = stackalloc float[12];
        int rowTiles = (c + Gemm.MR - 1) / Gemm.MR, nv = m / Lanes;
        fixed (float* px = x) fixed (float* pdy = dy) fixed (float* xp = xpBuf) fixed (float* v = vBuf) fixed (float* d = dBuf)
        fixed (float* s = sBuf) fixed (float* pdw = dw) fixed (float* dyT = tBuf)
        {
            new Span<float>(xp, c * plane).Clear();
            new Span<float>(s, Positions * m * c).Clear();
            for (int i0 = 0; i0 < n; i0 += images)
            {
                int cnt = Math.Min(images, n - i0), tiles = cnt * tilesPerImage;
                for (int j = 0; j < cnt; j++)
                {
                    PadImage(px + (long)(i0 + j) * c * hw, g, xp, plane, wp);
                    InputTransform(xp, c, plane, wp, tilesPerRow, inHi, 0, tilesPerImage / Lanes, v + j * tilesPerImage, ld, psV);
                    // dyT [ohw, m] = dy [m, ohw]ᵀ of this image
                    float* dyi = pdy + (long)(i0 + j) * m * ohw;
                    for (int o = 0; o < m; o += 8)
                        for (int q = 0; q + 8 <= ohw; q += 8) Gemm.Transpose8x8(dyi + (long)o * ohw + q, ohw, dyT + (long)q * m + o, m);
                    DyTransform(dyT, m, ow, g.OH / 2, tilesPerRow, d + (long)j * tilesPerImage * m, psD);
                }
                // the next chunk's images and output gradients stream in (to L2) while the products run
                int nextCnt = Math.Min(images, n - i0 - cnt);
                long xLines = (long)nextCnt * c * hw / 16, dyLines = (long)nextCnt * m * ohw / 16;
                float* nextX = px + (long)(i0 + cnt) * c * hw, nextDy = pdy + (long)(i0 + cnt) * m * ohw;
                for (int p = 0; p < Positions; p++)
                    for (int rt = 0, ci = 0, rows; rt < rowTiles; rt++, ci += rows)
                    {
                        DirectConv.Prefetch(nextX, xLines, p * rowTiles + rt, Positions * rowTiles);
                        DirectConv.Prefetch(nextDy, dyLines, p * rowTiles + rt, Positions * rowTiles);
                        rows = c / rowTiles + (rt < c % rowTiles ? 1 : 0);
                        Gemm.Kernel512(rows, nv, tiles, v + p * psV + (long)ci * ld, ld, 1, d + p * psD, m, s + ((long)p * c + ci) * m, m, true);
                    }
            }
            // dw[o, ci] += Gᵀ S G with S[p] = Sᵀ[p][ci][o]: rows then columns of the 4×4 reduced to 3
            long step = (long)m * c;
            for (int o = 0; o < m; o++)
                for (int ci = 0; ci < c; ci++)
                {
                    float* sp = s + ci * m + o;
                    float* dst = pdw + (o * c + ci) * 9;
                    for (int b = 0; b < 4; b++)
                    {
                        float s0 = sp[b * step], s1 = sp[(4 + b) * step], s2 = sp[(8 + b) * step], s3 = sp[(12 + b) * step];
                        r[b] = s0 + 0.5f * (s1 + s2);
                        r[4 + b] = 0.5f * (s1 - s2);
                        r[8 + b] = 0.5f * (s1 + s2) + s3;
                    }
                    for (int k = 0; k < 3; k++)
                    {
                        float q0 = r[4 * k], q1 = r[4 * k + 1], q2 = r[4 * k + 2], q3 = r[4 * k + 3];
                        dst[3 * k] += q0 + 0.5f * (q1 + q2);
                        dst[3 * k + 1] += 0.5f * (q1 - q2);
                        dst[3 * k + 2] += 0.5f * (q1 + q2) + q3;
                    }
                }
        }
    }

    /// <summary>Tiles per chunk of the weight gradient (whole images; a tuning knob).</summary>
    internal const int GradChunkTiles = 128;

    // delta [16 positions (stride ps)][tiles][m] = A·δ·Aᵀ for each 2×2 tile δ of one image's dyT [OH·OW, m], 16 output
    // channels per vector; tiles in the forward's order (tile row by tile row).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DyTransform(float* dyT, int m, int ow, int tileRows, int tilesPerRow, float* delta, long ps)
    {
        for (int ty = 0; ty < tileRows; ty++)
            for (int tx = 0; tx < tilesPerRow; tx++)
            {
                float* p00 = dyT + ((long)2 * ty * ow + 2 * tx) * m;
                float* p10 = p00 + (long)ow * m;
                float* q = delta + (long)(ty * tilesPerRow + tx) * m;
                for (int o = 0; o < m; o += Lanes)
                {
                    var d00 = Vector512.Load(p00 + o);
                    var d01 = Vector512.Load(p00 + m + o);
                    var d10 = Vector512.Load(p10 + o);
                    var d11 = Vector512.Load(p10 + m + o);
                    // A·δ: rows (δ0, δ0 + δ1, δ0 − δ1, −δ1), per column; then the same on the columns of each row
                    Row(q + o, ps, d00, d01);
                    Row(q + o + 4 * ps, ps, d00 + d10, d01 + d11);
                    Row(q + o + 8 * ps, ps, d00 - d10, d01 - d11);
                    Row(q + o + 12 * ps, ps, -d10, -d11);
                }
            }

        static void Row(float* q, long ps, Vector512<float> e0, Vector512<float> e1)
        {
            Vector512.Store(e0, q);
            Vector512.Store(e0 + e1, q + ps);
            Vector512.Store(e0 - e1, q + 2 * ps);
            Vector512.Store(-e1, q + 3 * ps);
        }
    }

    /// <summary>
    /// Scalar reference of <see cref="WeightGrad"/>: the same transforms (Bᵀ d B, A δ Aᵀ, Gᵀ S G) one tile and channel
    /// pair at a time, with the sums over tiles in double precision.
    /// </summary>
    public static void WeightGradReference(int n, int m, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, in ConvGeometry g, Span<float> dw)
    {
        int c = g.C, oh = g.OH, ow = g.OW, ohw = oh * ow;
        var s = new double[Positions * m * c];
        Span<float> vt = stackalloc float[16];
        Span<float> e = stackalloc float[8];
        Span<float> dl = stackalloc float[16];
        Span<double> rr = stackalloc double[12];
        for (int i = 0; i < n; i++)
            for (int ty = 0; ty < oh / 2; ty++)
                for (int tx = 0; tx < ow / 2; tx++)
                    for (int ci = 0; ci < c; ci++)
                    {
                        InputTile(x, g, i, ci, ty, tx, vt);
                        for (int o = 0; o < m; o++)
                        {
                            int at = (i * m + o) * ohw + 2 * ty * ow + 2 * tx;
                            float q00 = dy[at], q01 = dy[at + 1], q10 = dy[at + ow], q11 = dy[at + ow + 1];
                            e[0] = q00; e[1] = q01; e[2] = q00 + q10; e[3] = q01 + q11;
                            e[4] = q00 - q10; e[5] = q01 - q11; e[6] = -q10; e[7] = -q11;
                            for (int a = 0; a < 4; a++)
                            {
                                float e0 = e[2 * a], e1 = e[2 * a + 1];
                                dl[4 * a] = e0; dl[4 * a + 1] = e0 + e1; dl[4 * a + 2] = e0 - e1; dl[4 * a + 3] = -e1;
                            }
                            for (int p = 0; p < Positions; p++) s[(p * m + o) * c + ci] += (double)dl[p] * vt[p];
                        }
                    }
        for (int o = 0; o < m; o++)
            for (int ci = 0; ci < c; ci++)
            {
                for (int b = 0; b < 4; b++)
                {
                    double s0 = s[(b * m + o) * c + ci], s1 = s[((4 + b) * m + o) * c + ci];
                    double s2 = s[((8 + b) * m + o) * c + ci], s3 = s[((12 + b) * m + o) * c + ci];
                    rr[b] = s0 + 0.5 * (s1 + s2);
                    rr[4 + b] = 0.5 * (s1 - s2);
                    rr[8 + b] = 0.5 * (s1 + s2) + s3;
                }
                for (int k = 0; k < 3; k++)
                {
                    double q0 = rr[4 * k], q1 = rr[4 * k + 1], q2 = rr[4 * k + 2], q3 = rr[4 * k + 3];
                    int at = (o * c + ci) * 9 + 3 * k;
                    dw[at] += (float)(q0 + 0.5 * (q1 + q2));
                    dw[at + 1] += (float)(0.5 * (q1 - q2));
                    dw[at + 2] += (float)(0.5 * (q1 + q2) + q3);
                }
            }
    }

    // Scalar input transform of one tile: v [16] = Bᵀ d B for the 4×4 window of image i, channel ci at tile (ty, tx)
    // (zero outside the image), with the vector path's order of additions.
    private static void InputTile(ReadOnlySpan<float> x, in ConvGeometry g, int i, int ci, int ty, int tx, Span<float> v)
    {
        Span<float> r = stackalloc float[16];
        Span<float> d = stackalloc float[4];
        for (int a = 0; a < 4; a++)
        {
            for (int b = 0; b < 4; b++)
            {
                int yy = 2 * ty + a - g.PH, xx = 2 * tx + b - g.PW;
                d[b] = yy >= 0 && yy < g.H && xx >= 0 && xx < g.W ? x[((i * g.C + ci) * g.H + yy) * g.W + xx] : 0f;
            }
            r[4 * a] = d[0] - d[2]; r[4 * a + 1] = d[1] + d[2]; r[4 * a + 2] = d[2] - d[1]; r[4 * a + 3] = d[1] - d[3];
        }
        for (int j = 0; j < 4; j++)
        {
            v[j] = r[j] - r[8 + j];
            v[4 + j] = r[4 + j] + r[8 + j];
            v[8 + j] = r[8 + j] - r[4 + j];
            v[12 + j] = r[4 + j] - r[12 + j];
        }
    }

    /// <summary>
    /// Scalar twin of <see cref="Forward"/>: the same input, weight-product and output transforms with the same order of
    /// additions (channels summed in order with fused multiply-adds), one tile and channel at a time.
    /// </summary>
    public static void ForwardReference(int n, int m, ReadOnlySpan<float> u, ReadOnlySpan<float> x, in ConvGeometry g,
        ReadOnlySpan<float> bias, Span<float> y, bool accumulate)
    {
        int c = g.C, oh = g.OH, ow = g.OW, ohw = oh * ow;
        Span<float> vv = stackalloc float[16];
        Span<float> mm = stackalloc float[16];
        Span<float> a0 = stackalloc float[4], a1 = stackalloc float[4];
        var vt = new float[Positions * c];
        for (int i = 0; i < n; i++)
            for (int ty = 0; ty < oh / 2; ty++)
                for (int tx = 0; tx < ow / 2; tx++)
                {
                    for (int ci = 0; ci < c; ci++)
                    {
                        InputTile(x, g, i, ci, ty, tx, vv);
                        for (int p = 0; p < Positions; p++) vt[p * c + ci] = vv[p];
                    }
                    for (int o = 0; o < m; o++)
                    {
                        for (int p = 0; p < Positions; p++)
                        {
                            float s = 0f;
                            for (int ci = 0; ci < c; ci++) s = MathF.FusedMultiplyAdd(u[(p * m + o) * c + ci], vt[p * c + ci], s);
                            mm[p] = s;
                        }
                        for (int a = 0; a < 4; a++)
                        {
                            a0[a] = mm[4 * a] + mm[4 * a + 1] + mm[4 * a + 2];
                            a1[a] = mm[4 * a + 1] - mm[4 * a + 2] - mm[4 * a + 3];
                        }
                        float bo = bias.IsEmpty ? 0f : bias[o];
                        float y00 = a0[0] + a0[1] + a0[2] + bo, y01 = a1[0] + a1[1] + a1[2] + bo;
                        float y10 = a0[1] - a0[2] - a0[3] + bo, y11 = a1[1] - a1[2] - a1[3] + bo;
                        int at = (i * m + o) * ohw + 2 * ty * ow + 2 * tx;
                        Set(y, at, y00, accumulate); Set(y, at + 1, y01, accumulate);
                        Set(y, at + ow, y10, accumulate); Set(y, at + ow + 1, y11, accumulate);
                    }
                }

        static void Set(Span<float> y, int at, float v, bool acc) => y[at] = acc ? y[at] + v : v;
    }

}
