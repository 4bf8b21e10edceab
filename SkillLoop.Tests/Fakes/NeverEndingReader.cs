namespace SkillLoop.Tests.Fakes;

/// <summary>Stdin of an agent that writes the payload and never closes the pipe: after the text, reads block.</summary>
public sealed class NeverEndingReader(string text) : TextReader, IDisposable
{
    private readonly ManualResetEventSlim _released = new(false);
    private int _position;

    public override int Read(char[] buffer, int index, int count)
    {
        if (_position < text.Length)
        {
            var n = Math.Min(count, text.Length - _position);
            text.CopyTo(_position, buffer, index, n);
            _position += n;
            return n;
        }
        _released.Wait(); // blocks until the test ends
        return 0;
    }

    protected override void Dispose(bool disposing)
    {
        _released.Set();
        if (disposing)
            _released.Dispose();
        base.Dispose(disposing);
    }
}
