namespace Sprout.Nn;

/// <summary>
/// Raised for a checkpoint file that cannot be read or does not fit the module it is loaded into; the message is one
/// line, "path: problem". Every failure of reading a checkpoint is this type: a missing, truncated, corrupt, foreign
/// or non-regular file, a declared size beyond the file, a shape that is not a growth of the module's.
/// </summary>
public sealed class CheckpointException : Exception
{
    /// <summary>Creates the exception; the message becomes "<paramref name="path"/>: <paramref name="problem"/>".</summary>
    public CheckpointException(string path, string problem) : base($"{path}: {problem}")
    {
        FilePath = path;
    }

    /// <summary>Creates the exception with its cause.</summary>
    public CheckpointException(string path, string problem, Exception inner) : base($"{path}: {problem}", inner)
    {
        FilePath = path;
    }

    /// <summary>The checkpoint file.</summary>
    public string FilePath { get; }
}
