using System.Globalization;

namespace Sprout.Nn;

/// <summary>Range checks of config fields with checked arithmetic; messages name the layer kind and the JSON field.</summary>
internal static class Limits
{
    internal static void Range(string kind, string field, long value, long lo, long hi)
    {
        if (value < lo || value > hi)
            throw new ArgumentException($"{kind}: {field} {value.ToString(CultureInfo.InvariantCulture)} is outside {lo.ToString("N0", CultureInfo.InvariantCulture)}..{hi.ToString("N0", CultureInfo.InvariantCulture)}");
    }

    /// <summary>The element count of a tensor of <paramref name="dims"/>, which must stay within the per-tensor limit.</summary>
    internal static int Elements(string kind, string what, params int[] dims)
    {
        long n = 1;
        foreach (int d in dims)
        {
            if (d < 0) throw new ArgumentException($"{kind}: {what} has a negative size in {Format(dims)}");
            n = d == 0 ? 0 : n > ModuleConfig.MaxTensorElements / d ? ModuleConfig.MaxTensorElements + 1 : n * d;
        }
        if (n > ModuleConfig.MaxTensorElements)
            throw new ArgumentException($"{kind}: {what} {Format(dims)} has more than {ModuleConfig.MaxTensorElements.ToString("N0", CultureInfo.InvariantCulture)} elements (the limit per tensor)");
        return (int)n;
    }

    internal static void Finite(string kind, string field, double value)
    {
        if (!double.IsFinite(value)) throw new ArgumentException($"{kind}: {field} must be a finite number, got {value.ToString(CultureInfo.InvariantCulture)}");
    }

    internal static void Defined<T>(string kind, string field, T value) where T : struct, Enum
    {
        if (!Enum.IsDefined(value)) throw new ArgumentException($"{kind}: {field} {value} is not one of {string.Join(", ", Enum.GetNames<T>())}");
    }

    /// <summary>Output side of a window of <paramref name="kernel"/> with stride and padding over <paramref name="size"/>.</summary>
    internal static int WindowOut(string kind, int size, int kernel, int stride, int padding)
    {
        long padded = (long)size + 2L * padding;
        if (kernel > padded) throw new ArgumentException($"{kind}: a {kernel}×{kernel} window does not fit a {size}×{size} input with padding {padding}");
        return (int)((padded - kernel) / stride + 1);
    }

    internal static int[] Image(string kind, IReadOnlyList<int> shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Count != 3) throw new ArgumentException($"{kind}: expects an image [channels, height, width], gets {Format(shape)}");
        if (shape[1] < 1 || shape[1] > ModuleConfig.MaxSpatial || shape[2] < 1 || shape[2] > ModuleConfig.MaxSpatial)
            throw new ArgumentException($"{kind}: image {Format(shape)} has a side outside 1..{ModuleConfig.MaxSpatial}");
        return [shape[0], shape[1], shape[2]];
    }

    internal static string Format(IReadOnlyList<int> shape) => "[" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";
}

/// <summary>
/// How widths flow through a sequential config: the input width of the first width-defining layer, the output width
/// of the last, and for every Flatten the inputs of the next layer per channel before it (H·W). Checks on the way
/// that each layer's input width matches the width before it.
/// </summary>
internal sealed record WidthFlow(int? Input, int? Output, IReadOnlyList<long> FlattenFactors)
{
    internal static WidthFlow Of(ModuleConfig config)
    {
        var leaves = new List<(string Where, ModuleConfig Layer)>();
        Collect(config, "", leaves);
        int? c = null, input = null;
        bool first = true, pendingFlatten = false;
        var factors = new List<long>();
        foreach (var (where, layer) in leaves)
        {
            int? inWidth = layer switch
            {
                LinearConfig l => l.InFeatures,
                Conv2dConfig cv => cv.InChannels,
                LocallyConnected2dConfig lc => lc.InChannels,
                BatchNormConfig bn => bn.Channels,
                ActivationConfig { Kind: ActivationKind.PRelu, Channels: > 1 } a => a.Channels,
                _ => null,
            };
            if (inWidth is { } w)
            {
                if (first) input = w;
                else if (c is { } prev)
                {
                    if (pendingFlatten)
                    {
                        if (w % prev != 0)
                            throw new ArgumentException($"{where}: {w} inputs are not a whole number per channel of the {prev} channels before the flatten");
                        factors.Add(w / prev);
                    }
                    else if (w != prev)
                        throw new ArgumentException($"{where}: expects {w} inputs, but the layer before gives {prev}");
                }
                first = false;
                pendingFlatten = false;
            }
            switch (layer)
            {
                case LinearConfig l: c = l.OutFeatures; break;
                case Conv2dConfig cv: c = cv.OutChannels; break;
                case LocallyConnected2dConfig lc: c = lc.Filters; break;
                case BatchNormConfig bn: c = bn.Channels; break;
                case FlattenConfig: pendingFlatten = c is not null; break;
                case PoolConfig { FlattenOutput: true, Kind: PoolKind.AdaptiveAverage } p when c is { } ch && !pendingFlatten:
                    long n = (long)ch * p.OutputSize * p.OutputSize;
                    factors.Add((long)p.OutputSize * p.OutputSize);
                    c = n > int.MaxValue ? null : (int)n;
                    break;
                case PoolConfig { FlattenOutput: true }: pendingFlatten = c is not null; break;
            }
        }
        return new WidthFlow(input, c, factors);
    }

    private static void Collect(ModuleConfig config, string where, List<(string, ModuleConfig)> leaves)
    {
        if (config is SequentialConfig s)
        {
            for (int i = 0; i < s.Layers.Count; i++)
                Collect(s.Layers[i], (where.Length == 0 ? "layer " : where + ".") + i.ToString(CultureInfo.InvariantCulture), leaves);
        }
        else leaves.Add((where.Length == 0 ? "the layer" : where, config));
    }

    /// <summary>Why <paramref name="grown"/> is not a growth of <paramref name="before"/> (input, output or H·W changed), or null.</summary>
    internal static string? GrowthProblem(WidthFlow before, WidthFlow grown)
    {
        if (before.Input != grown.Input) return $"the network's input width changes from {before.Input} to {grown.Input}";
        if (before.Output != grown.Output) return $"the network's output width changes from {before.Output} to {grown.Output}";
        if (!before.FlattenFactors.SequenceEqual(grown.FlattenFactors))
            return $"the inputs per channel after a flatten change from [{string.Join(", ", before.FlattenFactors)}] to [{string.Join(", ", grown.FlattenFactors)}]";
        return null;
    }
}
