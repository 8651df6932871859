namespace Sprout.Runs;

/// <summary>How a catalog data set's pixels become the network's input features.</summary>
public enum InputScaling
{
    /// <summary>Standardised with the training set's per-channel mean and std (the default of every run).</summary>
    Standardize,

    /// <summary>Pixel / 255, in [0, 1] (what a sigmoid autoencoder output can reconstruct).</summary>
    Unit,

    /// <summary>The raw bytes 0..255 as floats.</summary>
    Raw,
}
