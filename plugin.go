package allspark

import "sync"

// Plugin extends a server, as a Primus plugin does. Server is called once by
// Server.Plugin to register hooks, transforms, middleware and so on.
//
// A plugin may also implement ClientPlugin (code shipped to browsers in the
// served client library) and Plugouter (undo its registrations).
type Plugin interface {
	Name() string
	Server(s *Server) error
}

// ClientPlugin is a Plugin with a browser part: JavaScript that the served
// client library runs with the client instance in scope.
type ClientPlugin interface {
	Plugin
	Client() string
}

// Plugouter is a Plugin that can remove what it registered.
type Plugouter interface {
	Plugin
	Plugout(s *Server) error
}

type pluginSet struct {
	mu    sync.Mutex
	order []Plugin
}

// Plugin registers p and calls p.Server. Names are unique (ErrDuplicateName).
// If p.Server fails the plugin is not registered.
func (s *Server) Plugin(p Plugin) error {
	ps := &s.plugins
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, q := range ps.order {
		if q.Name() == p.Name() {
			return ErrDuplicateName
		}
	}
	if err := p.Server(s); err != nil {
		return err
	}
	ps.order = append(ps.order, p)
	s.library.reset()
	return nil
}

// Plugout unregisters the named plugin, calling its Plugout if it has one.
func (s *Server) Plugout(name string) error {
	ps := &s.plugins
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for i, q := range ps.order {
		if q.Name() != name {
			continue
		}
		if po, ok := q.(Plugouter); ok {
			if err := po.Plugout(s); err != nil {
				return err
			}
		}
		ps.order = append(ps.order[:i:i], ps.order[i+1:]...)
		s.library.reset()
		return nil
	}
	return ErrNotFound
}

// Plugins returns the registered plugins in registration order.
func (s *Server) Plugins() []Plugin {
	s.plugins.mu.Lock()
	defer s.plugins.mu.Unlock()
	return append([]Plugin(nil), s.plugins.order...)
}

// ClientPlugins returns the registered plugins that have a browser part, in
// registration order; the served client library includes their code.
func (s *Server) ClientPlugins() []ClientPlugin {
	var out []ClientPlugin
	for _, p := range s.Plugins() {
		if cp, ok := p.(ClientPlugin); ok {
			out = append(out, cp)
		}
	}
	return out
}
