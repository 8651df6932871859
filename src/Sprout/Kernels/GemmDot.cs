using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sprout.Kernels;

/// <summary>
/// C (+)= A·Bᵀ when both A [m,k] and B [n,k] are contiguous along k (a Linear layer's forward x·Wᵀ): each
/// output is a dot product of two rows, so nothing is packed or transposed. A 4×6 tile keeps 24 Vector512
/// accumulators over k (16 floats per step) and reduces them once at the end.
/// </summary>
public static unsafe class GemmDot
{
    /// <summary>Rows of a dot tile.</summary>
    public const int TileM = 4;
    /// <summary>Columns of a dot tile.</summary>
    public const int TileN = 6;

    /// <summary>k-chunk: a tile's rows (10 × KD floats) stay in L1 across the chunk.</summary>
    public const int KD = 1024;

    /// <summary>Whether this path should take C[m,n] = A·Bᵀ with inner size k.</summary>
    public static bool Prefer(int m, int n, int k) =>
        Vector512.IsHardwareAccelerated && k >= 64 && Math.Min(m, n) <= DotMaxSide;

    /// <summary>Up to which smaller output side the dot path is used (beyond it the packed path wins).</summary>
    public static int DotMaxSide { get; set; } = 48;

    /// <summary>The block [i0,i1)×[j0,j1) of C = A·Bᵀ (+ C). a: rows of A with stride lda; b: rows of B with stride ldb.</summary>
    internal static void Run(int i0, int i1, int j0, int j1, int k, float* a, long lda, float* b, long ldb, float* c, long ldc, bool acc)
    {
        // The columns are cut into ceil(n/6) tiles of near-equal width (20 → 5,5,5,5 rather than 6,6,6,2), and each
        // width has its own kernel, so no multiply-add is spent on a padded column.
        int cols = j1 - j0, tiles = (cols + TileN - 1) / TileN;
        for (int p0 = 0; p0 < k; p0 += KD)
        {
            int kd = Math.Min(KD, k - p0);
            bool accChunk = acc || p0 > 0;
            for (int t = 0, j = j0; t < tiles; t++)
            {
                int nn = cols / tiles + (t < cols % tiles ? 1 : 0);
                for (int i = i0; i < i1; i += TileM)
                {
                    int mm = Math.Min(TileM, i1 - i);
                    Tile(kd, a + i * lda + p0, lda, mm, b + j * ldb + p0, ldb, nn, c + i * ldc + j, ldc, accChunk);
                }
                j += nn;
            }
        }
    }

    /// <summary>C[mm, nn] (+)= A[mm, kd]·B[nn, kd]ᵀ for mm ≤ 4, nn ≤ 6, on the kernel of width nn.</summary>
    internal static void Tile(int kd, float* a, long lda, int mm, float* b, long ldb, int nn, float* c, long ldc, bool acc)
    {
        switch (nn)
        {
            case 6: Tile4xN<N6>(kd, a, lda, mm, b, ldb, c, ldc, acc); break;
            case 5: Tile4xN<N5>(kd, a, lda, mm, b, ldb, c, ldc, acc); break;
            case 4: Tile4xN<N4>(kd, a, lda, mm, b, ldb, c, ldc, acc); break;
            case 3: Tile4xN<N3>(kd, a, lda, mm, b, ldb, c, ldc, acc); break;
            case 2: Tile4xN<N2>(kd, a, lda, mm, b, ldb, c, ldc, acc); break;
            case 1: Tile4xN<N1>(kd, a, lda, mm, b, ldb, c, ldc, acc); break;
            default: throw new ArgumentOutOfRangeException(nameof(nn));
        }
    }

