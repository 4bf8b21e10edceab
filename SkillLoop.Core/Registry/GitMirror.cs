using System.Collections.Concurrent;
using System.Text;
using LibGit2Sharp;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SkillLoop.Core.Registry;

/// <summary>A git operation that failed (unreachable remote, refused push, missing branch); the message says which.</summary>
public sealed class GitOperationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Who SkillLoop's commits are by.</summary>
public sealed record BotIdentity(string Name, string Email);

/// <summary>
/// A bare mirror of each registry's repository in the data directory (<c>git/registry-{id}.git</c>). Files are read
/// from git objects, never from a checkout; proposal commits are made on top of the branch head as objects and
/// pushed as <c>skillloop/…</c> branches. One operation at a time per repository. Network operations give up on a
/// server that does not answer within the configured timeouts (libgit2's own, set for the whole process).
/// </summary>
public sealed partial class GitMirror
{
    private readonly string _root;
    private readonly ConcurrentDictionary<long, SemaphoreSlim> _locks = new();
    private readonly TimeSpan _connectTimeout;
    private readonly TimeSpan _timeout;

    public GitMirror(IOptions<SkillLoopOptions> options, ILogger<GitMirror> logger)
    {
        _root = Path.Combine(Path.GetFullPath(options.Value.DataDirectory), "git");
        _connectTimeout = TimeSpan.FromSeconds(options.Value.GitConnectTimeoutSeconds);
        _timeout = TimeSpan.FromSeconds(options.Value.GitTimeoutSeconds);
        try
        {
            var applied = LibGit2Timeouts.Apply(_connectTimeout, _timeout);
            if (applied.Connect == _connectTimeout && applied.Read == _timeout)
            {
                LogTimeoutsSet(logger, _connectTimeout.TotalSeconds, _timeout.TotalSeconds);
            }
            else
            {
                LogTimeoutsNotApplied(logger, _connectTimeout.TotalSeconds, _timeout.TotalSeconds, $"libgit2 reports {applied.Connect?.TotalSeconds} s and {applied.Read?.TotalSeconds} s", null);
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
        {
            // Fetches still work; only a silent server is then waited on until the OS gives up (a cancelled scan
            // still returns at once and frees its slot).
            LogTimeoutsNotApplied(logger, _connectTimeout.TotalSeconds, _timeout.TotalSeconds, ex.Message, ex);
        }
    }

    public string PathOf(long registryId) => Path.Combine(_root, $"registry-{registryId}.git");

    /// <summary>
    /// Fetches the registry's branch; returns the commit at its head. Cancelling returns at once: libgit2 stops at its
    /// next progress callback, or, blocked on a silent socket, within the server timeout, and only then lets go of the
    /// mirror.
    /// </summary>
    public async Task<string> FetchAsync(RegistryRecord registry, string? token, Action<int>? progress, CancellationToken cancellationToken)
    {
        var fetch = WithRepositoryAsync(registry, repository =>
        {
            var options = new FetchOptions
            {
                CredentialsProvider = Credentials(registry, token),
                // Returning false from either callback makes libgit2 stop the transfer (UserCancelledException).
                OnProgress = _ => !cancellationToken.IsCancellationRequested,
                OnTransferProgress = p =>
                {
                    progress?.Invoke(p.TotalObjects == 0 ? 0 : (int)(p.ReceivedObjects * 100L / p.TotalObjects));
                    return !cancellationToken.IsCancellationRequested;
                },
            };
            try
            {
                Commands.Fetch(repository, "origin", [$"+refs/heads/{registry.Branch}:refs/remotes/origin/{registry.Branch}"], options, null);
            }
            catch (LibGit2SharpException ex)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw new GitOperationException(FetchFailure(registry, ex, token), ex);
            }

            var head = repository.Refs[$"refs/remotes/origin/{registry.Branch}"]?.ResolveToDirectReference()?.TargetIdentifier
                ?? throw new GitOperationException($"Branch '{registry.Branch}' does not exist in {Display(registry.Url)}.");
            return head;
        }, cancellationToken);

        try
        {
            return await fetch.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (!fetch.IsCompleted)
        {
            // The caller moves on (its scan slot is free); the fetch left behind ends on its own. Its outcome is
            // observed here so that it is not reported as an unobserved task exception.
            _ = fetch.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }
    }

    /// <summary>Why a fetch failed, saying so plainly when it was a timeout (libgit2 has no error code for it here).</summary>
    private string FetchFailure(RegistryRecord registry, LibGit2SharpException ex, string? token)
    {
        var detail = Scrub(ex.Message, token);
        if (!ex.Message.Contains("timed out", StringComparison.OrdinalIgnoreCase))
        {
            return $"Could not fetch branch '{registry.Branch}' of {Display(registry.Url)}: {detail}";
        }

        return ex.Message.Contains("connect", StringComparison.OrdinalIgnoreCase)
            ? $"Timed out: could not connect to {Display(registry.Url)} within {_connectTimeout.TotalSeconds:0.###} s, so the fetch of branch '{registry.Branch}' was given up ({detail})."
            : $"Timed out: the git server at {Display(registry.Url)} did not answer for {_timeout.TotalSeconds:0.###} s, so the fetch of branch '{registry.Branch}' was given up ({detail}).";
    }

    /// <summary>Scans one fetched commit.</summary>
    public Task<ScanResult> ScanAsync(RegistryRecord registry, string commit, Action<int>? progress, CancellationToken cancellationToken) =>
        WithRepositoryAsync(registry, repository => RepositoryScanner.Scan(repository.Lookup<Commit>(commit).Tree, registry.PathFilters, progress), cancellationToken);

    /// <summary>The text of a file at a fetched commit; null when it is missing or not a regular file.</summary>
    public Task<string?> ReadFileAsync(RegistryRecord registry, string commit, string path, CancellationToken cancellationToken) =>
        WithRepositoryAsync(registry, repository =>
        {
            var entry = repository.Lookup<Commit>(commit)?.Tree[path];
            return entry is { TargetType: TreeEntryTargetType.Blob, Mode: Mode.NonExecutableFile or Mode.ExecutableFile }
                ? RepositoryScanner.Read(entry)
                : null;
        }, cancellationToken);

    /// <summary>
    /// Commits <paramref name="text"/> as <paramref name="path"/> on top of <paramref name="baseCommit"/> (or reuses
    /// <paramref name="existingCommit"/>, so a retried push sends the same commit) and pushes it as
    /// <paramref name="branch"/>, replacing what an earlier push of this proposal left there. Returns the commit.
    /// </summary>
    public Task<string> PushBranchAsync(
        RegistryRecord registry, string? token, string baseCommit, string path, string text, string branch, string message,
        BotIdentity identity, string? existingCommit, DateTimeOffset when, CancellationToken cancellationToken) =>
        WithRepositoryAsync(registry, repository =>
        {
            var commit = existingCommit is not null ? repository.Lookup<Commit>(existingCommit) : null;
            if (commit is null)
            {
                var parent = repository.Lookup<Commit>(baseCommit) ?? throw new GitOperationException($"Commit {baseCommit} is not in the mirror; fetch again.");
                var tree = TreeDefinition.From(parent);
                // No path hint: no attribute filters (eol, text=auto) may change the bytes the reviewer approved.
                var blob = repository.ObjectDatabase.CreateBlob(new MemoryStream(Encoding.UTF8.GetBytes(text)));
                var mode = parent.Tree[path]?.Mode is Mode.ExecutableFile ? Mode.ExecutableFile : Mode.NonExecutableFile;
                tree.Add(path, blob, mode);
                var signature = new Signature(identity.Name, identity.Email, when);
                commit = repository.ObjectDatabase.CreateCommit(signature, signature, message, repository.ObjectDatabase.CreateTree(tree), [parent], prettifyMessage: true);
            }

            repository.Refs.Add($"refs/heads/{branch}", commit.Id, allowOverwrite: true);
            Push(repository, registry, token, $"+refs/heads/{branch}:refs/heads/{branch}");
            return commit.Sha;
        }, cancellationToken);

    /// <summary>
    /// Whether a pushed proposal is merged at <paramref name="head"/>: <c>reachable</c> when its commit is an ancestor of
    /// the head, <c>content</c> when the head's file holds its text (a squash or rebase merge), else null.
    /// </summary>
    public Task<string?> MergedHowAsync(RegistryRecord registry, string head, string commit, string path, string text, CancellationToken cancellationToken) =>
        WithRepositoryAsync(registry, repository =>
        {
            var tip = repository.Lookup<Commit>(head);
            if (tip is null)
            {
                return null;
            }

            var pushed = repository.Lookup<Commit>(commit);
            if (pushed is not null && (pushed.Sha == tip.Sha || repository.ObjectDatabase.FindMergeBase(pushed, tip)?.Sha == pushed.Sha))
            {
                return "reachable";
            }

            var entry = tip.Tree[path];
            return entry is { TargetType: TreeEntryTargetType.Blob } && RepositoryScanner.Read(entry) == text ? "content" : (string?)null;
        }, cancellationToken);

    /// <summary>
    /// Replays <paramref name="commit"/> on <paramref name="onto"/> (a three-way merge, as a cherry-pick does) and pushes
    /// the result as <paramref name="branch"/>; null when the same lines changed on both sides (nothing is pushed).
    /// </summary>
    public Task<(string Commit, string Text)?> ReplayOntoAsync(
        RegistryRecord registry, string? token, string commit, string onto, string path, string branch, BotIdentity identity, DateTimeOffset when, CancellationToken cancellationToken) =>
        WithRepositoryAsync(registry, repository =>
        {
            var change = repository.Lookup<Commit>(commit) ?? throw new GitOperationException($"Commit {commit} is not in the mirror; fetch again.");
            var head = repository.Lookup<Commit>(onto) ?? throw new GitOperationException($"Commit {onto} is not in the mirror; fetch again.");
            var merged = repository.ObjectDatabase.CherryPickCommit(change, head, 0, new MergeTreeOptions { FailOnConflict = false });
            if (merged.Status != MergeTreeStatus.Succeeded)
            {
                return ((string, string)?)null;
            }

            var committer = new Signature(identity.Name, identity.Email, when);
            var made = repository.ObjectDatabase.CreateCommit(change.Author, committer, change.Message, merged.Tree, [head], prettifyMessage: false);
            repository.Refs.Add($"refs/heads/{branch}", made.Id, allowOverwrite: true);
            Push(repository, registry, token, $"+refs/heads/{branch}:refs/heads/{branch}");
            return (made.Sha, RepositoryScanner.Read(made.Tree[path]));
        }, cancellationToken);

    /// <summary>Fast-forwards the registry's branch to <paramref name="commit"/> (auto-merge without a forge).</summary>
    public Task MergeIntoBranchAsync(RegistryRecord registry, string? token, string commit, CancellationToken cancellationToken) =>
        WithRepositoryAsync(registry, repository =>
        {
            // No '+': the remote refuses anything but a fast-forward, so a branch that moved on is never overwritten.
            Push(repository, registry, token, $"{commit}:refs/heads/{registry.Branch}");
            return true;
        }, cancellationToken);

    /// <summary>Deletes the mirror (the registry was removed).</summary>
    public void Delete(long registryId)
    {
        var path = PathOf(registryId);
        if (Directory.Exists(path))
        {
            foreach (var file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
            {
                File.SetAttributes(file, FileAttributes.Normal); // pack files are read-only
            }

            Directory.Delete(path, recursive: true);
        }
    }

    private static void Push(Repository repository, RegistryRecord registry, string? token, string refspec)
    {
        string? refused = null;
        var push = new PushOptions
        {
            CredentialsProvider = Credentials(registry, token),
            OnPushStatusError = error => refused = $"{error.Reference}: {error.Message}",
        };
        try
        {
            repository.Network.Push(repository.Network.Remotes["origin"], refspec, push);
        }
        catch (LibGit2SharpException ex)
        {
            throw new GitOperationException($"Could not push to {Display(registry.Url)}: {Scrub(ex.Message, token)}", ex);
        }

        if (refused is not null)
        {
            throw new GitOperationException($"{Display(registry.Url)} refused the push ({Scrub(refused, token)}).");
        }
    }

    private async Task<T> WithRepositoryAsync<T>(RegistryRecord registry, Func<Repository, T> work, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(registry.Id, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            // libgit2 is synchronous: off the request thread.
            return await Task.Run(() =>
            {
                var path = PathOf(registry.Id);
                if (!Repository.IsValid(path))
                {
                    Directory.CreateDirectory(path);
                    Repository.Init(path, isBare: true);
                }

                using var repository = new Repository(path);
                var origin = repository.Network.Remotes["origin"];
                if (origin is null)
                {
                    repository.Network.Remotes.Add("origin", registry.Url, $"+refs/heads/*:refs/remotes/origin/*");
                }
                else if (origin.Url != registry.Url)
                {
                    repository.Network.Remotes.Update("origin", r => r.Url = registry.Url);
                }

                return work(repository);
            }, cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    private static LibGit2Sharp.Handlers.CredentialsHandler? Credentials(RegistryRecord registry, string? token) =>
        string.IsNullOrEmpty(token)
            ? null
            : (_, _, _) => new UsernamePasswordCredentials
            {
                // What each forge expects as the user name when the password is an access token.
                Username = registry.Provider switch { "github" => "x-access-token", "gitlab" => "oauth2", _ => "skillloop" },
                Password = token,
            };

    /// <summary>A URL without any user or password in it, for messages.</summary>
    public static string Display(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && !string.IsNullOrEmpty(uri.UserInfo)
            ? url.Replace(uri.UserInfo + "@", "", StringComparison.Ordinal)
            : url;

    private static string Scrub(string message, string? token) =>
        string.IsNullOrEmpty(token) ? message : message.Replace(token, "***", StringComparison.Ordinal);

    [LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "libgit2 network timeouts: {ConnectSeconds} s to connect, {Seconds} s for a git server to answer")]
    private static partial void LogTimeoutsSet(ILogger logger, double connectSeconds, double seconds);

    [LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Warning, Message = "libgit2's network timeouts ({ConnectSeconds} s to connect, {Seconds} s to answer) could not be set: {Reason}; a git server that never answers holds its scan until the OS gives up")]
    private static partial void LogTimeoutsNotApplied(ILogger logger, double connectSeconds, double seconds, string reason, Exception? exception);
}
