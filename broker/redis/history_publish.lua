-- PublishHistory (history.go): give one publication the room's next
-- offset, store it, and publish it stamped, in one atomic step.
--
-- KEYS[1] the room's stream, KEYS[2] its meta hash (e = epoch, s = top
-- offset); both carry the same hash tag in Cluster mode.
-- ARGV[1] the room's PUB/SUB channel, ARGV[2] an epoch to use when the
-- meta is missing, ARGV[3] the stream's size, ARGV[4] the stream's TTL and
-- ARGV[5] the meta's TTL (milliseconds), ARGV[6] the publication
-- (allspark.MarshalPublication, without a position).
--
-- Returns {offset, epoch}.
local epoch = redis.call('hget', KEYS[2], 'e')
if not epoch then
  -- Never written, expired or evicted: a new stream in a new epoch.
  epoch = ARGV[2]
  redis.call('hset', KEYS[2], 'e', epoch, 's', 0)
end
local top = redis.call('hincrby', KEYS[2], 's', 1)
if top == 1 then
  -- A stream that outlived its meta belongs to a dead epoch.
  redis.call('del', KEYS[1])
end
local t = redis.call('time')
local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local added = redis.pcall('xadd', KEYS[1], 'MAXLEN', ARGV[3], string.format('%d-0', top), 't', now, 'p', ARGV[6])
if type(added) == 'table' and added.err then
  -- The stream is ahead of its meta (the meta was changed by hand, or
  -- restored from an older copy): its offsets cannot be trusted, so start
  -- over in a new epoch rather than reuse one.
  epoch = ARGV[2]
  top = 1
  redis.call('del', KEYS[1])
  redis.call('hset', KEYS[2], 'e', epoch, 's', 1)
  redis.call('xadd', KEYS[1], 'MAXLEN', ARGV[3], '1-0', 't', now, 'p', ARGV[6])
end
redis.call('pexpire', KEYS[1], ARGV[4])
redis.call('pexpire', KEYS[2], ARGV[5])
redis.call('publish', ARGV[1], 'h' .. string.format('%d', top) .. ' ' .. epoch .. ' ' .. ARGV[6])
return {top, epoch}
