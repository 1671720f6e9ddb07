package restapi

import (
	"encoding/hex"
	"net/http"
	"strings"

	"vwire.dev/vwire"
)

// Users and the one domain, oVirt's /users and /domains. vwire's users are
// internal: the domain is "internal-authz" (oVirt's internal authz
// profile), its id the hex of its name as oVirt makes directory ids.
//
// Adding a user takes a password (oVirt adds users from a directory that
// holds it; vwire is its own directory): <user><user_name>bob</user_name>
// <password>…</password></user>. A password is changed by PUT /users/{id}
// with <user><password>…</password></user>: oVirt's API has no action for
// it, and PUT is how every other field of an entity changes.

const internalDomain = "internal-authz"

var internalDomainID = hex.EncodeToString([]byte(internalDomain))

func (q *request) domainRef() *node {
	n := ref("domain", q.href("domains", internalDomainID), internalDomainID)
	n.add(str("name", internalDomain))
	return n
}

func (q *request) userNode(u *vwire.User) *node {
	h := q.href("users", u.ID)
	return (&node{name: "user", href: h, id: u.ID}).add(
		str("name", u.Name),
		str("user_name", u.Name+"@"+u.Domain+"-authz"),
		str("principal", u.Name),
		str("namespace", "*"),
		str("domain_entry_id", hex.EncodeToString([]byte(u.ID))),
		q.domainRef(),
		link("permissions", h+"/permissions"),
	)
}

func (q *request) writeUsers(us []*vwire.User) error {
	p, err := q.listParams()
	if err != nil {
		return err
	}
	n, err := collect(p, "users", us, func(u *vwire.User) map[string]string {
		return map[string]string{"name": u.Name, "usrname": u.Name + "@" + u.Domain + "-authz", "id": u.ID}
	}, q.userNode)
	if err != nil {
		return err
	}
	q.write(http.StatusOK, n)
	return nil
}

func (s *Server) listUsers(q *request) error {
	us, err := s.eng.Users(q.ctx())
	if err != nil {
		return err
	}
	return q.writeUsers(us)
}

func (s *Server) getUser(q *request) error {
	u, err := s.eng.User(q.ctx(), q.r.PathValue("id"))
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.userNode(u))
	return nil
}

// userName reads oVirt's user_name (bob, bob@internal, bob@internal-authz)
// as a name of the internal domain.
func userName(b *in) (string, error) {
	v, _ := b.str("user_name")
	if v == "" {
		v, _ = b.str("name")
	}
	name, domain, found := strings.Cut(v, "@")
	if found && domain != "internal" && domain != internalDomain {
		return "", vwire.New(vwire.MsgReferenceNotFound, "kind", "Domain", "ref", domain)
	}
	if d := b.child("domain"); d != nil {
		id, _ := d.str("id")
		dn, _ := d.str("name")
		if (id != "" && id != internalDomainID) || (dn != "" && dn != internalDomain && dn != "internal") {
			return "", vwire.New(vwire.MsgReferenceNotFound, "kind", "Domain", "ref", id+dn)
		}
	}
	return name, nil
}

func (s *Server) addUser(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	name, err := userName(b)
	if err != nil {
		return err
	}
	pw, _ := b.str("password")
	var missing []string
	if name == "" {
		missing = append(missing, "user_name")
	}
	if pw == "" {
		missing = append(missing, "password")
	}
	if len(missing) > 0 {
		return vwire.Incomplete("User", missing, "add")
	}
	u, err := s.eng.AddUser(q.ctx(), name, pw)
	if err != nil {
		return err
	}
	q.created(q.userNode(u))
	return nil
}

// updateUser changes a user's password (the only field that may change);
// the engine ends the user's sessions.
func (s *Server) updateUser(q *request) error {
	b, err := q.body()
	if err != nil {
		return err
	}
	id := q.r.PathValue("id")
	if _, err := s.eng.User(q.ctx(), id); err != nil {
		return err
	}
	pw, _ := b.str("password")
	if pw == "" {
		return vwire.Incomplete("User", []string{"password"}, "update")
	}
	if err := s.eng.SetPassword(q.ctx(), id, pw); err != nil {
		return err
	}
	return s.getUser(q)
}

// ---- domains

func (q *request) domainNode() *node {
	h := q.href("domains", internalDomainID)
	return (&node{name: "domain", href: h, id: internalDomainID}).add(
		str("name", internalDomain), link("users", h+"/users"), link("groups", h+"/groups"))
}

func (s *Server) listDomains(q *request) error {
	q.write(http.StatusOK, el("domains", item(q.domainNode())))
	return nil
}

func domainOf(q *request) error {
	if id := q.r.PathValue("id"); id != internalDomainID {
		return vwire.NotFound("Domain", id)
	}
	return nil
}

func (s *Server) getDomain(q *request) error {
	if err := domainOf(q); err != nil {
		return err
	}
	q.write(http.StatusOK, q.domainNode())
	return nil
}

func (s *Server) listDomainUsers(q *request) error {
	if err := domainOf(q); err != nil {
		return err
	}
	return s.listUsers(q)
}

func (s *Server) getDomainUser(q *request) error {
	if err := domainOf(q); err != nil {
		return err
	}
	u, err := s.eng.User(q.ctx(), q.r.PathValue("uid"))
	if err != nil {
		return err
	}
	q.write(http.StatusOK, q.userNode(u))
	return nil
}
