using System.Globalization;

namespace Sprout.Data;

/// <summary>
/// An in-memory image classification data set. Pixels are kept as raw bytes (0..255) in CHW order per sample
/// (<c>sample i</c> starts at <c>i * SampleSize</c>); loaders convert them to floats when batching.
/// </summary>
public sealed class Dataset
{
    /// <summary>Raw pixels, <see cref="Count"/> × <see cref="SampleSize"/> bytes, each sample in CHW order.</summary>
    public byte[] Pixels { get; }

    /// <summary>Class label of each sample (fine label for CIFAR-100).</summary>
    public int[] Labels { get; }

    /// <summary>Coarse (super-class) label of each sample for CIFAR-100, else null.</summary>
    public int[]? CoarseLabels { get; }

    /// <summary>Number of samples.</summary>
    public int Count { get; }

    /// <summary>Channels per image (1 for MNIST, 3 for CIFAR).</summary>
    public int Channels { get; }

    /// <summary>Image height in pixels.</summary>
    public int Height { get; }

    /// <summary>Image width in pixels.</summary>
    public int Width { get; }

    /// <summary>Number of classes (labels are in 0..Classes-1).</summary>
    public int Classes { get; }

    /// <summary>Name for messages and reports, e.g. "mnist/train".</summary>
    public string Name { get; }

    /// <summary>Bytes (= floats) per sample: Channels × Height × Width.</summary>
    public int SampleSize => Channels * Height * Width;

    /// <summary>Creates a data set over the given arrays (no copy). Checks sizes and label ranges.</summary>
    public Dataset(string name, byte[] pixels, int[] labels, int channels, int height, int width, int classes, int[]? coarseLabels = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (channels <= 0 || height <= 0 || width <= 0) throw new ArgumentException($"bad image shape {channels}x{height}x{width}");
        if (classes <= 0) throw new ArgumentOutOfRangeException(nameof(classes), "classes must be positive");
        long sample = (long)channels * height * width;
        if (pixels.LongLength != sample * labels.Length)
            throw new ArgumentException($"{name}: {pixels.LongLength} pixel bytes for {labels.Length} samples of {sample} bytes");
        if (coarseLabels is not null && coarseLabels.Length != labels.Length)
            throw new ArgumentException($"{name}: {coarseLabels.Length} coarse labels for {labels.Length} samples");
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentException($"{name}: label {labels[i]} of sample {i} is outside 0..{classes - 1}");
        Name = name;
        Pixels = pixels;
        Labels = labels;
        CoarseLabels = coarseLabels;
        Count = labels.Length;
        Channels = channels;
        Height = height;
        Width = width;
        Classes = classes;
    }

