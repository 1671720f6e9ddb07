package vwire

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// provisionalKey marks a context Provisional.
type provisionalKey struct{}

// Provisional marks ctx: the write transactions run with it may mark a
// change in flight before its host is called (Tx.SetPending). Such a mark
// says what is about to happen, not an outcome anyone is told, and its
// purpose is the repair of a change whose engine died during the host
// call. A store may commit a transaction that marks a change in flight
// without waiting for the disk (SQLite: synchronous=NORMAL for that
// commit; PostgreSQL: synchronous_commit off for that transaction): the mark then survives a crash of the engine's process, which
// is what the repair needs, but not a crash of the machine. Should the
// machine fail during the host call, the host may hold a change the
// database never marked; no client was told it happened, and the next
// poll reports it as drift. A transaction under such a context that marks
// no change in flight (it recorded an outcome itself) is committed
// durably all the same.
func Provisional(ctx context.Context) context.Context {
	return context.WithValue(ctx, provisionalKey{}, true)
}

// IsProvisional tells whether ctx was marked Provisional.
func IsProvisional(ctx context.Context) bool {
	v, _ := ctx.Value(provisionalKey{}).(bool)
	return v
}

// vmScopedKey marks a context VMScoped.
type vmScopedKey struct{}

// VMScoped marks ctx: its caller holds a VM's lock (Store.LockVM) and the
// write transactions it runs with ctx change only that VM's own rows (the
// VM, its vNICs, its change in flight, its jobs, events and MAC leases,
// whose uniqueness the database's keys keep) after reading what they
// check. The lock already orders such transactions on one VM across
// engines, so a store may run them at a weaker isolation than its default:
// on PostgreSQL, READ COMMITTED instead of SERIALIZABLE, whose predicate
// locks on small hot tables (changes in flight, jobs) made transactions of
// different VMs fail one another (three retries per link flip with three
// engines). Cross-object rules the transaction checks (a profile still in
// the VM's cluster) are then as of its reads, as in oVirt; what must never
// break is a database constraint (foreign keys, unique keys).
func VMScoped(ctx context.Context) context.Context {
	return context.WithValue(ctx, vmScopedKey{}, true)
}

// IsVMScoped tells whether ctx was marked VMScoped.
func IsVMScoped(ctx context.Context) bool {
	v, _ := ctx.Value(vmScopedKey{}).(bool)
	return v
}

// Store is the engine's database. Each use case runs in one transaction:
// View for reads, Update for writes (the audit row goes in the same one);
// Read for a one-question read that needs no transaction.
type Store interface {
	View(ctx context.Context, fn func(Tx) error) error
	// Read runs fn's reads each on its own statement, with no transaction
	// and so no snapshot shared between them: for a use that asks one
	// question (the caller's user row, a permission). fn must not write.
	Read(ctx context.Context, fn func(Tx) error) error
	Update(ctx context.Context, fn func(Tx) error) error
	// LockVM serialises the changes to one VM across every engine sharing
	// the database, until the returned function is called.
	LockVM(ctx context.Context, vmID string) (unlock func(), err error)
	// SubscribeEvents wakes the receiver whenever audit events were
	// committed, by any engine sharing the database, until ctx ends.
	SubscribeEvents(ctx context.Context) <-chan struct{}
	Close() error
}

// Tx is one transaction: every aggregate's part of the store. Getters
// return an ENOTFOUND *Error for a missing id; a unique violation comes
// back as ECONFLICT, found by driver code. Code that needs one aggregate
// takes that part alone (an audit write takes an EventTx, a MAC release a
// MACPoolTx), so that what it may touch is in its signature.
type Tx interface {
	MetaTx
	DataCenterTx
	NetworkTx
	HostTx
	TemplateTx
	VMTx
	MACPoolTx
	EventTx
	UserTx
	JobTx
	AuthzTx
}

