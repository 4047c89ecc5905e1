using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Broker.Client.Serialization;

/// <summary>Turns a key or value into the bytes a record carries.</summary>
/// <typeparam name="T">What it serializes.</typeparam>
public interface ISerializer<in T>
{
    /// <summary>The bytes of <paramref name="data"/>; null for a null key.</summary>
    byte[]? Serialize(T data, SerializationContext context);
}

/// <summary>Turns a record's key or value bytes back into <typeparamref name="T"/>.</summary>
/// <typeparam name="T">What it deserializes.</typeparam>
public interface IDeserializer<out T>
{
    /// <summary>The value of <paramref name="data"/>; <paramref name="isNull"/> for an absent key.</summary>
    T Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context);
}

/// <summary>Which part of which record is being (de)serialized: what a serializer that depends on the topic needs (Avro's subject).</summary>
/// <param name="Topic">The record's topic.</param>
/// <param name="Component">Key or value.</param>
public readonly record struct SerializationContext(string Topic, MessageComponent Component);

/// <summary>A record's key or its value.</summary>
public enum MessageComponent
{
    /// <summary>The key.</summary>
    Key,

    /// <summary>The value.</summary>
    Value,
}

/// <summary>The built-in serializers: bytes as they are, UTF-8 strings, JSON (System.Text.Json).</summary>
public static class Serializers
{
    /// <summary>Bytes as they are.</summary>
    public static ISerializer<byte[]> ByteArray { get; } = new BytesSerializer();

    /// <summary>UTF-8 text.</summary>
    public static ISerializer<string> Utf8 { get; } = new Utf8Serializer();

    /// <summary>JSON with System.Text.Json's source-generated metadata (trimming- and AOT-safe).</summary>
    public static ISerializer<T> Json<T>(JsonTypeInfo<T> typeInfo) => new JsonSerializer<T>(typeInfo);

    /// <summary>JSON with <paramref name="options"/> (web defaults when null), by reflection.</summary>
    [System.Diagnostics.CodeAnalysis.RequiresUnreferencedCode("Reflection-based JSON; use Json(JsonTypeInfo) for trimming.")]
    [System.Diagnostics.CodeAnalysis.RequiresDynamicCode("Reflection-based JSON; use Json(JsonTypeInfo) for AOT.")]
    public static ISerializer<T> Json<T>(JsonSerializerOptions? options = null) =>
        new JsonSerializer<T>((JsonTypeInfo<T>)(options ?? JsonSerializerOptions.Web).GetTypeInfo(typeof(T)));

    /// <summary>byte[] and string as they are; other types as JSON (web defaults).</summary>
    [System.Diagnostics.CodeAnalysis.RequiresUnreferencedCode("Other types are reflection-based JSON.")]
    [System.Diagnostics.CodeAnalysis.RequiresDynamicCode("Other types are reflection-based JSON.")]
    internal static ISerializer<T> Default<T>() =>
        typeof(T) == typeof(byte[]) ? (ISerializer<T>)ByteArray
        : typeof(T) == typeof(string) ? (ISerializer<T>)Utf8
        : Json<T>();

    private sealed class BytesSerializer : ISerializer<byte[]>
    {
        public byte[]? Serialize(byte[] data, SerializationContext context) => data;
    }

    private sealed class Utf8Serializer : ISerializer<string>
    {
        public byte[]? Serialize(string data, SerializationContext context) => data is null ? null : Encoding.UTF8.GetBytes(data);
    }

    private sealed class JsonSerializer<T>(JsonTypeInfo<T> typeInfo) : ISerializer<T>
    {
        public byte[]? Serialize(T data, SerializationContext context) => JsonSerializer.SerializeToUtf8Bytes(data, typeInfo);
    }
}

/// <summary>The built-in deserializers, mirroring <see cref="Serializers"/>.</summary>
public static class Deserializers
{
    /// <summary>The bytes, copied.</summary>
    public static IDeserializer<byte[]> ByteArray { get; } = new BytesDeserializer();

    /// <summary>UTF-8 text (null for an absent key).</summary>
    public static IDeserializer<string> Utf8 { get; } = new Utf8Deserializer();

    /// <summary>JSON with System.Text.Json's source-generated metadata.</summary>
    public static IDeserializer<T> Json<T>(JsonTypeInfo<T> typeInfo) => new JsonDeserializer<T>(typeInfo);

    /// <summary>JSON with <paramref name="options"/> (web defaults when null), by reflection.</summary>
    [System.Diagnostics.CodeAnalysis.RequiresUnreferencedCode("Reflection-based JSON; use Json(JsonTypeInfo) for trimming.")]
    [System.Diagnostics.CodeAnalysis.RequiresDynamicCode("Reflection-based JSON; use Json(JsonTypeInfo) for AOT.")]
    public static IDeserializer<T> Json<T>(JsonSerializerOptions? options = null) =>
        new JsonDeserializer<T>((JsonTypeInfo<T>)(options ?? JsonSerializerOptions.Web).GetTypeInfo(typeof(T)));

    [System.Diagnostics.CodeAnalysis.RequiresUnreferencedCode("Other types are reflection-based JSON.")]
    [System.Diagnostics.CodeAnalysis.RequiresDynamicCode("Other types are reflection-based JSON.")]
    internal static IDeserializer<T> Default<T>() =>
        typeof(T) == typeof(byte[]) ? (IDeserializer<T>)ByteArray
        : typeof(T) == typeof(string) ? (IDeserializer<T>)Utf8
        : Json<T>();

    private sealed class BytesDeserializer : IDeserializer<byte[]>
    {
        public byte[] Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) => isNull ? null! : data.ToArray();
    }

    private sealed class Utf8Deserializer : IDeserializer<string>
    {
        public string Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) => isNull ? null! : Encoding.UTF8.GetString(data);
    }

    private sealed class JsonDeserializer<T>(JsonTypeInfo<T> typeInfo) : IDeserializer<T>
    {
        public T Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) =>
            isNull ? default! : JsonSerializer.Deserialize(data, typeInfo)!;
    }
}
