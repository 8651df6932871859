using System.Numerics.Tensors;
using Sprout.Kernels;
using Sprout.Tensors;

namespace Sprout.Autograd;

/// <summary>How WIB-ReLU picks the value it subtracts (paper 004; see docs and methods §7).</summary>
public enum WibMode
{
    /// <summary>Mean of the whole pre-activation tensor of this batch; gradient flows through it (authors' code).</summary>
    PreActivationMean,
    /// <summary>Mean of the post-ReLU outputs of this batch; gradient flows through it (paper wording).</summary>
    PostActivationMean,
    /// <summary>A fixed constant, e.g. 1/sqrt(2π) for unit-normal input (also used for a running mean in eval).</summary>
    Constant,
}

public static partial class Ops
{
    /// <summary>max(0, x); derivative 0 at 0 (PyTorch's convention).</summary>
    public static Tensor Relu(Tensor x) => ReluCore(x, oneAtZero: false);

    /// <summary>max(0, x) with derivative 1 at 0, so a unit with zero input still receives gradient (GradMax needs it).</summary>
    public static Tensor ReluOne(Tensor x) => ReluCore(x, oneAtZero: true);

    private static Tensor ReluCore(Tensor x, bool oneAtZero)
    {
        var y = NewOut(x.ShapeArray());
        Workers.For(x.Length, (s, n) => TensorPrimitives.Max(x.Span.Slice(s, n), 0f, y.Span.Slice(s, n)));
        if (Graph.Needs(x))
            Graph.Record(y, oneAtZero ? "ReluOne" : "Relu", [x], () =>
            {
                var gb = x.GradBuffer(out bool fresh);
                Workers.For(x.Length, (s, n) =>
                    Activations.ReluBackward(x.Span.Slice(s, n), y.Grad!.Span.Slice(s, n), gb.Span.Slice(s, n), !fresh, oneAtZero));
            });
        return y;
    }

    /// <summary>x &gt; 0 ? x : slope·x.</summary>
    public static Tensor LeakyRelu(Tensor x, float slope = 0.01f)
    {
        var y = NewOut(x.ShapeArray());
        Activations.LeakyRelu(x.Span, y.Span, slope);
        if (Graph.Needs(x))
            Graph.Record(y, "LeakyRelu", [x], () =>
            {
                var gb = x.GradBuffer(out bool fresh);
                Activations.LeakyReluBackward(x.Span, y.Grad!.Span, gb.Span, slope, !fresh);
            });
        return y;
    }

    /// <summary>
    /// PReLU: x &gt; 0 ? x : a·x with learnable slopes <paramref name="a"/> of shape [1] (shared) or [C]
    /// (one per channel, axis 1 of x).
    /// </summary>
    public static Tensor PRelu(Tensor x, Tensor a)
    {
        int channels = a.Length;
        if (a.Rank != 1 || (channels != 1 && (x.Rank < 2 || x.Dim(1) != channels)))
            throw new ArgumentException($"PRelu: slopes {Tensor.FormatShape(a.Shape)} do not match input {Tensor.FormatShape(x.Shape)}");
        int outer = x.Dim(0);
        int inner = channels == 1 ? x.Length / outer : x.Length / (outer * channels);
        int per = channels == 1 ? x.Length / outer : inner; // contiguous run sharing one slope
        var y = NewOut(x.ShapeArray());
        var xs = x.Span;
        var ys = y.Span;
        var asp = a.Span;
        int runs = x.Length / per;
        for (int r = 0; r < runs; r++)
        {
            float slope = asp[channels == 1 ? 0 : r % channels];
            Activations.LeakyRelu(xs.Slice(r * per, per), ys.Slice(r * per, per), slope);
        }
        if (Graph.Needs(x, a))
            Graph.Record(y, "PRelu", [x, a], () =>
            {
                var g = y.Grad!.Span;
                var xs2 = x.Span;
                var asp2 = a.Span;
                if (x.RequiresGrad)
                {
                    var gb = x.GradBuffer(out bool fresh);
                    for (int r = 0; r < runs; r++)
                    {
                        float slope = asp2[channels == 1 ? 0 : r % channels];
                        Activations.LeakyReluBackward(xs2.Slice(r * per, per), g.Slice(r * per, per), gb.Span.Slice(r * per, per), slope, !fresh);
                    }
                }
                if (a.RequiresGrad)
                {
                    var ga = a.GradBuffer(out bool fresh);
                    var gas = ga.Span;
                    if (fresh) gas.Clear();
                    // d y / d a = x where x <= 0
                    for (int r = 0; r < runs; r++)
                    {
                        double s = 0;
                        int o = r * per;
                        for (int i = 0; i < per; i++) if (xs2[o + i] <= 0f) s += (double)g[o + i] * xs2[o + i];
                        gas[channels == 1 ? 0 : r % channels] += (float)s;
                    }
                }
            });
        return y;
    }