// Filters select rows in SQL: a zero field does not filter; Max bounds the
// rows returned (0: all), in the list's order (or the search's sortby).
// Search is a client's search (oVirt's query language, parsed), which the
// store also applies in SQL: its condition, its order, its page.
type (
	// DataCenterFilter selects data centers.
	DataCenterFilter struct {
		Search Search
		Max    int
	}
	// ClusterFilter selects clusters, by name.
	ClusterFilter struct {
		DataCenterID, MACPoolID, Name string
		Search                        Search
		Max                           int
	}
	// NetworkFilter selects networks, by name.
	NetworkFilter struct {
		DataCenterID, Name string
		Search             Search
		Max                int
	}
	// ProfileFilter selects vNIC profiles, by name.
	ProfileFilter struct {
		NetworkID string
		Search    Search
		Max       int
	}
	// HostFilter selects hosts, by name.
	HostFilter struct {
		ClusterID, Name string
		Status          HostStatus
		Search          Search
		Max             int
	}
	// VMFilter selects VMs, by name. HostID: the VMs the database believes
	// run on that host.
	VMFilter struct {
		ClusterID, HostID, TemplateID, Name string
		Status                              VMStatus
		Search                              Search
		Max                                 int
	}
	// TemplateFilter selects templates.
	TemplateFilter struct {
		Search Search
		Max    int
	}
	// EventFilter selects audit events, newest first: ids greater than
	// From, and below Before when set.
	EventFilter struct {
		From, Before int64
		Search       Search
		Max          int
	}
)

// Search is a parsed search of a collection, as oVirt's clients write it
// ("name=vm* and (status=up or status=down) sortby name desc page 2"):
// a condition, an order, a page. The zero Search selects everything in
// the list's own order.
type Search struct {
	// Where is the condition; nil selects every row.
	Where *SearchExpr
	// SortBy names a sortable field of the collection ("": the list's own
	// order); Desc reverses it. Ties keep the list's own order.
	SortBy string
	Desc   bool
	// Page counts from 1 (0: no page): with the filter's Max as the page's
	// size, the rows from (Page-1)*Max on. A page needs a Max.
	Page int
	// CaseSensitive (oVirt's case_sensitive=true) compares text exactly;
	// by default ASCII letters compare in any case.
	CaseSensitive bool
}

// IsZero tells whether the search selects everything in the list's order.
func (s Search) IsZero() bool { return s.Where == nil && s.SortBy == "" && s.Page == 0 }

// SearchOp is what a node of a search expression does.
type SearchOp int

// A node is a conjunction, a disjunction, or one comparison of a field
// with a value.
const (
	SearchAnd SearchOp = iota + 1
	SearchOr
	SearchEq // =, with * wildcards
	SearchNe // !=, with * wildcards
	SearchLt // <
	SearchLe // <=
	SearchGt // >
	SearchGe // >=
)

// SearchExpr is a node of a search's condition: And and Or join Kids (at
// least two); the comparisons test Field against Value.
type SearchExpr struct {
	Op   SearchOp
	Kids []*SearchExpr
	// Field is a field of the collection (SearchFields), lower case;
	// Value is as the client wrote it, unquoted, where * stands for any
	// run of characters (= and != only).
	Field, Value string
}

// SearchKind says how a field's values compare.
type SearchKind int

const (
	// SearchText compares case-insensitively (ASCII letters; exactly
	// with CaseSensitive), with wildcards; < and > compare the lower-cased
	// texts.
	SearchText SearchKind = iota
	// SearchEnum is a stored lower-case word (a status): = and != only,
	// case-insensitive, with wildcards.
	SearchEnum
	// SearchInt is a whole number: every comparison, no wildcard.
	SearchInt
)

// SearchField is a field a collection's search may name: its name as
// oVirt's search backend spells it (lower case; a dotted name is a term on
// related objects, as "clusters.name" on data centers), how it compares,
// whether sortby may name it.
type SearchField struct {
	Name string
	Kind SearchKind
	Sort bool
}

// SearchCollection names a collection whose list takes a search.
type SearchCollection string

// The collections searched in SQL.
const (
	SearchDataCenters SearchCollection = "datacenters"
	SearchClusters    SearchCollection = "clusters"
	SearchNetworks    SearchCollection = "networks"
	SearchProfiles    SearchCollection = "vnicprofiles"
	SearchHosts       SearchCollection = "hosts"
	SearchVMs         SearchCollection = "vms"
	SearchTemplates   SearchCollection = "templates"
	SearchEvents      SearchCollection = "events"
)

