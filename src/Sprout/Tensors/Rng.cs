using System.Globalization;
using System.Runtime.CompilerServices;

namespace Sprout.Tensors;

/// <summary>
/// Everything an <see cref="Rng"/> is: its seed (forks derive from it), the four xoshiro256** words and the cached
/// second normal of the last Box–Muller pair. <see cref="Rng.FromState"/> of it continues the identical stream.
/// The text form (<see cref="ToString"/>, <see cref="Parse"/>) is six lower-case hex words separated by spaces:
/// seed, s0, s1, s2, s3, and the bits of the spare normal (or "-" when there is none).
/// </summary>
/// <param name="Seed">The generator's seed.</param>
/// <param name="S0">xoshiro256** word 0.</param>
/// <param name="S1">xoshiro256** word 1.</param>
/// <param name="S2">xoshiro256** word 2.</param>
/// <param name="S3">xoshiro256** word 3.</param>
/// <param name="HasSpareNormal">Whether a second normal sample is cached.</param>
/// <param name="SpareNormal">The cached normal sample (0 when none).</param>
public readonly record struct RngState(ulong Seed, ulong S0, ulong S1, ulong S2, ulong S3, bool HasSpareNormal, double SpareNormal)
{
    /// <summary>The text form: "seed s0 s1 s2 s3 spare" in hex ("-" for no spare normal).</summary>
    public override string ToString() =>
        string.Join(' ', Hex(Seed), Hex(S0), Hex(S1), Hex(S2), Hex(S3), HasSpareNormal ? Hex(BitConverter.DoubleToUInt64Bits(SpareNormal)) : "-");

    /// <summary>Reads the text form; throws <see cref="FormatException"/> on anything else (or an all-zero state).</summary>
    public static RngState Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var f = text.Split(' ');
        if (f.Length != 6) throw new FormatException($"an RNG state has 6 hex words, got {f.Length}");
        var w = new ulong[6];
        for (int i = 0; i < 6; i++)
        {
            if (i == 5 && f[i] == "-") continue;
            if (f[i].Length is 0 or > 16 || !ulong.TryParse(f[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out w[i]))
                throw new FormatException($"RNG state word {i} '{(f[i].Length > 20 ? f[i][..20] + "…" : f[i])}' is not a hex number");
        }
        double spare = BitConverter.UInt64BitsToDouble(w[5]);
        bool has = f[5] != "-";
        if (has && !double.IsFinite(spare)) throw new FormatException("RNG state: the spare normal is not a finite number");
        var s = new RngState(w[0], w[1], w[2], w[3], w[4], has, has ? spare : 0);
        if ((s.S0 | s.S1 | s.S2 | s.S3) == 0) throw new FormatException("RNG state is all zero (xoshiro256** would only ever return 0)");
        return s;
    }

    private static string Hex(ulong v) => v.ToString("x16", CultureInfo.InvariantCulture);
}

/// <summary>
/// Seeded pseudo-random generator (xoshiro256** seeded by SplitMix64). Its output depends only on the seed,
/// never on the runtime version or platform, so a run is reproducible across machines.
/// One root seed drives everything: derive independent streams with <see cref="Fork(string)"/>.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spareNormal;
    private bool _hasSpare;

    /// <summary>The seed this generator was created with.</summary>
    public ulong Seed { get; private set; }

    /// <summary>Creates a generator from a seed.</summary>
    public Rng(ulong seed)
    {
        Seed = seed;
        ulong x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>A generator that continues exactly where the one whose state this is stood.</summary>
    public static Rng FromState(RngState state)
    {
        var r = new Rng(state.Seed);
        r.SetState(state);
        return r;
    }

    /// <summary>This generator's complete state (seed, the four words, the cached normal).</summary>
    public RngState GetState() => new(Seed, _s0, _s1, _s2, _s3, _hasSpare, _hasSpare ? _spareNormal : 0);

    /// <summary>
    /// Makes this generator continue the stream of <paramref name="state"/> (e.g. restored from a checkpoint).
    /// Throws <see cref="ArgumentException"/> for an all-zero state, which xoshiro256** cannot leave.
    /// </summary>
    public void SetState(RngState state)
    {
        if ((state.S0 | state.S1 | state.S2 | state.S3) == 0) throw new ArgumentException("an all-zero xoshiro256** state is invalid");
        Seed = state.Seed;
        (_s0, _s1, _s2, _s3) = (state.S0, state.S1, state.S2, state.S3);
        _hasSpare = state.HasSpareNormal;
        _spareNormal = state.HasSpareNormal ? state.SpareNormal : 0;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// A new generator whose stream is independent of this one and determined by this generator's seed and the
    /// name alone (not by how much of this stream was consumed), e.g. <c>rng.Fork("shuffle")</c>.
    /// </summary>
    public Rng Fork(string name)
    {
        ulong h = 14695981039346656037UL; // FNV-1a over UTF-16 code units: stable across runs and platforms
        foreach (char ch in name)
        {
            h ^= ch;
            h *= 1099511628211UL;
        }
        ulong x = Seed ^ h;
        return new Rng(SplitMix(ref x));
    }

    /// <summary>A new generator derived from this seed and an index (e.g. one per growth stage).</summary>
    public Rng Fork(string name, long index) => Fork(name + "#" + index.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Next 64 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>
    /// Advances the stream past <paramref name="count"/> draws of <see cref="NextUInt64"/> (equally of
    /// <see cref="NextDouble"/> or <see cref="NextFloat"/>, one word each), as if they had been drawn and discarded.
    /// </summary>
    public void Skip(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        for (long i = 0; i < count; i++) NextUInt64();
    }

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform float in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform integer in [0, n), unbiased.</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), "n must be positive");
        ulong bound = (ulong)n;
        ulong threshold = (0UL - bound) % bound;
        while (true)
        {
            ulong r = NextUInt64();
            UInt128 m = (UInt128)r * bound;
            if ((ulong)m >= threshold) return (int)(m >> 64);
        }
    }

    /// <summary>Uniform double in [lo, hi).</summary>
    public double Uniform(double lo, double hi) => lo + (hi - lo) * NextDouble();

    /// <summary>Standard normal sample (Box–Muller in double precision).</summary>
    public double Normal()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spareNormal;
        }
        double u1;
        do { u1 = NextDouble(); } while (u1 <= double.Epsilon);
        double u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        double theta = 2.0 * Math.PI * u2;
        _spareNormal = r * Math.Sin(theta);
        _hasSpare = true;
        return r * Math.Cos(theta);
    }

    /// <summary>Normal sample with the given mean and standard deviation.</summary>
    public double Normal(double mean, double std) => mean + std * Normal();

    /// <summary>Fills a span with U[lo, hi).</summary>
    public void FillUniform(Span<float> dst, double lo, double hi)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (float)Uniform(lo, hi);
    }

    /// <summary>Fills a span with N(mean, std²).</summary>
    public void FillNormal(Span<float> dst, double mean, double std)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (float)Normal(mean, std);
    }

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A random permutation of 0..n-1.</summary>
    public int[] Permutation(int n)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        Shuffle(p.AsSpan());
        return p;
    }
}
