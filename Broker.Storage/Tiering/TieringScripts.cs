namespace Broker.Storage.Tiering;

/// <summary>
/// The Lua scripts that move the boundary between the tiers. A partition's manifest is a sorted set beside
/// its stream (same hash tag): member "base,next,records,batches,firstTs,maxTs,dataLength,size" (a
/// SegmentInfo), score the base offset. The meta hash gains "cstart" (first offset in the cold tier, absent
/// while it is empty) and "cbytes" (segment bytes).
/// </summary>
internal static class TieringScripts
{
    /// <summary>
    /// A Lua function the append and settle scripts share: when the partition's hot tier next has something to
    /// move to the cold tier, in unix ms, or nil when nothing will until more is appended. A full segment past the
    /// budget is due now. A smaller excess is due once it has waited the segment age (from now: the caller keeps an
    /// earlier time when it has one), and with hotMs the oldest batch once it is that old (read only when
    /// <c>with_oldest</c>: an append behind other batches cannot make the oldest older); those two no earlier than
    /// <c>not_before</c> (a pass that saw them and waits for the segment age to cut them).
    /// </summary>
    public const string DueFunction = """
        local function tiering_due(stream, bytes, hot_bytes, hot_ms, segment_bytes, max_age, now, with_oldest, not_before)
          local due = nil
          local later = nil
          if bytes > hot_bytes then
            if bytes - hot_bytes >= segment_bytes then
              due = now
            else
              later = now + max_age
            end
          end
          if hot_ms >= 0 and bytes > 0 and with_oldest then
            local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
            if #first > 0 then
              local aged = struct.unpack('<i8', first[1][2][2], 31) + hot_ms
              if not later or aged < later then
                later = aged
              end
            end
          end
          if later then
            later = math.max(later, not_before)
            if not due or later < due then
              due = later
            end
          end
          if due then
            due = math.max(0, math.min(due, 4503599627370496))
          end
          return due
        end

        """;

    /// <summary>
    /// After a tiering pass looked at a partition (and took it out of the due set): records when it is next due,
    /// the earlier of the pass's time (ARGV[1], -1: none) and what the partition's state says (appends may have
    /// come since the pass looked), or forgets that it was due when nothing is. KEYS: stream, meta. ARGV: pass's due,
    /// not before (-1: none; see <see cref="DueFunction"/>), hot budget, hotMs, segment bytes, segment age, now.
    /// Returns the due time to put back in the due set, or -1.
    /// </summary>
    public const string Settle = DueFunction + """
        local meta = redis.call('HMGET', KEYS[2], 'next', 'bytes')
        if not meta[1] then
          return -1
        end
        local due = tiering_due(KEYS[1], tonumber(meta[2]) or 0, tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]),
          tonumber(ARGV[6]), tonumber(ARGV[7]), true, tonumber(ARGV[2]))
        local asked = tonumber(ARGV[1])
        if asked >= 0 and (not due or asked < due) then
          due = asked
        end
        if not due then
          redis.call('HDEL', KEYS[2], 'tdue')
          return -1
        end
        redis.call('HSET', KEYS[2], 'tdue', string.format('%d', due))
        return due
        """;

    /// <summary>
    /// Records a segment that is already in the store and trims the stream below its end, in one step: the
    /// offsets move from one tier to the other with no moment where they are in neither. Refused (nothing
    /// changed) when the hot tier no longer starts at the segment's base (another run or retention moved it)
    /// or the cold tier does not end there. KEYS: stream, meta, manifest. ARGV: base, next, data length,
    /// segment size, member. Returns {0, new hot start} | {1, hot start} stale | {2} no partition | {3, cold end} gap.
    /// </summary>
    public const string Commit = """
        local meta = redis.call('HMGET', KEYS[2], 'next', 'start')
        if not meta[1] then
          return {2}
        end
        local start = tonumber(meta[2]) or 0
        local base = tonumber(ARGV[1])
        local next = tonumber(ARGV[2])
        if start ~= base or next > tonumber(meta[1]) then
          return {1, start}
        end
        local last = redis.call('ZRANGE', KEYS[3], -1, -1)
        if #last > 0 then
          local cold_end = tonumber(string.match(last[1], '^[^,]+,([^,]+),'))
          if cold_end ~= base then
            return {3, cold_end}
          end
        else
          redis.call('HSET', KEYS[2], 'cstart', ARGV[1])
        end
        redis.call('ZADD', KEYS[3], base, ARGV[5])
        redis.call('XTRIM', KEYS[1], 'MINID', ARGV[2])
        redis.call('HSET', KEYS[2], 'start', ARGV[2])
        redis.call('HINCRBY', KEYS[2], 'bytes', -tonumber(ARGV[3]))
        redis.call('HINCRBY', KEYS[2], 'cbytes', tonumber(ARGV[4]))
        return {0, next}
        """;

    /// <summary>
    /// Retention: forgets the oldest segment, if it is still ARGV[1] (its member); its object is deleted after.
    /// KEYS: meta, manifest. ARGV: member, segment size. Returns {0, new log start or -1 when the cold tier is
    /// now empty} | {1} not the oldest any more.
    /// </summary>
    public const string DropOldest = """
        local first = redis.call('ZRANGE', KEYS[2], 0, 1)
        if #first == 0 or first[1] ~= ARGV[1] then
          return {1}
        end
        redis.call('ZREM', KEYS[2], ARGV[1])
        redis.call('HINCRBY', KEYS[1], 'cbytes', -tonumber(ARGV[2]))
        if #first > 1 then
          local next_base = string.match(first[2], '^([^,]+),')
          redis.call('HSET', KEYS[1], 'cstart', next_base)
          return {0, tonumber(next_base)}
        end
        redis.call('HDEL', KEYS[1], 'cstart')
        return {0, -1}
        """;

    /// <summary>
    /// The first hot batch whose max timestamp is at or past ARGV[1] (it holds the earliest record at or
    /// past that time), reading ARGV[2] entries per step from ARGV[3] ('-', or '(' and the last ID looked at),
    /// at most ARGV[4] entries per call so one call never holds Redis for long. KEYS: stream, meta. Returns
    /// {id, batch}, {} when no batch reaches the time, or {'', from} to go on from there with another call.
    /// </summary>
    public const string FindTime = """
        local from = ARGV[3]
        local ts = tonumber(ARGV[1])
        local step = tonumber(ARGV[2])
        local budget = tonumber(ARGV[4])
        while budget > 0 do
          local entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', math.min(step, budget))
          if #entries == 0 then
            return {}
          end
          for _, e in ipairs(entries) do
            local batch = e[2][2]
            if struct.unpack('<i8', batch, 31) >= ts then
              return {e[1], batch}
            end
          end
          budget = budget - #entries
          from = '(' .. entries[#entries][1]
        end
        return {'', from}
        """;
}