    /// <summary>The raw bytes of one sample (CHW).</summary>
    public ReadOnlySpan<byte> Sample(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index));
        return Pixels.AsSpan(index * SampleSize, SampleSize);
    }

    /// <summary>A new data set holding copies of the given samples, in the given order.</summary>
    public Dataset Subset(ReadOnlySpan<int> indices, string? name = null)
    {
        int d = SampleSize;
        var px = new byte[(long)indices.Length * d];
        var labels = new int[indices.Length];
        int[]? coarse = CoarseLabels is null ? null : new int[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int s = indices[i];
            if ((uint)s >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), $"index {s} outside 0..{Count - 1}");
            Pixels.AsSpan(s * d, d).CopyTo(px.AsSpan(i * d, d));
            labels[i] = Labels[s];
            if (coarse is not null) coarse[i] = CoarseLabels![s];
        }
        return new Dataset(name ?? Name + "[subset]", px, labels, Channels, Height, Width, Classes, coarse);
    }

    /// <summary>The largest accepted padding, in pixels per side.</summary>
    public const int MaxPad = 1024;

    /// <summary>
    /// A copy with <paramref name="pixels"/> black (0-valued) pixels added on every side of every image (e.g. 28×28
    /// Fashion-MNIST padded by 2 to CIFAR's 32×32); 0 returns this data set.
    /// </summary>
    public Dataset Pad(int pixels)
    {
        if (pixels is < 0 or > MaxPad) throw new ArgumentOutOfRangeException(nameof(pixels), $"padding must be in 0..{MaxPad} pixels, got {pixels}");
        if (pixels == 0) return this;
        int h = Height + 2 * pixels, w = Width + 2 * pixels;
        long size = (long)Channels * h * w;
        var px = new byte[checked(size * Count)];
        for (int i = 0; i < Count; i++)
            for (int c = 0; c < Channels; c++)
                for (int y = 0; y < Height; y++)
                    Pixels.AsSpan((int)(((long)i * Channels + c) * Height * Width + (long)y * Width), Width)
                        .CopyTo(px.AsSpan((int)(i * size + ((long)c * h + y + pixels) * w + pixels), Width));
        return new Dataset(Name, px, Labels, Channels, h, w, Classes, CoarseLabels);
    }

    /// <summary>
    /// Merges data sets of the same image shape and class count (e.g. train followed by test), in order.
    /// </summary>
    public static Dataset Concat(string name, params Dataset[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Length == 0) throw new ArgumentException("nothing to concatenate");
        var first = parts[0];
        long total = 0;
        bool coarse = true;
        foreach (var p in parts)
        {
            if (p.Channels != first.Channels || p.Height != first.Height || p.Width != first.Width || p.Classes != first.Classes)
                throw new ArgumentException($"cannot concatenate {p.Name} ({p.Channels}x{p.Height}x{p.Width}, {p.Classes} classes) with {first.Name} ({first.Channels}x{first.Height}x{first.Width}, {first.Classes} classes)");
            total += p.Count;
            coarse &= p.CoarseLabels is not null;
        }
        if (total > int.MaxValue / first.SampleSize) throw new ArgumentException("concatenation too large");
        var px = new byte[total * first.SampleSize];
        var labels = new int[total];
        var cl = coarse ? new int[total] : null;
        int at = 0;
        foreach (var p in parts)
        {
            p.Pixels.CopyTo(px, (long)at * first.SampleSize);
            p.Labels.CopyTo(labels, at);
            if (cl is not null) p.CoarseLabels!.CopyTo(cl, at);
            at += p.Count;
        }
        return new Dataset(name, px, labels, first.Channels, first.Height, first.Width, first.Classes, cl);
    }

    /// <summary>Number of samples of each class.</summary>
    public int[] ClassHistogram()
    {
        var h = new int[Classes];
        foreach (int y in Labels) h[y]++;
        return h;
    }

    /// <summary>
    /// Per-channel mean and standard deviation of the pixels scaled to [0, 1] (population std), computed in double.
    /// Use them as normalisation constants of a training split.
    /// </summary>
    public (float[] Mean, float[] Std) ChannelStats()
    {
        int plane = Height * Width;
        var sum = new double[Channels];
        var sumSq = new double[Channels];
        // Histogram per channel: exact and fast (256 bins), then moments from the histogram.
        var hist = new long[Channels, 256];
        var px = Pixels;
        for (int i = 0; i < Count; i++)
        {
            int baseIdx = i * SampleSize;
            for (int c = 0; c < Channels; c++)
            {
                int off = baseIdx + c * plane;
                for (int k = 0; k < plane; k++) hist[c, px[off + k]]++;
            }
        }
        var mean = new float[Channels];
        var std = new float[Channels];
        double n = (double)Count * plane;
        for (int c = 0; c < Channels; c++)
        {
            for (int v = 0; v < 256; v++)
            {
                double x = v / 255.0;
                sum[c] += hist[c, v] * x;
                sumSq[c] += hist[c, v] * x * x;
            }
            double m = n > 0 ? sum[c] / n : 0;
            double var = n > 0 ? Math.Max(0, sumSq[c] / n - m * m) : 0;
            mean[c] = (float)m;
            std[c] = (float)Math.Sqrt(var);
        }
        return (mean, std);
    }

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Name}: {Count} samples of {Channels}x{Height}x{Width}, {Classes} classes");
}
