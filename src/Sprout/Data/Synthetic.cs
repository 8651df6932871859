using Sprout.Tensors;

namespace Sprout.Data;

/// <summary>Small generated classification tasks (no files needed): for smoke runs, tests and demos.</summary>
public static class Synthetic
{
    /// <summary>
    /// Two interleaved spirals in 2-D (a task a linear model cannot solve): x [n, 2], labels 0/1 alternating by
    /// sample. <paramref name="noise"/> is the standard deviation of added Gaussian noise.
    /// </summary>
    public static (float[] X, int[] Y) TwoSpirals(int n, Rng rng, double noise = 0.03, double turns = 2.0)
    {
        if (n <= 0) throw new ArgumentException("n must be positive");
        var x = new float[n * 2];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            int c = i % 2;
            double t = rng.NextDouble();
            double r = 0.1 + 0.9 * t;                       // radius grows along the arm
            double angle = t * turns * 2 * Math.PI + c * Math.PI;
            x[2 * i] = (float)(r * Math.Cos(angle) + noise * rng.Normal());
            x[2 * i + 1] = (float)(r * Math.Sin(angle) + noise * rng.Normal());
            y[i] = c;
        }
        return (x, y);
    }

    /// <summary>Two interleaving half-moons (scikit-learn's make_moons): x [n, 2], labels 0/1.</summary>
    public static (float[] X, int[] Y) TwoMoons(int n, Rng rng, double noise = 0.1)
    {
        var x = new float[n * 2];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            int c = i % 2;
            double t = Math.PI * rng.NextDouble();
            double px = c == 0 ? Math.Cos(t) : 1 - Math.Cos(t);
            double py = c == 0 ? Math.Sin(t) : 0.5 - Math.Sin(t);
            x[2 * i] = (float)(px + noise * rng.Normal());
            x[2 * i + 1] = (float)(py + noise * rng.Normal());
            y[i] = c;
        }
        return (x, y);
    }
}