    // C[mm, N] (+)= A[mm, kd] · B[N, kd]ᵀ; rows past mm re-read the last valid row and are not written.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4xN<TW>(int kd, float* a, long lda, int mm, float* b, long ldb, float* c, long ldc, bool acc)
        where TW : struct, IConst
    {
        int nn = TW.N;
        float* a0 = a, a1 = a + Math.Min(1, mm - 1) * lda, a2 = a + Math.Min(2, mm - 1) * lda, a3 = a + Math.Min(3, mm - 1) * lda;
        float* b0 = b, b1 = b + Math.Min(1, nn - 1) * ldb, b2 = b + Math.Min(2, nn - 1) * ldb;
        float* b3 = b + Math.Min(3, nn - 1) * ldb, b4 = b + Math.Min(4, nn - 1) * ldb, b5 = b + Math.Min(5, nn - 1) * ldb;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c04 = default, c05 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c24 = default, c25 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default, c34 = default, c35 = default;
        // k in steps of 16 lanes; a tail of 1..15 is one more step with masked loads (zeros past kd), so every output
        // is one horizontal sum of 16 lanes, lane l holding the products at q ≡ l (mod 16).
        int p = 0;
        for (; p + 16 <= kd; p += 16)
        {
            var x0 = Vector512.Load(a0 + p); var x1 = Vector512.Load(a1 + p);
            var x2 = Vector512.Load(a2 + p); var x3 = Vector512.Load(a3 + p);
            var y = Vector512.Load(b0 + p);
            c00 = Vector512.FusedMultiplyAdd(x0, y, c00); c10 = Vector512.FusedMultiplyAdd(x1, y, c10);
            c20 = Vector512.FusedMultiplyAdd(x2, y, c20); c30 = Vector512.FusedMultiplyAdd(x3, y, c30);
            if (TW.N > 1)
            {
                y = Vector512.Load(b1 + p);
                c01 = Vector512.FusedMultiplyAdd(x0, y, c01); c11 = Vector512.FusedMultiplyAdd(x1, y, c11);
                c21 = Vector512.FusedMultiplyAdd(x2, y, c21); c31 = Vector512.FusedMultiplyAdd(x3, y, c31);
            }
            if (TW.N > 2)
            {
                y = Vector512.Load(b2 + p);
                c02 = Vector512.FusedMultiplyAdd(x0, y, c02); c12 = Vector512.FusedMultiplyAdd(x1, y, c12);
                c22 = Vector512.FusedMultiplyAdd(x2, y, c22); c32 = Vector512.FusedMultiplyAdd(x3, y, c32);
            }
            if (TW.N > 3)
            {
                y = Vector512.Load(b3 + p);
                c03 = Vector512.FusedMultiplyAdd(x0, y, c03); c13 = Vector512.FusedMultiplyAdd(x1, y, c13);
                c23 = Vector512.FusedMultiplyAdd(x2, y, c23); c33 = Vector512.FusedMultiplyAdd(x3, y, c33);
            }
            if (TW.N > 4)
            {
                y = Vector512.Load(b4 + p);
                c04 = Vector512.FusedMultiplyAdd(x0, y, c04); c14 = Vector512.FusedMultiplyAdd(x1, y, c14);
                c24 = Vector512.FusedMultiplyAdd(x2, y, c24); c34 = Vector512.FusedMultiplyAdd(x3, y, c34);
            }
            if (TW.N > 5)
            {
                y = Vector512.Load(b5 + p);
                c05 = Vector512.FusedMultiplyAdd(x0, y, c05); c15 = Vector512.FusedMultiplyAdd(x1, y, c15);
                c25 = Vector512.FusedMultiplyAdd(x2, y, c25); c35 = Vector512.FusedMultiplyAdd(x3, y, c35);
            }
        }
        // The tail step repeats the loop body with masked loads. Folding it into the loop (a mask test per step) ran
        // out of vector registers with 24 accumulators and slowed k = 784 by 10%.
        if (p < kd)
        {
            var mask = Gemm.LaneMask(kd - p);
            var x0 = MaskedLoad(a0 + p, mask); var x1 = MaskedLoad(a1 + p, mask);
            var x2 = MaskedLoad(a2 + p, mask); var x3 = MaskedLoad(a3 + p, mask);
            var y = MaskedLoad(b0 + p, mask);
            c00 = Vector512.FusedMultiplyAdd(x0, y, c00); c10 = Vector512.FusedMultiplyAdd(x1, y, c10);
            c20 = Vector512.FusedMultiplyAdd(x2, y, c20); c30 = Vector512.FusedMultiplyAdd(x3, y, c30);
            if (TW.N > 1)
            {
                y = MaskedLoad(b1 + p, mask);
                c01 = Vector512.FusedMultiplyAdd(x0, y, c01); c11 = Vector512.FusedMultiplyAdd(x1, y, c11);
                c21 = Vector512.FusedMultiplyAdd(x2, y, c21); c31 = Vector512.FusedMultiplyAdd(x3, y, c31);
            }
            if (TW.N > 2)
            {
                y = MaskedLoad(b2 + p, mask);
                c02 = Vector512.FusedMultiplyAdd(x0, y, c02); c12 = Vector512.FusedMultiplyAdd(x1, y, c12);
                c22 = Vector512.FusedMultiplyAdd(x2, y, c22); c32 = Vector512.FusedMultiplyAdd(x3, y, c32);
            }
            if (TW.N > 3)
            {
                y = MaskedLoad(b3 + p, mask);
                c03 = Vector512.FusedMultiplyAdd(x0, y, c03); c13 = Vector512.FusedMultiplyAdd(x1, y, c13);
                c23 = Vector512.FusedMultiplyAdd(x2, y, c23); c33 = Vector512.FusedMultiplyAdd(x3, y, c33);
            }
            if (TW.N > 4)
            {
                y = MaskedLoad(b4 + p, mask);
                c04 = Vector512.FusedMultiplyAdd(x0, y, c04); c14 = Vector512.FusedMultiplyAdd(x1, y, c14);
                c24 = Vector512.FusedMultiplyAdd(x2, y, c24); c34 = Vector512.FusedMultiplyAdd(x3, y, c34);
            }
            if (TW.N > 5)
            {
                y = MaskedLoad(b5 + p, mask);
                c05 = Vector512.FusedMultiplyAdd(x0, y, c05); c15 = Vector512.FusedMultiplyAdd(x1, y, c15);
                c25 = Vector512.FusedMultiplyAdd(x2, y, c25); c35 = Vector512.FusedMultiplyAdd(x3, y, c35);
            }
        }
        float* t = stackalloc float[TileM * TileN];
        t[0] = HSum(c00); t[1] = HSum(c01); t[2] = HSum(c02); t[3] = HSum(c03); t[4] = HSum(c04); t[5] = HSum(c05);
        t[6] = HSum(c10); t[7] = HSum(c11); t[8] = HSum(c12); t[9] = HSum(c13); t[10] = HSum(c14); t[11] = HSum(c15);
        t[12] = HSum(c20); t[13] = HSum(c21); t[14] = HSum(c22); t[15] = HSum(c23); t[16] = HSum(c24); t[17] = HSum(c25);
        t[18] = HSum(c30); t[19] = HSum(c31); t[20] = HSum(c32); t[21] = HSum(c33); t[22] = HSum(c34); t[23] = HSum(c35);
        Write(mm, nn, c, ldc, acc, t);
    }

