using System.Net;
using System.Runtime.InteropServices;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Broker.ServiceDefaults.Security.Tls;

namespace Broker.Storage.Segments;

/// <summary>
/// Segments in an S3 bucket through AWSSDK.S3: one PUT per segment (multipart above the threshold),
/// ranged GETs for reads. Works against AWS and S3-compatible servers (ServiceUrl, path-style). Checksums
/// are sent and checked only where S3 requires them, since not every S3-compatible server knows the newer ones.
/// Over https the server's certificate is checked as every other client's TLS is (<see cref="TlsTrust"/>: the system's
/// CAs, or Tls:CaCertificate too).
/// </summary>
public sealed class S3SegmentStore : ISegmentStore, IDisposable
{
    private readonly AmazonS3Client _client;
    private readonly string _bucket;
    private readonly SegmentStoreOptions.S3Settings _settings;

    public S3SegmentStore(SegmentStoreOptions.S3Settings settings, TlsTrust? tls = null)
    {
        _settings = settings;
        _bucket = settings.Bucket ?? throw new InvalidOperationException("Storage:Segments:S3:Bucket must be set for the S3 segment store.");
        var config = new AmazonS3Config
        {
            ForcePathStyle = settings.ForcePathStyle,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            // The store's own Polly pipeline retries, with the broker's backoff; one retry layer is enough.
            MaxErrorRetry = 0,
        };
        if (tls is { IsConfigured: true })
        {
            config.HttpClientFactory = new S3HttpClients(tls);
        }
        if (string.IsNullOrWhiteSpace(settings.ServiceUrl))
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(settings.Region);
        }
        else
        {
            config.ServiceURL = settings.ServiceUrl;
            config.AuthenticationRegion = settings.Region;
        }
        _client = string.IsNullOrEmpty(settings.AccessKey)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(settings.AccessKey, settings.SecretKey), config);
    }

    public string Kind => "s3";

    public string Location => $"s3://{_bucket}" + (string.IsNullOrWhiteSpace(_settings.ServiceUrl) ? $" ({_settings.Region})" : $" at {_settings.ServiceUrl}");

    public async Task PutAsync(string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        if (content.Length > _settings.MultipartThresholdBytes)
        {
            await PutInPartsAsync(name, content, cancellationToken);
            return;
        }
        using var body = AsStream(content);
        await _client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = _bucket,
            Key = name,
            InputStream = body,
            AutoCloseStream = false,
            UseChunkEncoding = false,
            ContentType = "application/octet-stream",
        }, cancellationToken);
    }

    private async Task PutInPartsAsync(string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var upload = await _client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest
        {
            BucketName = _bucket,
            Key = name,
            ContentType = "application/octet-stream",
        }, cancellationToken);
        try
        {
            var parts = new List<PartETag>();
            for (int at = 0, number = 1; at < content.Length; at += _settings.MultipartPartBytes, number++)
            {
                using var part = AsStream(content.Slice(at, Math.Min(_settings.MultipartPartBytes, content.Length - at)));
                var answer = await _client.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = _bucket,
                    Key = name,
                    UploadId = upload.UploadId,
                    PartNumber = number,
                    InputStream = part,
                    UseChunkEncoding = false,
                }, cancellationToken);
                parts.Add(new PartETag(number, answer.ETag));
            }
            await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _bucket,
                Key = name,
                UploadId = upload.UploadId,
                PartETags = parts,
            }, cancellationToken);
        }
        catch
        {
            try
            {
                await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = name, UploadId = upload.UploadId },
                    CancellationToken.None);
            }
            catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException)
            {
                // The bucket's lifecycle rule for incomplete uploads cleans up what this could not.
            }
            throw;
        }
    }

    public async Task<int> ReadAsync(string name, long position, Memory<byte> into, CancellationToken cancellationToken)
    {
        if (into.Length == 0)
        {
            return 0;
        }
        GetObjectResponse response;
        try
        {
            response = await _client.GetObjectAsync(new GetObjectRequest
            {
                BucketName = _bucket,
                Key = name,
                ByteRange = new ByteRange(position, position + into.Length - 1),
            }, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            throw new SegmentNotFoundException(name, ex);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            return 0; // at or past the end
        }
        using (response)
        {
            return await response.ResponseStream.ReadAtLeastAsync(into, into.Length, throwOnEndOfStream: false, cancellationToken);
        }
    }

    public async Task DeleteAsync(string name, CancellationToken cancellationToken) =>
        await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = name }, cancellationToken);

    public async IAsyncEnumerable<StoredObject> ListAsync(string prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix, MaxKeys = 1000 };
        while (true)
        {
            var page = await _client.ListObjectsV2Async(request, cancellationToken);
            foreach (var item in page.S3Objects ?? [])
            {
                yield return new StoredObject(item.Key, item.LastModified is { } modified ? new DateTimeOffset(modified.ToUniversalTime()) : DateTimeOffset.MinValue);
            }
            if (page.IsTruncated != true || string.IsNullOrEmpty(page.NextContinuationToken))
            {
                yield break;
            }
            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    public void Dispose() => _client.Dispose();

    private static MemoryStream AsStream(ReadOnlyMemory<byte> content) =>
        MemoryMarshal.TryGetArray(content, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(content.ToArray(), writable: false);
}
