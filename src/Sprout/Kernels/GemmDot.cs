using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sprout.Kernels;

/// <summary>
/// C (+)= A·Bᵀ when both A [m,k] and B [n,k] are contiguous along k (a Linear layer's forward x·Wᵀ): each
/// output is a dot product of two rows, so nothing is packed or transposed. A 4×6 tile keeps 24 Vector512
/// accumulators over k (16 floats per step) and reduces them once at the end.
/// </summary>
internal static unsafe class GemmDot
{
    public const int TileM = 4;
    public const int TileN = 6;

    /// <summary>k-chunk: a tile's rows (10 × KD floats) stay in L1 across the chunk.</summary>
    public const int KD = 1024;

    /// <summary>Whether this path should take C[m,n] = A·Bᵀ with inner size k.</summary>
    public static bool Prefer(int m, int n, int k) =>
        Vector512.IsHardwareAccelerated && k >= 64 && Math.Min(m, n) <= DotMaxSide;

    /// <summary>Up to which smaller output side the dot path is used (beyond it the packed path wins).</summary>
    public static int DotMaxSide { get; set; } = 256;

    /// <summary>The block [i0,i1)×[j0,j1) of C = A·Bᵀ (+ C). a: rows of A with stride lda; b: rows of B with stride ldb.</summary>
    public static void Run(int i0, int i1, int j0, int j1, int k, float* a, long lda, float* b, long ldb, float* c, long ldc, bool acc)
    {
        for (int p0 = 0; p0 < k; p0 += KD)
        {
            int kd = Math.Min(KD, k - p0);
            bool accChunk = acc || p0 > 0;
            for (int j = j0; j < j1; j += TileN)
            {
                int nn = Math.Min(TileN, j1 - j);
                for (int i = i0; i < i1; i += TileM)
                {
                    int mm = Math.Min(TileM, i1 - i);
                    Tile4x6(kd, a + i * lda + p0, lda, mm, b + j * ldb + p0, ldb, nn, c + i * ldc + j, ldc, accChunk);
                }
            }
        }
    }

