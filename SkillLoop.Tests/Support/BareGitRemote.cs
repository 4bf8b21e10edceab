using System.Text;
using LibGit2Sharp;

namespace SkillLoop.Tests.Support;

/// <summary>
/// A real bare git repository on disk standing in for a registry's remote. Commits are written as git objects
/// (files and symbolic links alike), so tests can hold entries no checkout would make.
/// </summary>
public sealed class BareGitRemote : IDisposable
{
    private readonly TempDirectory _directory = new("skillloop-remote");

    public BareGitRemote(IReadOnlyDictionary<string, string> files, IReadOnlyDictionary<string, string>? symlinks = null, string branch = "main")
    {
        Branch = branch;
        Path = _directory.Combine("skills.git");
        Repository.Init(Path, isBare: true);
        Commit("Initial skills", files, symlinks);
    }

    /// <summary>The repository's path: what a registry's clone URL names.</summary>
    public string Path { get; }

    public string Branch { get; }

    /// <summary>Adds a commit on <see cref="Branch"/> that sets these files (and links); returns its id.</summary>
    public string Commit(string message, IReadOnlyDictionary<string, string> files, IReadOnlyDictionary<string, string>? symlinks = null)
    {
        using var repository = new Repository(Path);
        var parent = repository.Branches[Branch]?.Tip;
        var tree = parent is null ? new TreeDefinition() : TreeDefinition.From(parent);
        foreach (var (path, text) in files)
        {
            tree.Add(path, repository.ObjectDatabase.CreateBlob(new MemoryStream(Encoding.UTF8.GetBytes(text))), Mode.NonExecutableFile);
        }

        foreach (var (path, target) in symlinks ?? new Dictionary<string, string>())
        {
            tree.Add(path, repository.ObjectDatabase.CreateBlob(new MemoryStream(Encoding.UTF8.GetBytes(target))), Mode.SymbolicLink);
        }

        var author = new Signature("Skill Author", "author@example.test", DateTimeOffset.UnixEpoch.AddDays(repository.Commits.Count() + 1));
        var commit = repository.ObjectDatabase.CreateCommit(author, author, message, repository.ObjectDatabase.CreateTree(tree), parent is null ? [] : [parent], prettifyMessage: true);
        if (repository.Branches[Branch] is null)
        {
            repository.Refs.Add($"refs/heads/{Branch}", commit.Id);
            repository.Refs.UpdateTarget("HEAD", $"refs/heads/{Branch}");
        }
        else
        {
            repository.Refs.UpdateTarget(repository.Refs[$"refs/heads/{Branch}"], commit.Id);
        }

        return commit.Sha;
    }

    /// <summary>
    /// Merges <paramref name="branch"/> into <see cref="Branch"/> as a person on the remote would: a real merge commit
    /// with both tips as parents (the tree a three-way merge gives); returns its id.
    /// </summary>
    public string MergeBranch(string branch, string message = "Merge the SkillLoop fix")
    {
        using var repository = new Repository(Path);
        var ours = repository.Branches[Branch].Tip;
        var theirs = repository.Branches[branch]?.Tip ?? throw new InvalidOperationException($"No branch {branch} on the remote.");
        var merged = repository.ObjectDatabase.MergeCommits(ours, theirs, new MergeTreeOptions());
        if (merged.Status != MergeTreeStatus.Succeeded)
        {
            throw new InvalidOperationException($"{branch} does not merge cleanly.");
        }

        var author = new Signature("Skill Owner", "owner@example.test", DateTimeOffset.UnixEpoch.AddDays(repository.Commits.Count() + 1));
        var commit = repository.ObjectDatabase.CreateCommit(author, author, message, merged.Tree, [ours, theirs], prettifyMessage: true);
        repository.Refs.UpdateTarget(repository.Refs[$"refs/heads/{Branch}"], commit.Id);
        return commit.Sha;
    }

    /// <summary>A file's text at a branch's tip; null when the branch or file is missing.</summary>
    public string? Read(string branch, string path)
    {
        using var repository = new Repository(Path);
        return repository.Branches[branch]?.Tip[path]?.Target is Blob blob ? blob.GetContentText() : null;
    }

    /// <summary>A file's exact bytes on a branch (null when missing): no decoding, no line-ending changes.</summary>
    public byte[]? ReadBytes(string branch, string path)
    {
        using var repository = new Repository(Path);
        if (repository.Branches[branch]?.Tip[path]?.Target is not Blob blob)
        {
            return null;
        }

        using var stream = blob.GetContentStream();
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.ToArray();
    }

    public IReadOnlyList<string> BranchNames()
    {
        using var repository = new Repository(Path);
        return repository.Branches.Select(b => b.FriendlyName).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The tip commit of a branch (null when missing): its id, author and message.</summary>
    public (string Sha, string Author, string Message, int Parents)? Tip(string branch)
    {
        using var repository = new Repository(Path);
        return repository.Branches[branch]?.Tip is { } tip ? (tip.Sha, $"{tip.Author.Name} <{tip.Author.Email}>", tip.Message, tip.Parents.Count()) : null;
    }

    public void Dispose() => _directory.Dispose();
}
