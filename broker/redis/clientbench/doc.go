// Package clientbench compares the two Go Redis clients the Redis broker
// could be built on, rueidis and go-redis, on the two paths the broker
// uses: PUBLISH from many goroutines at once, and receiving on a PUB/SUB
// connection. It is its own module so that go-redis never enters the main
// module's go.mod; the figures and the decision are in docs/decisions.md
// ("Redis client: rueidis").
//
// Run against the local Redis (127.0.0.1:6379, or REDIS_ADDR):
//
//	cd broker/redis/clientbench && go test -run '^$' -bench . -benchmem -count 3
package clientbench
