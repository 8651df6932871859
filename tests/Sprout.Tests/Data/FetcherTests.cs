using Xunit;
using System.Formats.Tar;
using System.IO.Compression;
using Sprout.Data;

namespace Sprout.Tests.Data;

public class FetcherTests
{
    private static DatasetSpec IdxSpec(string folder, bool correctHashes)
    {
        string[] names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
        var files = names.Select(n =>
        {
            string p = IdxReader.Locate(folder, n);
            var (sha, len) = Checksums.ContentSha256(p);
            return new DataFileSpec(n, correctHashes ? sha : new string('0', 64), len);
        }).ToArray();
        return new DatasetSpec
        {
            Name = "tiny", Format = DataFormat.Idx, Channels = 1, Height = 2, Width = 2, Classes = 10,
            TrainCount = 3, TestCount = 2, Mean = [0.5f], Std = [0.5f], Files = files,
            TrainFiles = names[..2], TestFiles = names[2..],
        };
    }

    private static void WriteTinyIdx(string folder)
    {
        Directory.CreateDirectory(folder);
        Fixtures.WriteIdx(Path.Combine(folder, "train-images-idx3-ubyte.gz"), Path.Combine(folder, "train-labels-idx1-ubyte"), [1, 2, 3], 2, 2, gzip: true);
        Fixtures.WriteIdx(Path.Combine(folder, "t10k-images-idx3-ubyte"), Path.Combine(folder, "t10k-labels-idx1-ubyte"), [4, 5], 2, 2, gzip: false);
    }

    [Fact]
    public void PresentAndVerified_IsUsedAsIs()
    {
        using var dir = new TempDir();
        WriteTinyIdx(Path.Combine(dir.Path, "tiny"));
        var log = new List<string>();
        var fetcher = new DataFetcher(dir.Path, log.Add) { AllowDownload = false, AllowPackages = false };
        var result = fetcher.Fetch(IdxSpec(Path.Combine(dir.Path, "tiny"), correctHashes: true));
        Assert.Equal("already present (verified)", result.Source);
        Assert.Equal(4, log.Count(l => l.StartsWith("  verified", StringComparison.Ordinal)));
        Assert.Equal([4, 5], DataCatalog.Load(IdxSpec(Path.Combine(dir.Path, "tiny"), true), DataSplit.Test, dir.Path).Labels);
    }

    [Fact]
    public void ChecksumMismatch_WithNoSource_FailsNamingFolderAndFiles()
    {
        using var dir = new TempDir();
        string folder = Path.Combine(dir.Path, "tiny");
        WriteTinyIdx(folder);
        var log = new List<string>();
        var fetcher = new DataFetcher(dir.Path, log.Add) { AllowDownload = false, AllowPackages = false };
        var e = Assert.Throws<DataFormatException>(() => fetcher.Fetch(IdxSpec(folder, correctHashes: false)));
        Assert.Contains(folder, e.Message);
        Assert.Contains("train-images-idx3-ubyte", e.Message);
        Assert.Contains(log, l => l.Contains("does not match the expected", StringComparison.Ordinal));
    }

    [Fact]
    public void UnreachableDownload_FailsFast_AndCifarSaysWhatToPlace()
    {
        using var dir = new TempDir();
        var spec = new DatasetSpec
        {
            Name = "cifar10", Format = DataFormat.Cifar10, Channels = 3, Height = 32, Width = 32, Classes = 10,
            TrainCount = 2, TestCount = 1, Mean = [0f, 0f, 0f], Std = [1f, 1f, 1f],
            Files = [new("data_batch_1.bin", null, 2 * 3073), new("test_batch.bin", null, 3073)],
            TrainFiles = ["data_batch_1.bin"], TestFiles = ["test_batch.bin"],
            ArchiveUrl = "https://sprout-test.invalid/cifar-10-binary.tar.gz", ArchiveMd5 = "00000000000000000000000000000000",
        };
        var fetcher = new DataFetcher(dir.Path) { HttpTimeout = TimeSpan.FromSeconds(5) };
        var e = Assert.Throws<DataFormatException>(() => fetcher.Fetch(spec));
        Assert.Contains("no package fallback", e.Message);
        Assert.Contains("data_batch_1.bin", e.Message);
        Assert.Contains("sprout-test.invalid/cifar-10-binary.tar.gz", e.Message);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "cifar10"), "*.tmp-*"));
    }

    [Fact]
    public void HandPlacedCifarArchive_IsVerifiedAndExtractedAtomically()
    {
        using var dir = new TempDir();
        string folder = Path.Combine(dir.Path, "cifar10");
        Directory.CreateDirectory(folder);
        string archive = Path.Combine(folder, "cifar-10-binary.tar.gz");
        using (var f = File.Create(archive))
        using (var gz = new GZipStream(f, CompressionLevel.Fastest))
        using (var tar = new TarWriter(gz, TarEntryFormat.Pax))
        {
            void Add(string name, byte[] bytes)
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes) };
                tar.WriteEntry(entry);
            }
            Add("cifar-10-batches-bin/batches.meta.txt", "airplane\n"u8.ToArray());
            Add("cifar-10-batches-bin/data_batch_1.bin", Fixtures.CifarBytes([1, 2], null));
            Add("cifar-10-batches-bin/test_batch.bin", Fixtures.CifarBytes([7], null));
        }
        var spec = new DatasetSpec
        {
            Name = "cifar10", Format = DataFormat.Cifar10, Channels = 3, Height = 32, Width = 32, Classes = 10,
            TrainCount = 2, TestCount = 1, Mean = [0f, 0f, 0f], Std = [1f, 1f, 1f],
            Files = [new("data_batch_1.bin", null, 2 * 3073), new("test_batch.bin", null, 3073)],
            TrainFiles = ["data_batch_1.bin"], TestFiles = ["test_batch.bin"],
            ArchiveUrl = "https://sprout-test.invalid/cifar-10-binary.tar.gz", ArchiveMd5 = Checksums.FileMd5(archive),
        };
        var result = new DataFetcher(dir.Path) { AllowDownload = false }.Fetch(spec);
        Assert.Contains("hand-placed archive", result.Source);
        Assert.Equal([7], DataCatalog.Load(spec, DataSplit.Test, dir.Path).Labels);
        Assert.Equal([1, 2], DataCatalog.Load(spec, DataSplit.Train, dir.Path).Labels);
        Assert.Empty(Directory.GetFiles(folder, "*.tmp-*"));
        Assert.True(File.Exists(Path.Combine(folder, "SOURCE.txt")));
        // second run: already present
        Assert.StartsWith("already present", new DataFetcher(dir.Path) { AllowDownload = false }.Fetch(spec).Source);
    }

    [Fact]
    public void Catalog_KnowsNamesAndAliases()
    {
        Assert.Same(DataCatalog.FashionMnist, DataCatalog.Get("Fashion_MNIST"));
        Assert.Same(DataCatalog.Cifar100, DataCatalog.Get("cifar-100"));
        var e = Assert.Throws<ArgumentException>(() => DataCatalog.Get("imagenet"));
        Assert.Contains("mnist, fashion-mnist, cifar10, cifar100", e.Message);
        foreach (var spec in DataCatalog.All.Where(s => s.Format == DataFormat.Idx))
            Assert.All(spec.Files, f => Assert.Matches("^[0-9a-f]{64}$", f.Sha256!));
    }
}
