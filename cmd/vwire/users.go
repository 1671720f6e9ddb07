package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"vwire.dev/vwire/client"
)

// Users, roles and permissions: oVirt's /users, /roles and the
// permissions of each object.

func (k *cli) users() error {
	us, err := k.c.Users(k.ctx)
	if err != nil {
		return err
	}
	type userJSON struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		UserName string `json:"user_name"`
	}
	views := make([]userJSON, 0, len(us))
	for _, u := range us {
		v := userJSON{ID: u.MustId()}
		v.Name, _ = u.Name()
		v.UserName, _ = u.UserName()
		views = append(views, v)
	}
	return k.print(views, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tUSER NAME\tID")
		for _, v := range views {
			fmt.Fprintf(w, "%s\t%s\t%s\n", v.Name, v.UserName, v.ID)
		}
	})
}

// newPassword reads a new user's password: twice without echo on a
// terminal, else the first line of stdin.
func newPassword(out io.Writer, name string) (string, error) {
	pw, err := readSecret(out, "New password for "+name+": ")
	if err != nil {
		return "", err
	}
	if interactive() {
		again, err := readSecret(out, "Again: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the passwords differ")
		}
	}
	if pw == "" {
		return "", errors.New("an empty password")
	}
	return pw, nil
}

func (k *cli) user(sub string, a []string) error {
	switch {
	case sub == "add" && len(a) == 1:
		pw, err := newPassword(k.out, a[0])
		if err != nil {
			return err
		}
		u, err := k.c.AddUser(k.ctx, a[0], pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(k.out, "User %s added (id %s)\n", u.MustUserName(), u.MustId())
		return nil
	case sub == "remove" && len(a) == 1:
		u, err := k.c.FindUser(k.ctx, a[0])
		if err != nil {
			return err
		}
		if err := k.c.RemoveUser(k.ctx, u.MustId()); err != nil {
			return err
		}
		fmt.Fprintf(k.out, "User %s removed, with its permissions and sessions\n", a[0])
		return nil
	case sub == "password" && len(a) == 1:
		u, err := k.c.FindUser(k.ctx, a[0])
		if err != nil {
			return err
		}
		pw, err := newPassword(k.out, a[0])
		if err != nil {
			return err
		}
		if err := k.c.SetPassword(k.ctx, u.MustId(), pw); err != nil {
			return err
		}
		fmt.Fprintf(k.out, "Password of %s changed; its sessions are ended\n", a[0])
		return nil
	}
	return errors.New("usage: vwire user add|remove|password USER (a new password is read from the terminal or stdin)")
}

func (k *cli) roles() error {
	rs, err := k.c.Roles(k.ctx)
	if err != nil {
		return err
	}
	type roleJSON struct {
		ID             string `json:"id"`
		Name           string `json:"name"`
		Administrative bool   `json:"administrative"`
		Description    string `json:"description,omitempty"`
	}
	views := make([]roleJSON, 0, len(rs))
	for _, r := range rs {
		v := roleJSON{ID: r.MustId()}
		v.Name, _ = r.Name()
		v.Administrative, _ = r.Administrative()
		v.Description, _ = r.Description()
		views = append(views, v)
	}
	return k.print(views, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tADMIN\tID\tDESCRIPTION")
		for _, v := range views {
			fmt.Fprintf(w, "%s\t%t\t%s\t%s\n", v.Name, v.Administrative, v.ID, v.Description)
		}
	})
}

// objectKinds are the flags that name a permission's object, with the
// collection each resolves in.
var objectKinds = []struct{ flag, collection, label string }{
	{"vm", "vms", "VM"}, {"profile", "vnicprofiles", "vNIC profile"}, {"network", "networks", "network"},
	{"cluster", "clusters", "cluster"}, {"datacenter", "datacenters", "data center"}, {"host", "hosts", "host"},
	{"template", "templates", "template"},
}

// objectFlags parses --vm VM, --profile P, … or --system (exactly one) and
// the positional arguments around them.
func (k *cli) objectFlags(name string, args []string) (client.Object, []string, bool, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	refs := make([]*string, len(objectKinds))
	for i, o := range objectKinds {
		refs[i] = fs.String(o.flag, "", "")
	}
	system := fs.Bool("system", false, "")
	userRef := fs.String("user", "", "")
	var pos []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		pos, args = append(pos, args[0]), args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return client.Object{}, nil, false, err
	}
	pos = append(pos, fs.Args()...)
	if *userRef != "" {
		pos = append([]string{*userRef}, pos...)
	}
	var on client.Object
	n := 0
	if *system {
		n++
	}
	for i, o := range objectKinds {
		if *refs[i] == "" {
			continue
		}
		n++
		obj, err := k.c.FindIn(k.ctx, o.collection, *refs[i])
		if le, ok := errors.AsType[*client.LookupError](err); ok {
			le.Kind = o.label
		}
		if err != nil {
			return client.Object{}, nil, false, err
		}
		on = client.Object{Collection: o.collection, ID: obj.ID}
	}
	if n > 1 {
		return client.Object{}, nil, false, errors.New("name one object: --vm, --profile, --network, --cluster, --datacenter, --host, --template or --system")
	}
	return on, pos, n == 1, nil
}