// SearchFields lists the fields each collection's search may name: the
// contract between the API, which refuses any other up front, and the
// stores, which must answer every one in SQL (store/storetest checks).
var SearchFields = map[SearchCollection][]SearchField{
	SearchDataCenters: {{"name", SearchText, true}, {"id", SearchText, true}, {"description", SearchText, true},
		{"status", SearchEnum, false}, {"clusters.name", SearchText, false}, {"networks.name", SearchText, false}},
	SearchClusters: {{"name", SearchText, true}, {"id", SearchText, true}, {"description", SearchText, true},
		{"datacenter", SearchText, true}, {"datacenter.name", SearchText, true}},
	SearchNetworks: {{"name", SearchText, true}, {"id", SearchText, true}, {"description", SearchText, true},
		{"datacenter", SearchText, true}, {"datacenter.name", SearchText, true}, {"vlanid", SearchInt, true},
		{"mtu", SearchInt, true}, {"clusters.name", SearchText, false}},
	SearchProfiles: {{"name", SearchText, true}, {"id", SearchText, true}, {"description", SearchText, true},
		{"network", SearchText, true}, {"network.name", SearchText, true}},
	SearchHosts: {{"name", SearchText, true}, {"id", SearchText, true}, {"status", SearchEnum, true},
		{"address", SearchText, true}, {"cluster", SearchText, true}, {"cluster.name", SearchText, true},
		{"datacenter", SearchText, true}, {"datacenter.name", SearchText, true}},
	SearchVMs: {{"name", SearchText, true}, {"id", SearchText, true}, {"description", SearchText, true},
		{"status", SearchEnum, true}, {"cluster", SearchText, true}, {"cluster.name", SearchText, true},
		{"host", SearchText, true}, {"host.name", SearchText, true}, {"template", SearchText, true},
		{"template.name", SearchText, true}, {"datacenter", SearchText, true}, {"datacenter.name", SearchText, true},
		{"memory", SearchInt, true}, {"os", SearchText, true}},
	SearchTemplates: {{"name", SearchText, true}, {"id", SearchText, true}, {"description", SearchText, true},
		{"cluster", SearchText, true}, {"cluster.name", SearchText, true}, {"datacenter", SearchText, true},
		{"datacenter.name", SearchText, true}, {"memory", SearchInt, true}, {"os", SearchText, true}},
	SearchEvents: {{"id", SearchInt, true}, {"code", SearchInt, true}, {"type", SearchInt, true},
		{"severity", SearchEnum, true}, {"description", SearchText, true},
		{"correlation_id", SearchText, true}, {"usrname", SearchText, true}, {"vm.id", SearchEnum, false},
		{"vm.name", SearchText, false}, {"host.id", SearchEnum, false}, {"host.name", SearchText, false},
		{"cluster.id", SearchEnum, false}, {"template.id", SearchEnum, false}, {"datacenter.id", SearchEnum, false}},
}

// MetaTx holds the engine's own records: the instance's settings and the
// engines' heartbeats.
type MetaTx interface {
	Meta(key string) (string, error)
	SetMeta(key, value string) error
	// Heartbeat records that an engine is alive.
	Heartbeat(engineID string, now time.Time) error
}

// DataCenterTx holds data centers, clusters and the networks attached to
// clusters.
type DataCenterTx interface {
	DataCenter(id string) (*DataCenter, error)
	DataCenters(DataCenterFilter) ([]*DataCenter, error)
	CreateDataCenter(*DataCenter) error
	UpdateDataCenter(*DataCenter) error
	DeleteDataCenter(id string) error

	Cluster(id string) (*Cluster, error)
	Clusters(ClusterFilter) ([]*Cluster, error)
	CreateCluster(*Cluster) error
	UpdateCluster(*Cluster) error
	DeleteCluster(id string) error
	ClusterNetworks(clusterID string) ([]*ClusterNetwork, error)
	AttachNetwork(clusterID, networkID string, required bool) error
	DetachNetwork(clusterID, networkID string) error
	// NetworkClusters lists the clusters a network is attached to.
	NetworkClusters(networkID string) ([]string, error)
}

// NetworkTx holds logical networks and their vNIC profiles.
type NetworkTx interface {
	Network(id string) (*Network, error)
	Networks(NetworkFilter) ([]*Network, error)
	CreateNetwork(*Network) error
	UpdateNetwork(*Network) error
	DeleteNetwork(id string) error

	Profile(id string) (*VNICProfile, error)
	Profiles(ProfileFilter) ([]*VNICProfile, error)
	CreateProfile(*VNICProfile) error
	UpdateProfile(*VNICProfile) error
	DeleteProfile(id string) error
	// ProfileUsers and NetworkUsers name the VMs whose vNICs use a
	// profile, or any profile of a network.
	ProfileUsers(profileID string) ([]string, error)
	NetworkUsers(networkID string) ([]string, error)

	// Network QoS entities of a data center (oVirt's qoss of type
	// network). Deleting one clears it from the profiles that name it.
	QoS(id string) (*QoS, error)
	QoSs(dataCenterID string) ([]*QoS, error)
	CreateQoS(*QoS) error
	UpdateQoS(*QoS) error
	DeleteQoS(id string) error
	// QoSProfiles names the profiles that use a QoS entity.
	QoSProfiles(qosID string) ([]string, error)
}

