package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"vwire.dev/vwire/client"
)

// Users, roles and permissions: oVirt's /users, /roles and the
// permissions of each object.

func (s *session) userCmds(root *cobra.Command) {
	users := &cobra.Command{
		Use:   "users",
		Short: "list users",
		Args:  nargs(0),
		RunE:  s.do(func(k *cli, _ []string) error { return k.users() }),
	}
	user := &cobra.Command{
		Use:   "user",
		Short: "add or remove a user, or set its password",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErr("usage: vwire user add|remove|password USER (a new password is read from the terminal or stdin)")
		},
	}
	for _, sub := range []struct{ use, short string }{
		{"add", "add an internal user (its password from the terminal, twice, or stdin's first line)"},
		{"remove", "remove a user, with its permissions and sessions"},
		{"password", "set a user's password (from the terminal, twice, or stdin's first line); ends its sessions"},
	} {
		cmd := &cobra.Command{
			Use:   sub.use + " USER",
			Short: sub.short,
			Args:  nargs(1),
			RunE:  s.do(func(k *cli, a []string) error { return k.user(sub.use, a) }),
		}
		if sub.use != "add" {
			cmd.ValidArgsFunction = s.complete("users")
		}
		user.AddCommand(cmd)
	}
	roles := &cobra.Command{
		Use:   "roles",
		Short: "list roles",
		Args:  nargs(0),
		RunE:  s.do(func(k *cli, _ []string) error { return k.roles() }),
	}
	var gf, rf, pf objectFlags
	grant := &cobra.Command{
		Use:               "grant USER ROLE " + objectUsage,
		Short:             "give a user a role on an object",
		ValidArgsFunction: s.complete("users", "roles"),
		RunE:              s.do(func(k *cli, a []string) error { return k.grant(a, &gf) }),
	}
	gf.register(s, grant, false)
	revoke := &cobra.Command{
		Use:               "revoke USER ROLE " + objectUsage,
		Short:             "take a role given on an object from a user",
		ValidArgsFunction: s.complete("users", "roles"),
		RunE:              s.do(func(k *cli, a []string) error { return k.revoke(a, &rf) }),
	}
	rf.register(s, revoke, false)
	perms := &cobra.Command{
		Use:   "permissions --user USER | " + objectUsage,
		Short: "the permissions given on an object, or to a user",
		RunE:  s.do(func(k *cli, a []string) error { return k.permissions(a, &pf) }),
	}
	pf.register(s, perms, true)
	root.AddCommand(users, user, roles, grant, revoke, perms)
}

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
		return k.done(struct {
			ID       string `json:"id"`
			UserName string `json:"user_name"`
		}{u.MustId(), u.MustUserName()}, "User %s added (id %s)", u.MustUserName(), u.MustId())
	case sub == "remove" && len(a) == 1:
		u, err := k.c.FindUser(k.ctx, a[0])
		if err != nil {
			return err
		}
		if err := k.c.RemoveUser(k.ctx, u.MustId()); err != nil {
			return err
		}
		return k.done(removed{"user", u.MustId(), a[0]}, "User %s removed, with its permissions and sessions", a[0])
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
		return k.done(struct {
			ID       string `json:"id"`
			Password string `json:"password"`
		}{u.MustId(), "changed"}, "Password of %s changed; its sessions are ended", a[0])
	}
	return usageErr("usage: vwire user add|remove|password USER (a new password is read from the terminal or stdin)")
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

// objectFlags are --vm VM, --profile P, … or --system (exactly one), and
// --user.
type objectFlags struct {
	refs   []string
	system bool
	user   string
}

func (o *objectFlags) register(s *session, cmd *cobra.Command, user bool) {
	o.refs = make([]string, len(objectKinds))
	for i, kind := range objectKinds {
		cmd.Flags().StringVar(&o.refs[i], kind.flag, "", "the "+kind.label+" (name or id)")
		s.completeFlag(cmd, kind.flag, kind.collection)
	}
	cmd.Flags().BoolVar(&o.system, "system", false, "the whole system")
	if user {
		cmd.Flags().StringVar(&o.user, "user", "", "the user whose permissions are listed")
		s.completeFlag(cmd, "user", "users")
	}
}

// resolve finds the object named; named says whether one was.
func (k *cli) resolve(o *objectFlags) (on client.Object, named bool, err error) {
	n := 0
	if o.system {
		n++
	}
	for i, kind := range objectKinds {
		if o.refs[i] == "" {
			continue
		}
		n++
		obj, err := k.find(kind.collection, kind.label, o.refs[i])
		if err != nil {
			return client.Object{}, false, err
		}
		on = client.Object{Collection: kind.collection, ID: obj.ID}
	}
	if n > 1 {
		return client.Object{}, false, usageErr("name one object: --vm, --profile, --network, --cluster, --datacenter, --host, --template or --system")
	}
	return on, n == 1, nil
}

const objectUsage = "--vm VM | --profile PROFILE | --network NET | --cluster C | --datacenter DC | --host H | --template T | --system"

// grant gives USER the ROLE on one object.
func (k *cli) grant(pos []string, o *objectFlags) error {
	if len(pos) != 2 {
		return usageErr("usage: vwire grant USER ROLE " + objectUsage)
	}
	on, named, err := k.resolve(o)
	if err != nil {
		return err
	}
	if !named {
		return usageErr("usage: vwire grant USER ROLE " + objectUsage)
	}
	u, err := k.c.FindUser(k.ctx, pos[0])
	if err != nil {
		return err
	}
	p, err := k.c.Grant(k.ctx, u.MustId(), pos[1], on)
	if err != nil {
		return err
	}
	what := k.describe(on, nil)
	return k.done(permJSON{ID: p.ID, User: pos[0], Role: pos[1], Object: what}, "%s has %s on %s (permission %s)", pos[0], pos[1], what, p.ID)
}

// revoke removes the permissions giving USER the ROLE on one object.
func (k *cli) revoke(pos []string, o *objectFlags) error {
	if len(pos) != 2 {
		return usageErr("usage: vwire revoke USER ROLE " + objectUsage)
	}
	on, named, err := k.resolve(o)
	if err != nil {
		return err
	}
	if !named {
		return usageErr("usage: vwire revoke USER ROLE " + objectUsage)
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
		return withCode(exitNotFound, fmt.Errorf("%s has no %s given on %s", pos[0], pos[1], k.describe(on, nil)))
	}
	what := k.describe(on, nil)
	return k.done(struct {
		Revoked string `json:"revoked"`
		User    string `json:"user"`
		Object  string `json:"object"`
	}{pos[1], pos[0], what}, "%s no longer has %s on %s", pos[0], pos[1], what)
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
func (k *cli) permissions(pos []string, o *objectFlags) error {
	on, named, err := k.resolve(o)
	if err != nil {
		return err
	}
	if o.user != "" {
		pos = append([]string{o.user}, pos...)
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
		return usageErr("usage: vwire permissions --user USER | " + objectUsage)
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

type permJSON struct {
	ID     string `json:"id"`
	User   string `json:"user"`
	Role   string `json:"role"`
	Object string `json:"object"`
}
