using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sprout.Kernels;

/// <summary>
/// Single-precision matrix multiply C[m,n] (+)= op(A)[m,k] · op(B)[k,n], op = identity or transpose.
/// Goto/BLIS structure: B is packed into KC×NR micro-panels, A into MR×KC micro-panels, and a register-blocked
/// micro-kernel (Vector512 6×64, Vector256 6×16, or the scalar twin) computes each MR×NR tile.
/// With several threads the output is split into fixed column (or row) ranges; the K summation order never
/// depends on the thread count, so results are bit-identical for any number of threads.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>Rows of a micro-tile.</summary>
    public const int MR = 6;

    /// <summary>Depth of a packed block.</summary>
    internal const int KC = 256;

    /// <summary>Depth of a block when C is written transposed (strided).</summary>
    internal const int KCDeep = 1024;

    /// <summary>Rows of A packed at once.</summary>
    internal const int MC = 240;

    /// <summary>Columns of B packed at once.</summary>
    internal const int NC = 3072;

    /// <summary>Which micro-kernel is in use.</summary>
    public enum KernelKind
    {
        /// <summary>Portable scalar loops (the reference twin).</summary>
        Scalar,
        /// <summary>AVX2-class Vector256, 6×16 tile.</summary>
        Vector256,
        /// <summary>AVX-512 Vector512, 6×64 tile.</summary>
        Vector512,
    }

    /// <summary>The fastest kernel this CPU supports.</summary>
    public static KernelKind Best { get; } =
        Vector512.IsHardwareAccelerated ? KernelKind.Vector512 :
        Vector256.IsHardwareAccelerated ? KernelKind.Vector256 : KernelKind.Scalar;

    /// <summary>Kernel used by <see cref="Multiply"/>; tests switch it to compare kernels.</summary>
    public static KernelKind Kernel { get; set; } = Best;

    /// <summary>Columns of a micro-tile for a kernel kind.</summary>
    public static int NrOf(KernelKind k) => k == KernelKind.Vector512 ? 64 : 16;

    /// <summary>
    /// Minimum multiply-adds before the work is split across threads. Waking a sleeping worker costs ~10 µs on the
    /// reference VM: at 1 Mi, 784-30-30-30-10 b64 (its 64×30×784 products split) took 0.107 s/epoch on two threads
    /// against 0.071 on one; at 2 Mi 0.064, with no other MLP case slower.
    /// </summary>
    public static long ParallelThreshold { get; set; } = 1L << 21;

    [ThreadStatic] private static float[]? _packB;

    /// <summary>
    /// C = op(A)·op(B) (or C += when <paramref name="accumulate"/>). Row-major storage with leading dimensions:
    /// A is [m,k] (lda ≥ k), or [k,m] when <paramref name="transA"/> (lda ≥ m); B is [k,n] (ldb ≥ n), or [n,k]
    /// when <paramref name="transB"/>; C is [m,n] with ldc ≥ n.
    /// </summary>
    public static void Multiply(int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transA,
        ReadOnlySpan<float> b, int ldb, bool transB,
        Span<float> c, int ldc, bool accumulate)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "negative dimension");
        if (m == 0 || n == 0) return;
        CheckOperand(a.Length, transA ? k : m, transA ? m : k, lda, "A");
        CheckOperand(b.Length, transB ? n : k, transB ? k : n, ldb, "B");
        CheckOperand(c.Length, m, n, ldc, "C");
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            int rsA = transA ? 1 : lda, csA = transA ? lda : 1;
            int rsB = transB ? 1 : ldb, csB = transB ? ldb : 1;
            Dispatch(m, n, k, pa, rsA, csA, pb, rsB, csB, pc, ldc, 1, accumulate);
        }
    }

    private static void CheckOperand(int len, int rows, int cols, int ld, string name)
    {
        if (ld < cols) throw new ArgumentException($"{name}: leading dimension {ld} < {cols}");
        if (rows > 0 && cols > 0 && (long)(rows - 1) * ld + cols > len)
            throw new ArgumentException($"{name}: span of {len} too short for {rows}x{cols} with ld {ld}");
    }

    private static void Dispatch(int m, int n, int k, float* a, int rsA, int csA, float* b, int rsB, int csB,
        float* c, int rsC, int csC, bool acc)
    {
        if (k == 0)
        {
            if (!acc)
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) c[i * rsC + j * csC] = 0f;
            return;
        }
        var kind = Kernel;
        if (kind == KernelKind.Vector512 && csA == 1 && rsB == 1 && csC == 1 && GemmDot.Prefer(m, n, k))
        {
            DispatchDot(m, n, k, a, rsA, b, csB, c, rsC, acc);
            return;
        }
        int nr = NrOf(kind);
        // Choose the orientation that wastes less of the micro-tile: C^T = op(B)^T op(A)^T.
        // Choose the orientation (C or Cᵀ = op(B)ᵀ·op(A)ᵀ) by a small cost model, in multiply-add units measured on
        // the reference machine (fitted to six MLP shapes): tile-padded multiply-adds, plus ~5 per element of a B that is transposed while
        // packing, plus ~20 per element of a C that ends up written through strided scalar stores.
        // (Vector512 runs a ragged edge on a kernel of just enough vectors, so its columns pad to 16, not 64.)
        int padN = kind == KernelKind.Vector512 ? 16 : nr;
        long cost = OrientationCost(m, n, k, csB, csC, padN);
        long costT = OrientationCost(n, m, k, rsA, rsC, padN);
        if (costT < cost)
        {
            (m, n) = (n, m);
            float* tmp = a; a = b; b = tmp;
            (rsA, csA, rsB, csB) = (csB, rsB, csA, rsA);
            (rsC, csC) = (csC, rsC);
        }

        int threads = Workers.Threads;
        if (threads > 1 && (long)m * n * k >= ParallelThreshold)
        {
            // Split the larger output dimension into `threads` ranges aligned to the tile size.
            bool splitN = n >= m;
            int unit = splitN ? nr : MR;
            int total = splitN ? n : m;
            int units = (total + unit - 1) / unit;
            int parts = Math.Min(threads, units);
            if (parts > 1)
            {
                nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
                Workers.Run(parts, part =>
                {
                    int u0 = (int)((long)units * part / parts), u1 = (int)((long)units * (part + 1) / parts);
                    int s = u0 * unit, e = Math.Min(total, u1 * unit);
                    if (e <= s) return;
                    float* aa = (float*)pa, bb = (float*)pb, cc = (float*)pc;
                    if (splitN) Blocked(m, e - s, k, aa, rsA, csA, bb + (long)s * csB, rsB, csB, cc + (long)s * csC, rsC, csC, acc, kind);
                    else Blocked(e - s, n, k, aa + (long)s * rsA, rsA, csA, bb, rsB, csB, cc + (long)s * rsC, rsC, csC, acc, kind);
                });
                return;
            }
        }
        Blocked(m, n, k, a, rsA, csA, b, rsB, csB, c, rsC, csC, acc, kind);
    }

    // Both operands contiguous along k: dot-product tiles, no packing. Threads take fixed tile-aligned ranges of the
    // larger output side; each output's summation order is the same for any thread count.
    private static void DispatchDot(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool acc)
    {
        int threads = Workers.Threads;
        bool splitM = m >= n;
        int unit = splitM ? GemmDot.TileM : GemmDot.TileN;
        int total = splitM ? m : n;
        int units = (total + unit - 1) / unit;
        int parts = threads > 1 && (long)m * n * k >= ParallelThreshold ? Math.Min(threads, units) : 1;
        if (parts <= 1)
        {
            GemmDot.Run(0, m, 0, n, k, a, lda, b, ldb, c, ldc, acc);
            return;
        }
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        Workers.Run(parts, part =>
        {
            int s = (int)((long)units * part / parts) * unit, e = Math.Min(total, (int)((long)units * (part + 1) / parts) * unit);
            if (e <= s) return;
            if (splitM) GemmDot.Run(s, e, 0, n, k, (float*)pa, lda, (float*)pb, ldb, (float*)pc, ldc, acc);
            else GemmDot.Run(0, m, s, e, k, (float*)pa, lda, (float*)pb, ldb, (float*)pc, ldc, acc);
        });
    }

    private static long OrientationCost(int m, int n, int k, long csB, long csC, int nr) =>
        Pad(m, MR) * Pad(n, nr) * k + (csB != 1 ? 5L * k * n : 0) + (csC != 1 ? 20L * m * n : 0);

    private static long Pad(int x, int unit) => (x + unit - 1) / unit * (long)unit;

    private static void Blocked(int m, int n, int k, float* a, int rsA, int csA, float* b, int rsB, int csB,
        float* c, int rsC, int csC, bool acc, KernelKind kind)
    {
        int nr = NrOf(kind);
        bool wide = kind == KernelKind.Vector512;
        // A strided C is written through the tile buffer with scalar stores once per K block: use one deep block
        // (the B panel then streams from L2, which the kernel sustains) so that happens once.
        int kcBlock = csC == 1 ? KC : KCDeep;
        int kcMax = Math.Min(k, kcBlock);
        int ncBlock = csC == 1 ? NC : NC / 4; // keeps the packed block near 3 MiB either way
        int ncMax = (int)Math.Min(Pad(n, nr), ncBlock);
        // op(B) already row-major and reused by few row tiles: read it in place instead of packing it.
        // (A stride that is a multiple of 128 floats maps the panel's rows onto few L1 sets: pack those.)
        bool directB = csB == 1 && m <= DirectBMaxRows && rsB % 128 != 0;
        var packB = _packB;
        int need = directB ? nr * kcMax : ncMax * kcMax;
        if (packB is null || packB.Length < need) _packB = packB = GC.AllocateUninitializedArray<float>(Math.Max(need, 64 * KCDeep), pinned: true);

        fixed (float* pB = packB)
        {
            // tile rows MR..7 stay zero, so the tile can be transposed in 8×8 blocks for a transposed C
            float* tile = stackalloc float[8 * 64];
            new Span<float>(tile + MR * 64, (8 - MR) * 64).Clear();
            float* tmp8 = stackalloc float[64];
            for (int jc = 0; jc < n; jc += ncBlock)
            {
                int nc = Math.Min(ncBlock, n - jc);
                for (int pc = 0; pc < k; pc += kcBlock)
                {
                    int kc = Math.Min(kcBlock, k - pc);
                    bool accBlock = acc || pc > 0;
                    float* bBlock = b + (long)pc * rsB + (long)jc * csB;
                    if (!directB) PackB(kc, nc, bBlock, rsB, csB, pB, nr);
                    for (int ic = 0; ic < m; ic += MC)
                    {
                        int mc = Math.Min(MC, m - ic);
                        int rowTiles = (mc + MR - 1) / MR;
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int nrr = Math.Min(nr, nc - jr);
                            float* bp;
                            long ldbp;
                            if (!directB) { bp = pB + (long)jr * kc; ldbp = nr; }
                            else if (nrr == nr || (wide && nrr % 16 == 0)) { bp = bBlock + jr; ldbp = rsB; }
                            else
                            {
                                // the ragged last panel is packed with zero padding so no load leaves op(B)
                                PackB(kc, nrr, bBlock + jr, rsB, csB, pB, nr);
                                bp = pB; ldbp = nr;
                            }
                            for (int t = 0, ir = 0, mrr; t < rowTiles; t++, ir += mrr)
                            {
                                // Vector512: ceil(mc/6) row tiles of near-equal height (20 rows → 5,5,5,5) on kernels of
                                // that height and of ceil(nrr/16) vectors, so a ragged edge costs no padded work.
                                mrr = wide ? mc / rowTiles + (t < mc % rowTiles ? 1 : 0) : Math.Min(MR, mc - ir);
                                float* ap = a + (long)(ic + ir) * rsA + (long)pc * csA;
                                float* cp = c + (long)(ic + ir) * rsC + (long)(jc + jr) * csC;
                                if (wide)
                                {
                                    int nv = (nrr + 15) / 16;
                                    if (csC == 1)
                                    {
                                        // a ragged edge stores its last vector under a lane mask, straight into C
                                        Kernel512(mrr, nv, kc, ap, rsA, csA, bp, ldbp, cp, rsC, accBlock, nrr - 16 * (nv - 1));
                                        continue;
                                    }
                                    Kernel512(mrr, nv, kc, ap, rsA, csA, bp, ldbp, tile, nr, false);
                                }
                                else if (mrr == MR && nrr == nr && csC == 1)
                                {
                                    MicroKernel(kind, kc, ap, rsA, csA, bp, ldbp, cp, rsC, accBlock);
                                    continue;
                                }
                                else if (mrr == MR) MicroKernel(kind, kc, ap, rsA, csA, bp, ldbp, tile, nr, false);
                                else EdgeRows(kind, kc, ap, rsA, csA, mrr, bp, ldbp, tile, nr);
                                if (rsC == 1 && csC != 1 && Avx.IsSupported)
                                {
                                    StoreTransposed(tile, nr, mrr, nrr, cp, csC, accBlock, tmp8);
                                    continue;
                                }
                                for (int i = 0; i < mrr; i++)
                                {
                                    float* crow = cp + (long)i * rsC;
                                    float* trow = tile + i * nr;
                                    if (accBlock) for (int j = 0; j < nrr; j++) crow[j * csC] += trow[j];
                                    else for (int j = 0; j < nrr; j++) crow[j * csC] = trow[j];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    // C(i, j) at c[i + j·ldc] (C written transposed): for each j the tile's column j (mrr ≤ 8 values) is contiguous in C.
    // 8×8 blocks of the tile go through registers and each C row gets one masked 8-wide store (load-add first when
    // accumulating); the last nrr % 8 columns are scalar.
    private static void StoreTransposed(float* tile, int nr, int mrr, int nrr, float* c, long ldc, bool acc, float* tmp8)
    {
        var mask = Vector256.LessThan(Vector256.Create(0f, 1, 2, 3, 4, 5, 6, 7), Vector256.Create((float)mrr));
        int j = 0;
        for (; j + 8 <= nrr; j += 8)
        {
            Transpose8x8(tile + j, nr, tmp8, 8);
            for (int jj = 0; jj < 8; jj++)
            {
                float* dst = c + (j + jj) * ldc;
                var v = Avx.LoadVector256(tmp8 + jj * 8);
                if (acc) v += Avx.MaskLoad(dst, mask);
                Avx.MaskStore(dst, mask, v);
            }
        }
        for (; j < nrr; j++)
        {
            float* dst = c + j * ldc;
            for (int i = 0; i < mrr; i++) dst[i] = acc ? dst[i] + tile[i * nr + j] : tile[i * nr + j];
        }
    }

    /// <summary>Row count up to which a row-major op(B) is read in place rather than packed (a tuning knob).</summary>
    public static int DirectBMaxRows { get; set; } = 128;

    // A tile with fewer than MR valid rows: gather them into a small packed panel (zero rows below) so no row
    // outside A is read.
    private static void EdgeRows(KernelKind kind, int kc, float* a, long rsA, long csA, int rows, float* b, long ldb, float* tile, int nr)
    {
        float* panel = stackalloc float[MR * KCDeep];
        for (int p = 0; p < kc; p++)
            for (int r = 0; r < MR; r++) panel[p * MR + r] = r < rows ? a[r * rsA + p * csA] : 0f;
        MicroKernel(kind, kc, panel, 1, MR, b, ldb, tile, nr, false);
    }

    // Packs op(B)[kc, nc] into micro-panels of nr columns: panel j holds, for each p, nr consecutive values.
    // Columns past nc are zero.
    internal static void PackB(int kc, int nc, float* b, int rsB, int csB, float* dst, int nr)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* d = dst + (long)jr * kc;
            float* src = b + (long)jr * csB;
            if (csB == 1)
            {
                for (int p = 0; p < kc; p++)
                {
                    float* s = src + (long)p * rsB;
                    new ReadOnlySpan<float>(s, cols).CopyTo(new Span<float>(d, cols));
                    if (cols < nr) new Span<float>(d + cols, nr - cols).Clear();
                    d += nr;
                }
            }
            else if (rsB == 1)
            {
                // transposed source: column j of op(B) is contiguous in p; 8x8 blocks go through registers
                int j = 0;
                if (Avx.IsSupported)
                {
                    for (; j + 8 <= cols; j += 8)
                    {
                        int p = 0;
                        for (; p + 8 <= kc; p += 8) Transpose8x8(src + (long)j * csB + p, csB, d + (long)p * nr + j, nr);
                        for (; p < kc; p++)
                            for (int jj = j; jj < j + 8; jj++) d[(long)p * nr + jj] = src[(long)jj * csB + p];
                    }
                }
                for (; j < cols; j++)
                {
                    float* s = src + (long)j * csB;
                    float* dd = d + j;
                    for (int p = 0; p < kc; p++) dd[(long)p * nr] = s[p];
                }
                if (cols < nr)
                    for (int p = 0; p < kc; p++) new Span<float>(d + (long)p * nr + cols, nr - cols).Clear();
            }
            else
            {
                for (int p = 0; p < kc; p++)
                    for (int jj = 0; jj < nr; jj++) d[(long)p * nr + jj] = jj < cols ? src[(long)jj * csB + (long)p * rsB] : 0f;
            }
        }
    }

    // dst[p, j] = src[j, p] for an 8x8 block; src rows have stride lds, dst rows stride ldd.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* src, long lds, float* dst, long ldd)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + lds);
        var r2 = Avx.LoadVector256(src + 2 * lds); var r3 = Avx.LoadVector256(src + 3 * lds);
        var r4 = Avx.LoadVector256(src + 4 * lds); var r5 = Avx.LoadVector256(src + 5 * lds);
        var r6 = Avx.LoadVector256(src + 6 * lds); var r7 = Avx.LoadVector256(src + 7 * lds);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(dst + ldd, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(dst + 2 * ldd, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(dst + 3 * ldd, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(dst + 4 * ldd, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(dst + 5 * ldd, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(dst + 6 * ldd, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(dst + 7 * ldd, Avx.Permute2x128(s3, s7, 0x31));
    }

    internal static void MicroKernel(KernelKind kind, int kc, float* a, long rsA, long csA, float* b, long ldb, float* c, long ldc, bool acc)
    {
        switch (kind)
        {
            case KernelKind.Vector512: Kernel6x64(kc, a, rsA, csA, b, ldb, c, ldc, acc); break;
            case KernelKind.Vector256: Kernel6x16(kc, a, rsA, csA, b, ldb, c, ldc, acc); break;
            default: KernelScalar(kc, a, rsA, csA, b, ldb, c, ldc, acc, NrOf(kind)); break;
        }
    }

    /// <summary>
    /// Scalar twin of the micro-kernels: C[MR, nr] (+)= sum_p A[0..MR), p] ⊗ B[p, 0..nr), where
    /// A(r, p) = a[r·rsA + p·csA] and B(p, j) = b[p·ldb + j].
    /// </summary>
    internal static void KernelScalar(int kc, float* a, long rsA, long csA, float* b, long ldb, float* c, long ldc, bool acc, int nr, int rows = MR)
    {
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < nr; j++)
            {
                float s = 0f;
                for (int p = 0; p < kc; p++) s = MathF.FusedMultiplyAdd(a[i * rsA + p * csA], b[p * ldb + j], s);
                c[i * ldc + j] = acc ? c[i * ldc + j] + s : s;
            }
        }
    }

    // C[6, 64] (+)= A[6, kc] · B[kc, 64]; A(r, p) = a[r·rsA + p·csA]; B rows of 64 with stride ldb.
    internal static void Kernel6x64(int kc, float* a, long rsA, long csA, float* b, long ldb, float* c, long ldc, bool acc) =>
        KernelRV<N6, N4>(kc, a, rsA, csA, b, ldb, c, ldc, acc);

    /// <summary>
    /// C[rows, 16·nv] (+)= A[rows, kc] · B[kc, 16·nv] for rows ≤ 6, nv ≤ 4 on the Vector512 kernel of that shape;
    /// reads only those rows of A and vectors of each B row, and writes only those of C. With
    /// <paramref name="lastLanes"/> &lt; 16 only that many columns of the last vector are read from and written to C
    /// (B must still hold whole vectors).
    /// </summary>
    internal static void Kernel512(int rows, int nv, int kc, float* a, long rsA, long csA, float* b, long ldb, float* c, long ldc, bool acc,
        int lastLanes = 16)
    {
        switch (rows)
        {
            case 6: KernelV<N6>(nv, kc, a, rsA, csA, b, ldb, c, ldc, acc, lastLanes); break;
            case 5: KernelV<N5>(nv, kc, a, rsA, csA, b, ldb, c, ldc, acc, lastLanes); break;
            case 4: KernelV<N4>(nv, kc, a, rsA, csA, b, ldb, c, ldc, acc, lastLanes); break;
            case 3: KernelV<N3>(nv, kc, a, rsA, csA, b, ldb, c, ldc, acc, lastLanes); break;
            case 2: KernelV<N2>(nv, kc, a, rsA, csA, b, ldb, c, ldc, acc, lastLanes); break;
            case 1: KernelV<N1>(nv, kc, a, rsA, csA, b, ldb, c, ldc, acc, lastLanes); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows));
        }
    }

    private static void KernelV<TR>(int nv, int kc, float* a, long rsA, long csA, float* b, long ldb, float* c, long ldc, bool acc, int lastLanes)
        where TR : struct, IConst
    {
        switch (nv)
        {
            case 4: KernelRV<TR, N4>(kc, a, rsA, csA, b, ldb, c, ldc, acc, lastLanes); break;
            case 3: KernelRV<TR, N3>(kc, a, rsA, csA, b, ldb, c, ldc, acc, lastLanes); break;
            case 2: KernelRV<TR, N2>(kc, a, rsA, csA, b, ldb, c, ldc, acc, lastLanes); break;
            case 1: KernelRV<TR, N1>(kc, a, rsA, csA, b, ldb, c, ldc, acc, lastLanes); break;
            default: throw new ArgumentOutOfRangeException(nameof(nv));
        }
    }

    // C[R, 16V] (+)= A[R, kc] · B[kc, 16V]; A(r, p) = a[r·rsA + p·csA]; B rows with stride ldb. R ≤ 6 and V ≤ 4 are
    // JIT constants: the unused accumulators and their multiply-adds are compiled out. C's last vector holds
    // lastLanes (1..16) columns.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelRV<TR, TV>(int kc, float* a, long rsA, long csA, float* b, long ldb, float* c, long ldc, bool acc, int lastLanes = 16)
        where TR : struct, IConst where TV : struct, IConst
    {
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c43 = default;
        Vector512<float> c50 = default, c51 = default, c52 = default, c53 = default;
        Vector512<float> b1 = default, b2 = default, b3 = default;
        long o1 = rsA, o2 = 2 * rsA, o3 = 3 * rsA, o4 = 4 * rsA, o5 = 5 * rsA;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            if (TV.N > 1) b1 = Vector512.Load(b + 16);
            if (TV.N > 2) b2 = Vector512.Load(b + 32);
            if (TV.N > 3) b3 = Vector512.Load(b + 48);
            var x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00);
            if (TV.N > 1) c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            if (TV.N > 2) c02 = Vector512.FusedMultiplyAdd(x, b2, c02);
            if (TV.N > 3) c03 = Vector512.FusedMultiplyAdd(x, b3, c03);
            if (TR.N > 1)
            {
                x = Vector512.Create(a[o1]);
                c10 = Vector512.FusedMultiplyAdd(x, b0, c10);
                if (TV.N > 1) c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
                if (TV.N > 2) c12 = Vector512.FusedMultiplyAdd(x, b2, c12);
                if (TV.N > 3) c13 = Vector512.FusedMultiplyAdd(x, b3, c13);
            }
            if (TR.N > 2)
            {
                x = Vector512.Create(a[o2]);
                c20 = Vector512.FusedMultiplyAdd(x, b0, c20);
                if (TV.N > 1) c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
                if (TV.N > 2) c22 = Vector512.FusedMultiplyAdd(x, b2, c22);
                if (TV.N > 3) c23 = Vector512.FusedMultiplyAdd(x, b3, c23);
            }
            if (TR.N > 3)
            {
                x = Vector512.Create(a[o3]);
                c30 = Vector512.FusedMultiplyAdd(x, b0, c30);
                if (TV.N > 1) c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
                if (TV.N > 2) c32 = Vector512.FusedMultiplyAdd(x, b2, c32);
                if (TV.N > 3) c33 = Vector512.FusedMultiplyAdd(x, b3, c33);
            }
            if (TR.N > 4)
            {
                x = Vector512.Create(a[o4]);
                c40 = Vector512.FusedMultiplyAdd(x, b0, c40);
                if (TV.N > 1) c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
                if (TV.N > 2) c42 = Vector512.FusedMultiplyAdd(x, b2, c42);
                if (TV.N > 3) c43 = Vector512.FusedMultiplyAdd(x, b3, c43);
            }
            if (TR.N > 5)
            {
                x = Vector512.Create(a[o5]);
                c50 = Vector512.FusedMultiplyAdd(x, b0, c50);
                if (TV.N > 1) c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
                if (TV.N > 2) c52 = Vector512.FusedMultiplyAdd(x, b2, c52);
                if (TV.N > 3) c53 = Vector512.FusedMultiplyAdd(x, b3, c53);
            }
            a += csA;
            b += ldb;
        }
        // lastLanes is tested once, so the whole-vector call inlines to plain stores (a test per row cost 1–2%)
        if (lastLanes == 16)
            StoreRows<TR, TV>(c, ldc, acc, 16, c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23,
                c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53);
        else
            StoreRows<TR, TV>(c, ldc, acc, lastLanes, c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23,
                c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRows<TR, TV>(float* c, long ldc, bool acc, int lastLanes,
        Vector512<float> c00, Vector512<float> c01, Vector512<float> c02, Vector512<float> c03,
        Vector512<float> c10, Vector512<float> c11, Vector512<float> c12, Vector512<float> c13,
        Vector512<float> c20, Vector512<float> c21, Vector512<float> c22, Vector512<float> c23,
        Vector512<float> c30, Vector512<float> c31, Vector512<float> c32, Vector512<float> c33,
        Vector512<float> c40, Vector512<float> c41, Vector512<float> c42, Vector512<float> c43,
        Vector512<float> c50, Vector512<float> c51, Vector512<float> c52, Vector512<float> c53)
        where TR : struct, IConst where TV : struct, IConst
    {
        StoreV<TV>(c, acc, lastLanes, c00, c01, c02, c03);
        if (TR.N > 1) StoreV<TV>(c + ldc, acc, lastLanes, c10, c11, c12, c13);
        if (TR.N > 2) StoreV<TV>(c + 2 * ldc, acc, lastLanes, c20, c21, c22, c23);
        if (TR.N > 3) StoreV<TV>(c + 3 * ldc, acc, lastLanes, c30, c31, c32, c33);
        if (TR.N > 4) StoreV<TV>(c + 4 * ldc, acc, lastLanes, c40, c41, c42, c43);
        if (TR.N > 5) StoreV<TV>(c + 5 * ldc, acc, lastLanes, c50, c51, c52, c53);
    }

    // One row of TV vectors; the last holds lastLanes valid columns (stored under a lane mask when fewer than 16).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreV<TV>(float* c, bool acc, int lastLanes, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
        where TV : struct, IConst
    {
        Put(c, TV.N == 1 ? lastLanes : 16, acc, v0);
        if (TV.N > 1) Put(c + 16, TV.N == 2 ? lastLanes : 16, acc, v1);
        if (TV.N > 2) Put(c + 32, TV.N == 3 ? lastLanes : 16, acc, v2);
        if (TV.N > 3) Put(c + 48, lastLanes, acc, v3);
    }

    /// <summary>
    /// Stores (or with <paramref name="acc"/> adds into) the first <paramref name="n"/> floats of <paramref name="v"/>
    /// at <paramref name="p"/>: a whole vector when n = 16, under a lane mask when 0 &lt; n &lt; 16 (nothing past
    /// p[n-1] is read or written), nothing when n ≤ 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Put(float* p, int n, bool acc, Vector512<float> v)
    {
        if (n == 16)
        {
            if (acc) v += Vector512.Load(p);
            Vector512.Store(v, p);
        }
        else if (n > 0)
        {
            var mask = LaneMask(n);
            if (acc) v += Avx512F.MaskLoad(p, mask, Vector512<float>.Zero);
            Avx512F.MaskStore(p, mask, v);
        }
    }

    /// <summary>A mask with lanes [0, n) set, for loads and stores of a vector whose first n floats are valid.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> LaneMask(int n) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(n)).AsSingle();

    // C[6, 16] (+)= A[6, kc] · B[kc, 16]; same addressing as Kernel6x64.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel6x16(int kc, float* a, long rsA, long csA, float* b, long ldb, float* c, long ldc, bool acc)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        long o1 = rsA, o2 = 2 * rsA, o3 = 3 * rsA, o4 = 4 * rsA, o5 = 5 * rsA;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[o1]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[o2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[o3]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[o4]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[o5]); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            a += csA;
            b += ldb;
        }
        Store2(c, acc, c00, c01); c += ldc;
        Store2(c, acc, c10, c11); c += ldc;
        Store2(c, acc, c20, c21); c += ldc;
        Store2(c, acc, c30, c31); c += ldc;
        Store2(c, acc, c40, c41); c += ldc;
        Store2(c, acc, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store2(float* c, bool acc, Vector256<float> v0, Vector256<float> v1)
    {
        if (acc) { v0 += Vector256.Load(c); v1 += Vector256.Load(c + 8); }
        Vector256.Store(v0, c); Vector256.Store(v1, c + 8);
    }

    /// <summary>Naive triple loop with the same contract as <see cref="Multiply"/> (the reference for tests).</summary>
    public static void Reference(int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transA,
        ReadOnlySpan<float> b, int ldb, bool transB,
        Span<float> c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[p * lda + i] : a[i * lda + p];
                    float bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    s += (double)av * bv;
                }
                c[i * ldc + j] = accumulate ? (float)(c[i * ldc + j] + s) : (float)s;
            }
    }
}
