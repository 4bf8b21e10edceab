# SkillLoop client installer for Windows, served by the SkillLoop server at @URL@ (GET /install.ps1).
#
#   & ([scriptblock]::Create((irm @URL@/install.ps1))) -Token <ingest token> [-Agents claude,copilot] [-Bin DIR]
#
# Downloads skillloop-client.exe from that server only, checks its SHA-256 against the server's manifest, puts it in
# -Bin (default %USERPROFILE%\.local\bin, added to the user's PATH) and installs the SkillLoop hook into every agent
# found under the home directory, or into the agents named with -Agents.
param(
    [string]$Token = $env:SKILLLOOP_TOKEN,
    [string]$Agents = '',
    [string]$Bin = '',
    [string]$Url = '@URL@'
)
$ErrorActionPreference = 'Stop'
$version = '@VERSION@'

function Fail([string]$message) {
    # Plain text on stderr: Write-Error would wrap the message in PowerShell's error view (script line, caret, "|").
    [Console]::Error.WriteLine("skillloop install: $message")
    exit 1
}

$Url = $Url.TrimEnd('/')
if (-not $Token) { Fail "-Token is required: make an ingest token in Settings -> Ingest tokens on $Url" }
if (-not $Bin) { $Bin = Join-Path $HOME '.local\bin' }

$arch = [System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture
if (-not $IsWindows -and $PSVersionTable.PSEdition -eq 'Core') { Fail "on Linux and macOS, run: curl -fsSL $Url/install.sh | sh -s -- --token <token>" }
switch ($arch) {
    'X64' { $platform = 'win-x64' }
    default { Fail "the server at $Url has no skillloop-client for Windows on $arch (it has: @AVAILABLE@)" }
}

# From the server's manifest (build/clients.sh), as it was when this script was served.
$binaries = @{
@PLATFORMS@
}
if (-not $binaries.ContainsKey($platform)) { Fail "the server at $Url has no skillloop-client for $platform (it has: @AVAILABLE@)" }
$file = $binaries[$platform].File
$sha256 = $binaries[$platform].Sha256

New-Item -ItemType Directory -Force -Path $Bin | Out-Null
$target = Join-Path $Bin 'skillloop-client.exe'
$tmp = Join-Path $Bin ('.skillloop-client.' + [System.IO.Path]::GetRandomFileName())
try {
    Write-Host "skillloop install: downloading skillloop-client $version for $platform from $Url"
    Invoke-WebRequest -UseBasicParsing -Uri "$Url/client/$file" -OutFile $tmp
    $actual = (Get-FileHash -Algorithm SHA256 -Path $tmp).Hash.ToLowerInvariant()
    if ($actual -ne $sha256) {
        Fail "checksum mismatch for $Url/client/${file}: expected $sha256 (server manifest), got $actual. Nothing was installed."
    }
    Move-Item -Force -Path $tmp -Destination $target
}
finally {
    if (Test-Path $tmp) { Remove-Item -Force $tmp }
}
Write-Host "skillloop install: checksum verified; installed $target"

if ($Agents) {
    & $target install --agents $Agents --url $Url --token $Token
} else {
    & $target install --all --url $Url --token $Token
}
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }

$userPath = [Environment]::GetEnvironmentVariable('Path', 'User')
if (-not (($userPath -split ';') -contains $Bin)) {
    [Environment]::SetEnvironmentVariable('Path', ($userPath.TrimEnd(';') + ';' + $Bin).TrimStart(';'), 'User')
    Write-Host "skillloop install: added $Bin to your PATH (new terminals)"
}
