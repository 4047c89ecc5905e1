using StackExchange.Redis;

namespace Broker.Storage;

/// <summary>
/// Every Redis key and channel Storage uses. A partition's keys share the hash tag "{topic:partition}",
/// so one partition lives in one Redis Cluster slot and its Lua scripts touch a single slot. The topic's
/// incarnation id follows the tag, so a re-created topic never sees a deleted one's keys.
/// </summary>
public sealed class RedisKeys(string prefix)
{
    public string Prefix { get; } = prefix;

    public RedisKey Topics { get; } = prefix + ":topics";

    /// <summary>
    /// The broker's topic and partition totals beside <see cref="Topics"/>: its hash tag is the whole name of
    /// that key, so both sit in one Redis Cluster slot and one script can change them together.
    /// </summary>
    public RedisKey TopicTotals { get; } = "{" + prefix + ":topics}:totals";

    public RedisChannel Appends { get; } = RedisChannel.Literal(prefix + ":appends");

    /// <summary>The name of <see cref="Appends"/>, which every append script publishes to.</summary>
    public string AppendsChannelName { get; } = prefix + ":appends";

    /// <summary>The ACL entries (a hash) and their version; one hash tag, so the scripts that change both touch one slot.</summary>
    public RedisKey Acls { get; } = prefix + ":{acls}";

    public RedisKey AclsVersion { get; } = prefix + ":{acls}:version";

    public RedisChannel AclsChanged { get; } = RedisChannel.Literal(prefix + ":acls:changed");

    public string AclsChannelName { get; } = prefix + ":acls:changed";

    public RedisKey Stream(string topic, string topicId, int partition) => Partition(topic, topicId, partition, "log");

    public RedisKey Meta(string topic, string topicId, int partition) => Partition(topic, topicId, partition, "meta");

    public RedisKey Producer(string topic, string topicId, int partition, long producerId) =>
        Partition(topic, topicId, partition, "pid:" + producerId);

    public RedisKey GroupOffsets(string group, string topic, string topicId) => $"{Prefix}:group:{{{group}}}:{topic}:{topicId}:offsets";

    /// <summary>A set of the groups that committed offsets in one topic incarnation: what deleting the topic cleans up.</summary>
    public RedisKey TopicGroups(string topic, string topicId) => $"{Prefix}:topic-groups:{{{topic}}}:{topicId}";

    private string Partition(string topic, string topicId, int partition, string suffix) =>
        $"{Prefix}:{{{topic}:{partition}}}:{topicId}:{suffix}";
}
