package allspark

// sparkUserKey keeps a spark's user among its Set values, so sparks that
// never log in pay nothing for it.
type sparkUserKey struct{}

// SetUser names the user this spark belongs to ("" for none). The name
// travels with the spark in cluster-wide listings (SparkInfo.User) and is
// what per-user presence counts by: one user, many tabs. The channels
// package sets it on Login.
func (s *Spark) SetUser(user string) {
	if user == "" {
		s.mu.Lock()
		delete(s.values, sparkUserKey{})
		s.mu.Unlock()
	} else {
		s.Set(sparkUserKey{}, user)
	}
	for _, fn := range s.server.userHooks.load() {
		fn(s, user)
	}
}

// User returns the name given with SetUser, or "".
func (s *Spark) User() string {
	v, _ := s.Get(sparkUserKey{})
	u, _ := v.(string)
	return u
}
