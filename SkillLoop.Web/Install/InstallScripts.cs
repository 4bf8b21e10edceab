using System.Reflection;
using System.Text;
using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Web.Install;

/// <summary>
/// The installers <c>GET /install.sh</c> and <c>GET /install.ps1</c> serve: the scripts beside this file with the
/// server's address, the client version and each platform's file and SHA-256 from the manifest written in. The
/// checksums travel with the script, so a binary changed on the server after it was built is refused by the laptop.
/// </summary>
public static class InstallScripts
{
    private static readonly Lazy<string> Shell = new(() => Read("install.sh"));
    private static readonly Lazy<string> PowerShell = new(() => Read("install.ps1"));

    public static string ForShell(string url, ClientManifest manifest)
    {
        var platforms = new StringBuilder();
        foreach (var file in manifest.Files)
        {
            // Manifest values are checked by ClientDownloads (known platform, fixed file name, hex digest): safe to quote.
            platforms.Append(CultureInfoInvariant($"  {file.Platform}) file='{file.File}'; sha256='{file.Sha256}' ;;\n"));
        }

        return Fill(Shell.Value, url, manifest, platforms.ToString().TrimEnd('\n'));
    }

    public static string ForPowerShell(string url, ClientManifest manifest)
    {
        var platforms = new StringBuilder();
        foreach (var file in manifest.Files)
        {
            platforms.Append(CultureInfoInvariant($"    '{file.Platform}' = @{{ File = '{file.File}'; Sha256 = '{file.Sha256}' }}\n"));
        }

        return Fill(PowerShell.Value, url, manifest, platforms.ToString().TrimEnd('\n'));
    }

    /// <summary>What a server without client binaries serves: a script that says why and fails.</summary>
    public static string Unavailable(string reason, bool powerShell) => powerShell
        ? $"Write-Error 'skillloop install: {reason.Replace("'", "''", StringComparison.Ordinal)}' -ErrorAction Continue\nexit 1\n"
        : $"#!/bin/sh\nprintf '%s\\n' 'skillloop install: {reason.Replace("'", "'\\''", StringComparison.Ordinal)}' >&2\nexit 1\n";

    /// <summary>
    /// Only a plain http(s) address goes into a script: it is written inside single quotes and comments, so a Host
    /// header with quotes, spaces or line breaks must never reach it.
    /// </summary>
    public static bool IsSafeUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri)
        && uri.Scheme is "http" or "https"
        && url.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or ':' or '/' or '[' or ']' or '%' or '~');

    private static string Fill(string template, string url, ClientManifest manifest, string platforms) => template
        .Replace("@URL@", url, StringComparison.Ordinal)
        .Replace("@VERSION@", SafeText(manifest.Version), StringComparison.Ordinal)
        .Replace("@AVAILABLE@", string.Join(", ", manifest.Files.Select(f => f.Platform)), StringComparison.Ordinal)
        .Replace("@PLATFORMS@", platforms, StringComparison.Ordinal);

    // The version is free text in the manifest: keep it to what a version looks like.
    private static string SafeText(string value) =>
        new(value.Where(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '+').Take(64).ToArray());

    private static string CultureInfoInvariant(FormattableString text) => FormattableString.Invariant(text);

    private static string Read(string name)
    {
        using var stream = typeof(InstallScripts).Assembly.GetManifestResourceStream("SkillLoop.Web.Install." + name)
            ?? throw new InvalidOperationException($"The embedded installer {name} is missing.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        // LF only: sh must never see a carriage return, whatever the checkout's line endings.
        return reader.ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal);
    }
}
