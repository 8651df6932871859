using System.Buffers.Binary;
using System.IO.Compression;
using Sprout.Tensors;

namespace Sprout.Data;

/// <summary>
/// Reads IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed (detected by the gzip magic bytes
/// 1F 8B, not by the file name). Header: a big-endian magic 0x000008NN (0x08 = unsigned bytes, NN = number of
/// dimensions), then NN big-endian int32 sizes, then the data.
/// </summary>
public static class IdxReader
{
    /// <summary>Magic number of an IDX file of unsigned-byte images (3 dimensions: count, rows, columns).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of an IDX file of unsigned-byte labels (1 dimension: count).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Most bytes one gzip-compressed byte can expand to (DEFLATE's maximum ratio is about 1032:1).</summary>
    internal const long MaxGzipRatio = 1032;

    /// <summary>
    /// Reads a whole file into memory, decompressing it when it starts with the gzip magic bytes. Only a regular file
    /// is read (see <see cref="SafeFile"/>); the decompressed size is bounded by what the compressed size can hold and
    /// by <paramref name="maxBytes"/>, and memory grows with the bytes actually decompressed, never with a declared
    /// size. Missing, unreadable and broken files become <see cref="DataFormatException"/>.
    /// </summary>
    public static byte[] ReadAllBytesMaybeGzip(string path, long maxBytes = 0x7FFFFFC7)
    {
        using var s = OpenMaybeGzip(path, out long bound, out bool gzip);
        long limit = Math.Min(Math.Min(maxBytes, bound), Array.MaxLength);
        if (!gzip)
        {
            if (s.Length > limit) throw new DataFormatException(path, $"is {s.Length:N0} bytes, more than the limit of {limit:N0}");
            var bytes = new byte[s.Length];
            Read(path, s, bytes, out _);
            return bytes;
        }
        using var output = new MemoryStream();
        var buffer = new byte[1 << 16];
        while (true)
        {
            int n = ReadSome(path, s, buffer);
            if (n == 0) break;
            if (output.Length + n > limit)
                throw new DataFormatException(path, $"decompresses to more than {limit:N0} bytes (corrupt, or not a data file)");
            output.Write(buffer, 0, n);
        }
        return output.ToArray();
    }

    /// <summary>
    /// Opens a regular file for reading, through a gzip decompressor when it starts with the gzip magic.
    /// <paramref name="maxContent"/> is the most content bytes the file can hold: its length when raw, its length times
    /// DEFLATE's maximum ratio when compressed.
    /// </summary>
    private static Stream OpenMaybeGzip(string path, out long maxContent, out bool gzip)
    {
        var file = SafeFile.OpenRead(path, problem => new DataFormatException(path, problem));
        try
        {
            Span<byte> magic = stackalloc byte[2];
            int got = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            file.Position = 0;
            gzip = got == 2 && IsGzip(magic);
            if (!gzip)
            {
                maxContent = file.Length;
                return file;
            }
            maxContent = file.Length > long.MaxValue / MaxGzipRatio ? long.MaxValue : file.Length * MaxGzipRatio;
            return new GZipStream(file, CompressionMode.Decompress);
        }
        catch (IOException e)
        {
            file.Dispose();
            throw new DataFormatException(path, "cannot be read: " + e.Message, e);
        }
    }

    /// <summary>Reads up to buffer.Length bytes (fewer only at the end); gzip and I/O failures become <see cref="DataFormatException"/>.</summary>
    private static int ReadSome(string path, Stream s, Span<byte> buffer)
    {
        try
        {
            return s.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException e) { throw new DataFormatException(path, "corrupt or truncated gzip stream (" + e.Message + ")", e); }
        catch (EndOfStreamException e) { throw new DataFormatException(path, "truncated gzip stream", e); }
        catch (IOException e) { throw new DataFormatException(path, "cannot be read: " + e.Message, e); }
    }

