namespace Sprout.Growth;

/// <summary>
/// Settings of Firefly (Wu et al. 2020), shared by <see cref="FireflyExtender"/> and <see cref="FireflyDistributor"/>.
/// Every existing neuron of a site is a split candidate (when <see cref="SplitCandidates"/>); the new-neuron candidates
/// per site are <see cref="CandidatesPerLayer"/> (Firefly's own code: 70) or, when that is 0,
/// ⌈<see cref="PoolFactor"/> × the neurons the site is to receive⌉ (paper 000: 5×; as a distributor, the stage total
/// is spread evenly over the sites for this count).
/// </summary>
/// <param name="PoolFactor">New-neuron candidates per neuron to add (used when <paramref name="CandidatesPerLayer"/> is 0).</param>
/// <param name="CandidatesPerLayer">New-neuron candidates per site; 0 = from <paramref name="PoolFactor"/>.</param>
/// <param name="SplitCandidates">Whether existing neurons are split candidates.</param>
/// <param name="SplitInit">Split directions v start U(−a, a) (code: 0.1).</param>
/// <param name="NewIncomingStd">New candidates' incoming weights start N(0, σ²) (code: 0.1).</param>
/// <param name="NewOutgoingInit">New candidates' outgoing weights start U(−a, a) (code: 0.01).</param>
/// <param name="Epochs">Epochs of candidate training before scoring (code: 1).</param>
/// <param name="BatchSize">Mini-batch size of candidate training and scoring (code: 128).</param>
/// <param name="LearningRate">RMSprop learning rate (code: 1e-3).</param>
/// <param name="Momentum">RMSprop momentum (code: 0.1).</param>
/// <param name="Alpha">RMSprop α (code: 0.9).</param>
/// <param name="Penalty">Weight of the penalty on the candidates' size: Penalty·(Σv² + <paramref name="NewPenalty"/>·Σv_new²) (code: 1e-2).</param>
/// <param name="NewPenalty">Relative weight of the new candidates' incoming weights in the penalty (code: 1e-2).</param>
/// <param name="ScoreFraction">Share of the training set the scoring pass averages dL/dy over (code: 1, a full pass;
/// default 0.5, which keeps a conv net's growth step within 1.5× of one candidate-training epoch — the scoring pass
/// costs about as much as a training epoch, since the gates' gradients must reach the first site).</param>
public sealed record FireflyOptions(
    double PoolFactor = 5,
    int CandidatesPerLayer = 0,
    bool SplitCandidates = true,
    double SplitInit = 0.1,
    double NewIncomingStd = 0.1,
    double NewOutgoingInit = 0.01,
    int Epochs = 1,
    int BatchSize = 128,
    double LearningRate = 1e-3,
    double Momentum = 0.1,
    double Alpha = 0.9,
    double Penalty = 1e-2,
    double NewPenalty = 1e-2,
    double ScoreFraction = 0.5)
{
    /// <summary>Paper 000's use: a pool of 5 new-neuron candidates per neuron to add, plus every split candidate; scored on
    /// half the training set (paper 000 does not say; see <see cref="ScoreFraction"/>).</summary>
    public static FireflyOptions Paper { get; } = new();

    /// <summary>Firefly's own code: 70 new-neuron candidates per layer, plus every split candidate, scored on a full pass.</summary>
    public static FireflyOptions Reference { get; } = new(CandidatesPerLayer: 70, ScoreFraction: 1);

    /// <summary>The largest accepted <see cref="CandidatesPerLayer"/>.</summary>
    public const int MaxCandidates = 1 << 16;

    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> naming the setting (prefix: the method's name).</summary>
    public void Validate(string who)
    {
        void Check(bool ok, string message)
        {
            if (!ok) throw new ArgumentException($"{who}: {message}");
        }
        Check(PoolFactor is >= 0 and <= 1000, $"poolFactor must be in 0…1000, got {PoolFactor}");
        Check(CandidatesPerLayer is >= 0 and <= MaxCandidates, $"candidatesPerLayer must be in 0…{MaxCandidates} (0 = from poolFactor), got {CandidatesPerLayer}");
        Check(SplitCandidates || CandidatesPerLayer > 0 || PoolFactor > 0, "no candidates: enable splitCandidates or set poolFactor or candidatesPerLayer above 0");
        Check(SplitInit is >= 0 and <= 100, $"splitInit must be in 0…100, got {SplitInit}");
        Check(NewIncomingStd is >= 0 and <= 100, $"newIncomingStd must be in 0…100, got {NewIncomingStd}");
        Check(NewOutgoingInit is >= 0 and <= 100, $"newOutgoingInit must be in 0…100, got {NewOutgoingInit}");
        Check(Epochs is >= 0 and <= 1000, $"epochs must be in 0…1000, got {Epochs}");
        Check(BatchSize is >= 1 and <= 1 << 20, $"batchSize must be in 1…{1 << 20}, got {BatchSize}");
        Check(LearningRate > 0 && LearningRate <= 10, $"learningRate must be in (0, 10], got {LearningRate}");
        Check(Momentum is >= 0 and < 1, $"momentum must be in [0, 1), got {Momentum}");
        Check(Alpha is > 0 and < 1, $"alpha must be in (0, 1), got {Alpha}");
        Check(Penalty is >= 0 and <= 1e6, $"penalty must be in 0…1e6, got {Penalty}");
        Check(NewPenalty is >= 0 and <= 1e6, $"newPenalty must be in 0…1e6, got {NewPenalty}");
        Check(ScoreFraction is > 0 and <= 1, $"scoreFraction must be in (0, 1], got {ScoreFraction}");
    }

    /// <summary>New-neuron candidates for a site that is to receive <paramref name="toAdd"/> neurons (0 when it receives none).</summary>
    public int NewCandidates(double toAdd) =>
        toAdd <= 0 ? 0 : CandidatesPerLayer > 0 ? CandidatesPerLayer : (int)Math.Min(MaxCandidates, Math.Ceiling(PoolFactor * toAdd - 1e-9));
}
