using System.Buffers.Binary;
using System.IO.Compression;

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

    /// <summary>
    /// Reads a whole file into memory, decompressing it when it starts with the gzip magic bytes.
    /// Missing files and broken gzip streams become <see cref="DataFormatException"/>.
    /// </summary>
    public static byte[] ReadAllBytesMaybeGzip(string path)
    {
        byte[] raw;
        try
        {
            raw = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException e) { throw new DataFormatException(path, "file is missing", e); }
        catch (DirectoryNotFoundException e) { throw new DataFormatException(path, "file is missing (no such folder)", e); }
        catch (IOException e) { throw new DataFormatException(path, "cannot be read: " + e.Message, e); }
        catch (UnauthorizedAccessException e) { throw new DataFormatException(path, "cannot be read: " + e.Message, e); }
        if (!IsGzip(raw)) return raw;
        try
        {
            using var input = new MemoryStream(raw, writable: false);
            using var gz = new GZipStream(input, CompressionMode.Decompress);
            using var output = new MemoryStream(raw.Length * 4);
            gz.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, "corrupt or truncated gzip stream (" + e.Message + ")", e);
        }
        catch (EndOfStreamException e)
        {
            throw new DataFormatException(path, "truncated gzip stream", e);
        }
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

    /// <summary>Reads an IDX image file: returns the pixels (count × rows × cols bytes) and the sizes.</summary>
    public static (byte[] Pixels, int Count, int Rows, int Cols) ReadImages(string path)
    {
        var bytes = ReadAllBytesMaybeGzip(path);
        CheckHeader(path, bytes, ImagesMagic, "images");
        if (bytes.Length < 16) throw new DataFormatException(path, $"truncated: IDX image header needs 16 bytes but the file has {bytes.Length}");
        int count = ReadDim(path, bytes, 4, "image count");
        int rows = ReadDim(path, bytes, 8, "rows");
        int cols = ReadDim(path, bytes, 12, "columns");
        if (rows == 0 || cols == 0) throw new DataFormatException(path, $"bad image size {rows}x{cols}");
        long expected = 16 + (long)count * rows * cols;
        if (expected > int.MaxValue) throw new DataFormatException(path, $"header claims {count} images of {rows}x{cols}, too large");
        if (bytes.Length < expected)
            throw new DataFormatException(path, $"truncated: header says {count} images of {rows}x{cols} ({expected} bytes) but the data has {bytes.Length} bytes");
        if (bytes.Length > expected)
            throw new DataFormatException(path, $"size mismatch: header says {count} images of {rows}x{cols} ({expected} bytes) but the data has {bytes.Length} bytes (trailing garbage)");
        var pixels = bytes.AsSpan(16).ToArray();
        return (pixels, count, rows, cols);
    }

    /// <summary>Reads an IDX label file and checks every label is in 0..classes-1.</summary>
    public static int[] ReadLabels(string path, int classes)
    {
        var bytes = ReadAllBytesMaybeGzip(path);
        CheckHeader(path, bytes, LabelsMagic, "labels");
        if (bytes.Length < 8) throw new DataFormatException(path, $"truncated: IDX label header needs 8 bytes but the file has {bytes.Length}");
        int count = ReadDim(path, bytes, 4, "label count");
        long expected = 8 + (long)count;
        if (bytes.Length < expected)
            throw new DataFormatException(path, $"truncated: header says {count} labels ({expected} bytes) but the data has {bytes.Length} bytes");
        if (bytes.Length > expected)
            throw new DataFormatException(path, $"size mismatch: header says {count} labels ({expected} bytes) but the data has {bytes.Length} bytes (trailing garbage)");
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int y = bytes[8 + i];
            if (y >= classes) throw new DataFormatException(path, $"label {y} at index {i} is out of range 0..{classes - 1}");
            labels[i] = y;
        }
        return labels;
    }

    /// <summary>
    /// Reads an image file and its label file into a single-channel <see cref="Dataset"/>, checking that the
    /// image and label counts agree.
    /// </summary>
    public static Dataset Load(string name, string imagesPath, string labelsPath, int classes)
    {
        var (pixels, count, rows, cols) = ReadImages(imagesPath);
        var labels = ReadLabels(labelsPath, classes);
        if (labels.Length != count)
            throw new DataFormatException(imagesPath, $"image count {count} does not match label count {labels.Length} in {labelsPath}");
        return new Dataset(name, pixels, labels, 1, rows, cols, classes);
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

    private static void CheckHeader(string path, byte[] bytes, int magic, string what)
    {
        if (bytes.Length < 4) throw new DataFormatException(path, $"truncated: {bytes.Length} bytes, too short for an IDX header");
        int m = BinaryPrimitives.ReadInt32BigEndian(bytes);
        if (m != magic)
            throw new DataFormatException(path, $"bad magic number 0x{m:X8} (expected 0x{magic:X8} for IDX {what})");
    }

    private static int ReadDim(string path, byte[] bytes, int offset, string what)
    {
        int v = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(offset));
        if (v < 0) throw new DataFormatException(path, $"bad {what} {v} in the IDX header");
        return v;
    }
}