// HostTx holds hypervisor hosts and who polls them.
type HostTx interface {
	Host(id string) (*Host, error)
	Hosts(HostFilter) ([]*Host, error)
	// CountHosts counts the hosts in a status ("": every host).
	CountHosts(status HostStatus) (int, error)
	CreateHost(*Host) error
	UpdateHost(*Host) error
	DeleteHost(id string) error
	// AcquireHostLease makes owner the poller of a host until the given time,
	// unless another owner holds an unexpired lease; it tells who won.
	AcquireHostLease(hostID, owner string, until, now time.Time) (bool, error)
	// RenewHostLeases extends every lease owner holds, expired or not, to
	// until, in one statement (an engine's heartbeat renews all its hosts
	// at once), and returns the hosts it still holds.
	RenewHostLeases(owner string, until time.Time) ([]string, error)
	// SetEnrolmentToken gives a host its one-time enrolment token (its
	// hash), replacing any earlier one.
	SetEnrolmentToken(hostID, hash string, expires time.Time) error
	// TakeEnrolmentToken uses a token up: it returns the host of a valid
	// token and deletes the token; an unknown, used or expired token is
	// ENOTFOUND.
	TakeEnrolmentToken(hash string, now time.Time) (hostID string, err error)

	// HostReport is what the host last reported of its NICs and networks
	// (empty before any report); SetHostReport replaces it.
	HostReport(hostID string) (*HostReport, error)
	SetHostReport(hostID string, r *HostReport) error
	// Network attachments (oVirt's): unique per host and network (a second
	// one is ECONFLICT); they go with their host and their network.
	NetworkAttachment(id string) (*NetworkAttachment, error)
	// NetworkAttachments lists a host's attachments ("": every host's),
	// of a network ("": all), by host then network name.
	NetworkAttachments(hostID, networkID string) ([]*NetworkAttachment, error)
	CreateNetworkAttachment(*NetworkAttachment) error
	UpdateNetworkAttachment(*NetworkAttachment) error
	DeleteNetworkAttachment(id string) error
}

// TemplateTx holds templates and their vNICs.
type TemplateTx interface {
	Template(id string) (*Template, error)
	Templates(TemplateFilter) ([]*Template, error)
	CreateTemplate(*Template) error
	UpdateTemplate(*Template) error
	DeleteTemplate(id string) error
	// TemplateNICs are template vNICs: NIC with VMID holding the template id
	// and no MAC.
	TemplateNICs(templateID string) ([]*NIC, error)
	CreateTemplateNIC(*NIC) error
	UpdateTemplateNIC(*NIC) error
	DeleteTemplateNIC(id string) error
}

