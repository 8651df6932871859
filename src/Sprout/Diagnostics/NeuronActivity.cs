using Sprout.Autograd;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Diagnostics;

/// <summary>Which neurons of one layer output fired (output ≠ 0) on at least one sample.</summary>
/// <param name="Layer">Name of the measured output (e.g. a growth site's name).</param>
/// <param name="Active">Per neuron (axis 1 of the output: unit or channel): true if its output was non-zero on some sample.</param>
public sealed record LayerActivity(string Layer, bool[] Active)
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
    /// <summary>
    /// Runs the whole data set through <paramref name="model"/> layer by layer (evaluation mode, no gradients) and
    /// records, for the output of each layer index in <paramref name="layers"/> ([batch, units] or [batch, channels, …]),
    /// which units or channels were ever non-zero. <paramref name="names"/> labels the results (default: the indices).
    /// </summary>
    public static LayerActivity[] Measure(Sequential model, IReadOnlyList<int> layers, InMemoryDataset data,
        IReadOnlyList<string>? names = null, int batchSize = 1000) =>
        Run(model, layers, data, names, batchSize, loss: null, out _);

    /// <summary>
    /// The same pass as <see cref="Measure"/>, run to the model's output so that it also gives the loss and accuracy of
    /// <paramref name="loss"/> over the data set: one forward pass where an activity measurement and an evaluation
    /// (<see cref="Trainer.Evaluate"/>, same batch size) would take two. The statistics equal that evaluation's: the
    /// same batches in the same order through the same layers.
    /// </summary>
    public static LayerActivity[] MeasureWithLoss(Sequential model, IReadOnlyList<int> layers, InMemoryDataset data, Loss loss,
        out EpochStats stats, IReadOnlyList<string>? names = null, int batchSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(loss);
        return Run(model, layers, data, names, batchSize, loss, out stats);
    }

    private static LayerActivity[] Run(Sequential model, IReadOnlyList<int> layers, InMemoryDataset data,
        IReadOnlyList<string>? names, int batchSize, Loss? loss, out EpochStats stats)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize <= 0) throw new ArgumentException("batch size must be positive");
        if (names is not null && names.Count != layers.Count) throw new ArgumentException($"{names.Count} names for {layers.Count} layers");
        var modules = model.Layers;
        for (int k = 0; k < layers.Count; k++)
            if (layers[k] < 0 || layers[k] >= modules.Count || k > 0 && layers[k] <= layers[k - 1])
                throw new ArgumentException("layer indices must be increasing indices of the model's layers");
        var active = new bool[layers.Count][];
        bool was = model.IsTraining;
        bool acc = loss?.HasAccuracy ?? false;
        double lossSum = 0;
        long correct = 0;
        model.Eval();
        var order = data.IdentityOrder;
        try
        {
            using (Graph.NoGrad())
            {
                for (int start = 0; start < data.Count; start += batchSize)
                {
                    int rows = Math.Min(batchSize, data.Count - start);
                    var b = data.Gather(order, start, rows);
                    var x = b.X;
                    using (TensorScope.Begin())
                    {
                        // without a loss the pass stops after the last measured layer
                        int end = loss is null ? (layers.Count == 0 ? 0 : layers[^1] + 1) : modules.Count;
                        for (int i = 0, next = 0; i < end;)
                        {
                            // the model's own step (a BatchNorm + ReLU pair runs fused, as in Sequential.Forward), unless a
                            // measured output sits inside the fused pair
                            int after;
                            if (next < layers.Count && layers[next] == i) { x = modules[i].Forward(x); after = i + 1; }
                            else x = model.Step(i, x, out after);
                            if (next < layers.Count && layers[next] == after - 1)
                            {
                                Record(x, rows, active[next] ??= new bool[x.Dim(1)]);
                                next++;
                            }
                            i = after;
                        }
                        if (loss is not null)
                        {
                            lossSum += (double)loss.Compute(x, b).Item() * rows;
                            if (acc) correct += loss.CountCorrect(x, b);
                        }
                    }
                }
            }
        }
        finally
        {
            model.Train(was);
        }
        stats = new EpochStats(lossSum, correct, data.Count, acc);
        return layers.Select((l, k) => new LayerActivity(names?[k] ?? l.ToString(System.Globalization.CultureInfo.InvariantCulture),
            active[k] ?? new bool[0])).ToArray();
    }

    // marks units (axis 1) of h [rows, width, …] with a non-zero value in any row or position
    private static void Record(Tensor h, int rows, bool[] a)
    {
        int w = a.Length;
        if (h.Dim(1) != w) throw new InvalidOperationException("a measured layer changed width during the pass");
        var s = h.Span;
        int per = s.Length / (rows * w);   // 1 for a Linear unit, H·W for a conv channel
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < w; c++)
            {
                if (a[c]) continue;
                var cell = s.Slice((r * w + c) * per, per);
                foreach (float v in cell) if (v != 0) { a[c] = true; break; }
            }
    }
}
