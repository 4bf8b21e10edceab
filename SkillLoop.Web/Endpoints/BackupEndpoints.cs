using Microsoft.AspNetCore.Http.HttpResults;
using SkillLoop.Core.Data;
using SkillLoop.Web.Auth;

namespace SkillLoop.Web.Endpoints;

/// <summary>Online database backups (the dashboard's Settings page uses the same service). Admin only.</summary>
public static class BackupEndpoints
{
    public static IEndpointRouteBuilder MapBackupEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/backup").RequireAuthorization(Policies.Admin).WithTags("Backup");
        api.MapPost("", CreateBackup);
        api.MapGet("", ListBackups);
        api.MapGet("/{name}", DownloadBackup);
        return app;
    }

    /// <summary>Backs the database up now, while the server keeps working, to <c>&lt;data&gt;/backups/</c>.</summary>
    public static async Task<Created<BackupFile>> CreateBackup(DatabaseBackup backup, CancellationToken cancellationToken)
    {
        var file = await backup.CreateAsync(cancellationToken);
        return TypedResults.Created($"/api/v1/backup/{file.Name}", file);
    }

    /// <summary>The backups in the data folder, newest first.</summary>
    public static Ok<IReadOnlyList<BackupFile>> ListBackups(DatabaseBackup backup) => TypedResults.Ok(backup.List());

    /// <summary>Downloads one backup (a SQLite database file).</summary>
    public static Results<PhysicalFileHttpResult, ValidationProblem, ProblemHttpResult> DownloadBackup(string name, DatabaseBackup backup)
    {
        if (!DatabaseBackup.IsBackupName(name))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["name"] = ["A backup's file name, such as skillloop-20261129T045301Z.db."] });
        }

        return backup.Find(name) is { } path
            ? TypedResults.PhysicalFile(path, "application/vnd.sqlite3", name)
            : TypedResults.Problem($"There is no backup named {name}.", statusCode: StatusCodes.Status404NotFound, title: "Backup not found");
    }
}