// VMTx holds VMs, their vNICs and the host changes in flight on them.
type VMTx interface {
	VM(id string) (*VM, error)
	VMs(VMFilter) ([]*VM, error)
	// CountVMs counts the VMs in a status ("": every VM).
	CountVMs(status VMStatus) (int, error)
	CreateVM(*VM) error
	// UpdateVM writes a VM; its Generation is left alone.
	UpdateVM(*VM) error
	DeleteVM(id string) error
	// BumpVMGeneration records that the VM's devices changed.
	BumpVMGeneration(id string) error
	// SetForeignNICs records the unknown devices already reported for a
	// VM (VM.ForeignNICs); no other write changes them.
	SetForeignNICs(vmID string, keys []string) error

	NIC(id string) (*NIC, error)
	NICs(vmID string) ([]*NIC, error)
	// NICsOnHost lists the vNICs of every VM the database believes runs on a host.
	NICsOnHost(hostID string) ([]*NIC, error)
	// NICCounts counts every VM's vNICs and those not synced, by VM id, in
	// one read (a VM without vNICs is absent): the VM list's columns.
	NICCounts() (map[string]NICCount, error)
	CreateNIC(*NIC) error
	// UpdateNIC writes a vNIC's desired state, its observed state (none
	// when Observed is nil) and synced: the whole row, in one statement.
	UpdateNIC(*NIC) error
	DeleteNIC(id string) error
	// SetNICObserved writes what the host reported and the synced flag.
	SetNICObserved(id string, o *NICObserved, synced bool) error

	// FilterParameters lists a vNIC's network filter parameters, by name;
	// they go with the vNIC.
	FilterParameters(nicID string) ([]*FilterParameter, error)
	FilterParameter(id string) (*FilterParameter, error)
	CreateFilterParameter(*FilterParameter) error
	UpdateFilterParameter(*FilterParameter) error
	DeleteFilterParameter(id string) error

	// VMContext reads, in one statement, a VM with its cluster, its host
	// (nil when it has none) and its change in flight (nil when none): what
	// every change to the VM checks its rules against.
	VMContext(vmID string) (*VM, *Cluster, *Host, *Pending, error)
	// SetPending records a host change in flight for a VM (replacing any);
	// ClearPending removes it.
	SetPending(p Pending) error
	ClearPending(vmID string) error
	// EndChange removes a VM's change in flight and ends its job (and the
	// job's started steps) with status, if it has one: what the commit
	// recording the change's outcome does, without reading it first.
	EndChange(vmID string, status JobStatus, at time.Time) error
	// MarkPendingUnknown records that the change in flight of a VM has an
	// outcome its engine could not learn: it is no longer in progress, and
	// whoever holds the VM's lock next settles it.
	MarkPendingUnknown(vmID string) error
	// PendingOf returns the change in flight of a VM, nil if none.
	PendingOf(vmID string) (*Pending, error)
	// UnsettledPending lists the changes in flight on VMs of a host that
	// nobody is carrying out: marked unknown, left by an engine that has
	// not beaten since the given time, or started before startedBefore
	// (older than any operation may take).
	UnsettledPending(hostID string, since, startedBefore time.Time) ([]Pending, error)
}

// MACPoolTx holds MAC pools and the addresses leased from them.
type MACPoolTx interface {
	MACPool(id string) (*MACPool, error)
	MACPools() ([]*MACPool, error)
	CreateMACPool(*MACPool) error
	UpdateMACPool(*MACPool) error
	DeleteMACPool(id string) error
	// LeaseMAC records that nicID holds mac in the pool. Without duplicates
	// a second holder is refused with ECONFLICT (the database enforces it).
	LeaseMAC(pool *MACPool, mac MAC, nicID string) error
	// AllocateMAC leases the next free MAC of the pool's ranges to nicID.
	AllocateMAC(pool *MACPool, nicID string) (MAC, error)
	// AllocateMACs leases the next free MACs, one to each vNIC in order;
	// all or none.
	AllocateMACs(pool *MACPool, nicIDs []string) ([]MAC, error)
	ReleaseMAC(poolID string, mac MAC, nicID string) error
	// MACHolder names the VM holding mac in the pool, "" if none.
	MACHolder(poolID string, mac MAC) (string, error)
	// ReleaseStrayLeases frees the MACs leased to nicID other than keep
	// ("" frees them all): leftovers of an interrupted change.
	ReleaseStrayLeases(nicID, keep string) error
}

// JobTx holds the jobs of long operations and their steps.
type JobTx interface {
	// CreateJob records a job with its first steps (one statement on
	// PostgreSQL).
	CreateJob(j *Job, steps ...*JobStep) error
	// EndJob ends a started job and its started steps with status at a
	// time; a job already ended (or cleared) is left alone.
	EndJob(id string, status JobStatus, at time.Time) error
	Job(id string) (*Job, error)
	Jobs(JobFilter) ([]*Job, error)
	CreateJobStep(steps ...*JobStep) error
	JobSteps(jobID string) ([]*JobStep, error)
	// DeleteJobsEnded removes the jobs that ended with a status before a
	// time (auto-cleared, as oVirt clears them).
	DeleteJobsEnded(status JobStatus, before time.Time) error
}

// EventTx holds the audit log.
type EventTx interface {
	AddEvent(*Event) error
	// Events lists newest first, ids greater than from (0: all), at most max (0: all).
	Events(from int64, max int) ([]*Event, error)
	// FindEvents lists the events a filter selects, newest first unless
	// its search sorts them.
	FindEvents(EventFilter) ([]*Event, error)
	Event(id int64) (*Event, error)
}

