using Xunit;

namespace Sprout.Tests;

/// <summary>
/// Tests that set the process-wide <see cref="Sprout.Kernels.Workers.Threads"/> (directly, through the CLI's --threads,
/// or one-thread resume checks). They run on their own, never beside other tests: a thread count changed in the middle
/// of another test's training step made that test flaky (ConvModelTests.SmallCnnLearnsSyntheticImageTask failed once
/// in a full run and never alone).
/// </summary>
[CollectionDefinition("Workers", DisableParallelization = true)]
public sealed class WorkersCollection;
