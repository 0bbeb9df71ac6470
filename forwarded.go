package allspark

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// trustedProxies holds the peers whose forwarding headers are believed.
type trustedProxies []netip.Prefix

func parseTrustedProxies(list []string) (trustedProxies, error) {
	out := make(trustedProxies, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("allspark: trusted proxy %q: %w", s, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("allspark: trusted proxy %q: %w", s, err)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (t trustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the TCP peer unless that peer is a trusted proxy; then it is
// the right-most address in X-Forwarded-For that is not itself a trusted
// proxy (hops to the left of it could be forged by the client), or
// X-Real-IP when there is no X-Forwarded-For.
func (t trustedProxies) clientAddr(r *http.Request) netip.AddrPort {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.AddrPort{}
	}
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	if len(t) == 0 || !t.trusts(peer.Addr()) {
		return peer
	}
	hops := forwardedHops(r.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return peer // a malformed hop: believe nothing further left
		}
		if !t.trusts(a) || i == 0 {
			return netip.AddrPortFrom(a.Unmap(), 0)
		}
	}
	if real := strings.TrimSpace(r.Header.Get("X-Real-IP")); real != "" {
		if a, err := netip.ParseAddr(real); err == nil {
			return netip.AddrPortFrom(a.Unmap(), 0)
		}
	}
	return peer
}

func forwardedHops(values []string) []string {
	var hops []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if p := strings.TrimSpace(part); p != "" {
				hops = append(hops, p)
			}
		}
	}
	return hops
}
