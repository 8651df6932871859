using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sprout.Data;

/// <summary>Vectorised pixel conversion used by the loader.</summary>
public static class PixelKernels
{
    /// <summary>
    /// dst[i] = src[i] · scale + bias (as float). With scale = 1/(255·std) and bias = -mean/std this turns raw bytes
    /// into normalised pixels. Uses Vector512 / Vector256 / Vector128 when accelerated, else a plain loop; every path
    /// rounds the product and the sum separately (no fused multiply-add), so all give the scalar loop's bits.
    /// </summary>
    public static void AffineFromBytes(ReadOnlySpan<byte> src, Span<float> dst, float scale, float bias)
    {
        if (dst.Length < src.Length) throw new ArgumentException("destination shorter than source");
        int n = src.Length;
        int i = 0;
        ref byte s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        if (Vector512.IsHardwareAccelerated && n >= 64)
        {
            var vs = Vector512.Create(scale);
            var vb = Vector512.Create(bias);
            for (; i <= n - 64; i += 64)
            {
                var b = Vector512.LoadUnsafe(ref s, (nuint)i);
                var (lo, hi) = Vector512.Widen(b);
                var (a0, a1) = Vector512.Widen(lo);
                var (a2, a3) = Vector512.Widen(hi);
                (Vector512.ConvertToSingle(a0) * vs + vb).StoreUnsafe(ref d, (nuint)i);
                (Vector512.ConvertToSingle(a1) * vs + vb).StoreUnsafe(ref d, (nuint)(i + 16));
                (Vector512.ConvertToSingle(a2) * vs + vb).StoreUnsafe(ref d, (nuint)(i + 32));
                (Vector512.ConvertToSingle(a3) * vs + vb).StoreUnsafe(ref d, (nuint)(i + 48));
            }
        }
        if (Vector256.IsHardwareAccelerated && n - i >= 32)
        {
            var vs = Vector256.Create(scale);
            var vb = Vector256.Create(bias);
            for (; i <= n - 32; i += 32)
            {
                var b = Vector256.LoadUnsafe(ref s, (nuint)i);
                var (lo, hi) = Vector256.Widen(b);
                var (a0, a1) = Vector256.Widen(lo);
                var (a2, a3) = Vector256.Widen(hi);
                (Vector256.ConvertToSingle(a0) * vs + vb).StoreUnsafe(ref d, (nuint)i);
                (Vector256.ConvertToSingle(a1) * vs + vb).StoreUnsafe(ref d, (nuint)(i + 8));
                (Vector256.ConvertToSingle(a2) * vs + vb).StoreUnsafe(ref d, (nuint)(i + 16));
                (Vector256.ConvertToSingle(a3) * vs + vb).StoreUnsafe(ref d, (nuint)(i + 24));
            }
        }
        if (Vector128.IsHardwareAccelerated && n - i >= 16)
        {
            var vs = Vector128.Create(scale);
            var vb = Vector128.Create(bias);
            for (; i <= n - 16; i += 16)
            {
                var b = Vector128.LoadUnsafe(ref s, (nuint)i);
                var (lo, hi) = Vector128.Widen(b);
                var (a0, a1) = Vector128.Widen(lo);
                var (a2, a3) = Vector128.Widen(hi);
                (Vector128.ConvertToSingle(a0) * vs + vb).StoreUnsafe(ref d, (nuint)i);
                (Vector128.ConvertToSingle(a1) * vs + vb).StoreUnsafe(ref d, (nuint)(i + 4));
                (Vector128.ConvertToSingle(a2) * vs + vb).StoreUnsafe(ref d, (nuint)(i + 8));
                (Vector128.ConvertToSingle(a3) * vs + vb).StoreUnsafe(ref d, (nuint)(i + 12));
            }
        }
        for (; i < n; i++) Unsafe.Add(ref d, i) = Unsafe.Add(ref s, i) * scale + bias;
    }
}
