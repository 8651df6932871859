namespace Sprout.Growth;

/// <summary>The optimizer a growth run trains with (<see cref="GrowthRunConfig.Optimizer"/>).</summary>
public enum TrainingOptimizer
{
    /// <summary>Adam (AdamW when <see cref="GrowthRunConfig.WeightDecay"/> &gt; 0): the default of every run.</summary>
    Adam,

    /// <summary>
    /// Adam with coupled L2 weight decay (the decay is added to the gradient before Adam's normalisation, as
    /// torch.optim.Adam's weight_decay does; paper 000's released code trains so with 1e-4).
    /// </summary>
    AdamL2,

    /// <summary>SGD with <see cref="GrowthRunConfig.Momentum"/> (PyTorch's rule; weight decay as L2).</summary>
    Sgd,
}
