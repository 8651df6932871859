using Sprout.Autograd;

namespace Sprout.Tensors;

public sealed partial class Tensor
{
    /// <summary>Broadcast add (differentiable).</summary>
    public static Tensor operator +(Tensor a, Tensor b) => Ops.Add(a, b);

    /// <summary>Broadcast subtract (differentiable).</summary>
    public static Tensor operator -(Tensor a, Tensor b) => Ops.Sub(a, b);

    /// <summary>Broadcast elementwise multiply (differentiable).</summary>
    public static Tensor operator *(Tensor a, Tensor b) => Ops.Mul(a, b);

    /// <summary>Broadcast elementwise divide (differentiable).</summary>
    public static Tensor operator /(Tensor a, Tensor b) => Ops.Div(a, b);

    /// <summary>Adds a constant.</summary>
    public static Tensor operator +(Tensor a, float c) => Ops.AddScalar(a, c);

    /// <summary>Subtracts a constant.</summary>
    public static Tensor operator -(Tensor a, float c) => Ops.AddScalar(a, -c);

    /// <summary>Scales by a constant.</summary>
    public static Tensor operator *(Tensor a, float c) => Ops.MulScalar(a, c);

    /// <summary>Scales by a constant.</summary>
    public static Tensor operator *(float c, Tensor a) => Ops.MulScalar(a, c);

    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => Ops.Neg(a);

    /// <summary>Differentiable reshape view (one axis may be −1).</summary>
    public Tensor Reshape(params int[] shape) => Ops.Reshape(this, shape);

    /// <summary>Matrix product with another rank-2 tensor.</summary>
    public Tensor MatMul(Tensor other) => Ops.MatMul(this, other);
}
