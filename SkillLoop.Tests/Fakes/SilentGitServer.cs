using System.Net;
using System.Net.Sockets;

namespace SkillLoop.Tests.Fakes;

/// <summary>
/// A "git server" on 127.0.0.1 that accepts every connection and never sends a byte (nor reads one), as a hung server
/// or a proxy that swallows requests does. Disposing closes the connections, so a client still waiting gets an end of
/// stream and lets go.
/// </summary>
public sealed class SilentGitServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<Socket> _accepted = [];
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _accepting;

    public SilentGitServer()
    {
        _listener.Start();
        Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/repo.git";
        _accepting = AcceptAsync();
    }

    /// <summary>A clone URL that connects and then hears nothing.</summary>
    public string Url { get; }

    /// <summary>Completes once a client has connected.</summary>
    public Task Connected => _connected.Task;

    public int Connections
    {
        get
        {
            lock (_accepted)
            {
                return _accepted.Count;
            }
        }
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync();
                lock (_accepted)
                {
                    _accepted.Add(socket);
                }

                _connected.TrySetResult();
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The listener was stopped.
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _accepting.GetAwaiter().GetResult();
        lock (_accepted)
        {
            foreach (var socket in _accepted)
            {
                socket.Dispose();
            }
        }
    }
}
