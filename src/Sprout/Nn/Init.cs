using Sprout.Tensors;

namespace Sprout.Nn;

/// <summary>Weight initialisation schemes.</summary>
public enum InitScheme
{
    /// <summary>PyTorch's default: kaiming_uniform(a=√5) = U(±1/√fan_in); bias the same.</summary>
    PyTorchDefault,
    /// <summary>He normal: N(0, gain²/fan_in).</summary>
    KaimingNormal,
    /// <summary>He uniform: U(±gain·√(3/fan_in)).</summary>
    KaimingUniform,
    /// <summary>Glorot uniform: U(±gain·√(6/(fan_in+fan_out))).</summary>
    XavierUniform,
    /// <summary>Glorot normal: N(0, gain²·2/(fan_in+fan_out)).</summary>
    XavierNormal,
    /// <summary>WIB-ReLU paper Eq. 5: N(0,1)/√fan_in.</summary>
    WibNormal,
    /// <summary>U(±gain·√(3/fan_in)) with gain √3 — the "gain √3" arm of paper 004's study (= U(±3/√fan_in)).</summary>
    UniformGainSqrt3,
    /// <summary>All zeros.</summary>
    Zeros,
}

/// <summary>Fills weight tensors. fan_in/fan_out follow PyTorch: for [out, in, k, k] fan_in = in·k·k.</summary>
public static class Init
{
    /// <summary>Recommended gain for an activation (relu √2, leaky √(2/(1+a²)), tanh 5/3, linear/sigmoid 1).</summary>
    public static double Gain(string activation, double negativeSlope = 0.01) => activation.ToLowerInvariant() switch
    {
        "relu" or "reluone" or "wibrelu" => Math.Sqrt(2.0),
        "leakyrelu" or "leaky_relu" or "prelu" => Math.Sqrt(2.0 / (1 + negativeSlope * negativeSlope)),
        "tanh" => 5.0 / 3.0,
        "selu" => 0.75,
        _ => 1.0,
    };

    /// <summary>(fan_in, fan_out) of a weight shape [out, in, ...].</summary>
    public static (int FanIn, int FanOut) Fans(ReadOnlySpan<int> shape)
    {
        if (shape.Length < 2) return (shape[0], shape[0]);
        int receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>Fills <paramref name="w"/> by a scheme, with explicit fans (growth and locally connected layers pass their own).</summary>
    public static void Fill(Span<float> w, InitScheme scheme, int fanIn, int fanOut, Rng rng, double gain = 1.4142135623730951)
    {
        fanIn = Math.Max(1, fanIn);
        fanOut = Math.Max(1, fanOut);
        switch (scheme)
        {
            case InitScheme.PyTorchDefault:
                { double b = 1.0 / Math.Sqrt(fanIn); rng.FillUniform(w, -b, b); break; }
            case InitScheme.KaimingNormal:
                rng.FillNormal(w, 0, gain / Math.Sqrt(fanIn)); break;
            case InitScheme.KaimingUniform:
                { double b = gain * Math.Sqrt(3.0 / fanIn); rng.FillUniform(w, -b, b); break; }
            case InitScheme.XavierUniform:
                { double b = gain * Math.Sqrt(6.0 / (fanIn + fanOut)); rng.FillUniform(w, -b, b); break; }
            case InitScheme.XavierNormal:
                rng.FillNormal(w, 0, gain * Math.Sqrt(2.0 / (fanIn + fanOut))); break;
            case InitScheme.WibNormal:
                rng.FillNormal(w, 0, 1.0 / Math.Sqrt(fanIn)); break;
            case InitScheme.UniformGainSqrt3:
                { double b = Math.Sqrt(3.0) * Math.Sqrt(3.0 / fanIn); rng.FillUniform(w, -b, b); break; }
            default:
                w.Clear(); break;
        }
    }

    /// <summary>Fills a weight tensor using the fans of its own shape.</summary>
    public static void Fill(Tensor w, InitScheme scheme, Rng rng, double gain = 1.4142135623730951)
    {
        var (fi, fo) = Fans(w.Shape);
        Fill(w.Span, scheme, fi, fo, rng, gain);
    }

    /// <summary>PyTorch's default bias init U(±1/√fan_in).</summary>
    public static void FillBias(Span<float> b, int fanIn, Rng rng)
    {
        double bound = 1.0 / Math.Sqrt(Math.Max(1, fanIn));
        rng.FillUniform(b, -bound, bound);
    }
}
