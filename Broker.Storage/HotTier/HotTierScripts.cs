namespace Broker.Storage.HotTier;

/// <summary>
/// The Lua scripts behind the Redis hot tier. A partition is three kinds of key under one hash tag:
/// the stream (one entry per batch, ID "baseOffset-recordCount"; offset 0's ID is "0-n", never the
/// invalid "0-0"), the meta hash (next = end offset, start = first kept offset, bytes = hot bytes), and
/// one key per idempotent producer holding its last five batches as "seq,count,base;…" with a TTL.
/// </summary>
internal static class HotTierScripts
{
    /// <summary>
    /// KEYS: stream, meta, producer key (or the meta key again when not idempotent).
    /// ARGV: batch, record count, producer id ("" when none), base sequence, channel, "topic partition",
    ///       producer state TTL in seconds, hard limit of hot bytes (-1: none), then for tiering (see
    ///       <see cref="Tiering.TieringScripts.DueFunction"/>): hot budget (-1: no cold tier), hotMs, segment
    ///       bytes, segment age, now (unix ms), then "1" when the caller confirms the append with WAIT (acks=replicas), else "".
    /// Returns {status, base offset, end offset, expected sequence, tiering due}; status 0 appended, 1 duplicate,
    /// 2 out-of-order sequence, 3 hot tier full (nothing written; a duplicate is still answered). Tiering due
    /// (-1: none) is set when the append made the partition due earlier than its meta's "tdue" said (or it had
    /// none): the caller then puts it in the broker's tiering due set. A missing partition is the error "NOPARTITION".
    /// </summary>
    public const string Append = Tiering.TieringScripts.DueFunction + """
        local head = redis.call('HMGET', KEYS[2], 'next', 'tdue')
        local next = head[1]
        if not next then
          return redis.error_reply('NOPARTITION')
        end
        next = tonumber(next)
        local tracked = tonumber(head[2])
        local count = tonumber(ARGV[2])
        local idempotent = ARGV[3] ~= ''
        local seq = tonumber(ARGV[4])
        local state = false
        if idempotent then
          state = redis.call('GET', KEYS[3])
          if state then
            local expected = nil
            for s, c, b in string.gmatch(state, '(%d+),(%d+),(%d+)') do
              s = tonumber(s)
              c = tonumber(c)
              if s == seq and c == count then
                if ARGV[14] == '1' then
                  -- A write, so this connection's WAIT that follows covers the replication stream up to now, the original
                  -- append included (WAIT counts from the client's last write; a duplicate writes nothing otherwise).
                  redis.call('EXPIRE', KEYS[3], tonumber(ARGV[7]))
                end
                return {1, tonumber(b), next, -1, -1}
              end
              -- Sequences wrap to 0 past 2^31 - 1, as in Kafka.
              expected = (s + c) % 2147483648
            end
            if expected and seq ~= expected then
              return {2, -1, next, expected, -1}
            end
          end
        end
        local limit = tonumber(ARGV[8])
        local hot = tonumber(ARGV[9])
        local now = tonumber(ARGV[13])
        if limit >= 0 and (tonumber(redis.call('HGET', KEYS[2], 'bytes')) or 0) > limit then
          -- Tiering is behind: ask for it at once, even if the partition was thought to be in the due set already.
          return {3, -1, next, -1, hot >= 0 and now or -1}
        end
        local base = next
        redis.call('XADD', KEYS[1], string.format('%d-%d', base, count), 'b', ARGV[1])
        local new_next = base + count
        redis.call('HSET', KEYS[2], 'next', string.format('%d', new_next))
        local bytes = redis.call('HINCRBY', KEYS[2], 'bytes', string.len(ARGV[1]))
        local due = -1
        if hot >= 0 then
          local at = tiering_due(KEYS[1], bytes, hot, tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]), now, not tracked, 0)
          if at and (not tracked or at < tracked) then
            redis.call('HSET', KEYS[2], 'tdue', string.format('%d', at))
            due = at
          end
        end
        if idempotent then
          local entry = string.format('%d,%d,%d', seq, count, base)
          local kept = {}
          if state then
            for e in string.gmatch(state, '[^;]+') do
              kept[#kept + 1] = e
            end
          end
          kept[#kept + 1] = entry
          while #kept > 5 do
            table.remove(kept, 1)
          end
          redis.call('SET', KEYS[3], table.concat(kept, ';'), 'EX', tonumber(ARGV[7]))
        end
        redis.call('PUBLISH', ARGV[5], ARGV[6] .. ' ' .. string.format('%d', new_next))
        return {0, base, new_next, -1, due}
        """;