// Token is a session: an SSO bearer token or a persistent-auth session
// cookie, stored by the hash of its secret. It ends at Expires, or when unused
// for its idle time.
type Token struct {
	Hash     string
	UserID   string
	Kind     TokenKind
	Created  time.Time
	LastUsed time.Time
	// Idle is this token's idle time (a client's Session-TTL); 0 means the
	// engine's default.
	Idle    time.Duration
	Expires time.Time
}

// TokenKind says how a token travels.
type TokenKind string

const (
	TokenSSO     TokenKind = "sso"     // Authorization: Bearer, from /sso/oauth/token
	TokenSession TokenKind = "session" // the JSESSIONID cookie of Prefer: persistent-auth
)

// UserTx holds users and their session tokens.
type UserTx interface {
	UserByName(name, domain string) (*User, error)
	CreateUser(*User) error
	UpdateUser(*User) error
	CreateToken(*Token) error
	// Token returns a token and its user, ENOTFOUND when there is none. It
	// does not judge expiry: the engine does, with its clock and idle time.
	Token(hash string) (*Token, *User, error)
	// TouchToken records a use of a token (its idle time restarts).
	TouchToken(hash string, used time.Time) error
	// DeleteExpiredTokens sweeps tokens past their absolute end or idle
	// longer than their idle time (defaultIdle for those without their own).
	DeleteExpiredTokens(now time.Time, defaultIdle time.Duration) error
	DeleteToken(hash string) error
	// DeleteUserTokens revokes every token of a user (a password change, a
	// removal).
	DeleteUserTokens(userID string) error
}

// PermissionFilter selects permissions: of a user, on an object (a zero
// field does not filter).
type PermissionFilter struct {
	UserID string
	Object ObjectRef
}

// AuthzTx holds the users as the API manages them, roles with their
// permits, and permissions; and answers the two questions every check
// asks, in SQL: may this user do this on one of these objects, and which
// objects of a type may this user see.
type AuthzTx interface {
	User(id string) (*User, error)
	Users() ([]*User, error)
	// DeleteUser removes a user with their tokens and permissions.
	DeleteUser(id string) error

	Role(id string) (*Role, error)
	RoleByName(name string) (*Role, error)
	Roles() ([]*Role, error)
	CreateRole(*Role) error
	// PutRole writes a role and replaces its permits, creating it if missing
	// (the predefined roles, kept as this binary defines them).
	PutRole(*Role) error
	// DeleteRole removes a role; one still used by a permission is ECONFLICT.
	DeleteRole(id string) error

	Permission(id string) (*Permission, error)
	Permissions(PermissionFilter) ([]*Permission, error)
	CreatePermission(*Permission) error
	DeletePermission(id string) error
	// DeleteObjectPermissions removes the permissions on an object (it is
	// being removed).
	DeleteObjectPermissions(obj ObjectRef) error
	// Permitted tells whether the user holds the permit through a
	// permission on o or one of its ancestors (ObjectType's inheritance,
	// up to the system), in one statement.
	Permitted(userID string, p Permit, o ObjectRef) (bool, error)
	// AdminOnSystem tells whether the user has an administrative role on
	// the system: the unfiltered, administrator's view.
	AdminOnSystem(userID string) (bool, error)
	// VisibleIDs lists the objects of type t the user has a permission on,
	// directly or inherited from an ancestor.
	VisibleIDs(userID string, t ObjectType) ([]string, error)
}

// Pending is a host change in flight.
type Pending struct {
	VMID     string
	EngineID string
	NICID    string
	Started  time.Time
	// OpID names the host call, so that the host can be told never to
	// start it late; Intent is what the change asks of the host, in the
	// engine's own encoding, so that whoever settles it can tell from the
	// host's devices whether it was applied. Both are empty for records
	// written before they existed.
	OpID   string
	Intent []byte
	// JobID is the job the change ends (the one its intent names), empty
	// for none.
	JobID string
	// Unknown: the engine that made the call could not learn its outcome.
	Unknown bool
}

// Equal tells whether two records are the same change in flight.
func (p Pending) Equal(o Pending) bool {
	return p.VMID == o.VMID && p.EngineID == o.EngineID && p.NICID == o.NICID && p.Started.Equal(o.Started) &&
		p.OpID == o.OpID && p.Unknown == o.Unknown && string(p.Intent) == string(o.Intent) && p.JobID == o.JobID
}

