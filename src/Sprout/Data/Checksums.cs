using System.IO.Compression;
using System.Security.Cryptography;
using Sprout.Tensors;

namespace Sprout.Data;

/// <summary>Checksums of data files (lower-case hex).</summary>
public static class Checksums
{
    /// <summary>
    /// SHA-256 and length of a file's content; a gzip file (by magic bytes) is hashed after decompression, so a
    /// raw file and any gzip of it give the same value. Throws <see cref="DataFormatException"/> on a broken gzip or a
    /// path that is not a readable regular file.
    /// </summary>
    public static (string Sha256, long Length) ContentSha256(string path)
    {
        using var file = Open(path);
        Span<byte> magic = stackalloc byte[2];
        int got = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        try
        {
            using Stream s = got == 2 && IdxReader.IsGzip(magic) ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: true) : file;
            return HashStream(s, SHA256.Create());
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, "corrupt or truncated gzip stream (" + e.Message + ")", e);
        }
    }

    /// <summary>SHA-256 of a file's bytes as stored (no decompression).</summary>
    public static string FileSha256(string path)
    {
        using var file = Open(path);
        return HashStream(file, SHA256.Create()).Hex;
    }

    /// <summary>MD5 of a file's bytes as stored (only for checking published archive checksums).</summary>
    public static string FileMd5(string path)
    {
        using var file = Open(path);
        return HashStream(file, MD5.Create()).Hex;
    }

    /// <summary>Opens a regular file (no FIFO or device; see <see cref="SafeFile"/>) or throws <see cref="DataFormatException"/>.</summary>
    private static Stream Open(string path) => SafeFile.OpenRead(path, problem => new DataFormatException(path, problem));

    private static (string Hex, long Length) HashStream(Stream s, HashAlgorithm algorithm)
    {
        using (algorithm)
        {
            var buffer = new byte[1 << 16];
            long length = 0;
            int n;
            while ((n = s.Read(buffer, 0, buffer.Length)) > 0)
            {
                algorithm.TransformBlock(buffer, 0, n, null, 0);
                length += n;
            }
            algorithm.TransformFinalBlock(buffer, 0, 0);
            return (Convert.ToHexStringLower(algorithm.Hash!), length);
        }
    }
}
