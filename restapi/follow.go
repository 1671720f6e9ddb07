package restapi

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"vwire.dev/vwire"
)

// oVirt's follow= (get and list): the named links of an answer are inlined,
// `follow=nics` puts the VM's <nics><nic>…</nic></nics> in place of its
// <link rel="nics"/>, a reference (`follow=vnic_profile`) becomes the whole
// entity, and dots follow further (`follow=nics.vnic_profile`). Each
// followed link is read as its own GET would read it, as the same user,
// with the same permission checks.

// Bounds on what one request may make the engine read.
const (
	maxFollowPaths = 8
	maxFollowDepth = 3
	maxFollowReads = 500
)

var followSeg = regexp.MustCompile(`^[a-z_]{1,40}$`)

// followKey marks an internal read made to follow a link: it carries the
// user already authenticated and where its answer goes.
type followKey struct{}

type followRead struct {
	user   *vwire.User
	code   int
	answer *node
}

// followPaths parses the follow parameter; an empty list means none.
func followPaths(r *http.Request) ([][]string, error) {
	v := r.URL.Query().Get("follow")
	if v == "" {
		return nil, nil
	}
	var out [][]string
	for _, p := range strings.Split(v, ",") {
		segs := strings.Split(strings.TrimSpace(p), ".")
		if len(out) == maxFollowPaths || len(segs) > maxFollowDepth {
			return nil, vwire.InvalidValue(vwire.MsgInvalidValue, "follow takes at most 8 paths of at most 3 links each.")
		}
		for _, s := range segs {
			if !followSeg.MatchString(s) {
				return nil, vwire.InvalidValue(vwire.MsgInvalidValue, `Value "`+truncate(p, 64)+`" of follow is not a path of links (like nics or nics.vnic_profile).`)
			}
		}
		out = append(out, segs)
	}
	return out, nil
}

// follower inlines the links of an answer for one request.
type follower struct {
	s     *Server
	q     *request
	user  *vwire.User
	reads int
}

// expand applies every path to n: an entity, or a collection of entities.
func (f *follower) expand(n *node, paths [][]string) {
	for _, p := range paths {
		if n.href != "" || n.id != "" {
			f.path(n, p)
			continue
		}
		for _, k := range n.kids { // a collection: each of its entities
			if k.arr && (k.href != "" || k.id != "") {
				f.path(k, p)
			}
		}
	}
}

// path follows segs from the entity n.
func (f *follower) path(n *node, segs []string) {
	for i, k := range n.kids {
		isLink := k.name == "link" && k.rel == segs[0]
		isRef := k.name == segs[0] && k.href != "" && len(k.kids) == 0
		if !isLink && !isRef {
			continue
		}
		got := f.read(k.href)
		if got == nil {
			return // not readable as this user: left as a link
		}
		if isRef {
			got.name, got.arr = k.name, k.arr
		}
		n.kids[i] = got
		if len(segs) > 1 {
			f.expand(got, [][]string{segs[1:]})
		}
		return
	}
}

// read answers GET href as the request's user would get it, as a node;
// nil if it fails or the request has read enough.
func (f *follower) read(href string) *node {
	if f.reads >= maxFollowReads {
		return nil
	}
	f.reads++
	u, err := url.Parse(href)
	if err != nil || !strings.HasPrefix(u.Path, apiRoot) {
		return nil
	}
	fr := &followRead{user: f.user}
	r := f.q.r.Clone(context.WithValue(f.q.ctx(), followKey{}, fr))
	r.Method, r.URL, r.Body, r.ContentLength = http.MethodGet, &url.URL{Path: u.Path}, http.NoBody, 0
	r.RequestURI = u.Path
	f.s.ServeHTTP(discard{h: http.Header{}}, r)
	if fr.code != http.StatusOK {
		return nil
	}
	return fr.answer
}

// discard is the response writer of an internal read: its answer is the
// node captured, not bytes.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
