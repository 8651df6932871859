using Sprout.Autograd;
using Sprout.Growth;
using Sprout.Tensors;

namespace Sprout.Diagnostics;

/// <summary>Which neurons of one growable layer fired (output ≠ 0) on at least one sample.</summary>
/// <param name="Site">Site name.</param>
/// <param name="Active">Per neuron: true if its output was non-zero on some sample.</param>
public sealed record LayerActivity(string Site, bool[] Active)
{
    /// <summary>Neurons in the layer.</summary>
    public int Width => Active.Length;

    /// <summary>Inactive neurons among indices [from, from+count).</summary>
    public int Inactive(int from, int count)
    {
        int n = 0;
        for (int i = from; i < from + count; i++) if (!Active[i]) n++;
        return n;
    }

    /// <summary>Inactive neurons in the whole layer.</summary>
    public int InactiveAll => Inactive(0, Width);
}

/// <summary>
/// Inactive ("dead") neurons: a unit whose activation output is exactly 0 on every sample of a data set
/// (methods §8). For ReLU this is a unit whose pre-activation is ≤ 0 everywhere; it gets no gradient again.
/// </summary>
public static class NeuronActivity
{
    /// <summary>Runs the whole data set through the model (evaluation mode, no gradients) and records activity per site.</summary>
    public static LayerActivity[] Measure(GrowableModel model, GrowthData data, int batchSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        var sites = model.Sites;
        var active = sites.Select(s => new bool[s.Width]).ToArray();
        bool was = model.Module.IsTraining;
        model.Module.Eval();
        var order = GrowthData.Identity(data.Count);
        using (Graph.NoGrad())
        {
            for (int start = 0; start < data.Count; start += batchSize)
            {
                int rows = Math.Min(batchSize, data.Count - start);
                var (bx, _) = data.Batch(order, start, rows);
                using (TensorScope.Begin())
                {
                    var (_, hidden) = model.ForwardCapture(bx);
                    for (int k = 0; k < sites.Count; k++)
                    {
                        var h = hidden[k].Span;
                        int w = active[k].Length;
                        int per = h.Length / (rows * w);   // 1 for Linear, H·W for a conv channel
                        var a = active[k];
                        for (int r = 0; r < rows; r++)
                            for (int c = 0; c < w; c++)
                            {
                                if (a[c]) continue;
                                var cell = h.Slice((r * w + c) * per, per);
                                foreach (float v in cell) if (v != 0) { a[c] = true; break; }
                            }
                    }
                }
            }
        }
        model.Module.Train(was);
        return sites.Select((s, k) => new LayerActivity(s.Name, active[k])).ToArray();
    }
}
