using System.Diagnostics;
using Xunit;

namespace Sprout.Tests.Cli;

/// <summary>Absurd configs and non-regular files give one line and exit 1 — no stack trace, hang or giant allocation.</summary>
[Collection("Workers")]
public class BadInputCliTests
{
    private static (int Code, string Err) Run(params string[] args)
    {
        var errW = new StringWriter();
        var (o, e) = (Console.Out, Console.Error);
        int threads = Sprout.Kernels.Workers.Threads;
        Console.SetOut(new StringWriter());
        Console.SetError(errW);
        try { return (Sprout.Cli.Cli.Run(args), errW.ToString()); }
        finally
        {
            Console.SetOut(o);
            Console.SetError(e);
            Sprout.Kernels.Workers.Threads = threads;
        }
    }

    private static void AssertOneLine(int code, string err, string contains)
    {
        Assert.Equal(1, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("sprout: error:", lines[0]);
        Assert.Contains(contains, lines[0]);
    }

    [Theory]
    [InlineData("{\"widths\": [784, 2147483647, 10], \"schedule\": {\"percent\": 50, \"stages\": 1}}", "widths: 2147483647")]
    [InlineData("{\"widths\": [784, 16, 10], \"schedule\": {\"percent\": 50, \"stages\": 1}, \"diagnosticBatch\": -1}", "diagnosticBatch")]
    [InlineData("{\"widths\": [784, 16, 10], \"schedule\": {\"percent\": 50, \"stages\": 2147483647}}", "stages")]
    [InlineData("{\"widths\": [], \"inputShape\": [1, 28, 28], \"schedule\": {\"totals\": [1]}, \"model\": {\"type\": \"sequential\", \"layers\": [{\"type\": \"conv2d\", \"inChannels\": 1, \"outChannels\": 4, \"kernel\": 3, \"stride\": 2147483647}, {\"type\": \"flatten\"}, {\"type\": \"linear\", \"inFeatures\": 4, \"outFeatures\": 10}]}}", "stride 2147483647")]
    public void AbsurdConfigSizesAreOneLine(string json, string contains)
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, json);
            var (code, err) = Run("run", "--config", path);
            AssertOneLine(code, err, contains);
            (code, err) = Run("experiment", "grow", "--config", path);
            AssertOneLine(code, err, contains);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public async Task AFifoAsConfigIsRejectedWithoutHanging()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("FIFOs are tested on Linux");
        string dir = Directory.CreateTempSubdirectory("sprout-cli-fifo-").FullName;
        string fifo = Path.Combine(dir, "config.json");
        try
        {
            using (var p = Process.Start(new ProcessStartInfo("mkfifo", [fifo]) { UseShellExecute = false })!) p.WaitForExit();
            var ct = TestContext.Current.CancellationToken;
            var run = Task.Run(() => Run("run", "--config", fifo), ct);
            if (await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(30), ct)) != run)
            {
                using (new FileStream(fifo, FileMode.Open, FileAccess.Write)) { } // release the blocked reader
                Assert.Fail("sprout run blocked on a FIFO config");
            }
            var (code, err) = await run;
            AssertOneLine(code, err, "FIFO");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
