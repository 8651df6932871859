using Sprout.Autograd;
using Sprout.Nn;
using Sprout.Tensors;

namespace Sprout.Diagnostics;

/// <summary>
/// One image's Grad-CAM map: where the network looked for the class it scored.
/// </summary>
/// <param name="Class">The class whose score was differentiated (the predicted one unless given).</param>
/// <param name="Score">That class's logit.</param>
/// <param name="Map">The map at the input's resolution, row-major [Height, Width], scaled to [0, 1] (all 0 when the
/// class evidence in the layer is nowhere positive).</param>
/// <param name="Height">Rows of <paramref name="Map"/> (the input's height).</param>
/// <param name="Width">Columns of <paramref name="Map"/>.</param>
/// <param name="Raw">The map before upsampling and scaling, [h, w] of the layer: ReLU(Σ_k α_k A_k).</param>
/// <param name="RawHeight">Rows of <paramref name="Raw"/>.</param>
/// <param name="RawWidth">Columns of <paramref name="Raw"/>.</param>
public sealed record GradCamMap(int Class, float Score, float[] Map, int Height, int Width, float[] Raw, int RawHeight, int RawWidth);

/// <summary>
/// Grad-CAM (Selvaraju et al. 2017): for a conv layer's output A [N, K, h, w] and a class score y_c, the channel
/// weights α_k = mean over positions of ∂y_c/∂A_k, the map ReLU(Σ_k α_k A_k), upsampled bilinearly to the input's size
/// and scaled to [0, 1] per image. Paper 002 shows these maps (Figures 1, 4, 5) for grown VGG16 and MobileNetV1.
/// </summary>
public static class GradCam
{
    /// <summary>
    /// The default layer of a model: the output of the last conv layer's block — the last activation after the last
    /// <see cref="Conv2d"/> before the output is flattened or pooled globally, or the conv itself when no activation
    /// follows it. Null when the model has no conv layer.
    /// </summary>
    public static int? DefaultLayer(Sequential model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layers = model.Layers;
        int conv = -1;
        for (int i = 0; i < layers.Count; i++) if (layers[i] is Conv2d) conv = i;
        if (conv < 0) return null;
        int best = conv;
        for (int i = conv + 1; i < layers.Count; i++)
        {
            if (layers[i] is Activation) { best = i; break; }
            if (layers[i] is not BatchNorm) break;
        }
        return best;
    }

    /// <summary>
    /// Grad-CAM maps of <paramref name="images"/> [N, C, H, W] for the output of layer <paramref name="layer"/> (an index
    /// of <see cref="Sequential.Layers"/> whose output is [N, K, h, w]). <paramref name="classes"/> gives the class per
    /// image (null: the predicted class). Runs in evaluation mode; the model's parameter gradients are cleared after.
    /// </summary>
    public static GradCamMap[] Compute(Sequential model, Tensor images, int layer, IReadOnlyList<int>? classes = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        if (images.Rank != 4) throw new ArgumentException($"Grad-CAM needs images [N, C, H, W], got rank {images.Rank}");
        var modules = model.Layers;
        if (layer < 0 || layer >= modules.Count - 1) throw new ArgumentException($"layer {layer} is not a layer before the output (0..{modules.Count - 2})");
        int n = images.Dim(0), height = images.Dim(2), width = images.Dim(3);
        if (classes is not null && classes.Count != n) throw new ArgumentException($"{classes.Count} classes for {n} images");
        bool was = model.IsTraining;
        model.Eval();
        try
        {
            using var scope = TensorScope.Begin();
            var x = images;
            using (Graph.NoGrad())
                for (int i = 0; i <= layer; i++) x = modules[i].Forward(x);
            if (x.Rank != 4) throw new ArgumentException($"layer {layer} ({modules[layer]}) gives rank-{x.Rank} outputs; Grad-CAM needs a conv layer's [N, K, h, w]");
            // the layer's output becomes a leaf: the gradient of the class scores stops there
            var a = x.Clone();
            a.RequiresGrad = true;
            var y = a;
            for (int i = layer + 1; i < modules.Count; i++) y = modules[i].Forward(y);
            if (y.Rank != 2 || y.Dim(0) != n) throw new ArgumentException($"the model's output is not [N, classes] scores (shape {string.Join("×", y.ShapeArray())})");
            int nc = y.Dim(1);
            var scores = y.Span;
            var chosen = new int[n];
            var mask = new float[n * nc];
            for (int r = 0; r < n; r++)
            {
                int c = classes?[r] ?? ArgMax(scores.Slice(r * nc, nc));
                if (c < 0 || c >= nc) throw new ArgumentException($"class {c} of image {r} is outside 0..{nc - 1}");
                chosen[r] = c;
                mask[r * nc + c] = 1;
            }
            // Σ_r y[r, c_r]: each image's gradient is its own class score's (the images do not interact in eval mode)
            Ops.Sum(Ops.Mul(y, new Tensor(mask, n, nc))).Backward();
            var g = a.Grad ?? throw new InvalidOperationException("no gradient reached the layer");
            int k = a.Dim(1), h = a.Dim(2), w = a.Dim(3), hw = h * w;
            var av = a.Span;
            var gv = g.Span;
            var result = new GradCamMap[n];
            for (int r = 0; r < n; r++)
            {
                var raw = new float[hw];
                for (int ch = 0; ch < k; ch++)
                {
                    int o = (r * k + ch) * hw;
                    double alpha = 0;
                    for (int p = 0; p < hw; p++) alpha += gv[o + p];
                    float al = (float)(alpha / hw);
                    if (al == 0) continue;
                    for (int p = 0; p < hw; p++) raw[p] += al * av[o + p];
                }
                for (int p = 0; p < hw; p++) raw[p] = Math.Max(0, raw[p]);
                var map = Upsample(raw, h, w, height, width);
                float max = 0;
                foreach (float v in map) max = Math.Max(max, v);
                if (max > 0) for (int p = 0; p < map.Length; p++) map[p] /= max;
                result[r] = new GradCamMap(chosen[r], scores[r * nc + chosen[r]], map, height, width, raw, h, w);
            }
            return result;
        }
        finally
        {
            model.ZeroGrad();
            model.Train(was);
        }
    }

    /// <summary>
    /// Bilinear resize of a [h, w] map to [outH, outW] with half-pixel centres (align_corners = false, as OpenCV's and
    /// PyTorch's default resize): output pixel (i, j) samples the source at ((i + ½)·h/outH − ½, (j + ½)·w/outW − ½),
    /// clamped to the border.
    /// </summary>
    public static float[] Upsample(ReadOnlySpan<float> src, int h, int w, int outH, int outW)
    {
        if (h < 1 || w < 1 || outH < 1 || outW < 1) throw new ArgumentException("sizes must be positive");
        if (src.Length != h * w) throw new ArgumentException($"{src.Length} values for a {h}×{w} map");
        var dst = new float[outH * outW];
        for (int i = 0; i < outH; i++)
        {
            double sy = Math.Clamp((i + 0.5) * h / outH - 0.5, 0, h - 1);
            int y0 = (int)sy, y1 = Math.Min(y0 + 1, h - 1);
            double fy = sy - y0;
            for (int j = 0; j < outW; j++)
            {
                double sx = Math.Clamp((j + 0.5) * w / outW - 0.5, 0, w - 1);
                int x0 = (int)sx, x1 = Math.Min(x0 + 1, w - 1);
                double fx = sx - x0;
                double top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
                double bottom = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
                dst[i * outW + j] = (float)(top * (1 - fy) + bottom * fy);
            }
        }
        return dst;
    }

    private static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
