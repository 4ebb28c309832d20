namespace PtReplay.Tests.Traces.Cli;

/// <summary>Runs the real `ptreplay` (the CLI assembly copied beside the tests) as a child process.</summary>
internal static class CliRunner
{
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args) => RunWith(new Dictionary<string, string>(), args);

    /// <summary>Runs the CLI with <paramref name="environment"/> added to the few variables it always gets.</summary>
    public static (int ExitCode, string Stdout, string Stderr) RunWith(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "ptreplay.dll");
        Assert.True(File.Exists(dll), $"{dll} missing");
        string dotnet = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var env = new Dictionary<string, string>();
        foreach (string name in new[] { "DOTNET_ROOT", "HOME" })
        {
            if (Environment.GetEnvironmentVariable(name) is { } v)
            {
                env[name] = v;
            }
        }

        foreach (var (name, value) in environment)
        {
            env[name] = value;
        }

        return NativeProgram.Exec(dotnet, [dll, .. args], Path.GetTempPath(), env);
    }
}
