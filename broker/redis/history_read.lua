-- History (history.go): the room's position and the entries after an
-- offset, in one atomic step.
--
-- KEYS[1] the room's stream, KEYS[2] its meta hash (e = epoch, s = top
-- offset).
-- ARGV[1] an epoch to use when the meta is missing, ARGV[2] the meta's TTL
-- and ARGV[3] the entries' TTL (milliseconds), ARGV[4] the first offset
-- wanted, ARGV[5] how many entries at most (0: none, the position only).
--
-- Returns {epoch, top offset, XRANGE reply}.
local m = redis.call('hmget', KEYS[2], 'e', 's')
local epoch, top = m[1], tonumber(m[2])
if not epoch or not top then
  -- No position: a fresh epoch, so that a client's old position is
  -- recognised as stale. A stream left over belongs to a dead epoch.
  epoch = ARGV[1]
  top = 0
  redis.call('del', KEYS[1])
  redis.call('hset', KEYS[2], 'e', epoch, 's', 0)
end
redis.call('pexpire', KEYS[2], ARGV[2])
local first, count = tonumber(ARGV[4]), tonumber(ARGV[5])
if top == 0 or count == 0 or first > top then
  return {epoch, top, {}}
end

-- Entries older than their TTL go first. They are the stream's oldest
-- (offsets follow write time), so the first entry still alive marks the
-- cut; the scan is bounded by the stream's size. It looks at the oldest
-- entry alone first (the usual case: nothing to drop), then at batches
-- growing to 128.
local ttl = tonumber(ARGV[3])
local t = redis.call('time')
local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - ttl
local from, scanned, size = '-', 0, 1
while true do
  local batch = redis.call('xrange', KEYS[1], from, '+', 'COUNT', size)
  for i = 1, #batch do
    local id, fields = batch[i][1], batch[i][2]
    if fields[1] ~= 't' or tonumber(fields[2]) > cutoff then
      if scanned > 0 then
        redis.call('xtrim', KEYS[1], 'MINID', id)
      end
      return {epoch, top, redis.call('xrange', KEYS[1], string.format('%d-0', first), '+', 'COUNT', count)}
    end
    scanned = scanned + 1
    from = '(' .. id
  end
  if #batch < size then
    break
  end
  size = math.min(2 * size, 128)
end
-- Every entry expired.
redis.call('del', KEYS[1])
return {epoch, top, {}}
