using System.ComponentModel;
using Spectre.Console.Cli;

namespace Broker.Ctl.Commands;

public sealed class GroupSettings : BrokerSettings
{
    [CommandArgument(0, "<group>"), Description("The consumer group (a Dapr app's id, for Dapr apps)")]
    public string Group { get; init; } = "";
}

/// <summary>groups describe: per topic and partition, the committed offset, the end, the lag and who holds it.</summary>
public sealed class GroupsDescribeCommand : AsyncCommand<GroupSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, GroupSettings settings, CancellationToken cancellationToken)
    {
        using var delivery = settings.Connection.Http("Delivery", settings.Delivery);
        var group = await delivery.GetAsync($"v1/groups/{Uri.EscapeDataString(settings.Group)}", cancellationToken);
        if (settings.Json)
        {
            Output.Json(group);
            return 0;
        }
        var rows = new List<IReadOnlyList<string>>();
        foreach (var topic in group.GetProperty("topics").EnumerateArray())
        {
            foreach (var partition in topic.GetProperty("partitions").EnumerateArray())
            {
                rows.Add([Output.Text(topic, "topic"), Output.Text(partition, "partition"), Output.Text(partition, "committedOffset"),
                    Output.Text(partition, "endOffset"), Output.Text(partition, "lag"), Output.Text(partition, "owner")]);
            }
        }
        Output.Table(["topic", "partition", "committed", "end", "lag", "owner"], rows);
        var lag = group.GetProperty("topics").EnumerateArray().Sum(t => t.GetProperty("lag").GetInt64());
        Output.Say($"Group {settings.Group}: lag {Output.Number(lag)} over {Output.Count(group.GetProperty("topics").GetArrayLength(), "topic")}.");
        return 0;
    }
}
