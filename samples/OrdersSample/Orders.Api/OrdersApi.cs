using Broker.Client.Producing;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Orders.Api;

/// <summary>
/// <c>POST /orders</c> with <c>{"customer":…,"total":…}</c>: answers 202 with the order (its new id) and where the broker put it,
/// once the broker has it durably; the worker and the Dapr app process it from there.
/// </summary>
public static class OrdersApi
{
    public sealed record NewOrder(string? Customer, decimal Total);

    public sealed record PlacedOrder(Order Order, int Partition, long Offset);

    public static IEndpointRouteBuilder MapOrdersApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/orders", PlaceOrder).WithName("PlaceOrder");
        return app;
    }

    public static async Task<Results<Accepted<PlacedOrder>, ValidationProblem, ProblemHttpResult>> PlaceOrder(
        NewOrder request, BrokerProducer<string, Order> producer, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.Customer))
        {
            errors["customer"] = ["customer is required."];
        }
        if (request.Total <= 0)
        {
            errors["total"] = ["total must be more than 0."];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, title: "The order is not valid.");
        }

        var order = new Order(Guid.NewGuid().ToString("N"), request.Customer!, request.Total);
        try
        {
            // The customer is the key: one customer's orders stay in order on one partition.
            var placed = await producer.ProduceAsync(OrdersTopic.Name, order.Customer, order, new MessageHeaders { { "source", "orders-api" } }, cancellationToken);
            return TypedResults.Accepted((string?)null, new PlacedOrder(order, placed.Partition, placed.Offset));
        }
        catch (ProduceException ex)
        {
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status503ServiceUnavailable, title: "The broker did not take the order.");
        }
    }
}