    // C[mm, nn] (+)= A[mm, kd] · B[nn, kd]ᵀ; rows past mm / nn re-read the last valid row and are not written.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Tile4x6(int kd, float* a, long lda, int mm, float* b, long ldb, int nn, float* c, long ldc, bool acc)
    {
        float* a0 = a, a1 = a + Math.Min(1, mm - 1) * lda, a2 = a + Math.Min(2, mm - 1) * lda, a3 = a + Math.Min(3, mm - 1) * lda;
        float* b0 = b, b1 = b + Math.Min(1, nn - 1) * ldb, b2 = b + Math.Min(2, nn - 1) * ldb;
        float* b3 = b + Math.Min(3, nn - 1) * ldb, b4 = b + Math.Min(4, nn - 1) * ldb, b5 = b + Math.Min(5, nn - 1) * ldb;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c04 = default, c05 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c24 = default, c25 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default, c34 = default, c35 = default;
        int p = 0;
        for (; p + 16 <= kd; p += 16)
        {
            var x0 = Vector512.Load(a0 + p); var x1 = Vector512.Load(a1 + p);
            var x2 = Vector512.Load(a2 + p); var x3 = Vector512.Load(a3 + p);
            var y = Vector512.Load(b0 + p);
            c00 = Vector512.FusedMultiplyAdd(x0, y, c00); c10 = Vector512.FusedMultiplyAdd(x1, y, c10);
            c20 = Vector512.FusedMultiplyAdd(x2, y, c20); c30 = Vector512.FusedMultiplyAdd(x3, y, c30);
            y = Vector512.Load(b1 + p);
            c01 = Vector512.FusedMultiplyAdd(x0, y, c01); c11 = Vector512.FusedMultiplyAdd(x1, y, c11);
            c21 = Vector512.FusedMultiplyAdd(x2, y, c21); c31 = Vector512.FusedMultiplyAdd(x3, y, c31);
            y = Vector512.Load(b2 + p);
            c02 = Vector512.FusedMultiplyAdd(x0, y, c02); c12 = Vector512.FusedMultiplyAdd(x1, y, c12);
            c22 = Vector512.FusedMultiplyAdd(x2, y, c22); c32 = Vector512.FusedMultiplyAdd(x3, y, c32);
            y = Vector512.Load(b3 + p);
            c03 = Vector512.FusedMultiplyAdd(x0, y, c03); c13 = Vector512.FusedMultiplyAdd(x1, y, c13);
            c23 = Vector512.FusedMultiplyAdd(x2, y, c23); c33 = Vector512.FusedMultiplyAdd(x3, y, c33);
            y = Vector512.Load(b4 + p);
            c04 = Vector512.FusedMultiplyAdd(x0, y, c04); c14 = Vector512.FusedMultiplyAdd(x1, y, c14);
            c24 = Vector512.FusedMultiplyAdd(x2, y, c24); c34 = Vector512.FusedMultiplyAdd(x3, y, c34);
            y = Vector512.Load(b5 + p);
            c05 = Vector512.FusedMultiplyAdd(x0, y, c05); c15 = Vector512.FusedMultiplyAdd(x1, y, c15);
            c25 = Vector512.FusedMultiplyAdd(x2, y, c25); c35 = Vector512.FusedMultiplyAdd(x3, y, c35);
        }
        float* t = stackalloc float[TileM * TileN];
        t[0] = Vector512.Sum(c00); t[1] = Vector512.Sum(c01); t[2] = Vector512.Sum(c02); t[3] = Vector512.Sum(c03); t[4] = Vector512.Sum(c04); t[5] = Vector512.Sum(c05);
        t[6] = Vector512.Sum(c10); t[7] = Vector512.Sum(c11); t[8] = Vector512.Sum(c12); t[9] = Vector512.Sum(c13); t[10] = Vector512.Sum(c14); t[11] = Vector512.Sum(c15);
        t[12] = Vector512.Sum(c20); t[13] = Vector512.Sum(c21); t[14] = Vector512.Sum(c22); t[15] = Vector512.Sum(c23); t[16] = Vector512.Sum(c24); t[17] = Vector512.Sum(c25);
        t[18] = Vector512.Sum(c30); t[19] = Vector512.Sum(c31); t[20] = Vector512.Sum(c32); t[21] = Vector512.Sum(c33); t[22] = Vector512.Sum(c34); t[23] = Vector512.Sum(c35);
        Finish(kd, p, a, lda, mm, b, ldb, nn, c, ldc, acc, t);
    }

    // Adds the k tail (kd not a multiple of 16) and writes the valid part of the tile.
    private static void Finish(int kd, int p, float* a, long lda, int mm, float* b, long ldb, int nn, float* c, long ldc, bool acc, float* t)
    {
        for (int r = 0; r < mm; r++)
        {
            float* ar = a + r * lda;
            for (int j = 0; j < nn; j++)
            {
                float s = t[r * TileN + j];
                float* bj = b + j * ldb;
                for (int q = p; q < kd; q++) s = MathF.FusedMultiplyAdd(ar[q], bj[q], s);
                float* cp = c + r * ldc + j;
                *cp = acc ? *cp + s : s;
            }
        }
    }

    /// <summary>Scalar twin of <see cref="Tile4x6"/>: the same products, in 16 interleaved partial sums per output.</summary>
    internal static void Tile4x6Scalar(int kd, float* a, long lda, int mm, float* b, long ldb, int nn, float* c, long ldc, bool acc)
    {
        float* t = stackalloc float[TileM * TileN];
        float* lanes = stackalloc float[16];
        int k16 = kd / 16 * 16;
        for (int r = 0; r < mm; r++)
            for (int j = 0; j < nn; j++)
            {
                for (int l = 0; l < 16; l++) lanes[l] = 0f;
                for (int q = 0; q < k16; q++) lanes[q % 16] = MathF.FusedMultiplyAdd(a[r * lda + q], b[j * ldb + q], lanes[q % 16]);
                float s = 0f;
                for (int l = 0; l < 16; l++) s += lanes[l];
                t[r * TileN + j] = s;
            }
        Finish(kd, k16, a, lda, mm, b, ldb, nn, c, ldc, acc, t);
    }
}
