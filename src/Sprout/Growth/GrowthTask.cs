namespace Sprout.Growth;

/// <summary>What a growth run learns, which decides its loss and its measures.</summary>
public enum GrowthTask
{
    /// <summary>Class labels: softmax cross-entropy; accuracy is reported beside the loss.</summary>
    Classification,

    /// <summary>
    /// An autoencoder: each input is its own target, mean squared error on the features (pixels); the network's output
    /// has the input's size. Accuracy means nothing here and is NaN in every report; losses carry the results.
    /// </summary>
    Reconstruction,
}
