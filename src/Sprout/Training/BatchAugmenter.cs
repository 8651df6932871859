using Sprout.Data;
using Sprout.Tensors;

namespace Sprout.Training;

/// <summary>
/// Applies an <see cref="IAugmentation"/> to every image of a training batch, in place, in pixel units: a data set held
/// as bytes with a per-channel affine (value = byte·scale + shift, e.g. standardised MNIST or CIFAR) is mapped back to
/// [0, 1] pixels, transformed and mapped forward again, so zero padding is black and noise σ is in pixel units, as the
/// <see cref="DataLoader"/> does; a data set held as floats is transformed as it is. Image r of batch k of epoch e
/// draws its randomness from one stream per (e, k) — <c>root.Fork("epoch", EpochOffset + e).Fork("batch", k)</c>, rows in order —
/// so a resumed epoch sees exactly the transforms of an uninterrupted one.
/// </summary>
public sealed class BatchAugmenter
{
    private readonly IAugmentation _augmentation;
    private readonly ImageShape _shape;
    private readonly Rng _root;
    private readonly float[] _scratch;

    /// <summary>Creates the augmenter for images of <paramref name="shape"/>, its randomness forked from <paramref name="root"/>.</summary>
    public BatchAugmenter(IAugmentation augmentation, ImageShape shape, Rng root)
    {
        ArgumentNullException.ThrowIfNull(augmentation);
        ArgumentNullException.ThrowIfNull(root);
        if (shape.Channels < 1 || shape.Height < 1 || shape.Width < 1) throw new ArgumentException($"augmentation needs an image shape, got {shape}");
        _augmentation = augmentation;
        _shape = shape;
        _root = root;
        _scratch = new float[shape.Size];
    }

    /// <summary>
    /// Added to the epoch the trainer passes (a training phase that counts its epochs from 0 inside a longer run sets the
    /// epochs of the run before it, so no two epochs of the run share a random stream).
    /// </summary>
    public int EpochOffset { get; set; }

    /// <summary>The image shape the augmenter expects.</summary>
    public ImageShape Shape => _shape;

    /// <summary>
    /// Transforms the images of <paramref name="batch"/> (gathered from <paramref name="data"/>) for batch
    /// <paramref name="batchIndex"/> of epoch <paramref name="epoch"/>.
    /// </summary>
    public void Apply(Batch batch, InMemoryDataset data, int epoch, int batchIndex)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(data);
        int size = _shape.Size, plane = _shape.Plane;
        if (data.Features != size) throw new ArgumentException($"the data's {data.Features} features are not {_shape.Channels}×{_shape.Height}×{_shape.Width} images");
        var rng = _root.Fork("epoch", (long)EpochOffset + epoch).Fork("batch", batchIndex);
        var scale = data.Scale;
        var shift = data.Shift;
        if (scale is not null && scale.Length != _shape.Channels)
            throw new ArgumentException($"the data has {scale.Length} channel scales for {_shape.Channels}-channel images");
        var x = batch.X.Span;
        for (int r = 0; r < batch.Rows; r++)
        {
            var img = x.Slice(r * size, size);
            if (scale is not null && shift is not null)
                for (int c = 0; c < _shape.Channels; c++)
                {
                    // value = byte·scale + shift  ⇒  pixel = byte/255 = (value − shift)/(255·scale)
                    float s = scale[c] * 255f, b = shift![c];
                    if (s == 0) continue;
                    float inv = 1f / s;
                    var p = img.Slice(c * plane, plane);
                    for (int i = 0; i < p.Length; i++) p[i] = (p[i] - b) * inv;
                }
            _augmentation.Apply(img, _scratch, _shape, rng);
            if (scale is not null && shift is not null)
                for (int c = 0; c < _shape.Channels; c++)
                {
                    float s = scale[c] * 255f, b = shift![c];
                    if (s == 0) continue;
                    var p = img.Slice(c * plane, plane);
                    for (int i = 0; i < p.Length; i++) p[i] = p[i] * s + b;
                }
        }
    }

    /// <summary>
    /// A transformed copy of a whole image data set (e.g. a held-out fold translated or rotated for evaluation): every
    /// image through <paramref name="augmentation"/> in pixel units, as <see cref="Apply"/> does it to a training batch,
    /// with the randomness of <paramref name="rng"/> (image r of the copy draws as row r of its batch of 256), stored as
    /// floats in the data's own scaling, with its labels and sample shape. The data's sample shape must be [C, H, W].
    /// </summary>
    public static InMemoryDataset Transform(InMemoryDataset data, IAugmentation augmentation, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(augmentation);
        ArgumentNullException.ThrowIfNull(rng);
        if (data.SampleShape is not [int c, int h, int w]) throw new ArgumentException($"a transformed copy needs images: the sample shape is [{string.Join(", ", data.SampleShape)}]");
        var augmenter = new BatchAugmenter(augmentation, new ImageShape(c, h, w), rng);
        const int chunk = 256;
        var x = new float[(long)data.Count * data.Features];
        var order = data.IdentityOrder;
        for (int start = 0, k = 0; start < data.Count; start += chunk, k++)
        {
            int rows = Math.Min(chunk, data.Count - start);
            var b = data.Gather(order, start, rows);
            augmenter.Apply(b, data, 0, k);
            b.X.Span[..(rows * data.Features)].CopyTo(x.AsSpan((int)((long)start * data.Features)));
        }
        return new InMemoryDataset(x, data.Labels is { } l ? (int[])l.Clone() : null, data.Features, data.SampleShape.ToArray());
    }
}
