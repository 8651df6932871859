namespace Sprout.Data;

/// <summary>
/// A data file is missing, truncated or corrupt. The message names the file and what is wrong, in one line,
/// so a command-line tool can print it as is.
/// </summary>
public sealed class DataFormatException : Exception
{
    /// <summary>The file the problem was found in (may be a folder when a whole data set is missing).</summary>
    public string FilePath { get; }

    /// <summary>Creates the exception; the message becomes "<paramref name="filePath"/>: <paramref name="problem"/>".</summary>
    public DataFormatException(string filePath, string problem)
        : base($"{filePath}: {problem}")
    {
        FilePath = filePath;
    }

    /// <summary>Creates the exception with an inner cause (e.g. an I/O error).</summary>
    public DataFormatException(string filePath, string problem, Exception inner)
        : base($"{filePath}: {problem}", inner)
    {
        FilePath = filePath;
    }
}
