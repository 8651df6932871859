using System.Globalization;
using System.Text;
using System.Text.Json;
using Sprout.Growth;
using Sprout.Reporting;
using Sprout.Runs;

namespace Sprout.Experiments;

/// <summary>One row of the paper-003 results: a run's kept epoch, median over the folds run.</summary>
/// <param name="Dataset">Data set.</param>
/// <param name="Study">Study name.</param>
/// <param name="Architecture">cnn or fcn.</param>
/// <param name="Level">Augmentation level (severed share for the variable connection patterns).</param>
/// <param name="Folds">Folds with a record.</param>
/// <param name="Epochs">Median epochs trained.</param>
/// <param name="KeptEpoch">Median kept epoch.</param>
/// <param name="TrainAccuracy">Training accuracy (augmented) of the kept epoch.</param>
/// <param name="Accuracy">Accuracy on each evaluation fold at the kept epoch.</param>
/// <param name="Euclidean">Filter distance (Euclidean / ‖W‖) per radius at the kept epoch (FCN; empty for a CNN).</param>
/// <param name="Cosine">Cosine filter distance per radius at the kept epoch.</param>
/// <param name="SecondsPerEpoch">Median wall time per epoch.</param>
public sealed record FcnTranslationRow(string Dataset, string Study, string Architecture, double Level, int Folds, double Epochs, double KeptEpoch,
    double TrainAccuracy, IReadOnlyDictionary<string, double> Accuracy, IReadOnlyDictionary<int, double> Euclidean, IReadOnlyDictionary<int, double> Cosine,
    double SecondsPerEpoch);

/// <summary>
/// The report of paper 003's study: Tables 1–2 and B.1–B.3 (ours beside the paper's), every evaluation fold's accuracy
/// per run (quadrant swap: Figure 6; the variable connection patterns: Figures C.1–C.2), and charts of the accuracies
/// over the epochs (Figures 3–4, 6, C.1–C.2) and of the filter distances over training (Figures 5, B.6, B.7);
/// results.md, results.json and charts/ in the output folder.
/// </summary>
public static class FcnTranslationReport
{
    /// <summary>Paper 003 Table 1 (MNIST, translation): per level 0, 0.1, …, 0.99 the median training, validation and translation accuracy, CNN then FCN each.</summary>
    public static IReadOnlyList<double[]> Table1 { get; } =
    [
        [0.999964, 0.999175, 0.990536, 0.988071, 0.366536, 0.372287],
        [0.997793, 0.995665, 0.993071, 0.991857, 0.837963, 0.813368],
        [0.996719, 0.991730, 0.993000, 0.990357, 0.986220, 0.977033],
        [0.992555, 0.983998, 0.992143, 0.987643, 0.990741, 0.985062],
        [0.976966, 0.965521, 0.991571, 0.984500, 0.989439, 0.982422],
        [0.935973, 0.923703, 0.990071, 0.981571, 0.987594, 0.979456],
        [0.863680, 0.847367, 0.988286, 0.978500, 0.986111, 0.976273],
        [0.752630, 0.731917, 0.987000, 0.974286, 0.984484, 0.971933],
        [0.626956, 0.606541, 0.985500, 0.970786, 0.982820, 0.968171],
        [0.520896, 0.503312, 0.984714, 0.967821, 0.982096, 0.965133],
        [0.448491, 0.431218, 0.984000, 0.965071, 0.981120, 0.961372],
    ];

    /// <summary>Paper 003 Table 2 (CIFAR-10, translation), laid out as <see cref="Table1"/>.</summary>
    public static IReadOnlyList<double[]> Table2 { get; } =
    [
        [1.000000, 1.000000, 0.671083, 0.647333, 0.444556, 0.433468],
        [0.982156, 0.973354, 0.749333, 0.724333, 0.598538, 0.561324],
        [0.876542, 0.858094, 0.773250, 0.731500, 0.705225, 0.653478],
        [0.834646, 0.781885, 0.774083, 0.720167, 0.739163, 0.683972],
        [0.775188, 0.725198, 0.768750, 0.704958, 0.742608, 0.680444],
        [0.712146, 0.657438, 0.751667, 0.682250, 0.729419, 0.661458],
        [0.650719, 0.598344, 0.734042, 0.659958, 0.714130, 0.642557],
        [0.592385, 0.545354, 0.717250, 0.641542, 0.699555, 0.624286],
        [0.535958, 0.496677, 0.699667, 0.626250, 0.681452, 0.607695],
        [0.483635, 0.449490, 0.684833, 0.611667, 0.667801, 0.593834],
        [0.442260, 0.413802, 0.668667, 0.599458, 0.653436, 0.583375],
    ];

