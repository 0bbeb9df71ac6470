package redis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/rueidis"
)

// script is a Lua script run by its SHA1 (EVALSHA), so that a call sends
// its arguments but not its source.
type script struct {
	src  string
	sha1 string
}

func newScript(src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{src: src, sha1: hex.EncodeToString(sum[:])}
}

// exec runs the script on keys with args. When Redis does not have it
// cached (a restarted or failed-over server, SCRIPT FLUSH) it falls back to
// EVAL, which caches it again: NOSCRIPT means nothing ran, so the second
// try cannot apply the script twice, retries being off otherwise.
func (s *script) exec(ctx context.Context, c rueidis.Client, keys []string, args ...string) rueidis.RedisResult {
	res := c.Do(ctx, c.B().Evalsha().Sha1(s.sha1).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
	if e, ok := rueidis.IsRedisErr(res.Error()); ok && e.IsNoScript() {
		res = c.Do(ctx, c.B().Eval().Script(s.src).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
	}
	return res
}
