namespace Sprout.Data;

/// <summary>Which official split of a data set.</summary>
public enum DataSplit
{
    /// <summary>The official training split.</summary>
    Train,

    /// <summary>The official test split.</summary>
    Test,
}
