using SkillLoop.Hooks.Cli;

return await ClientApp.RunAsync(args, Console.In, Console.Out, Console.Error, ClientEnvironment.FromProcess());
