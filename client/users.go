package client

import (
	"context"
	"encoding/xml"
	"fmt"
	"strings"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// Users lists the engine's users.
func (c *Client) Users(ctx context.Context) ([]*ovirtsdk4.User, error) {
	data, err := c.call(ctx, "GET", "/users", nil)
	if err != nil {
		return nil, err
	}
	s, err := decodeMany(data, ovirtsdk4.XMLUserReadMany)
	if err != nil {
		return nil, err
	}
	return s.Slice(), nil
}

// FindUser resolves a user by id, by name (bob) or by oVirt's user name
// (bob@internal, bob@internal-authz).
func (c *Client) FindUser(ctx context.Context, ref string) (*ovirtsdk4.User, error) {
	us, err := c.Users(ctx)
	if err != nil {
		return nil, err
	}
	name := ref
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		name = ref[:i]
	}
	var hits []*ovirtsdk4.User
	for _, u := range us {
		if id, _ := u.Id(); id == ref {
			return u, nil
		}
		if n, _ := u.Name(); n == name {
			hits = append(hits, u)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil
	}
	return nil, &LookupError{Kind: "user", Ref: ref, Matches: len(hits)}
}

// AddUser adds an internal user with its password.
func (c *Client) AddUser(ctx context.Context, name, password string) (*ovirtsdk4.User, error) {
	u := ovirtsdk4.NewUserBuilder().UserName(name).Password(password).MustBuild()
	return write(c, ctx, "POST", "/users", u, ovirtsdk4.XMLUserWriteOne, ovirtsdk4.XMLUserReadOne)
}

// SetPassword changes a user's password; the engine ends the user's tokens.
func (c *Client) SetPassword(ctx context.Context, userID, password string) error {
	u := ovirtsdk4.NewUserBuilder().Password(password).MustBuild()
	_, err := write(c, ctx, "PUT", "/users/"+esc(userID), u, ovirtsdk4.XMLUserWriteOne, ovirtsdk4.XMLUserReadOne)
	return err
}

// RemoveUser removes a user, its permissions and its tokens.
func (c *Client) RemoveUser(ctx context.Context, userID string) error {
	_, err := c.call(ctx, "DELETE", "/users/"+esc(userID), nil)
	return err
}

// Roles lists the roles, predefined and custom.
func (c *Client) Roles(ctx context.Context) ([]*ovirtsdk4.Role, error) {
	data, err := c.call(ctx, "GET", "/roles", nil)
	if err != nil {
		return nil, err
	}
	s, err := decodeMany(data, ovirtsdk4.XMLRoleReadMany)
	if err != nil {
		return nil, err
	}
	return s.Slice(), nil
}

// Object names what a permission is given on: the system (Collection ""),
// or an object of a collection (vms, vnicprofiles, networks, clusters,
// datacenters, hosts, templates) by id.
type Object struct {
	Collection string
	ID         string
}

// System is the whole system, the object of system-wide permissions.
var System = Object{}

func (o Object) permissionsPath() string {
	if o.Collection == "" {
		return "/permissions"
	}
	return "/" + o.Collection + "/" + esc(o.ID) + "/permissions"
}

// Permission is a role given to a user on an object. oVirt's SDK type
// cannot name a network or a vNIC profile as the object, so this reads
// the engine's XML itself.
type Permission struct {
	ID     string
	RoleID string
	UserID string
	Object Object
}

type permissionXML struct {
	ID   string `xml:"id,attr"`
	Role ref    `xml:"role"`
	User ref    `xml:"user"`
	// The object, one of these (none: the system).
	VM         *ref `xml:"vm"`
	Profile    *ref `xml:"vnic_profile"`
	Network    *ref `xml:"network"`
	Cluster    *ref `xml:"cluster"`
	DataCenter *ref `xml:"data_center"`
	Host       *ref `xml:"host"`
	Template   *ref `xml:"template"`
}

type ref struct {
	ID string `xml:"id,attr"`
}

func (p permissionXML) permission() Permission {
	out := Permission{ID: p.ID, RoleID: p.Role.ID, UserID: p.User.ID}
	for _, o := range []struct {
		coll string
		r    *ref
	}{{"vms", p.VM}, {"vnicprofiles", p.Profile}, {"networks", p.Network}, {"clusters", p.Cluster},
		{"datacenters", p.DataCenter}, {"hosts", p.Host}, {"templates", p.Template}} {
		if o.r != nil {
			out.Object = Object{Collection: o.coll, ID: o.r.ID}
			break
		}
	}
	return out
}

func decodePermissions(data []byte) ([]Permission, error) {
	var doc struct {
		Items []permissionXML `xml:"permission"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("reading the engine's answer: %w", err)
	}
	out := make([]Permission, 0, len(doc.Items))
	for _, p := range doc.Items {
		out = append(out, p.permission())
	}
	return out, nil
}

// Permissions lists the permissions given on an object (not those it
// inherits).
func (c *Client) Permissions(ctx context.Context, on Object) ([]Permission, error) {
	data, err := c.call(ctx, "GET", on.permissionsPath(), nil)
	if err != nil {
		return nil, err
	}
	return decodePermissions(data)
}

// UserPermissions lists the permissions given to a user, on any object.
func (c *Client) UserPermissions(ctx context.Context, userID string) ([]Permission, error) {
	data, err := c.call(ctx, "GET", "/users/"+esc(userID)+"/permissions", nil)
	if err != nil {
		return nil, err
	}
	return decodePermissions(data)
}

// Grant gives a user a role (by name or id) on an object.
func (c *Client) Grant(ctx context.Context, userID, role string, on Object) (Permission, error) {
	rb := ovirtsdk4.NewRoleBuilder().Name(role)
	if roles, err := c.Roles(ctx); err == nil {
		if r, err := pick("role", role, roles); err == nil {
			rb = ovirtsdk4.NewRoleBuilder().Id(r.MustId())
		}
	}
	p := ovirtsdk4.NewPermissionBuilder().Role(rb.MustBuild()).
		User(ovirtsdk4.NewUserBuilder().Id(userID).MustBuild()).MustBuild()
	body, err := encode(ovirtsdk4.XMLPermissionWriteOne, p)
	if err != nil {
		return Permission{}, err
	}
	data, err := c.call(ctx, "POST", on.permissionsPath(), body)
	if err != nil {
		return Permission{}, err
	}
	var x permissionXML
	if err := xml.Unmarshal(data, &x); err != nil {
		return Permission{}, fmt.Errorf("reading the engine's answer: %w", err)
	}
	return x.permission(), nil
}

// RemovePermission removes a permission (by the user it was given to).
func (c *Client) RemovePermission(ctx context.Context, p Permission) error {
	_, err := c.call(ctx, "DELETE", "/users/"+esc(p.UserID)+"/permissions/"+esc(p.ID), nil)
	return err
}

// Named is an object of any collection as a listing shows it: its id and
// name.
type Named struct {
	ID   string `xml:"id,attr"`
	Name string `xml:"name"`
}

// FindIn resolves an object of a collection (datacenters, clusters,
// networks, hosts, templates, vms, vnicprofiles) by id or exact name.
func (c *Client) FindIn(ctx context.Context, collection, ref string) (Named, error) {
	data, err := c.call(ctx, "GET", "/"+esc(collection), nil)
	if err != nil {
		return Named{}, err
	}
	var doc struct {
		Items []Named `xml:",any"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return Named{}, fmt.Errorf("reading the engine's answer: %w", err)
	}
	var hits []Named
	for _, o := range doc.Items {
		if o.ID == ref {
			return o, nil
		}
		if o.Name == ref {
			hits = append(hits, o)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil
	}
	return Named{}, &LookupError{Kind: strings.TrimSuffix(collection, "s"), Ref: ref, Matches: len(hits)}
}
