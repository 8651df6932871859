using System.Buffers.Binary;
using System.Text;
using Sprout.Tensors;

namespace Sprout.Nn;

/// <summary>
/// Saves and loads a whole model in one file (a <see cref="CheckpointFile"/>: safetensors layout with the architecture
/// at the model's current widths, its RNG streams and a checksum). <see cref="Load(string)"/> of the file alone
/// rebuilds the (grown) model; <see cref="Load(Module, string)"/> restores into an existing module, accepting growth,
/// and also reads the old "SPROUTCK" v1 files. Files are written atomically (temporary file, flush to disk, rename),
/// so a finished checkpoint is never replaced by a partial one.
/// </summary>
public static class Checkpoint
{
    /// <summary>
    /// Writes <paramref name="module"/> (parameters, buffers, RNG streams, architecture) to <paramref name="path"/>,
    /// with <paramref name="metadata"/> added as string metadata.
    /// </summary>
    public static void Save(Module module, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ck = new CheckpointFile().AddModule("", module);
        if (metadata is not null)
            foreach (var (k, v) in metadata) ck.Metadata[k] = v;
        ck.Save(path);
    }

    /// <summary>Rebuilds the model stored in <paramref name="path"/> from its architecture and loads its state.</summary>
    public static Module Load(string path) => CheckpointFile.Load(path).BuildModule("");

    /// <summary>
    /// Restores <paramref name="module"/>'s parameters, buffers and RNG streams from <paramref name="path"/> (either
    /// format). Every tensor of the module must be in the file under the same name and rank; saved shapes that only
    /// grow the module's (growth, consistent across layers) replace its tensors in place. Throws
    /// <see cref="CheckpointException"/> otherwise, leaving the module as it was.
    /// </summary>
    public static void Load(Module module, string path) => CheckpointFile.Load(path).LoadModule("", module);
}

/// <summary>
/// Reader of the old checkpoint format: "SPROUTCK", int32 version 1, int32 entry count, then per entry a name (UTF-8,
/// 7-bit-encoded length prefix), int32 rank, int32 dims and little-endian floats; a trailing FNV-1a 64 hash of
/// everything before it. Every length is checked against the bytes that remain before it is used.
/// </summary>
internal static class LegacyCheckpoint
{
    internal static CheckpointFile Read(string path, Stream s, Func<string, Exception> fail)
    {
        long length = s.Length;
        if (length > SafeFile.MaxWholeFileBytes) throw fail($"is {length:N0} bytes, too large for an old-format checkpoint");
        var bytes = new byte[length];
        SafeFile.ReadExactly(s, bytes, fail);
        if (bytes.Length < 8 + 4 + 4 + 8) throw fail($"truncated: {bytes.Length} bytes is too short for an old-format checkpoint");
        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(bytes.Length - 8));
        if (stored != Fnv1a(bytes.AsSpan(0, bytes.Length - 8)))
            throw fail("corrupt (checksum mismatch; the file was truncated or altered)");
        var r = new Cursor(bytes, 8, bytes.Length - 8, fail);
        int version = r.Int32();
        if (version != 1) throw fail($"old-format version {version} is not supported (expected 1)");
        int count = r.Int32();
        if (count < 0 || count > r.Remaining / 9) throw fail($"corrupt: entry count {count} does not fit the file");
        var entries = new List<(string, CheckpointTensor)>(count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int e = 0; e < count; e++)
        {
            string name = r.String();
            if (!names.Add(name)) throw fail($"corrupt: entry '{CheckpointFile.Truncate(name)}' appears twice");
            int rank = r.Int32();
            if (rank < 1 || rank > Tensor.MaxRank) throw fail($"corrupt: entry '{CheckpointFile.Truncate(name)}' has rank {rank}");
            var shape = new int[rank];
            long n = 1;
            for (int i = 0; i < rank; i++)
            {
                shape[i] = r.Int32();
                if (shape[i] < 0) throw fail($"corrupt: entry '{CheckpointFile.Truncate(name)}' has a negative dimension");
                n = n == 0 || shape[i] == 0 ? 0 : n > r.Remaining / shape[i] ? long.MaxValue : n * shape[i];
            }
            if (n > r.Remaining / 4)
                throw fail($"truncated: entry '{CheckpointFile.Truncate(name)}' of shape {Tensor.FormatShape(shape)} needs more bytes than remain");
            var data = new float[n];
            for (long i = 0; i < n; i++) data[i] = r.Single();
            entries.Add((name, new CheckpointTensor(shape, data)));
        }
        if (r.Remaining != 0) throw fail($"corrupt: {r.Remaining} unexpected bytes after the last entry");
        return CheckpointFile.FromLegacy(path, entries);
    }

    private static ulong Fnv1a(ReadOnlySpan<byte> data)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in data)
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return h;
    }

    /// <summary>Bounded little-endian reads of a byte range; running past its end is a format error, never an exception of another type.</summary>
    private sealed class Cursor(byte[] bytes, int start, int end, Func<string, Exception> fail)
    {
        private static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);
        private int _at = start;

        public long Remaining => end - _at;

        private ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || n > Remaining) throw fail("truncated: an entry runs past the end of the file");
            var span = bytes.AsSpan(_at, n);
            _at += n;
            return span;
        }

        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public float Single() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

        public string String()
        {
            // BinaryWriter's 7-bit encoded length: at most 5 bytes, value < 2^31
            int length = 0;
            for (int shift = 0; ; shift += 7)
            {
                if (shift > 28) throw fail("corrupt: an entry name has an invalid length");
                byte b = Take(1)[0];
                length |= (b & 0x7F) << shift;
                if ((b & 0x80) == 0) break;
            }
            if (length < 0 || length > Remaining) throw fail("corrupt: an entry name is longer than the rest of the file");
            try { return Strict.GetString(Take(length)); }
            catch (DecoderFallbackException) { throw fail("corrupt: an entry name is not UTF-8"); }
        }
    }
}
