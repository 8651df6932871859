using ScottPlot;
using Sprout.Reporting;
using Xunit;

namespace Sprout.Tests.Reporting;

public class SvgFileTests
{
    [Fact]
    public void DashedChartIsWrittenAndTheNativeStderrIsPutBack()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sprout-svg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            using var plot = new Plot();
            var line = plot.Add.Scatter(new double[] { 0, 1, 2 }, new double[] { 1, 0, 2 });
            line.LinePattern = LinePattern.Dashed;
            plot.Add.VerticalLine(1, 1.5f, Colors.Gray, LinePattern.Dotted);
            string? before = OperatingSystem.IsLinux() ? File.ResolveLinkTarget("/proc/self/fd/2", false)?.FullName : null;
            string path = Path.Combine(dir, "dashed.svg");
            SvgFile.Save(plot, path, 300, 200);
            string svg = File.ReadAllText(path);
            Assert.Contains("<svg", svg, StringComparison.Ordinal);
            Assert.Contains("</svg>", svg, StringComparison.Ordinal);
            if (OperatingSystem.IsLinux())
                Assert.Equal(before, File.ResolveLinkTarget("/proc/self/fd/2", false)?.FullName);   // fd 2 points where it did
        }
        finally { Directory.Delete(dir, true); }
    }
}