    /// <summary>ELU: x &gt; 0 ? x : α(eˣ − 1).</summary>
    public static Tensor Elu(Tensor x, float alpha = 1f)
    {
        var y = NewOut(x.ShapeArray());
        var xs = x.Span;
        var ys = y.Span;
        for (int i = 0; i < xs.Length; i++) ys[i] = xs[i] > 0f ? xs[i] : alpha * (MathF.Exp(xs[i]) - 1f);
        if (Graph.Needs(x))
            Graph.Record(y, "Elu", [x], () =>
            {
                var g = y.Grad!.Span;
                var xs2 = x.Span;
                var ys2 = y.Span;
                var gb = x.GradBuffer(out bool fresh);
                var d = gb.Span;
                for (int i = 0; i < d.Length; i++)
                {
                    float r = xs2[i] > 0f ? g[i] : g[i] * (ys2[i] + alpha); // α eˣ = y + α
                    d[i] = fresh ? r : d[i] + r;
                }
            });
        return y;
    }

    /// <summary>Logistic sigmoid 1/(1+e⁻ˣ).</summary>
    public static Tensor Sigmoid(Tensor x)
    {
        var y = NewOut(x.ShapeArray());
        TensorPrimitives.Sigmoid(x.Span, y.Span);
        if (Graph.Needs(x))
            Graph.Record(y, "Sigmoid", [x], () =>
            {
                var t = NewOut(x.ShapeArray());
                var ts = t.Span;
                var ys2 = y.Span;
                TensorPrimitives.Multiply(ys2, ys2, ts);
                TensorPrimitives.Subtract(ys2, ts, ts); // y(1-y)
                GradTimes(x, y.Grad!.Span, ts);
            });
        return y;
    }

    /// <summary>Swish / SiLU: x·σ(x). One primitive rather than x·Sigmoid(x): one pass each way, and its backward rule
    /// recomputes σ(x) instead of keeping a second activation-sized tensor.</summary>
    public static Tensor Swish(Tensor x)
    {
        var y = NewOut(x.ShapeArray());
        Workers.For(x.Length, (s, n) => Activations.Swish(x.Span.Slice(s, n), y.Span.Slice(s, n)));
        if (Graph.Needs(x))
            Graph.Record(y, "Swish", [x], () =>
            {
                var gb = x.GradBuffer(out bool fresh);
                Workers.For(x.Length, (s, n) => Activations.SwishBackward(x.Span.Slice(s, n), y.Grad!.Span.Slice(s, n), gb.Span.Slice(s, n), !fresh));
            });
        return y;
    }

    /// <summary>Hyperbolic tangent.</summary>
    public static Tensor Tanh(Tensor x)
    {
        var y = NewOut(x.ShapeArray());
        TensorPrimitives.Tanh(x.Span, y.Span);
        if (Graph.Needs(x))
            Graph.Record(y, "Tanh", [x], () =>
            {
                var t = NewOut(x.ShapeArray());
                var ts = t.Span;
                TensorPrimitives.Multiply(y.Span, y.Span, ts);
                TensorPrimitives.Subtract(1f, ts, ts); // 1 - y²
                GradTimes(x, y.Grad!.Span, ts);
            });
        return y;
    }

    /// <summary>
    /// WIB-ReLU (paper 004): max(0, x) − μ. <paramref name="mode"/> chooses μ: the batch mean of x (authors' code),
    /// the batch mean of max(0, x) (paper), or <paramref name="constant"/>. Batch means are scalars over the whole
    /// tensor and the gradient flows through them.
    /// </summary>
    public static Tensor WibRelu(Tensor x, WibMode mode, float constant = 0.3989423f)
    {
        var y = NewOut(x.ShapeArray());
        var ys = y.Span;
        TensorPrimitives.Max(x.Span, 0f, ys);
        int n = x.Length;
        float mu = mode switch
        {
            WibMode.PreActivationMean => (float)(SumDouble(x.Span) / n),
            WibMode.PostActivationMean => (float)(SumDouble(ys) / n),
            _ => constant,
        };
        TensorPrimitives.Subtract(ys, mu, ys);
        if (Graph.Needs(x))
            Graph.Record(y, "WibRelu", [x], () =>
            {
                var g = y.Grad!.Span;
                var xs = x.Span;
                var gb = x.GradBuffer(out bool fresh);
                var d = gb.Span;
                // relu part
                Activations.ReluBackward(xs, g, d, !fresh);
                if (mode == WibMode.PreActivationMean)
                {
                    // d(-mean(x))/dx_i = -(1/n) Σ g
                    float s = (float)(SumDouble(g) / n);
                    TensorPrimitives.Subtract(d, s, d);
                }
                else if (mode == WibMode.PostActivationMean)
                {
                    // d(-mean(relu x))/dx_i = -[x_i > 0] (1/n) Σ g
                    float s = (float)(SumDouble(g) / n);
                    for (int i = 0; i < d.Length; i++) if (xs[i] > 0f) d[i] -= s;
                }
            });
        return y;
    }

    internal static double SumDouble(ReadOnlySpan<float> s)
    {
        double acc = 0;
        foreach (float v in s) acc += v;
        return acc;
    }
}
