using Xunit;
using System.IO.Compression;
using Sprout.Data;

namespace Sprout.Tests.Data;

public class ReaderTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Idx_RoundTrips_RawAndGzip(bool gzip)
    {
        using var dir = new TempDir();
        byte[] labels = [5, 0, 4, 1, 9, 2];
        string img = dir.File("imgs" + (gzip ? ".gz" : "")), lab = dir.File("labs");
        Fixtures.WriteIdx(img, lab, labels, 3, 5, gzip);
        if (gzip) Assert.True(IdxReader.IsGzip(File.ReadAllBytes(img)));
        var ds = IdxReader.Load("t", img, lab, 10, 3, 5);
        Assert.Equal(6, ds.Count);
        Assert.Equal((1, 3, 5), (ds.Channels, ds.Height, ds.Width));
        Assert.Equal([5, 0, 4, 1, 9, 2], ds.Labels);
        Assert.Equal(Fixtures.Pixels(6, 15), ds.Pixels);
    }

    [Fact]
    public void Idx_GzipDetectedByMagic_NotByName()
    {
        using var dir = new TempDir();
        // gzip content under a name without .gz, raw content under a name ending in .gz
        string img = dir.File("images-no-ext"), lab = dir.File("labels.gz");
        IdxReader.Write(img, IdxReader.ImagesMagic, [2, 2, 2], new byte[8], gzip: true);
        IdxReader.Write(lab, IdxReader.LabelsMagic, [2], new byte[] { 1, 2 }, gzip: false);
        var ds = IdxReader.Load("t", img, lab, 10, 2, 2);
        Assert.Equal([1, 2], ds.Labels);
    }

    [Fact]
    public void Idx_BadMagic_NamesFileAndProblem()
    {
        using var dir = new TempDir();
        string lab = dir.File("swapped-labels");
        // an image file where labels are expected
        IdxReader.Write(lab, IdxReader.ImagesMagic, [1, 1, 1], new byte[1]);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(lab, 10));
        Assert.Contains("swapped-labels", e.Message);
        Assert.Contains("bad magic number 0x00000803", e.Message);
        Assert.Contains("expected 0x00000801", e.Message);
    }

    [Fact]
    public void Idx_LabelOutOfRange_NamesFileIndexAndValue()
    {
        using var dir = new TempDir();
        string lab = dir.File("bad-labels");
        IdxReader.Write(lab, IdxReader.LabelsMagic, [3], new byte[] { 1, 10, 2 });
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(lab, 10));
        Assert.Contains("bad-labels", e.Message);
        Assert.Contains("label 10 at index 1 is out of range 0..9", e.Message);
    }

    [Fact]
    public void Idx_Truncated_NamesFileAndSizes()
    {
        using var dir = new TempDir();
        string img = dir.File("short-images");
        IdxReader.Write(img, IdxReader.ImagesMagic, [10, 28, 28], new byte[5 * 784]);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(img));
        Assert.Contains("short-images", e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("10 images of 28x28", e.Message);
    }

    [Fact]
    public void Idx_TruncatedGzip_IsReportedAsCorrupt()
    {
        using var dir = new TempDir();
        string img = dir.File("cut.gz");
        IdxReader.Write(img, IdxReader.ImagesMagic, [50, 28, 28], Fixtures.Pixels(50, 784), gzip: true);
        var bytes = File.ReadAllBytes(img);
        File.WriteAllBytes(img, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(img));
        Assert.Contains("cut.gz", e.Message);
        Assert.True(e.Message.Contains("truncated", StringComparison.Ordinal) || e.Message.Contains("corrupt", StringComparison.Ordinal), e.Message);
    }

    [Fact]
    public void Idx_TrailingGarbage_IsRejected()
    {
        using var dir = new TempDir();
        string lab = dir.File("long-labels");
        IdxReader.Write(lab, IdxReader.LabelsMagic, [2], new byte[] { 1, 2, 3 });
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(lab, 10));
        Assert.Contains("long-labels", e.Message);
        Assert.Contains("size mismatch", e.Message);
    }

    [Fact]
    public void Idx_CountMismatch_NamesBothFiles()
    {
        using var dir = new TempDir();
        string img = dir.File("imgs"), lab = dir.File("labs");
        IdxReader.Write(img, IdxReader.ImagesMagic, [3, 2, 2], new byte[12]);
        IdxReader.Write(lab, IdxReader.LabelsMagic, [2], new byte[] { 0, 1 });
        var e = Assert.Throws<DataFormatException>(() => IdxReader.Load("t", img, lab, 10, 2, 2));
        Assert.Contains("imgs", e.Message);
        Assert.Contains("labs", e.Message);
        Assert.Contains("image count 3 does not match label count 2", e.Message);
    }

    [Fact]
    public void MissingFile_NamesFile()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(dir.File("nope-idx3-ubyte")));
        Assert.Contains("nope-idx3-ubyte", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void Catalog_Load_FindsGzOrRaw_AndReportsMissing()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DataFormatException>(() => DataCatalog.Load("mnist", DataSplit.Train, dir.Path));
        Assert.Contains("train-images-idx3-ubyte", e.Message);
        Assert.Contains("sprout data fetch mnist", e.Message);

        string folder = Path.Combine(dir.Path, "mnist");
        Directory.CreateDirectory(folder);
        Fixtures.WriteIdx(Path.Combine(folder, "t10k-images-idx3-ubyte.gz"), Path.Combine(folder, "t10k-labels-idx1-ubyte"), [3, 1, 4], 28, 28, gzip: true);
        var ds = DataCatalog.Load("mnist", DataSplit.Test, dir.Path);
        Assert.Equal([3, 1, 4], ds.Labels);
        Assert.Equal("mnist/test", ds.Name);
    }

    [Fact]
    public void Cifar10_ReadsRecordsInOrderAcrossFiles()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("a.bin"), Fixtures.CifarBytes([3, 9], null));
        File.WriteAllBytes(dir.File("b.bin"), Fixtures.CifarBytes([0], null));
        var ds = CifarReader.ReadCifar10("c10", dir.File("a.bin"), dir.File("b.bin"));
        Assert.Equal(3, ds.Count);
        Assert.Equal([3, 9, 0], ds.Labels);
        Assert.Equal((3, 32, 32, 10), (ds.Channels, ds.Height, ds.Width, ds.Classes));
        Assert.Null(ds.CoarseLabels);
        var px = Fixtures.Pixels(2, CifarReader.ImageBytes);
        Assert.True(ds.Sample(1).SequenceEqual(px.AsSpan(CifarReader.ImageBytes, CifarReader.ImageBytes)));
        // CHW planes: red plane first; pixel (c=1, y=0, x=0) is byte 1024 of the record's image
        Assert.Equal(px[1024], ds.Sample(0)[1024]);
    }

    [Fact]
    public void Cifar100_ReadsCoarseThenFineLabel()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("train.bin"), Fixtures.CifarBytes(labels: [99, 42], coarse: [19, 7]));
        var ds = CifarReader.ReadCifar100("c100", dir.File("train.bin"));
        Assert.Equal([99, 42], ds.Labels);
        Assert.Equal([19, 7], ds.CoarseLabels!);
        Assert.Equal(100, ds.Classes);
        Assert.True(ds.Sample(1).SequenceEqual(Fixtures.Pixels(2, CifarReader.ImageBytes).AsSpan(CifarReader.ImageBytes)));
    }

    [Fact]
    public void Cifar_BadRecordSize_NamesFile()
    {
        using var dir = new TempDir();
        var bytes = Fixtures.CifarBytes([1, 2], null);
        File.WriteAllBytes(dir.File("data_batch_1.bin"), bytes.AsSpan(0, bytes.Length - 10).ToArray());
        var e = Assert.Throws<DataFormatException>(() => CifarReader.ReadCifar10("c", dir.File("data_batch_1.bin")));
        Assert.Contains("data_batch_1.bin", e.Message);
        Assert.Contains("not a multiple of the 3073-byte", e.Message);
    }

    [Fact]
    public void Cifar_LabelOutOfRange_NamesFileAndRecord()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("test_batch.bin"), Fixtures.CifarBytes([1, 10], null));
        var e = Assert.Throws<DataFormatException>(() => CifarReader.ReadCifar10("c", dir.File("test_batch.bin")));
        Assert.Contains("test_batch.bin", e.Message);
        Assert.Contains("label 10 of record 1 is out of range 0..9", e.Message);

        File.WriteAllBytes(dir.File("test.bin"), Fixtures.CifarBytes(labels: [5], coarse: [20]));
        e = Assert.Throws<DataFormatException>(() => CifarReader.ReadCifar100("c", dir.File("test.bin")));
        Assert.Contains("coarse label 20 of record 0 is out of range 0..19", e.Message);

        File.WriteAllBytes(dir.File("test.bin"), Fixtures.CifarBytes(labels: [100], coarse: [3]));
        e = Assert.Throws<DataFormatException>(() => CifarReader.ReadCifar100("c", dir.File("test.bin")));
        Assert.Contains("fine label 100 of record 0 is out of range 0..99", e.Message);
    }

    [Fact]
    public void Cifar100_FileLengthOfCifar10Records_IsRejected()
    {
        using var dir = new TempDir();
        // 3074 records of 3073 bytes = 3073 records of 3074 bytes: only the label check can tell; use 2 records instead
        File.WriteAllBytes(dir.File("train.bin"), Fixtures.CifarBytes([1, 2], null));
        var e = Assert.Throws<DataFormatException>(() => CifarReader.ReadCifar100("c", dir.File("train.bin")));
        Assert.Contains("3074-byte CIFAR-100 record", e.Message);
    }

    [Fact]
    public void Dataset_SubsetConcat_Histogram_Stats()
    {
        var a = new Dataset("a", [0, 255, 255, 255], [0, 1], 1, 1, 2, 2);
        var b = new Dataset("b", [0, 0], [1], 1, 1, 2, 2);
        var all = Dataset.Concat("ab", a, b);
        Assert.Equal(3, all.Count);
        Assert.Equal([0, 1, 1], all.Labels);
        Assert.Equal([0, 255, 255, 255, 0, 0], all.Pixels);
        Assert.Equal([1, 2], all.ClassHistogram());
        var sub = all.Subset([2, 0]);
        Assert.Equal([1, 0], sub.Labels);
        Assert.Equal([0, 0, 0, 255], sub.Pixels);
        var (mean, std) = a.ChannelStats();
        Assert.Equal(0.75, mean[0], 5);
        Assert.Equal(Math.Sqrt(0.75 - 0.5625), std[0], 5);
        Assert.Throws<ArgumentException>(() => Dataset.Concat("x", a, new Dataset("c", new byte[4], [0], 1, 2, 2, 2)));
    }

    [Fact]
    public void Checksums_ContentHashIgnoresCompression()
    {
        using var dir = new TempDir();
        var data = Fixtures.Pixels(3, 100);
        File.WriteAllBytes(dir.File("raw"), data);
        using (var f = File.Create(dir.File("packed")))
        using (var gz = new GZipStream(f, CompressionLevel.SmallestSize))
            gz.Write(data);
        var raw = Checksums.ContentSha256(dir.File("raw"));
        var packed = Checksums.ContentSha256(dir.File("packed"));
        Assert.Equal(raw, packed);
        Assert.Equal(300, raw.Length);
        Assert.Equal(Checksums.FileSha256(dir.File("raw")), raw.Sha256);
        Assert.NotEqual(Checksums.FileSha256(dir.File("packed")), raw.Sha256);
    }

    [Fact]
    public void DataDirectory_ResolvesExplicitFirst()
    {
        Assert.Equal(Path.GetFullPath("/tmp/x-data"), DataDirectory.Resolve("/tmp/x-data"));
        string fallback = DataDirectory.Resolve(null);
        Assert.True(Path.IsPathRooted(fallback));
    }

    [Fact]
    public void Idx_HeaderWithOtherImageSizeButSameByteCount_IsRejected()
    {
        using var dir = new TempDir();
        string folder = Path.Combine(dir.Path, "mnist");
        Directory.CreateDirectory(folder);
        // 3 images of 14x56 = the bytes of 3 images of 28x28: only the header's dimensions tell them apart
        IdxReader.Write(Path.Combine(folder, "t10k-images-idx3-ubyte"), IdxReader.ImagesMagic, [3, 14, 56], Fixtures.Pixels(3, 784));
        IdxReader.Write(Path.Combine(folder, "t10k-labels-idx1-ubyte"), IdxReader.LabelsMagic, [3], new byte[] { 1, 2, 3 });
        var e = Assert.Throws<DataFormatException>(() => DataCatalog.Load("mnist", DataSplit.Test, dir.Path));
        Assert.Contains("t10k-images-idx3-ubyte", e.Message);
        Assert.Contains("images are 14x56 but this data set's images are 28x28", e.Message);
    }

    [Fact]
    public void Idx_GzipHeaderClaimingMoreThanTheFileCanHold_IsRejectedBeforeAllocating()
    {
        using var dir = new TempDir();
        string img = dir.File("big.gz");
        // a valid gzip whose header claims 60000 images but holds 2: the claim exceeds what its bytes can expand to
        IdxReader.Write(img, IdxReader.ImagesMagic, [2_000_000, 28, 28], Fixtures.Pixels(2, 784), gzip: true);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(img, 28, 28));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 8 << 20);
        Assert.Contains("more than this compressed file can hold", e.Message);
    }
}
