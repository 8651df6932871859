using System.Runtime.InteropServices;
using System.Text;

namespace Sprout.Tensors;

/// <summary>
/// The one way Sprout opens a file it reads (data sets, checkpoints, configs, run files). Only regular files are
/// opened: symbolic links are followed to their final target, and a folder, FIFO, device (e.g. a link to
/// <c>/dev/zero</c>) or socket is rejected before anything is opened, so a read can neither hang on a pipe nor
/// stream forever from a device. Whole-file reads are bounded by the file's real length and a caller's limit, and
/// every failure — missing, unreadable, not a regular file, too large, changed while being read — becomes the
/// caller's own exception type through <c>error</c>, which receives the problem (without the path) in one line.
/// </summary>
/// <remarks>
/// On Linux the file type comes from <c>statx(2)</c> of the path (links followed). Where that is unavailable, a file
/// whose reported length is 0 (as FIFOs and devices report) is never opened and reads as empty.
/// </remarks>
public static partial class SafeFile
{
    /// <summary>The largest file that can be read whole into one array (<see cref="Array.MaxLength"/> bytes).</summary>
    public static long MaxWholeFileBytes => Array.MaxLength;

    /// <summary>
    /// Checks that <paramref name="path"/> names a readable regular file (links followed) and returns its length in
    /// bytes; throws <paramref name="error"/>(problem) otherwise.
    /// </summary>
    public static long CheckRegularFile(string path, Func<string, Exception> error) => Check(path, error, out _);

    private static long Check(string path, Func<string, Exception> error, out bool typeKnown)
    {
        ArgumentNullException.ThrowIfNull(error);
        typeKnown = false;
        if (string.IsNullOrWhiteSpace(path)) throw error("no file name given");
        if (OperatingSystem.IsLinux() && TryStatx(path, out int mode, out long size, out int errno))
        {
            if (errno != 0) throw error(ErrnoProblem(path, errno));
            typeKnown = true;
            return (mode & 0xF000) switch
            {
                0x8000 => size,
                0x4000 => throw error("is a folder, not a file"),
                0x1000 => throw error("is a FIFO (named pipe), not a regular file"),
                0x2000 => throw error("is a character device, not a regular file"),
                0x6000 => throw error("is a block device, not a regular file"),
                0xC000 => throw error("is a socket, not a regular file"),
                _ => throw error($"is not a regular file (type 0x{mode & 0xF000:X4})"),
            };
        }
        if (Directory.Exists(path)) throw error("is a folder, not a file");
        var info = new FileInfo(path);
        if (!info.Exists) throw error(info.LinkTarget is { } target ? $"is a broken symbolic link (to {target})" : "file is missing");
        return info.Length;
    }

    /// <summary>
    /// Opens a regular file for reading (see <see cref="CheckRegularFile"/>). The stream is seekable and its
    /// <see cref="Stream.Length"/> is the file's real length; a caller reads at most that many bytes. A file that may
    /// not be a regular one and reports length 0 is not opened: an empty stream is returned.
    /// </summary>
    public static Stream OpenRead(string path, Func<string, Exception> error)
    {
        long length = Check(path, error, out bool typeKnown);
        if (length == 0 && !typeKnown) return new MemoryStream([], writable: false);
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException) { throw error("file is missing"); }
        catch (DirectoryNotFoundException) { throw error("file is missing (no such folder)"); }
        catch (UnauthorizedAccessException e) { throw error("cannot be read: " + OneLine(e.Message)); }
        catch (IOException e) { throw error("cannot be read: " + OneLine(e.Message)); }
    }

    /// <summary>
    /// Reads a whole regular file, at most <paramref name="maxBytes"/> long (checked against its real length before
    /// anything is allocated).
    /// </summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, Func<string, Exception> error)
    {
        using var s = OpenRead(path, error);
        long length = s.Length;
        long limit = Math.Min(maxBytes, MaxWholeFileBytes);
        if (length > limit) throw error($"is {length:N0} bytes, more than the limit of {limit:N0} for this kind of file");
        var bytes = new byte[length];
        ReadExactly(s, bytes, error);
        if (s.ReadByte() >= 0) throw error("grew while being read");
        return bytes;
    }

    /// <summary>
    /// Reads a whole regular UTF-8 text file (a leading byte-order mark is dropped), at most
    /// <paramref name="maxBytes"/> long; bytes that are not UTF-8 are an error.
    /// </summary>
    public static string ReadAllText(string path, long maxBytes, Func<string, Exception> error)
    {
        var bytes = ReadAllBytes(path, maxBytes, error);
        var span = bytes.AsSpan();
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) span = span[3..];
        try
        {
            return StrictUtf8.GetString(span);
        }
        catch (DecoderFallbackException) { throw error("is not UTF-8 text"); }
    }

    /// <summary>Fills <paramref name="buffer"/> from the stream; a file that ends early is <paramref name="error"/>("truncated …").</summary>
    public static void ReadExactly(Stream stream, Span<byte> buffer, Func<string, Exception> error)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            int got = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            if (got < buffer.Length) throw error($"truncated: ended {buffer.Length - got:N0} bytes early (the file changed while being read?)");
        }
        catch (IOException e) { throw error("cannot be read: " + OneLine(e.Message)); }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static string OneLine(string s) => s.Replace('\r', ' ').Replace('\n', ' ');

    private static string ErrnoProblem(string path, int errno)
    {
        switch (errno)
        {
            case 2: // ENOENT
            case 20: // ENOTDIR
                string? target = null;
                try { target = new FileInfo(path).LinkTarget; } catch (IOException) { } catch (UnauthorizedAccessException) { }
                return target is null ? "file is missing" : $"is a broken symbolic link (to {target})";
            case 13: return "cannot be read: permission denied";
            case 40: return "is a symbolic link loop";
            case 36: return "cannot be read: the name is too long";
            default: return $"cannot be read (error {errno})";
        }
    }

    // ---------------------------------------------------------------- statx(2): the type of the final target

    private static int _statx = 1; // 1 untried, 0 unavailable, 2 available

    private static unsafe bool TryStatx(string path, out int mode, out long size, out int errno)
    {
        mode = 0;
        size = 0;
        errno = 0;
        if (Volatile.Read(ref _statx) == 0) return false;
        byte* buf = stackalloc byte[256];
        new Span<byte>(buf, 256).Clear();
        int rc;
        try
        {
            // AT_FDCWD, no AT_SYMLINK_NOFOLLOW (links are followed), STATX_TYPE | STATX_MODE | STATX_SIZE
            rc = Statx(-100, path, 0, 0x001 | 0x002 | 0x200, buf);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            Volatile.Write(ref _statx, 0);
            return false;
        }
        if (rc != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            if (errno == 38) // ENOSYS: a kernel without statx
            {
                Volatile.Write(ref _statx, 0);
                return false;
            }
            return true;
        }
        Volatile.Write(ref _statx, 2);
        mode = *(ushort*)(buf + 0x1C);   // stx_mode
        size = *(long*)(buf + 0x28);     // stx_size
        return true;
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);
}
