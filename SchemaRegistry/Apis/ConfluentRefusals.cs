using Broker.ServiceDefaults.Security;

namespace SchemaRegistry.Apis;

/// <summary>
/// The registry says no in Confluent's shape: 401 <c>{"error_code":401}</c> as Confluent's basic-auth registry does,
/// 403 with 40301 (Confluent's "user is denied operation"), 429 with 42901, 503 with 50301.
/// </summary>
internal sealed class ConfluentRefusals : IAccessRefusals
{
    public IResult Result(HttpContext context, int statusCode, string message) => new Refusal(statusCode, message);

    private sealed class Refusal(int statusCode, string message) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext) =>
            RegistryHttp.WriteErrorAsync(httpContext, statusCode, statusCode == StatusCodes.Status401Unauthorized ? 401 : (statusCode * 100) + 1, message);
    }
}
