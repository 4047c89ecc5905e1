using System.ComponentModel;
using Broker.Ctl.Client;
using Spectre.Console.Cli;

namespace Broker.Ctl;

/// <summary>
/// Where the services are (AppHost's default ports, or BROKER_*_URL), who is calling (--token), whom to trust
/// (--ca-cert) and how to print: shared by every command.
/// </summary>
public class BrokerSettings : CommandSettings
{
    private BrokerConnection? _connection;

    [CommandOption("--storage <URL>"), Description("Storage's REST endpoint (BROKER_STORAGE_URL; default http://localhost:5100)")]
    public string Storage { get; init; } = Environment.GetEnvironmentVariable("BROKER_STORAGE_URL") ?? "http://localhost:5100";

    [CommandOption("--ingest <URL>"), Description("Ingest's REST endpoint (BROKER_INGEST_URL; default http://localhost:5200)")]
    public string Ingest { get; init; } = Environment.GetEnvironmentVariable("BROKER_INGEST_URL") ?? "http://localhost:5200";

    [CommandOption("--ingest-grpc <URL>"), Description("Ingest's gRPC endpoint, for bench (BROKER_INGEST_GRPC_URL; default http://localhost:5201)")]
    public string IngestGrpc { get; init; } = Environment.GetEnvironmentVariable("BROKER_INGEST_GRPC_URL") ?? "http://localhost:5201";

    [CommandOption("--delivery <URL>"), Description("Delivery's REST endpoint (BROKER_DELIVERY_URL; default http://localhost:5300)")]
    public string Delivery { get; init; } = Environment.GetEnvironmentVariable("BROKER_DELIVERY_URL") ?? "http://localhost:5300";

    [CommandOption("--registry <URL>"), Description("The schema registry (BROKER_REGISTRY_URL; default http://localhost:8081)")]
    public string Registry { get; init; } = Environment.GetEnvironmentVariable("BROKER_REGISTRY_URL") ?? "http://localhost:8081";

    [CommandOption("--json"), Description("Print JSON (one document, or one line per record) instead of tables")]
    public bool Json { get; init; }

    // No [DefaultValue]: help must never show the variable's value.
    [CommandOption("--token <TOKEN>"), Description("An API key or JWT, sent as Authorization: Bearer on every call (BROKER_TOKEN; this option wins)")]
    public string? Token { get; init; } = Environment.GetEnvironmentVariable("BROKER_TOKEN");

    [CommandOption("--ca-cert <PATH>"), Description("A PEM file of CA certificates to trust for https:// services, besides the system's (BROKER_CA_CERT)")]
    public string? CaCert { get; init; } = Environment.GetEnvironmentVariable("BROKER_CA_CERT");

    /// <summary>How every client of this command reaches the services: made once, on first use (a bad --token or --ca-cert is bad input then).</summary>
    public BrokerConnection Connection => _connection ??= BrokerConnection.From(Token, CaCert);
}
