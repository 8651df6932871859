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

    /// <summary>
    /// A data folder holding a generated CIFAR-10 of the real binary format: five training batches of
    /// <paramref name="perBatch"/> images and a test batch of <paramref name="test"/>, labels cycling through 0–9
    /// (training batch b starts at label b, the test batch at 0).
    /// </summary>
    public static TempDir Cifar10Folder(int perBatch = 20, int test = 20)
    {
        var data = new TempDir();
        string folder = System.IO.Path.Combine(data.Path, "cifar10");
        Directory.CreateDirectory(folder);
        static byte[] Labels(int n, int offset) => Enumerable.Range(0, n).Select(i => (byte)((i + offset) % 10)).ToArray();
        for (int b = 1; b <= 5; b++) System.IO.File.WriteAllBytes(System.IO.Path.Combine(folder, $"data_batch_{b}.bin"), CifarBytes(Labels(perBatch, b), null));
        System.IO.File.WriteAllBytes(System.IO.Path.Combine(folder, "test_batch.bin"), CifarBytes(Labels(test, 0), null));
        return data;
    }

    /// <summary>
    /// A data folder holding a CIFAR-10 of the real binary format with pseudo-random pixels and labels: five training
    /// batches of <paramref name="perBatch"/> images and a test batch of <paramref name="test"/>.
    /// </summary>
    public static TempDir RandomCifar10Folder(int perBatch = 20, int test = 20, ulong seed = 5)
    {
        var data = new TempDir();
        string folder = System.IO.Path.Combine(data.Path, "cifar10");
        Directory.CreateDirectory(folder);
        var rng = new Rng(seed);
        const int record = 1 + CifarReader.ImageBytes;
        foreach (var (name, count) in Enumerable.Range(1, 5).Select(b => ($"data_batch_{b}.bin", perBatch)).Append(("test_batch.bin", test)))
        {
            var bytes = new byte[count * record];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i % record == 0 ? rng.NextInt(10) : rng.NextInt(256));
            System.IO.File.WriteAllBytes(System.IO.Path.Combine(folder, name), bytes);
        }
        return data;
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
