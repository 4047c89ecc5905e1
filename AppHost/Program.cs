// AppHost (issue 8) will start redis-server and every service with one command.
// Until it does, it says so instead of pretending: run each service with `dotnet run --project <Service>`.
Console.Error.WriteLine("AppHost is not built yet (issue 8). Run the services one by one; see README.md.");
return 2;
