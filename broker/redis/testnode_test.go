package redis

const testNodeEnv = "ALLSPARK_REDIS_TESTNODE"

func runTestNode() int { return 0 }
