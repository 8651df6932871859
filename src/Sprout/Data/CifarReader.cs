namespace Sprout.Data;

/// <summary>
/// Reads the CIFAR binary formats. CIFAR-10 records: 1 label byte (0..9) then 3072 pixel bytes (32×32 planes
/// R, G, B). CIFAR-100 records: 1 coarse label byte (0..19), 1 fine label byte (0..99), then 3072 pixel bytes.
/// </summary>
public static class CifarReader
{
    /// <summary>Image side in pixels.</summary>
    public const int Side = 32;

    /// <summary>Pixel bytes per image (3 × 32 × 32).</summary>
    public const int ImageBytes = 3 * Side * Side;

    /// <summary>CIFAR-10 training files, in order.</summary>
    public static readonly string[] Cifar10TrainFiles = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];

    /// <summary>CIFAR-10 test file.</summary>
    public const string Cifar10TestFile = "test_batch.bin";

    /// <summary>CIFAR-100 training file.</summary>
    public const string Cifar100TrainFile = "train.bin";

    /// <summary>CIFAR-100 test file.</summary>
    public const string Cifar100TestFile = "test.bin";

    /// <summary>Reads CIFAR-10 binary files and concatenates them in order.</summary>
    public static Dataset ReadCifar10(string name, params string[] paths) => Read(name, paths, hundred: false);

    /// <summary>Reads CIFAR-100 binary files (fine labels in Labels, coarse in CoarseLabels).</summary>
    public static Dataset ReadCifar100(string name, params string[] paths) => Read(name, paths, hundred: true);

    private static Dataset Read(string name, string[] paths, bool hundred)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Length == 0) throw new ArgumentException("no files given");
        int labelBytes = hundred ? 2 : 1;
        int record = labelBytes + ImageBytes;
        var files = new byte[paths.Length][];
        long total = 0;
        for (int f = 0; f < paths.Length; f++)
        {
            var bytes = IdxReader.ReadAllBytesMaybeGzip(paths[f]);
            if (bytes.Length == 0) throw new DataFormatException(paths[f], "file is empty");
            if (bytes.Length % record != 0)
                throw new DataFormatException(paths[f], $"truncated or wrong format: {bytes.Length} bytes is not a multiple of the {record}-byte {(hundred ? "CIFAR-100" : "CIFAR-10")} record");
            files[f] = bytes;
            total += bytes.Length / record;
        }
        if (total * ImageBytes > int.MaxValue) throw new DataFormatException(paths[0], "too many records");
        var pixels = new byte[total * ImageBytes];
        var labels = new int[total];
        int[]? coarse = hundred ? new int[total] : null;
        int at = 0;
        for (int f = 0; f < paths.Length; f++)
        {
            var bytes = files[f];
            int n = bytes.Length / record;
            for (int i = 0; i < n; i++)
            {
                int off = i * record;
                if (hundred)
                {
                    int c = bytes[off], y = bytes[off + 1];
                    if (c >= 20) throw new DataFormatException(paths[f], $"coarse label {c} of record {i} is out of range 0..19");
                    if (y >= 100) throw new DataFormatException(paths[f], $"fine label {y} of record {i} is out of range 0..99");
                    coarse![at] = c;
                    labels[at] = y;
                }
                else
                {
                    int y = bytes[off];
                    if (y >= 10) throw new DataFormatException(paths[f], $"label {y} of record {i} is out of range 0..9");
                    labels[at] = y;
                }
                bytes.AsSpan(off + labelBytes, ImageBytes).CopyTo(pixels.AsSpan(at * ImageBytes, ImageBytes));
                at++;
            }
        }
        return new Dataset(name, pixels, labels, 3, Side, Side, hundred ? 100 : 10, coarse);
    }
}