    /// <summary>Fills <paramref name="buffer"/> as far as the stream goes; <paramref name="complete"/> tells whether it was filled.</summary>
    private static void Read(string path, Stream s, Span<byte> buffer, out bool complete)
    {
        int got = ReadSome(path, s, buffer);
        complete = got == buffer.Length;
        if (!complete && s is not GZipStream)
            throw new DataFormatException(path, $"truncated: ended {buffer.Length - got:N0} bytes early (the file changed while being read?)");
    }

    /// <summary>Whether anything follows in the stream.</summary>
    private static bool HasMore(string path, Stream s)
    {
        Span<byte> one = stackalloc byte[1];
        return ReadSome(path, s, one) > 0;
    }

    /// <summary>Whether the bytes start with the gzip magic 1F 8B.</summary>
    public static bool IsGzip(ReadOnlySpan<byte> bytes) => bytes.Length >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B;

    /// <summary>
    /// Finds an IDX file in a folder by its base name, accepting the raw name or the name with ".gz".
    /// Returns the raw name's path when neither exists (so the "missing" message names the expected file).
    /// </summary>
    public static string Locate(string folder, string baseName)
    {
        string raw = Path.Combine(folder, baseName);
        if (File.Exists(raw)) return raw;
        string gz = raw + ".gz";
        if (File.Exists(gz)) return gz;
        return raw;
    }

    /// <summary>
    /// Reads an IDX image file: returns the pixels (count × rows × cols bytes) and the sizes. With
    /// <paramref name="expectedRows"/> and <paramref name="expectedCols"/> (what the data set's images are; 0 = any),
    /// a header with other image sizes is rejected even when its byte count fits. Every header size is checked against
    /// the bytes the file really holds before the pixels are allocated.
    /// </summary>
    public static (byte[] Pixels, int Count, int Rows, int Cols) ReadImages(string path, int expectedRows = 0, int expectedCols = 0)
    {
        using var s = OpenMaybeGzip(path, out long maxContent, out bool gzip);
        Span<byte> head = stackalloc byte[16];
        int got = ReadSome(path, s, head);
        CheckHeader(path, head[..got], ImagesMagic, "images");
        if (got < 16) throw new DataFormatException(path, $"truncated: IDX image header needs 16 bytes but the file has {got}");
        int count = ReadDim(path, head, 4, "image count");
        int rows = ReadDim(path, head, 8, "rows");
        int cols = ReadDim(path, head, 12, "columns");
        if (rows == 0 || cols == 0) throw new DataFormatException(path, $"bad image size {rows}x{cols}");
        if ((expectedRows > 0 && rows != expectedRows) || (expectedCols > 0 && cols != expectedCols))
            throw new DataFormatException(path, $"images are {rows}x{cols} but this data set's images are {expectedRows}x{expectedCols} (wrong or corrupt header)");
        if ((long)rows * cols > Array.MaxLength || (count > 0 && (long)rows * cols > (Array.MaxLength - 16) / count))
            throw new DataFormatException(path, $"header claims {count} images of {rows}x{cols}, too large");
        long expected = 16 + (long)count * rows * cols;
        if (expected > maxContent)
            throw new DataFormatException(path, gzip
                ? $"truncated or corrupt: header says {count} images of {rows}x{cols} ({expected} bytes), more than this compressed file can hold"
                : $"truncated: header says {count} images of {rows}x{cols} ({expected} bytes) but the data has {maxContent} bytes");
        if (!gzip && expected < maxContent)
            throw new DataFormatException(path, $"size mismatch: header says {count} images of {rows}x{cols} ({expected} bytes) but the data has {maxContent} bytes (trailing garbage)");
        var pixels = new byte[expected - 16];
        Read(path, s, pixels, out bool complete);
        if (!complete) throw new DataFormatException(path, $"truncated: header says {count} images of {rows}x{cols} ({expected} bytes) but the data ends early");
        if (HasMore(path, s))
            throw new DataFormatException(path, $"size mismatch: header says {count} images of {rows}x{cols} ({expected} bytes) but the data is longer (trailing garbage)");
        return (pixels, count, rows, cols);
    }

