namespace SkillLoop.Hooks.Cli;

/// <summary>Positional arguments and <c>--name value</c> options (a flag followed by another option is "true").</summary>
public sealed class Arguments
{
    private readonly Dictionary<string, string> _options = new(StringComparer.Ordinal);

    public Arguments(IEnumerable<string> args)
    {
        var list = args.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            var arg = list[i];
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Length > 2)
            {
                var eq = arg.IndexOf('=');
                if (eq > 0)
                    _options[arg[2..eq]] = arg[(eq + 1)..];
                else if (i + 1 < list.Count && !list[i + 1].StartsWith("--", StringComparison.Ordinal))
                    _options[arg[2..]] = list[++i];
                else
                    _options[arg[2..]] = "true";
            }
            else
            {
                Positional.Add(arg);
            }
        }
    }

    public List<string> Positional { get; } = [];

    public string? Option(string name) => _options.TryGetValue(name, out var value) ? value : null;

    public bool Flag(string name) => _options.TryGetValue(name, out var value) && value != "false";

    public string? At(int index) => index < Positional.Count ? Positional[index] : null;
}
