using System.Diagnostics;
using Sprout.Data;
using Sprout.Nn;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Tensors;

/// <summary>Files that are not regular files are rejected before they are opened: no hang, no endless read.</summary>
public class SafeFileTests
{
    private static Func<string, Exception> Fail(string path) => p => new InvalidDataException($"{path}: {p}");

    /// <summary>A real FIFO (mkfifo). The reader must refuse it; if it ever blocked, a writer is opened to release it.</summary>
    private static void WithFifo(Action<string> test)
    {
        string dir = Directory.CreateTempSubdirectory("sprout-fifo-").FullName;
        string fifo = Path.Combine(dir, "pipe");
        try
        {
            using (var p = Process.Start(new ProcessStartInfo("mkfifo", [fifo]) { UseShellExecute = false })!)
                p.WaitForExit();
            Assert.True(File.Exists(fifo), "mkfifo made no FIFO");
            var run = Task.Run(() => test(fifo));
            if (!run.Wait(TimeSpan.FromSeconds(30)))
            {
                using (new FileStream(fifo, FileMode.Open, FileAccess.Write)) { } // release a blocked open
                Assert.Fail("reading a FIFO blocked");
            }
            run.GetAwaiter().GetResult();
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static void WithLinkToDevZero(Action<string> test)
    {
        string dir = Directory.CreateTempSubdirectory("sprout-zero-").FullName;
        string link = Path.Combine(dir, "zero");
        try
        {
            File.CreateSymbolicLink(link, "/dev/zero");
            test(link);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void AFifoIsRejectedWithoutOpeningIt()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("FIFOs and /dev/zero are tested on Linux");
        WithFifo(fifo =>
        {
            var e = Assert.Throws<InvalidDataException>(() => SafeFile.ReadAllBytes(fifo, 1 << 20, Fail(fifo)));
            Assert.Contains("FIFO", e.Message);
            Assert.Contains("FIFO", Assert.Throws<CheckpointException>(() => CheckpointFile.Load(fifo)).Message);
            Assert.Contains("FIFO", Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(fifo)).Message);
            Assert.Contains("FIFO", Assert.Throws<DataFormatException>(() => CifarReader.ReadCifar10("c", fifo)).Message);
            Assert.Contains("FIFO", Assert.Throws<FormatException>(() => Sprout.Runs.MetricsTable.Read(fifo)).Message);
            Assert.Contains("FIFO", Assert.Throws<ArgumentException>(() => Sprout.Growth.GrowthRunConfig.FromFile(fifo)).Message);
        });
    }

    [Fact]
    public void ALinkToDevZeroIsRejected()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("FIFOs and /dev/zero are tested on Linux");
        WithLinkToDevZero(link =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Assert.Contains("character device", Assert.Throws<InvalidDataException>(() => SafeFile.ReadAllText(link, 1 << 20, Fail(link))).Message);
            Assert.Contains("character device", Assert.Throws<CheckpointException>(() => CheckpointFile.Load(link)).Message);
            Assert.Contains("character device", Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(link, 10)).Message);
            Assert.Contains("character device", Assert.Throws<DataFormatException>(() => IdxReader.ReadAllBytesMaybeGzip(link)).Message);
            Assert.Contains("character device", Assert.Throws<FormatException>(() => Sprout.Runs.GrowthEvent.ReadAll(link)).Message);
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        });
    }

    [Fact]
    public void FoldersMissingFilesAndBrokenLinksAreNamed()
    {
        string dir = Directory.CreateTempSubdirectory("sprout-safe-").FullName;
        try
        {
            Assert.Contains("is a folder", Assert.Throws<InvalidDataException>(() => SafeFile.ReadAllBytes(dir, 100, Fail(dir))).Message);
            string missing = Path.Combine(dir, "none");
            Assert.Contains("file is missing", Assert.Throws<InvalidDataException>(() => SafeFile.ReadAllBytes(missing, 100, Fail(missing))).Message);
            string broken = Path.Combine(dir, "broken");
            File.CreateSymbolicLink(broken, Path.Combine(dir, "gone"));
            Assert.Contains("broken symbolic link", Assert.Throws<InvalidDataException>(() => SafeFile.ReadAllBytes(broken, 100, Fail(broken))).Message);
            string real = Path.Combine(dir, "real.txt"), link = Path.Combine(dir, "link.txt");
            File.WriteAllText(real, "héllo");
            File.CreateSymbolicLink(link, real);
            Assert.Equal("héllo", SafeFile.ReadAllText(link, 100, Fail(link))); // a link to a regular file is fine
            Assert.Contains("more than the limit of 3", Assert.Throws<InvalidDataException>(() => SafeFile.ReadAllBytes(real, 3, Fail(real))).Message);
            File.WriteAllBytes(real, [0x68, 0xFF, 0x69]);
            Assert.Contains("not UTF-8", Assert.Throws<InvalidDataException>(() => SafeFile.ReadAllText(real, 100, Fail(real))).Message);
            string empty = Path.Combine(dir, "empty");
            File.WriteAllBytes(empty, []);
            Assert.Empty(SafeFile.ReadAllBytes(empty, 0, Fail(empty)));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