const objectUsage = "--vm VM | --profile PROFILE | --network NET | --cluster C | --datacenter DC | --host H | --template T | --system"

// grant gives USER the ROLE on one object.
func (k *cli) grant(args []string) error {
	on, pos, named, err := k.objectFlags("grant", args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || !named {
		return errors.New("usage: vwire grant USER ROLE " + objectUsage)
	}
	u, err := k.c.FindUser(k.ctx, pos[0])
	if err != nil {
		return err
	}
	p, err := k.c.Grant(k.ctx, u.MustId(), pos[1], on)
	if err != nil {
		return err
	}
	fmt.Fprintf(k.out, "%s has %s on %s (permission %s)\n", pos[0], pos[1], k.describe(on, nil), p.ID)
	return nil
}

// revoke removes the permissions giving USER the ROLE on one object.
func (k *cli) revoke(args []string) error {
	on, pos, named, err := k.objectFlags("revoke", args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || !named {
		return errors.New("usage: vwire revoke USER ROLE " + objectUsage)
	}
	u, err := k.c.FindUser(k.ctx, pos[0])
	if err != nil {
		return err
	}
	roles, err := k.roleNames()
	if err != nil {
		return err
	}
	ps, err := k.c.Permissions(k.ctx, on)
	if err != nil {
		return err
	}
	removed := 0
	for _, p := range ps {
		if p.UserID != u.MustId() || (p.RoleID != pos[1] && roles[p.RoleID] != pos[1]) {
			continue
		}
		if err := k.c.RemovePermission(k.ctx, p); err != nil {
			return err
		}
		removed++
	}
	if removed == 0 {
		return fmt.Errorf("%s has no %s given on %s", pos[0], pos[1], k.describe(on, nil))
	}
	fmt.Fprintf(k.out, "%s no longer has %s on %s\n", pos[0], pos[1], k.describe(on, nil))
	return nil
}

func (k *cli) roleNames() (map[string]string, error) {
	rs, err := k.c.Roles(k.ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, r := range rs {
		names[r.MustId()], _ = r.Name()
	}
	return names, nil
}

// describe names an object for people: "VM vm1", "the system"; names maps
// collection/id to names already read (nil: look it up).
func (k *cli) describe(on client.Object, names map[string]string) string {
	if on.Collection == "" {
		return "the system"
	}
	label := on.Collection
	for _, o := range objectKinds {
		if o.collection == on.Collection {
			label = o.label
		}
	}
	name, ok := names[on.Collection+"/"+on.ID]
	if !ok {
		if obj, err := k.c.FindIn(k.ctx, on.Collection, on.ID); err == nil {
			name = obj.Name
		}
		if names != nil {
			names[on.Collection+"/"+on.ID] = name
		}
	}
	return label + " " + cmp.Or(name, on.ID)
}

// permissions lists the permissions given on an object, or to a user.
func (k *cli) permissions(args []string) error {
	on, pos, named, err := k.objectFlags("permissions", args)
	if err != nil {
		return err
	}
	var ps []client.Permission
	switch {
	case len(pos) == 1 && !named: // vwire permissions --user bob
		u, err := k.c.FindUser(k.ctx, pos[0])
		if err != nil {
			return err
		}
		ps, err = k.c.UserPermissions(k.ctx, u.MustId())
		if err != nil {
			return err
		}
	case len(pos) == 0 && named:
		if ps, err = k.c.Permissions(k.ctx, on); err != nil {
			return err
		}
	default:
		return errors.New("usage: vwire permissions --user USER | " + objectUsage)
	}
	roles, err := k.roleNames()
	if err != nil {
		return err
	}
	users := map[string]string{}
	if us, err := k.c.Users(k.ctx); err == nil {
		for _, u := range us {
			users[u.MustId()], _ = u.UserName()
		}
	}
	type permJSON struct {
		ID     string `json:"id"`
		User   string `json:"user"`
		Role   string `json:"role"`
		Object string `json:"object"`
	}
	names := map[string]string{}
	views := make([]permJSON, 0, len(ps))
	for _, p := range ps {
		views = append(views, permJSON{ID: p.ID, User: cmp.Or(users[p.UserID], p.UserID), Role: cmp.Or(roles[p.RoleID], p.RoleID),
			Object: k.describe(p.Object, names)})
	}
	return k.print(views, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "USER\tROLE\tON\tID")
		for _, v := range views {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", v.User, v.Role, v.Object, v.ID)
		}
	})
}
