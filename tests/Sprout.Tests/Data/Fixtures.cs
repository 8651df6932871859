using Sprout.Data;
using Sprout.Tensors;

namespace Sprout.Tests.Data;

/// <summary>A temporary folder deleted on dispose, plus writers of tiny data files in each format.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("sprout-data-test-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

internal static class Fixtures
{
    /// <summary>Pixels where sample i, pixel k has value (i * 31 + k * 7) % 256.</summary>
    public static byte[] Pixels(int count, int size)
    {
        var px = new byte[count * size];
        for (int i = 0; i < count; i++)
            for (int k = 0; k < size; k++)
                px[i * size + k] = (byte)((i * 31 + k * 7) % 256);
        return px;
    }

    public static void WriteIdx(string imagesPath, string labelsPath, byte[] labels, int rows, int cols, bool gzip)
    {
        int n = labels.Length;
        IdxReader.Write(imagesPath, IdxReader.ImagesMagic, [n, rows, cols], Pixels(n, rows * cols), gzip);
        IdxReader.Write(labelsPath, IdxReader.LabelsMagic, [n], labels, gzip);
    }

    /// <summary>CIFAR records: labels[i] (and coarse[i] first for CIFAR-100), then 3072 pixel bytes.</summary>
    public static byte[] CifarBytes(byte[] labels, byte[]? coarse)
    {
        int lb = coarse is null ? 1 : 2;
        int rec = lb + CifarReader.ImageBytes;
        var px = Pixels(labels.Length, CifarReader.ImageBytes);
        var bytes = new byte[labels.Length * rec];
        for (int i = 0; i < labels.Length; i++)
        {
            if (coarse is null) bytes[i * rec] = labels[i];
            else { bytes[i * rec] = coarse[i]; bytes[i * rec + 1] = labels[i]; }
            px.AsSpan(i * CifarReader.ImageBytes, CifarReader.ImageBytes).CopyTo(bytes.AsSpan(i * rec + lb));
        }
        return bytes;
    }

    /// <summary>A data set with given labels and pseudo-random pixels.</summary>
    public static Dataset Synthetic(int count, int classes, int channels = 1, int side = 4, ulong seed = 7)
    {
        var rng = new Rng(seed);
        var px = new byte[count * channels * side * side];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)rng.NextInt(256);
        var labels = new int[count];
        for (int i = 0; i < count; i++) labels[i] = i % classes;
        return new Dataset("synthetic", px, labels, channels, side, side, classes);
    }
}