    /// <summary>Paper 003 Table B.1 (edge noise): per level, MNIST validation CNN, FCN, translation CNN, FCN, then CIFAR-10 the same.</summary>
    public static IReadOnlyList<double[]> TableB1 { get; } =
    [
        [0.99054, 0.98807, 0.36654, 0.37229, 0.67108, 0.64733, 0.44456, 0.43347],
        [0.99100, 0.98786, 0.36263, 0.37666, 0.64475, 0.62633, 0.42742, 0.42179],
        [0.98921, 0.98714, 0.35503, 0.37587, 0.63567, 0.62375, 0.42288, 0.42011],
        [0.98943, 0.98714, 0.35113, 0.36777, 0.62992, 0.62350, 0.41944, 0.41986],
        [0.98950, 0.98750, 0.34368, 0.36053, 0.61225, 0.62342, 0.40835, 0.41952],
        [0.98864, 0.98664, 0.34107, 0.35236, 0.60917, 0.62167, 0.40348, 0.41734],
        [0.98893, 0.98750, 0.33550, 0.34968, 0.59083, 0.61617, 0.39365, 0.41541],
        [0.98843, 0.98707, 0.33565, 0.34650, 0.59308, 0.61558, 0.39415, 0.41473],
        [0.98821, 0.98671, 0.33200, 0.34165, 0.58392, 0.61375, 0.38794, 0.41322],
        [0.98800, 0.98679, 0.33377, 0.33970, 0.58058, 0.60925, 0.38458, 0.41112],
        [0.98829, 0.98650, 0.32986, 0.33767, 0.57383, 0.60996, 0.37912, 0.41053],
    ];

    /// <summary>Paper 003 Table B.2 (noise), laid out as <see cref="TableB1"/>.</summary>
    public static IReadOnlyList<double[]> TableB2 { get; } =
    [
        [0.99054, 0.98807, 0.36654, 0.37229, 0.67108, 0.64733, 0.44456, 0.43347],
        [0.99000, 0.98750, 0.35757, 0.37004, 0.63092, 0.63425, 0.41507, 0.41919],
        [0.98957, 0.98779, 0.35880, 0.37410, 0.59258, 0.61825, 0.39037, 0.40381],
        [0.99007, 0.98829, 0.36328, 0.36957, 0.56258, 0.59404, 0.37433, 0.38899],
        [0.98979, 0.98879, 0.35793, 0.36769, 0.53521, 0.56983, 0.35652, 0.37576],
        [0.98964, 0.98857, 0.35084, 0.34990, 0.51142, 0.55075, 0.34232, 0.36794],
        [0.98900, 0.98836, 0.33623, 0.33261, 0.48083, 0.53192, 0.32451, 0.35685],
        [0.98807, 0.98750, 0.31854, 0.31782, 0.44858, 0.50850, 0.30612, 0.34341],
        [0.98614, 0.98586, 0.30433, 0.30136, 0.42417, 0.47683, 0.29255, 0.32502],
        [0.98407, 0.98350, 0.29080, 0.28516, 0.41179, 0.44933, 0.28642, 0.30855],
        [0.98164, 0.98086, 0.27590, 0.27235, 0.38250, 0.40042, 0.27050, 0.28154],
    ];

    /// <summary>Paper 003 Table B.3 (rotation), laid out as <see cref="TableB1"/>.</summary>
    public static IReadOnlyList<double[]> TableB3 { get; } =
    [
        [0.99054, 0.98807, 0.36654, 0.37229, 0.67108, 0.64733, 0.44456, 0.43347],
        [0.99079, 0.98836, 0.38527, 0.37753, 0.68233, 0.65500, 0.48660, 0.46211],
        [0.98907, 0.98571, 0.36372, 0.35055, 0.65746, 0.62608, 0.47450, 0.44766],
        [0.98779, 0.98436, 0.33587, 0.30107, 0.64708, 0.61000, 0.47106, 0.43364],
        [0.98636, 0.98329, 0.32147, 0.28877, 0.63625, 0.59767, 0.46455, 0.42981],
        [0.98439, 0.98114, 0.32183, 0.29492, 0.62242, 0.58550, 0.46337, 0.42465],
        [0.98400, 0.97979, 0.32154, 0.29854, 0.61533, 0.57458, 0.45682, 0.41919],
        [0.98336, 0.97864, 0.32060, 0.29337, 0.60717, 0.57100, 0.44750, 0.41465],
        [0.98236, 0.97786, 0.31547, 0.29015, 0.60875, 0.56567, 0.44758, 0.40961],
        [0.98071, 0.97686, 0.31040, 0.28566, 0.59958, 0.55767, 0.44414, 0.40692],
        [0.98350, 0.97975, 0.32429, 0.29239, 0.61842, 0.58108, 0.46102, 0.42221],
    ];