// Bounds of a search: a query is at most 4096 bytes, and its condition at
// most MaxSearchTerms comparisons nested at most MaxSearchDepth deep.
const (
	MaxSearchTerms = 64
	MaxSearchDepth = 16
	// MaxSearchPage bounds a page number, so that its offset stays small.
	MaxSearchPage = 1 << 20
)

// SearchFieldOf finds a field of a collection's search.
func SearchFieldOf(c SearchCollection, name string) (SearchField, bool) {
	for _, f := range SearchFields[c] {
		if f.Name == name {
			return f, true
		}
	}
	return SearchField{}, false
}

// Check tells whether a store can run the search on a collection with the
// given max: every field known, every comparison meaningful for its
// field, a sortable sortby, a page with a max, within the bounds. Each
// refusal is oVirt's invalid value (400), saying what to write instead.
func (s Search) Check(c SearchCollection, max int) error {
	fields, ok := SearchFields[c]
	if !ok {
		return InvalidValue(MsgInvalidValue, "This collection cannot be searched.")
	}
	terms := 0
	// depth counts the joins around a join: the parentheses that made it.
	var walk func(e *SearchExpr, depth int) error
	walk = func(e *SearchExpr, depth int) error {
		switch e.Op {
		case SearchAnd, SearchOr:
			if depth > MaxSearchDepth {
				return InvalidValue(MsgInvalidValue, "The search query nests parentheses deeper than "+strconv.Itoa(MaxSearchDepth)+".")
			}
			if len(e.Kids) < 2 {
				return InvalidValue(MsgInvalidValue, "A search's AND or OR joins at least two terms.")
			}
			for _, k := range e.Kids {
				if err := walk(k, depth+1); err != nil {
					return err
				}
			}
			return nil
		case SearchEq, SearchNe, SearchLt, SearchLe, SearchGt, SearchGe:
		default:
			return InvalidValue(MsgInvalidValue, "The search has a term without an operator.")
		}
		if terms++; terms > MaxSearchTerms {
			return InvalidValue(MsgInvalidValue, "The search query has more than "+strconv.Itoa(MaxSearchTerms)+" terms.")
		}
		f, ok := SearchFieldOf(c, e.Field)
		if !ok {
			return unknownSearchField("search by", e.Field, fields, false)
		}
		wild := strings.Contains(e.Value, "*")
		switch {
		case !utf8.ValidString(e.Value) || strings.ContainsRune(e.Value, 0):
			return InvalidValue(MsgInvalidValue, "A search value is text: UTF-8, without NUL ("+strconv.Quote(e.Value)+").")
		case f.Kind == SearchInt && (wild || !isInt(e.Value)):
			return InvalidValue(MsgInvalidValue, "Cannot search by "+f.Name+" = "+strconv.Quote(e.Value)+": "+f.Name+" is a whole number.")
		case f.Kind == SearchEnum && e.Op != SearchEq && e.Op != SearchNe:
			return InvalidValue(MsgInvalidValue, "Cannot compare "+f.Name+" with < or >: only = and != apply to it.")
		case wild && e.Op != SearchEq && e.Op != SearchNe:
			return InvalidValue(MsgInvalidValue, "A wildcard (*) only applies to = and !=, not to < or > ("+strconv.Quote(e.Value)+").")
		}
		return nil
	}
	if s.Where != nil {
		if err := walk(s.Where, 0); err != nil {
			return err
		}
	}
	if s.SortBy != "" {
		if f, ok := SearchFieldOf(c, s.SortBy); !ok || !f.Sort {
			return unknownSearchField("sort by", s.SortBy, fields, true)
		}
	}
	switch {
	case s.Page < 0 || s.Page > MaxSearchPage:
		return InvalidValue(MsgInvalidValue, "A search's page is a number from 1 to "+strconv.Itoa(MaxSearchPage)+".")
	case s.Page > 0 && max <= 0:
		return InvalidValue(MsgInvalidValue, "A search's page needs a page size (max).")
	}
	return nil
}

func unknownSearchField(what, name string, fields []SearchField, sortable bool) error {
	var known []string
	for _, f := range fields {
		if !sortable || f.Sort {
			known = append(known, f.Name)
		}
	}
	return InvalidValue(MsgInvalidValue, "Cannot "+what+" "+strconv.Quote(name)+"; this collection can be "+
		map[bool]string{false: "searched", true: "sorted"}[sortable]+" by: "+strings.Join(known, ", ")+".")
}

// isInt tells whether s is a whole number within 64 bits.
func isInt(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}
