using SkillLoop.Hooks.Cli;

namespace SkillLoop.Hooks.Detection;

/// <summary>
/// Which detector the hook's worker runs: the learned detector, since on the corpus's held-out test split it beats the
/// correction patterns in both languages at a higher precision (issue #15; figures in docs/benchmarks.md).
/// <c>SKILLLOOP_DETECTOR=regex</c> runs the patterns alone, as before; a client whose weights are missing or damaged
/// falls back to the patterns by itself (<see cref="DetectorModel.Shipped"/>).
/// </summary>
public static class DetectorChoice
{
    public const string Variable = "SKILLLOOP_DETECTOR";

    public static DetectorModel For(ClientEnvironment env) =>
        string.Equals(env.Variable(Variable), "regex", StringComparison.OrdinalIgnoreCase) ? DetectorModel.RegexOnly : DetectorModel.Shipped;
}
