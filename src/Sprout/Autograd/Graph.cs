using Sprout.Tensors;

namespace Sprout.Autograd;

/// <summary>The record an op leaves on its output: its inputs and the rule that sends the output's gradient back to them.</summary>
internal sealed class GradNode
{
    public readonly Tensor[] Inputs;
    public readonly Action Backward;
    public readonly string Op;

    public GradNode(string op, Tensor[] inputs, Action backward)
    {
        Op = op;
        Inputs = inputs;
        Backward = backward;
    }
}

/// <summary>Reverse-mode autograd: recording, no-grad scopes and the backward pass.</summary>
public static class Graph
{
    [ThreadStatic] private static int _noGradDepth;
    [ThreadStatic] private static List<Tensor>? _order;
    [ThreadStatic] private static HashSet<Tensor>? _seen;
    [ThreadStatic] private static Stack<(Tensor, int)>? _stack;

    /// <summary>Whether ops record gradients on this thread.</summary>
    public static bool IsGradEnabled => _noGradDepth == 0;

    /// <summary>Disables gradient recording on this thread until disposed (for evaluation).</summary>
    public static NoGradScope NoGrad()
    {
        _noGradDepth++;
        return new NoGradScope(true);
    }

    /// <summary>Ends a <see cref="NoGrad"/> block.</summary>
    public readonly struct NoGradScope : IDisposable
    {
        private readonly bool _active;
        internal NoGradScope(bool active) => _active = active;
        /// <summary>Re-enables recording.</summary>
        public void Dispose()
        {
            if (_active) _noGradDepth--;
        }
    }

    /// <summary>When set, every backward rule's time is added to it under "backward &lt;op&gt;" (diagnostics).</summary>
    public static IOpProfiler? Profile { get; set; }

    /// <summary>True when an op with these inputs must record a backward rule.</summary>
    internal static bool Needs(Tensor a) => _noGradDepth == 0 && a.RequiresGrad;

    internal static bool Needs(Tensor a, Tensor b) => _noGradDepth == 0 && (a.RequiresGrad || b.RequiresGrad);

    internal static bool Needs(Tensor a, Tensor b, Tensor? c) =>
        _noGradDepth == 0 && (a.RequiresGrad || b.RequiresGrad || (c is not null && c.RequiresGrad));

    /// <summary>Marks <paramref name="output"/> as produced by an op and stores its backward rule.</summary>
    internal static void Record(Tensor output, string op, Tensor[] inputs, Action backward)
    {
        output.RequiresGrad = true;
        output.Node = new GradNode(op, inputs, backward);
    }

    /// <summary>
    /// Backpropagates from <paramref name="root"/>. Without <paramref name="gradient"/> the root must hold one value
    /// (the loss) and its gradient is 1. Leaf gradients accumulate; the graph is freed afterwards.
    /// </summary>
    public static void Backward(Tensor root, Tensor? gradient = null)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException("Backward() on a tensor that does not require grad (no parameter reaches it, or it was computed under NoGrad)");
        if (gradient is null && root.Length != 1)
            throw new InvalidOperationException($"Backward() without a gradient needs a one-element tensor, got {Tensor.FormatShape(root.Shape)}");
        if (gradient is not null && !Tensor.SameShape(gradient.Shape, root.Shape))
            throw new ArgumentException("gradient shape differs from the root's");

        var order = _order ??= new List<Tensor>(64);
        var seen = _seen ??= new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = _stack ??= new Stack<(Tensor, int)>();
        order.Clear();
        seen.Clear();
        stack.Clear();

        // Iterative post-order DFS: a node lands in `order` after all of its inputs.
        if (root.Node is not null)
        {
            stack.Push((root, 0));
            seen.Add(root);
        }
        while (stack.Count > 0)
        {
            var (t, i) = stack.Pop();
            var inputs = t.Node!.Inputs;
            if (i < inputs.Length)
            {
                stack.Push((t, i + 1));
                var inp = inputs[i];
                if (inp.Node is not null && seen.Add(inp)) stack.Push((inp, 0));
            }
            else
            {
                order.Add(t);
            }
        }

        var g = root.GradBuffer(out bool fresh);
        if (gradient is null)
        {
            if (fresh) g.Span[0] = 1f;
            else g.Span[0] += 1f;
        }
        else if (fresh) gradient.Span.CopyTo(g.Span);
        else System.Numerics.Tensors.TensorPrimitives.Add(g.Span, gradient.Span, g.Span);

        var profile = Profile;
        for (int k = order.Count - 1; k >= 0; k--)
        {
            var t = order[k];
            if (!t.HasGrad) continue;
            if (profile is null) t.Node!.Backward();
            else
            {
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                t.Node!.Backward();
                profile.Add("backward " + t.Node.Op, System.Diagnostics.Stopwatch.GetTimestamp() - t0);
            }
        }
        for (int k = 0; k < order.Count; k++) order[k].Node = null;
        order.Clear();
        seen.Clear();
    }
}
