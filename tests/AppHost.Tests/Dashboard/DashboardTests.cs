using System.Diagnostics;
using Aspire.Hosting.Testing;
using Microsoft.Playwright;

namespace AppHost.Tests.Dashboard;

/// <summary>The Aspire dashboard in a real browser (Debian's chromium, driven by Playwright): every resource Running, a broker command run from it.</summary>
public sealed class DashboardTests
{
    private static readonly string[] s_resources = ["redis", "storage", "ingest", "delivery", "schemaregistry", "broker"];

    [Fact]
    public async Task The_dashboard_shows_every_resource_Running_after_its_login_link_and_its_Create_topic_dialog_creates_one()
    {
        var chromium = Build.OnPath("chromium")
            ?? throw new InvalidOperationException("chromium is not on PATH (apt-get install chromium; test.sh installs it).");
        await using var host = await BrokerApp.StartAsync(dashboard: true);
        var dashboard = host.App.GetEndpoint("aspire-dashboard", "http");
        // The login token AppHost prints in its link is the one it gives the dashboard.
        Assert.True(host.App.ResourceNotifications.TryGetCurrentState("aspire-dashboard", out var state));
        var token = state.Snapshot.EnvironmentVariables.Single(v => v.Name == "DASHBOARD__FRONTEND__BROWSERTOKEN").Value;

        using var playwright = await Playwright.CreateAsync();
        // Root runs it here: chromium's sandbox needs a user namespace it does not get.
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1600, Height = 900 } });
        // The login link AppHost prints: it signs the browser in and lands on the resources page.
        await page.GotoAsync(new Uri(dashboard, $"/login?t={token}").ToString());

        var clock = Stopwatch.StartNew();
        var missing = s_resources.ToList();
        while (missing.Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(90))
        {
            var stillMissing = new List<string>();
            foreach (var resource in missing)
            {
                var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = resource }).Filter(new() { HasText = "Running" });
                if (await row.CountAsync() == 0)
                {
                    stillMissing.Add(resource);
                }
            }
            missing = stillMissing;
            if (missing.Count > 0)
            {
                await Task.Delay(500);
            }
        }
        var screenshot = Path.Combine(Environment.GetEnvironmentVariable("TEST_RESULTS_DIR") is { Length: > 0 } results ? results : AppContext.BaseDirectory,
            "dashboard-resources.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });
        Assert.True(missing.Count == 0,
            $"not Running on the dashboard: {string.Join(", ", missing)} (screenshot {screenshot}; states {await host.StatesAsync()}); the page said: {await page.InnerTextAsync("body")}");

        // The broker's actions menu → Create topic → its dialog, as an operator does it.
        var broker = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "broker" }).First;
        await broker.GetByRole(AriaRole.Button, new() { Name = "Actions" }).ClickAsync();
        await page.GetByRole(AriaRole.Menuitem, new() { Name = "Create topic" }).ClickAsync();
        // The dialog's fields are Fluent web components (fluent-text-input): typed into as a person types.
        var dialog = page.Locator("#interactions-input-dialog");
        await dialog.Locator("fluent-text-input").Nth(0).ClickAsync();
        await page.Keyboard.TypeAsync("from-dashboard");
        await dialog.Locator("fluent-text-input").Nth(1).ClickAsync();
        await page.Keyboard.PressAsync("Control+A");
        await page.Keyboard.TypeAsync("2");
        await dialog.Locator("fluent-button[appearance=primary]", new() { HasText = "Create topic" }).ClickAsync();
        using var storage = new HttpClient { BaseAddress = host.Http("storage") };
        HttpResponseMessage? described = null;
        for (var wait = Stopwatch.StartNew(); wait.Elapsed < TimeSpan.FromSeconds(30); await Task.Delay(250))
        {
            described?.Dispose();
            described = await storage.GetAsync("/v1/topics/from-dashboard");
            if (described.IsSuccessStatusCode)
            {
                break;
            }
        }
        if (described?.IsSuccessStatusCode != true)
        {
            var failed = Path.Combine(Path.GetDirectoryName(screenshot)!, "dashboard-create-topic.png");
            await page.ScreenshotAsync(new() { Path = failed, FullPage = true });
            Assert.Fail($"Create topic made no topic (screenshot {failed}); the page said: {await page.InnerTextAsync("body")}");
        }
        var topic = System.Text.Json.JsonDocument.Parse(await described!.Content.ReadAsStringAsync()).RootElement;
        described.Dispose();
        // The command's message is in the dashboard's notifications.
        await page.GetByRole(AriaRole.Button, new() { Name = "Notifications" }).ClickAsync();
        await page.GetByText("Topic from-dashboard has 2 partitions.").First.WaitForAsync(new() { Timeout = 10_000 });
        Assert.Equal(2, topic.GetProperty("partitions").GetInt32());
    }
}
