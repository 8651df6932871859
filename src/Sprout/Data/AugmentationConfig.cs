namespace Sprout.Data;

/// <summary>
/// Training-time image augmentation as a serialisable config (JSON
/// <c>{"cropPadding": 4, "flip": 0.5, "translate": 0, "rotate": 0, "noise": 0, "edgeNoise": 0}</c>; every field optional). The
/// transforms run in that order on each training image in [0, 1] pixel units (see <see cref="IAugmentation"/>):
/// the standard CIFAR recipe is <see cref="CropAndFlip"/>. <see cref="Build"/> makes the chain.
/// </summary>
/// <param name="CropPadding">Random crop after zero padding of this many pixels on every side (<see cref="RandomCropPad"/>; 0 = off).</param>
/// <param name="Flip">Probability of a left–right mirror (<see cref="HorizontalFlip"/>; 0 = off).</param>
/// <param name="Translate">Largest random shift as a fraction of the image size (<see cref="RandomTranslate"/>, bilinear; 0 = off).</param>
/// <param name="Rotate">Largest random rotation in degrees (<see cref="RandomRotate"/>; 0 = off).</param>
/// <param name="Noise">Standard deviation of added Gaussian noise in pixel units (<see cref="GaussianNoise"/>; 0 = off).</param>
/// <param name="EdgeNoise">Standard deviation of Gaussian noise added to the pixels within <see cref="EdgeBorder"/> pixels of
/// the image's edge only (<see cref="Data.EdgeNoise"/>, paper 003's edge noise; 0 = off, the default; not written then).</param>
/// <param name="EdgeBorder">Width of that border in pixels (0, the default, means paper 003's 5; not written then).</param>
public sealed record AugmentationConfig(int CropPadding = 0, double Flip = 0, double Translate = 0, double Rotate = 0, double Noise = 0,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)] double EdgeNoise = 0,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)] int EdgeBorder = 0)
{
    /// <summary>Paper 003's edge-noise border: 5 pixels.</summary>
    public const int DefaultEdgeBorder = 5;

    /// <summary>The border edge noise uses: <see cref="EdgeBorder"/>, or <see cref="DefaultEdgeBorder"/> when it is 0.</summary>
    public int Border => EdgeBorder > 0 ? EdgeBorder : DefaultEdgeBorder;

    /// <summary>The largest accepted <see cref="CropPadding"/>.</summary>
    public const int MaxCropPadding = 1024;

    /// <summary>The largest accepted <see cref="Noise"/>.</summary>
    public const double MaxNoise = 10;

    /// <summary>Random crop with 4 pixels of padding and a left–right flip with probability ½ (the usual CIFAR training recipe).</summary>
    public static AugmentationConfig CropAndFlip { get; } = new(CropPadding: 4, Flip: 0.5);

    /// <summary>True when no transform is on.</summary>
    public bool IsIdentity => CropPadding == 0 && Flip == 0 && Translate == 0 && Rotate == 0 && Noise == 0 && EdgeNoise == 0;

    /// <summary>Checks every setting against its range; throws <see cref="ArgumentException"/> with one clear line.</summary>
    public void Validate()
    {
        if (CropPadding is < 0 or > MaxCropPadding) throw new ArgumentException($"augmentation: cropPadding must be in 0…{MaxCropPadding}, got {CropPadding}");
        if (!(Flip >= 0 && Flip <= 1)) throw new ArgumentException($"augmentation: flip is a probability in [0, 1], got {Flip}");
        if (!(Translate >= 0 && Translate <= 1)) throw new ArgumentException($"augmentation: translate is a fraction of the image in [0, 1], got {Translate}");
        if (!(Rotate >= 0 && Rotate <= 360)) throw new ArgumentException($"augmentation: rotate is in 0…360 degrees, got {Rotate}");
        if (!(Noise >= 0 && Noise <= MaxNoise)) throw new ArgumentException($"augmentation: noise must be in 0…{MaxNoise}, got {Noise}");
        if (!(EdgeNoise >= 0 && EdgeNoise <= MaxNoise)) throw new ArgumentException($"augmentation: edgeNoise must be in 0…{MaxNoise}, got {EdgeNoise}");
        if (EdgeBorder is < 0 or > MaxCropPadding) throw new ArgumentException($"augmentation: edgeBorder must be in 0…{MaxCropPadding} pixels, got {EdgeBorder}");
    }

    /// <summary>The transform chain (null when <see cref="IsIdentity"/>).</summary>
    public IAugmentation? Build()
    {
        Validate();
        var steps = new List<IAugmentation>();
        if (CropPadding > 0) steps.Add(new RandomCropPad(CropPadding));
        if (Flip > 0) steps.Add(new HorizontalFlip(Flip));
        if (Translate > 0) steps.Add(new RandomTranslate(Translate));
        if (Rotate > 0) steps.Add(new RandomRotate(Rotate));
        if (Noise > 0) steps.Add(new GaussianNoise(Noise));
        if (EdgeNoise > 0) steps.Add(new Data.EdgeNoise(EdgeNoise, Border));
        return steps.Count switch { 0 => null, 1 => steps[0], _ => new Compose([.. steps]) };
    }

    /// <summary>A one-line description ("crop 4 px, flip p 0.5"; "none").</summary>
    public override string ToString()
    {
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        var parts = new List<string>();
        if (CropPadding > 0) parts.Add($"random crop with {CropPadding} px padding");
        if (Flip > 0) parts.Add($"left–right flip p {Flip.ToString(ci)}");
        if (Translate > 0) parts.Add($"translation ±{Translate.ToString(ci)} of the size");
        if (Rotate > 0) parts.Add($"rotation ±{Rotate.ToString(ci)}°");
        if (Noise > 0) parts.Add($"Gaussian noise σ {Noise.ToString(ci)}");
        if (EdgeNoise > 0) parts.Add($"edge noise σ {EdgeNoise.ToString(ci)} in a {Border} px border");
        return parts.Count == 0 ? "none" : string.Join(", ", parts);
    }
}
