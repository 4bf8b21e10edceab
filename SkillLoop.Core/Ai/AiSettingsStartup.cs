using Microsoft.Extensions.Hosting;

namespace SkillLoop.Core.Ai;

/// <summary>Puts the saved providers in place at start-up, before extraction and clustering start (nothing is loaded yet).</summary>
public sealed class AiSettingsStartup(AiSettings settings, AiRuntime runtime) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (await settings.LoadAsync(cancellationToken) is { } saved)
        {
            runtime.UseConfiguration(saved);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