    /// <summary>Reads an IDX label file and checks every label is in 0..classes-1.</summary>
    public static int[] ReadLabels(string path, int classes)
    {
        using var s = OpenMaybeGzip(path, out long maxContent, out bool gzip);
        Span<byte> head = stackalloc byte[8];
        int got = ReadSome(path, s, head);
        CheckHeader(path, head[..got], LabelsMagic, "labels");
        if (got < 8) throw new DataFormatException(path, $"truncated: IDX label header needs 8 bytes but the file has {got}");
        int count = ReadDim(path, head, 4, "label count");
        long expected = 8 + (long)count;
        if (expected > maxContent)
            throw new DataFormatException(path, gzip
                ? $"truncated or corrupt: header says {count} labels ({expected} bytes), more than this compressed file can hold"
                : $"truncated: header says {count} labels ({expected} bytes) but the data has {maxContent} bytes");
        if (!gzip && expected < maxContent)
            throw new DataFormatException(path, $"size mismatch: header says {count} labels ({expected} bytes) but the data has {maxContent} bytes (trailing garbage)");
        var bytes = new byte[count];
        Read(path, s, bytes, out bool complete);
        if (!complete) throw new DataFormatException(path, $"truncated: header says {count} labels ({expected} bytes) but the data ends early");
        if (HasMore(path, s))
            throw new DataFormatException(path, $"size mismatch: header says {count} labels ({expected} bytes) but the data is longer (trailing garbage)");
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int y = bytes[i];
            if (y >= classes) throw new DataFormatException(path, $"label {y} at index {i} is out of range 0..{classes - 1}");
            labels[i] = y;
        }
        return labels;
    }

    /// <summary>
    /// Reads an image file and its label file into a single-channel <see cref="Dataset"/>, checking that the images
    /// are <paramref name="rows"/>×<paramref name="cols"/> (the data set's size) and that the image and label counts agree.
    /// </summary>
    public static Dataset Load(string name, string imagesPath, string labelsPath, int classes, int rows, int cols)
    {
        if (rows <= 0 || cols <= 0) throw new ArgumentException($"expected image size {rows}x{cols} must be positive");
        var (pixels, count, r, c) = ReadImages(imagesPath, rows, cols);
        var labels = ReadLabels(labelsPath, classes);
        if (labels.Length != count)
            throw new DataFormatException(imagesPath, $"image count {count} does not match label count {labels.Length} in {labelsPath}");
        return new Dataset(name, pixels, labels, 1, r, c, classes);
    }

    /// <summary>Writes an IDX file of unsigned bytes (used by tests and tools); gzip-compresses it when asked.</summary>
    public static void Write(string path, int magic, ReadOnlySpan<int> dims, ReadOnlySpan<byte> data, bool gzip = false)
    {
        var header = new byte[4 + 4 * dims.Length];
        BinaryPrimitives.WriteInt32BigEndian(header, magic);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dims[i]);
        using var file = File.Create(path);
        using Stream s = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        s.Write(header);
        s.Write(data);
    }

    private static void CheckHeader(string path, ReadOnlySpan<byte> bytes, int magic, string what)
    {
        if (bytes.Length < 4) throw new DataFormatException(path, $"truncated: {bytes.Length} bytes, too short for an IDX header");
        int m = BinaryPrimitives.ReadInt32BigEndian(bytes);
        if (m != magic)
            throw new DataFormatException(path, $"bad magic number 0x{m:X8} (expected 0x{magic:X8} for IDX {what})");
    }

    private static int ReadDim(string path, ReadOnlySpan<byte> bytes, int offset, string what)
    {
        int v = BinaryPrimitives.ReadInt32BigEndian(bytes[offset..]);
        if (v < 0) throw new DataFormatException(path, $"bad {what} {v} in the IDX header");
        return v;
    }
}
