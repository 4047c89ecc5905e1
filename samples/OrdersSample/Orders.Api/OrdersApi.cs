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
        NewOrder request, OrdersProducer producer, CancellationToken cancellationToken)
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
            var (partition, offset) = await producer.ProduceAsync(order, cancellationToken);
            return TypedResults.Accepted((string?)null, new PlacedOrder(order, partition, offset));
        }
        catch (Exception ex) when (ex is BrokerRefusedException or HttpRequestException)
        {
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status503ServiceUnavailable, title: "The broker did not take the order.");
        }
    }
}
