using System.Runtime.InteropServices;
using ScottPlot;

namespace Sprout.Reporting;

/// <summary>
/// Saves a ScottPlot chart as SVG. ScottPlot draws SVG through Skia's SVG canvas, which cannot express a dash pattern:
/// it draws such a line solid and prints "Unsupported path effect in addPaint." on the process's native stderr for
/// every dashed line it draws — hundreds of lines on the terminal for one experiment report. While an SVG is written
/// (on Linux and macOS) the native stderr is pointed at /dev/null, and put back afterwards. The PNG copies keep the
/// dashes; the SVG copies show those lines solid (docs/runs.md).
/// </summary>
internal static partial class SvgFile
{
    private static readonly Lock Gate = new();

    /// <summary>Writes <paramref name="plot"/> to <paramref name="path"/> as an SVG of the given size in pixels.</summary>
    public static void Save(Plot plot, string path, int width, int height)
    {
        lock (Gate)
        {
            int saved = Silence();
            try { plot.SaveSvg(path, width, height); }
            finally { Restore(saved); }
        }
    }

    // the native stderr (fd 2) duplicated and replaced by /dev/null; -1 when not possible (Windows, or a failed call)
    private static int Silence()
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return -1;
        try
        {
            int saved = Dup(2);
            if (saved < 0) return -1;
            int devNull = Open("/dev/null", 1 /* O_WRONLY */);
            if (devNull < 0 || Dup2(devNull, 2) < 0)
            {
                if (devNull >= 0) Close(devNull);
                Close(saved);
                return -1;
            }
            Close(devNull);
            return saved;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return -1; }
    }

    private static void Restore(int saved)
    {
        if (saved < 0) return;
        Dup2(saved, 2);
        Close(saved);
    }

    [LibraryImport("libc", EntryPoint = "dup")]
    private static partial int Dup(int fd);

    [LibraryImport("libc", EntryPoint = "dup2")]
    private static partial int Dup2(int fd, int fd2);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