    /// <summary>The paper's row of a level (null when the level is not one of its 0, 0.1, …, 0.99).</summary>
    public static double[]? PaperRow(IReadOnlyList<double[]> table, double level)
    {
        ArgumentNullException.ThrowIfNull(table);
        int i = FcnTranslationOptions.PaperLevels.ToList().FindIndex(l => Math.Abs(l - level) < 1e-9);
        return i < 0 || i >= table.Count ? null : table[i];
    }

    /// <summary>The median of the finite values (NaN if none).</summary>
    public static double Median(IEnumerable<double> xs)
    {
        ArgumentNullException.ThrowIfNull(xs);
        var v = xs.Where(double.IsFinite).OrderBy(x => x).ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    /// <summary>The rows of the results: every run of the study, medians over its folds at their kept epochs.</summary>
    public static IReadOnlyList<FcnTranslationRow> Rows(FcnTranslationOptions o, IReadOnlyList<FcnTranslationRuns> runs)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(runs);
        bool es = o.Patience > 0;
        return runs.Select(r =>
        {
            var done = r.Records.Where(x => x is { Epochs.Count: > 0 }).Select(x => x!).ToList();
            var kept = done.Select(x => (Record: x, Epoch: x.Kept(es)!)).ToList();
            var acc = FcnTranslationOptions.EvalNames.ToDictionary(n => n, n => Median(kept.Select(k => k.Epoch.Accuracy.TryGetValue(n, out var v) ? v : double.NaN)));
            FilterDistanceAt? At(FcnRecord rec, int epoch) => rec.Distances.FirstOrDefault(d => d.Epoch == epoch);
            var eu = new Dictionary<int, double>();
            var co = new Dictionary<int, double>();
            if (r.Run.Architecture == "fcn")
                foreach (int radius in o.Radii)
                {
                    eu[radius] = Median(kept.Select(k => At(k.Record, k.Epoch.Epoch)?.Distances.FirstOrDefault(d => d.Radius == radius)?.Euclidean ?? double.NaN));
                    co[radius] = Median(kept.Select(k => At(k.Record, k.Epoch.Epoch)?.Distances.FirstOrDefault(d => d.Radius == radius)?.Cosine ?? double.NaN));
                }
            return new FcnTranslationRow(r.Dataset, FcnRun.StudyName(r.Run.Study), r.Run.Architecture, r.Run.Level, done.Count,
                Median(done.Select(x => (double)x.Epochs.Count)), Median(kept.Select(k => (double)k.Epoch.Epoch)), Median(kept.Select(k => k.Epoch.TrainAccuracy)),
                acc, eu, co, Median(done.Select(x => x.Epochs[^1].Seconds / x.Epochs.Count)));
        }).ToList();
    }

