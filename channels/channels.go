package channels

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/allspark/allspark"
)

// Default channel names and prefixes.
const (
	Anonymous     = "anonymous"
	Authenticated = "authenticated"
)

// User is the channel of one user's connections.
func User(id string) string { return "user/" + id }

// Role is the channel of the connections whose user has the role.
func Role(r string) string { return "role/" + r }

// Project is the channel of a project's members.
func Project(id string) string { return "project/" + id }

// Room is the channel of a chat room's members.
func Room(id string) string { return "room/" + id }

// Identity is who a connection belongs to once logged in.
type Identity struct {
	UserID string
	Roles  []string
}

// Publisher returns the channels an event should go to. Returning none
// publishes to nobody (the event is dropped on purpose). ctx is the one given
// to Publish: put the sender or request data there for rules that need it.
type Publisher func(ctx context.Context, event string, data any) []string

// Config configures Channels; the zero value uses DefaultPublisher.
type Config struct {
	// Publisher is the global publisher; default DefaultPublisher.
	Publisher Publisher
}

// ErrNoUser: Login was called without a user id.
var ErrNoUser = errors.New("channels: identity has no user id")

// Result is what Publish did.
type Result struct {
	Channels  []string // the channels the publisher chose, sorted
	Delivered int      // connections the event was queued for (see allspark.Target.Write)
}

// Channels manages the channel membership of a server's connections and
// routes published events. Create it with New before the server accepts
// connections; it is safe for concurrent use.
type Channels struct {
	srv *allspark.Server

	mu       sync.RWMutex
	global   Publisher
	perEvent map[string]Publisher
}

type identityKey struct{}

// New installs the channel layer on srv: every new connection joins
// Anonymous.
func New(srv *allspark.Server, cfg Config) *Channels {
	c := &Channels{srv: srv, global: cfg.Publisher, perEvent: make(map[string]Publisher)}
	if c.global == nil {
		c.global = DefaultPublisher
	}
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		return sp.Join(Anonymous)
	})
	return c
}

// Login moves a connection from Anonymous to Authenticated, its user's
// channel and one channel per role. Logging in again as someone else first
// leaves the previous user's and roles' channels.
func (c *Channels) Login(sp *allspark.Spark, id Identity) error {
	if id.UserID == "" {
		return ErrNoUser
	}
	if prev, ok := c.Identity(sp); ok {
		if err := sp.Leave(identityChannels(prev)...); err != nil {
			return err
		}
	}
	id.Roles = slices.Clone(id.Roles)
	sp.Set(identityKey{}, id)
	sp.SetUser(id.UserID)
	if err := sp.Join(identityChannels(id)...); err != nil {
		return err
	}
	return sp.Leave(Anonymous)
}

// Logout returns a connection to Anonymous. Channels the application joined
// by itself (rooms, projects) are left alone.
func (c *Channels) Logout(sp *allspark.Spark) error {
	prev, ok := c.Identity(sp)
	if !ok {
		return nil
	}
	sp.Set(identityKey{}, nil)
	sp.SetUser("")
	if err := sp.Join(Anonymous); err != nil {
		return err
	}
	return sp.Leave(identityChannels(prev)...)
}

// Identity returns the identity a connection logged in with.
func (c *Channels) Identity(sp *allspark.Spark) (Identity, bool) {
	v, _ := sp.Get(identityKey{})
	id, ok := v.(Identity)
	return id, ok
}

func identityChannels(id Identity) []string {
	out := []string{Authenticated, User(id.UserID)}
	for _, r := range id.Roles {
		if r != "" {
			out = append(out, Role(r))
		}
	}
	return out
}

// SetPublisher replaces the global publisher (nil restores DefaultPublisher).
func (c *Channels) SetPublisher(p Publisher) {
	if p == nil {
		p = DefaultPublisher
	}
	c.mu.Lock()
	c.global = p
	c.mu.Unlock()
}

// PublishEvent sets the publisher for one event, overriding the global one;
// nil removes it.
func (c *Channels) PublishEvent(event string, p Publisher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p == nil {
		delete(c.perEvent, event)
		return
	}
	c.perEvent[event] = p
}

// Route returns the channels the publishers choose for an event, sorted and
// without duplicates, without sending anything.
func (c *Channels) Route(ctx context.Context, event string, data any) []string {
	c.mu.RLock()
	p, ok := c.perEvent[event]
	if !ok {
		p = c.global
	}
	c.mu.RUnlock()
	names := slices.Clone(p(ctx, event, data))
	slices.Sort(names)
	return slices.Compact(names)
}

// Publish emits event with data to the channels its publisher chooses. Each
// connection receives it once even when it is in several of them.
func (c *Channels) Publish(ctx context.Context, event string, data any) (Result, error) {
	names := c.Route(ctx, event, data)
	if len(names) == 0 {
		return Result{}, nil
	}
	n, err := c.srv.Room(names...).Emit(event, data)
	return Result{Channels: names, Delivered: n}, err
}

// Channel selects connections in the named channels, for writes that skip
// the publishers.
func (c *Channels) Channel(names ...string) allspark.Target { return c.srv.Room(names...) }
