using SkillLoop.Hooks.Contracts;

namespace SkillLoop.Hooks.Extraction;

/// <summary>
/// Every free-text field of a <see cref="SignalBatch"/> through <see cref="SecretRedactor"/>: correction texts, their
/// context turns and the agent's answers to them, skill names and paths (a path names the user's home directory), the
/// cursor's skill, turn texts sent by older clients, product and client version. The client applies it before posting, the server again at ingest. Ids
/// (session, turn, pattern) are checked formats, and the user identity is hashed by the server, never stored.
/// </summary>
public static class BatchRedaction
{
    public static SignalBatch Redact(SignalBatch batch) => batch with
    {
        Turns = batch.Turns?.Select(t => t is null ? t! : t with { Text = SecretRedactor.Redact(t.Text)! }).ToList()!,
        Corrections = batch.Corrections?.Select(c => c is null ? c! : c with
        {
            Text = SecretRedactor.Redact(c.Text)!,
            Skill = SecretRedactor.Redact(c.Skill),
            SkillPath = SecretRedactor.Redact(c.SkillPath),
            Reply = SecretRedactor.Redact(c.Reply),
            Context = c.Context?.Select(t => t is null ? t! : t with { Role = SecretRedactor.Redact(t.Role)!, Text = SecretRedactor.Redact(t.Text)! }).ToList()!,
        }).ToList()!,
        Cursor = batch.Cursor is null ? batch.Cursor! : batch.Cursor with
        {
            ActiveSkill = SecretRedactor.Redact(batch.Cursor.ActiveSkill),
            ActiveSkillPath = SecretRedactor.Redact(batch.Cursor.ActiveSkillPath),
        },
        Product = SecretRedactor.Redact(batch.Product),
        ClientVersion = SecretRedactor.Redact(batch.ClientVersion),
    };
}
