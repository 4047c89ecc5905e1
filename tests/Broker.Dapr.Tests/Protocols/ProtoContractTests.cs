using Google.Protobuf.Reflection;

namespace Broker.Dapr.Tests.Protocols;

/// <summary>
/// Our copies of Dapr's runtime protos against Dapr's own (compiled in Dapr.Protos): the same package, message and
/// field names, field numbers and types, services and methods. A difference here is a wire incompatibility.
/// </summary>
public sealed class ProtoContractTests
{
    private static readonly Dictionary<string, MessageDescriptor> s_daprMessages = Collect(
        global::Dapr.AppCallback.Autogen.Grpc.v1.AppCallback.Descriptor.File,
        global::Dapr.Client.Autogen.Grpc.v1.Dapr.Descriptor.File);

    public static TheoryData<string> OurMessages()
    {
        var data = new TheoryData<string>();
        foreach (var message in Nested(Broker.Contracts.Dapr.Runtime.RuntimeReflection.Descriptor.MessageTypes))
        {
            data.Add(message.FullName);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(OurMessages))]
    public void Each_message_has_daprs_fields(string fullName)
    {
        var ours = Nested(Broker.Contracts.Dapr.Runtime.RuntimeReflection.Descriptor.MessageTypes).Single(m => m.FullName == fullName);
        Assert.True(s_daprMessages.TryGetValue(fullName, out var theirs), $"Dapr has no message {fullName}.");
        foreach (var field in ours.Fields.InFieldNumberOrder())
        {
            var their = theirs.FindFieldByNumber(field.FieldNumber);
            Assert.True(their is not null, $"{fullName}: Dapr has no field {field.FieldNumber} ({field.Name}).");
            Assert.Equal(their.Name, field.Name);
            Assert.Equal(their.FieldType, field.FieldType);
            Assert.Equal(their.IsRepeated, field.IsRepeated);
            Assert.Equal(their.IsMap, field.IsMap);
            if (field.FieldType is FieldType.Message or FieldType.Enum)
            {
                var ourType = field.FieldType == FieldType.Message ? field.MessageType.FullName : field.EnumType.FullName;
                var theirType = their.FieldType == FieldType.Message ? their.MessageType.FullName : their.EnumType.FullName;
                Assert.Equal(theirType, ourType);
            }
            Assert.Equal(their.RealContainingOneof?.Name, field.RealContainingOneof?.Name);
        }
        foreach (var enumType in ours.EnumTypes)
        {
            var theirEnum = theirs.EnumTypes.Single(e => e.Name == enumType.Name);
            Assert.Equal(theirEnum.Values.Select(v => (v.Name, v.Number)), enumType.Values.Select(v => (v.Name, v.Number)));
        }
    }

    [Fact]
    public void The_services_methods_are_daprs()
    {
        var theirServices = new[]
        {
            global::Dapr.AppCallback.Autogen.Grpc.v1.AppCallback.Descriptor,
            global::Dapr.AppCallback.Autogen.Grpc.v1.AppCallbackAlpha.Descriptor,
            global::Dapr.Client.Autogen.Grpc.v1.Dapr.Descriptor,
        }.ToDictionary(s => s.FullName);
        foreach (var service in Broker.Contracts.Dapr.Runtime.RuntimeReflection.Descriptor.Services)
        {
            Assert.True(theirServices.TryGetValue(service.FullName, out var theirs), $"Dapr has no service {service.FullName}.");
            foreach (var method in service.Methods)
            {
                var their = theirs.FindMethodByName(method.Name);
                Assert.True(their is not null, $"{service.FullName} has no method {method.Name} in Dapr.");
                Assert.Equal(their.InputType.FullName, method.InputType.FullName);
                Assert.Equal(their.OutputType.FullName, method.OutputType.FullName);
                Assert.Equal(their.IsClientStreaming, method.IsClientStreaming);
                Assert.Equal(their.IsServerStreaming, method.IsServerStreaming);
            }
        }
    }

    private static Dictionary<string, MessageDescriptor> Collect(params FileDescriptor[] files)
    {
        var messages = new Dictionary<string, MessageDescriptor>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<FileDescriptor>(files);
        while (pending.TryPop(out var file))
        {
            if (!seen.Add(file.Name))
            {
                continue;
            }
            foreach (var message in Nested(file.MessageTypes))
            {
                messages.TryAdd(message.FullName, message);
            }
            foreach (var dependency in file.Dependencies)
            {
                pending.Push(dependency);
            }
        }
        return messages;
    }

    private static IEnumerable<MessageDescriptor> Nested(IEnumerable<MessageDescriptor> messages) =>
        messages.SelectMany(m => Nested(m.NestedTypes).Prepend(m)).Where(m => !m.GetOptions()?.MapEntry ?? true);
}
