using SkillLoop.Core;
using SkillLoop.Web;
using SkillLoop.Web.Components;
using SkillLoop.Web.Endpoints;
using SkillLoop.Web.Telemetry;

if (args is ["healthcheck"])
{
    return await HealthCheck.RunAsync(); // the container's HEALTHCHECK
}

var builder = WebApplication.CreateBuilder(args);
builder.UseSkillLoopDefaults();

builder.Services.AddSkillLoopCore(builder.Configuration);
builder.Services.AddSkillLoopWeb(builder.Configuration);

var app = builder.Build();
app.UseSkillLoopWeb();

app.MapOpenApi();
app.MapHealthEndpoints();
app.MapStatusEndpoints();
app.MapClientEndpoints();
app.MapInstallEndpoints();
app.MapSignalEndpoints();
app.MapClusterEndpoints();
app.MapProposalEndpoints();
app.MapRegistryEndpoints();
app.MapWebhookEndpoints();
app.MapPatternEndpoints();
app.MapDetectionEndpoints();
app.MapSettingsEndpoints();
app.MapAiSettingsEndpoints();
app.MapBackupEndpoints();
app.MapAccessEndpoints();
app.MapAccountEndpoints();
app.MapMetricsEndpoints();

app.MapStaticAssets();
app.MapRazorComponents<App>()
    .AddInteractiveServerRenderMode();

app.Run();
return 0;

/// <summary>Visible to the test host (WebApplicationFactory).</summary>
public partial class Program;