    /// <summary>
    /// KEYS: stream, meta. ARGV: offset, max bytes, entries per XRANGE step.
    /// Returns {status, start offset, end offset, id1, batch1, id2, batch2, …}; status 0 ok, 1 out of range.
    /// Starts at the batch containing the offset (the last entry whose base offset is at or below it).
    /// </summary>
    public const string Read = """
        local meta = redis.call('HMGET', KEYS[2], 'next', 'start')
        if not meta[1] then
          return redis.error_reply('NOPARTITION')
        end
        local next = tonumber(meta[1])
        local start = tonumber(meta[2]) or 0
        local offset = tonumber(ARGV[1])
        if offset < start or offset > next then
          return {1, start, next}
        end
        local out = {0, start, next}
        if offset == next then
          return out
        end
        local max_bytes = tonumber(ARGV[2])
        local step = tonumber(ARGV[3])
        local first = redis.call('XREVRANGE', KEYS[1], string.format('%d', offset), '-', 'COUNT', 1)
        local from = '-'
        if #first > 0 then
          from = first[1][1]
        end
        local bytes = 0
        while true do
          local entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', step)
          if #entries == 0 then
            return out
          end
          for _, e in ipairs(entries) do
            local batch = e[2][2]
            out[#out + 1] = e[1]
            out[#out + 1] = batch
            bytes = bytes + string.len(batch)
            if bytes >= max_bytes then
              return out
            end
          end
          from = '(' .. entries[#entries][1]
        end
        """;

    /// <summary>
    /// Retention: drops the oldest batches while the oldest is past the time limit (its max timestamp is
    /// below ARGV[1]) or the partition holds more than ARGV[2] bytes; -1 disables a limit. Looks at no
    /// more than ARGV[3] batches per call. Does nothing while the partition's manifest (KEYS[3]) lists
    /// segments: they are older, and go first. KEYS: stream, meta, manifest.
    /// Returns {batches removed, new start offset, 1 and the oldest kept batch's max timestamp | 0}. The end
    /// offset never moves.
    /// </summary>
    public const string Trim = """
        local meta = redis.call('HMGET', KEYS[2], 'next', 'start', 'bytes')
        if not meta[1] then
          return {0, -1}
        end
        local start = tonumber(meta[2]) or 0
        if redis.call('ZCARD', KEYS[3]) > 0 then
          return {0, start}
        end
        local bytes = tonumber(meta[3]) or 0
        local min_ts = tonumber(ARGV[1])
        local max_bytes = tonumber(ARGV[2])
        local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[3]))
        local removed = 0
        local removed_bytes = 0
        local new_start = start
        for _, e in ipairs(entries) do
          local batch = e[2][2]
          local max_ts = struct.unpack('<i8', batch, 31)
          local expired = min_ts >= 0 and max_ts < min_ts
          local over = max_bytes >= 0 and (bytes - removed_bytes) > max_bytes
          if not (expired or over) then
            break
          end
          local dash = string.find(e[1], '-', 1, true)
          new_start = tonumber(string.sub(e[1], 1, dash - 1)) + tonumber(string.sub(e[1], dash + 1))
          removed = removed + 1
          removed_bytes = removed_bytes + string.len(batch)
        end
        local oldest = entries[removed + 1]
        if removed > 0 then
          redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d', new_start))
          redis.call('HSET', KEYS[2], 'start', string.format('%d', new_start))
          redis.call('HINCRBY', KEYS[2], 'bytes', -removed_bytes)
          if not oldest then
            oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
          end
        end
        if not oldest then
          return {removed, new_start, 0}
        end
        return {removed, new_start, 1, (struct.unpack('<i8', oldest[2][2], 31))}
        """;
}