    /// <summary>Writes results.md, results.json and charts/ into <paramref name="outDir"/>; returns the Markdown.</summary>
    public static string Write(FcnTranslationOptions o, IReadOnlyList<FcnTranslationRuns> runs, string outDir, double minutes)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(runs);
        var rows = Rows(o, runs);
        string chartDir = Path.Combine(outDir, "charts");
        var charts = new List<(string Title, string Path)>();
        string Lv(double l) => l.ToString("0.##", CultureInfo.InvariantCulture);
        foreach (var ds in o.Datasets)
        {
            FcnTranslationRuns? Find(FcnStudy study, string arch, double level)
            {
                var c = o.Canonical(new FcnRun(study, arch, level));
                return runs.FirstOrDefault(r => r.Dataset == ds && r.Run == c);
            }
            void Chart(string stem, string title, string xLabel, string yLabel, List<EpochLine> lines)
            {
                if (lines.Count == 0 || lines.All(l => l.X.Count == 0)) return;
                charts.Add((title, SimilarityCharts.WriteLines(chartDir, $"{ds}-{stem}", title, xLabel, yLabel, lines)));
            }
            // Figures 3–4: held-out accuracy, clean and translated, over the epochs per translation level
            foreach (var arch in o.Architectures)
                foreach (var (eval, what) in new[] { ("clean", "held-out accuracy"), ("translated", $"{Lv(o.EvalTranslate * 100)}%-translated held-out accuracy") })
                    Chart($"translation-{arch}-{eval}", $"Figures 3–4: {arch.ToUpperInvariant()} {what} by training translation ({ds}, median over folds)", "epoch", "accuracy",
                        o.TranslationLevels.Select(l => AccuracyCurve($"translation {Lv(l)}", Find(FcnStudy.Translation, arch, l), eval)).OfType<EpochLine>().ToList());
            // Figures 5, B.6, B.7: filter distances over training
            foreach (var (study, fig) in new[] { (FcnStudy.Translation, "Figure 5"), (FcnStudy.Rotation, "Figure B.6"), (FcnStudy.Noise, "Figure B.7") })
                foreach (int radius in o.Radii)
                    Chart($"distance-{FcnRun.StudyName(study)}-r{radius}", $"{fig}: FCN layer-1 filter distance at radius {radius}, {FcnRun.StudyName(study)} training ({ds}, median over folds)",
                        "epoch (0 = initialisation)", "mean Euclidean distance / ‖W‖",
                        o.LevelsOf(study).Select(l => DistanceCurve($"{FcnRun.StudyName(study)} {Lv(l)}", Find(study, "fcn", l), radius)).OfType<EpochLine>().ToList());
            // Figure 6: quadrant swap
            Chart("quadrant-swap", $"Figure 6: quadrant-swapped held-out accuracy ({ds}, median over folds; dashed: FCN)", "epoch", "accuracy",
                o.Architectures.SelectMany(a => o.TranslationLevels.Select(l => AccuracyCurve($"{a.ToUpperInvariant()} translation {Lv(l)}", Find(FcnStudy.Translation, a, l), "quadrant-swap", a == "fcn")))
                    .OfType<EpochLine>().ToList());
            // Figures C.1–C.2: variable connection patterns
            if (o.Architectures.Contains("fcn") && o.VcpLevels.Count > 0)
                foreach (var eval in new[] { "train" }.Concat(FcnTranslationOptions.EvalNames.Take(5)))
                    Chart($"vcp-{eval}", $"Figures C.1–C.2: FCN with severed connections, {(eval == "train" ? "training" : eval)} accuracy ({ds}, translation {Lv(o.VcpTranslation)})", "epoch", "accuracy",
                        o.VcpLevels.Select(l => AccuracyCurve($"severed {Lv(l)}", Find(FcnStudy.Vcp, "fcn", l), eval)).OfType<EpochLine>().ToList());
        }
        string md = Markdown(o, rows, charts.Select(c => (c.Title, Path.GetRelativePath(outDir, c.Path))).ToList(), minutes);
        var doc = new
        {
            experiment = FcnTranslationExperiment.Command,
            description = o.Describe(),
            choices = o.Choices().ToDictionary(c => c.Choice, c => c.Value),
            minutes,
            rows,
            paper = new { table1 = Table1, table2 = Table2, tableB1 = TableB1, tableB2 = TableB2, tableB3 = TableB3 },
            charts = charts.Select(c => Path.GetRelativePath(outDir, c.Path)),
        };
        Directory.CreateDirectory(outDir);
        RunSession.WriteAtomically(Path.Combine(outDir, "results.json"), JsonSerializer.Serialize(doc, GrowthRunConfig.JsonOptions));
        RunSession.WriteAtomically(Path.Combine(outDir, "results.md"), md);
        return md;
    }

    // median over folds per epoch (over the epochs every fold has) of an evaluation fold's accuracy ("train": training)
    private static EpochLine? AccuracyCurve(string label, FcnTranslationRuns? runs, string eval, bool dashed = false)
    {
        var done = runs?.Records.Where(r => r is { Epochs.Count: > 0 }).Select(r => r!).ToList();
        if (done is null || done.Count == 0) return null;
        int n = done.Min(r => r.Epochs.Count);
        double Of(FcnEpoch e) => eval == "train" ? e.TrainAccuracy : e.Accuracy.TryGetValue(eval, out var v) ? v : double.NaN;
        return new EpochLine(label, Enumerable.Range(1, n).Select(e => (double)e).ToArray(),
            Enumerable.Range(0, n).Select(e => Median(done.Select(r => Of(r.Epochs[e])))).ToArray(), dashed);
    }

    private static EpochLine? DistanceCurve(string label, FcnTranslationRuns? runs, int radius)
    {
        var done = runs?.Records.Where(r => r is { Distances.Count: > 0 }).Select(r => r!).ToList();
        if (done is null || done.Count == 0) return null;
        int n = done.Min(r => r.Distances.Count);
        return new EpochLine(label, Enumerable.Range(0, n).Select(e => (double)done[0].Distances[e].Epoch).ToArray(),
            Enumerable.Range(0, n).Select(e => Median(done.Select(r => r.Distances[e].Distances.FirstOrDefault(d => d.Radius == radius)?.Euclidean ?? double.NaN))).ToArray());
    }

    private static string Markdown(FcnTranslationOptions o, IReadOnlyList<FcnTranslationRow> rows, IReadOnlyList<(string Title, string Path)> charts, double minutes)
    {
        var ci = CultureInfo.InvariantCulture;
        string A(double v) => double.IsFinite(v) ? v.ToString("0.0000", ci) : "–";
        string P(double[]? row, int k) => row is null ? "" : $" ({row[k].ToString("0.0000", ci)})";
        string Lv(double l) => l.ToString("0.00", ci);
        FcnTranslationRow? Row(string ds, FcnStudy study, string arch, double level)
        {
            var c = o.Canonical(new FcnRun(study, arch, level));
            return rows.FirstOrDefault(r => r.Dataset == ds && r.Study == FcnRun.StudyName(c.Study) && r.Architecture == c.Architecture && r.Level == c.Level);
        }
        double Acc(FcnTranslationRow? r, string eval) => r is null ? double.NaN : r.Accuracy.TryGetValue(eval, out var v) ? v : double.NaN;
        var sb = new StringBuilder();
        sb.AppendLine("# Free Convolutional Networks: translation, weight sharing and connection patterns (paper 003, Ott et al.: Tables 1–2, B.1–B.3, Figures 3–6, B.6–B.7, C.1–C.2)").AppendLine();
        sb.AppendLine($"`sprout {FcnTranslationExperiment.Command}` — {minutes.ToString("0.0", ci)} min.").AppendLine();
        if (o.Scale == ExperimentScale.Quick)
            sb.AppendLine($"**Quick scale.** Cut from the paper's protocol: a pool of {(o.PoolSamples > 0 ? o.PoolSamples.ToString("N0", ci) : "all")} images instead of all of train + test (70,000 MNIST, 60,000 CIFAR-10), " +
                          $"fold(s) {string.Join(", ", o.FoldsRun)} of {o.Folds} instead of all, {o.MaxEpochs} epoch(s) without early stopping instead of up to 250 with patience 50, " +
                          $"translation levels {string.Join(", ", o.TranslationLevels.Select(Lv))} instead of 0–0.99, one level of each other augmentation, severed shares {string.Join(", ", o.VcpLevels.Select(Lv))}. " +
                          "The paper's figures (in parentheses) are medians over 5 folds of full training: compare directions (who gains from translation, the gap to the translated fold), not absolute numbers.").AppendLine();
        sb.AppendLine("## Protocol (with the option that sets each choice)").AppendLine();
        sb.AppendLine("| choice | value |").AppendLine("|---|---|");
        foreach (var (c, v) in o.Choices()) sb.AppendLine($"| {c} | {v} |");
        sb.AppendLine();
        bool both = o.Architectures.Contains("cnn") && o.Architectures.Contains("fcn");
        foreach (var ds in o.Datasets)
        {
            bool cifar = FcnTranslationOptions.IsCifar(ds);
            if (both && o.TranslationLevels.Count > 0)
            {
                sb.AppendLine($"## {(cifar ? "Table 2" : "Table 1")}: {ds}, translation augmentation — median accuracy at the kept epoch (paper in parentheses)").AppendLine();
                sb.AppendLine("| translation | training CNN | training FCN | held-out CNN | held-out FCN | translated CNN | translated FCN |").AppendLine("|---|---|---|---|---|---|---|");
                var table = cifar ? Table2 : Table1;
                foreach (var l in o.TranslationLevels)
                {
                    var c = Row(ds, FcnStudy.Translation, "cnn", l);
                    var f = Row(ds, FcnStudy.Translation, "fcn", l);
                    var p = PaperRow(table, l);
                    sb.AppendLine($"| {Lv(l)} | {A(c?.TrainAccuracy ?? double.NaN)}{P(p, 0)} | {A(f?.TrainAccuracy ?? double.NaN)}{P(p, 1)} | {A(Acc(c, "clean"))}{P(p, 2)} | {A(Acc(f, "clean"))}{P(p, 3)} | " +
                                  $"{A(Acc(c, "translated"))}{P(p, 4)} | {A(Acc(f, "translated"))}{P(p, 5)} |");
                }
                sb.AppendLine();
            }
            foreach (var (study, table, name) in new[] { (FcnStudy.EdgeNoise, TableB1, "Table B.1: edge noise"), (FcnStudy.Noise, TableB2, "Table B.2: noise"), (FcnStudy.Rotation, TableB3, "Table B.3: rotation") })
            {
                if (!both || o.LevelsOf(study).Count == 0) continue;
                sb.AppendLine($"## {name} ({ds}) — median accuracy at the kept epoch (paper in parentheses)").AppendLine();
                sb.AppendLine("| level | held-out CNN | held-out FCN | translated CNN | translated FCN |").AppendLine("|---|---|---|---|---|");
                int off = cifar ? 4 : 0;
                foreach (var l in new[] { 0.0 }.Concat(o.LevelsOf(study)).Distinct())
                {
                    var c = Row(ds, study, "cnn", l);
                    var f = Row(ds, study, "fcn", l);
                    if (c is null && f is null) continue;
                    var p = PaperRow(table, l);
                    sb.AppendLine($"| {Lv(l)} | {A(Acc(c, "clean"))}{P(p, off)} | {A(Acc(f, "clean"))}{P(p, off + 1)} | {A(Acc(c, "translated"))}{P(p, off + 2)} | {A(Acc(f, "translated"))}{P(p, off + 3)} |");
                }
                sb.AppendLine();
            }
            var mine = rows.Where(r => r.Dataset == ds).ToList();
            if (mine.Count > 0)
            {
                string radii = string.Join(" | ", o.Radii.Select(r => $"distance r{r} (eucl. / cos)"));
                sb.AppendLine($"## Every run on {ds}: accuracy on each evaluation fold (quadrant swap: Figure 6; severed connections: Figures C.1–C.2) and the FCN's layer-1 filter distances, at the kept epoch").AppendLine();
                sb.AppendLine($"| study | network | level | folds | epochs | kept | s/epoch | training | {string.Join(" | ", FcnTranslationOptions.EvalNames)} | {radii} |");
                sb.AppendLine("|---|---|---|---|---|---|---|---|" + string.Concat(Enumerable.Repeat("---|", FcnTranslationOptions.EvalNames.Count + o.Radii.Count)));
                foreach (var r in mine)
                    sb.AppendLine($"| {r.Study} | {r.Architecture} | {Lv(r.Level)} | {r.Folds} | {r.Epochs.ToString("0.#", ci)} | {r.KeptEpoch.ToString("0.#", ci)} | {(double.IsFinite(r.SecondsPerEpoch) ? r.SecondsPerEpoch.ToString("0.0", ci) : "–")} | {A(r.TrainAccuracy)} | " +
                                  string.Join(" | ", FcnTranslationOptions.EvalNames.Select(n => A(Acc(r, n)))) + " | " +
                                  string.Join(" | ", o.Radii.Select(rad => r.Euclidean.TryGetValue(rad, out var e) ? $"{e.ToString("0.0000", ci)} / {r.Cosine[rad].ToString("0.000", ci)}" : "–")) + " |");
                sb.AppendLine();
            }
        }
        sb.AppendLine("The paper's Figure 6: the CNN keeps about 50% on quadrant-swapped MNIST, the FCN about 20% less; §5.4: the FCN's filter distances fall as training translation grows " +
                      "(radius 1 below radius 4) and rise without translation, and rotation or noise augmentation (Figures B.6–B.7) does not make them fall.").AppendLine();
        if (charts.Count > 0)
        {
            sb.AppendLine("## Charts").AppendLine();
            foreach (var (title, path) in charts) sb.AppendLine($"**{title}**").AppendLine().AppendLine($"![{title}]({path.Replace('\\', '/')})").AppendLine();
        }
        sb.AppendLine("Each run's folds are a run group (`<out>/<data set>/<study>/<network>/<level>/fold-<k>`, with `fcn.json` beside the run files): `sprout report` on it draws its epoch curves, `sprout compare` overlays runs.");
        return sb.ToString();
    }
}