    // lanes outside the mask read as 0 and their memory is not touched
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> MaskedLoad(float* p, Vector512<float> mask) =>
        System.Runtime.Intrinsics.X86.Avx512F.MaskLoad(p, mask, Vector512<float>.Zero);

    // 16 lanes → 1 by halving (lane order fixed, so results are reproducible).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HSum(Vector512<float> v)
    {
        var h = v.GetLower() + v.GetUpper();
        var q = h.GetLower() + h.GetUpper();
        var e = q + System.Runtime.Intrinsics.X86.Sse.MoveHighToLow(q, q);
        return e.ToScalar() + e.GetElement(1);
    }

    // Writes (or adds) the valid mm × nn part of the tile's sums.
    private static void Write(int mm, int nn, float* c, long ldc, bool acc, float* t)
    {
        for (int r = 0; r < mm; r++)
            for (int j = 0; j < nn; j++)
            {
                float* cp = c + r * ldc + j;
                *cp = acc ? *cp + t[r * TileN + j] : t[r * TileN + j];
            }
    }

    /// <summary>
    /// Scalar twin of <see cref="Tile"/>: the same products summed in the same structure (lane q mod 16 takes the
    /// product at q, the 16 lanes are reduced by halving).
    /// </summary>
    internal static void Tile4x6Scalar(int kd, float* a, long lda, int mm, float* b, long ldb, int nn, float* c, long ldc, bool acc)
    {
        float* t = stackalloc float[TileM * TileN];
        float* lanes = stackalloc float[16];
        for (int r = 0; r < mm; r++)
            for (int j = 0; j < nn; j++)
            {
                for (int l = 0; l < 16; l++) lanes[l] = 0f;
                for (int q = 0; q < kd; q++) lanes[q % 16] = MathF.FusedMultiplyAdd(a[r * lda + q], b[j * ldb + q], lanes[q % 16]);
                for (int l = 0; l < 8; l++) lanes[l] += lanes[l + 8];
                for (int l = 0; l < 4; l++) lanes[l] += lanes[l + 4];
                t[r * TileN + j] = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
            }
        Write(mm, nn, c, ldc, acc, t);
    }
}
