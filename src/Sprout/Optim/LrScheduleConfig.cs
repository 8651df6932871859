using System.Text.Json.Serialization;

namespace Sprout.Optim;

/// <summary>The shape of a learning-rate schedule in a run config.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LrScheduleKind>))]
public enum LrScheduleKind
{
    /// <summary>The base rate throughout.</summary>
    Constant,

    /// <summary>Half a cosine from the base rate down to base·minFactor over <see cref="LrScheduleConfig.Epochs"/> epochs, then flat (PyTorch CosineAnnealingLR).</summary>
    Cosine,

    /// <summary>×gamma at each of <see cref="LrScheduleConfig.Milestones"/> (PyTorch MultiStepLR).</summary>
    MultiStep,
}

/// <summary>
/// A learning-rate schedule as a serialisable config, counted in epochs over the whole run — the initial phase and
/// every stage in turn, so growth steps do not restart it (JSON <c>{"kind": "Cosine", "epochs": 250, "minFactor": 0}</c>
/// or <c>{"kind": "MultiStep", "milestones": [80, 120], "gamma": 0.1}</c>). <see cref="Build"/> makes the
/// <see cref="LrSchedule"/>; a warm-up of <see cref="WarmupEpochs"/> goes in front when set.
/// </summary>
/// <param name="Kind">The schedule's shape.</param>
/// <param name="Epochs">Cosine: the epochs of the half cosine (the run's planned total).</param>
/// <param name="MinFactor">Cosine: the final factor of the base rate.</param>
/// <param name="Milestones">MultiStep: the epochs at which the rate is multiplied by <paramref name="Gamma"/>.</param>
/// <param name="Gamma">MultiStep: the decay factor.</param>
/// <param name="WarmupEpochs">Linear warm-up epochs before the schedule (0 = none).</param>
public sealed record LrScheduleConfig(LrScheduleKind Kind = LrScheduleKind.Cosine, int Epochs = 0, double MinFactor = 0,
    IReadOnlyList<int>? Milestones = null, double Gamma = 0.1, int WarmupEpochs = 0)
{
    /// <summary>The largest accepted epoch count.</summary>
    public const int MaxEpochs = 1_000_000;

    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> with one clear line.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind)) throw new ArgumentException($"learningRateSchedule: unknown kind {(int)Kind} (Constant, Cosine or MultiStep)");
        if (Kind == LrScheduleKind.Cosine && (Epochs < 1 || Epochs > MaxEpochs))
            throw new ArgumentException($"learningRateSchedule: a cosine schedule needs epochs in 1…{MaxEpochs}, got {Epochs}");
        if (!(MinFactor >= 0 && MinFactor <= 1)) throw new ArgumentException($"learningRateSchedule: minFactor must be in [0, 1], got {MinFactor}");
        if (Kind == LrScheduleKind.MultiStep)
        {
            if (Milestones is not { Count: > 0 }) throw new ArgumentException("learningRateSchedule: a multi-step schedule needs milestones");
            for (int i = 0; i < Milestones.Count; i++)
                if (Milestones[i] < 1 || Milestones[i] > MaxEpochs || i > 0 && Milestones[i] <= Milestones[i - 1])
                    throw new ArgumentException($"learningRateSchedule: milestones must be increasing epochs in 1…{MaxEpochs}");
        }
        if (!(Gamma > 0 && Gamma <= 1)) throw new ArgumentException($"learningRateSchedule: gamma must be in (0, 1], got {Gamma}");
        if (WarmupEpochs < 0 || WarmupEpochs > MaxEpochs) throw new ArgumentException($"learningRateSchedule: warmupEpochs must be in 0…{MaxEpochs}, got {WarmupEpochs}");
    }

    /// <summary>The schedule (factors of the base rate per epoch).</summary>
    public LrSchedule Build()
    {
        Validate();
        LrSchedule s = Kind switch
        {
            LrScheduleKind.Cosine => new CosineLr(Epochs, MinFactor),
            LrScheduleKind.MultiStep => new MultiStepLr(Milestones!.ToArray(), Gamma),
            _ => new ConstantLr(),
        };
        return WarmupEpochs > 0 ? new WarmupLr(WarmupEpochs, s) : s;
    }
}
