package vwire

import "strings"

// Authorization follows oVirt's model: a role is a set of permits (oVirt's
// action groups); a permission gives a user a role on one object, and
// holds for everything beneath it (system → data center → cluster → VM or
// host; data center → network → vNIC profile; cluster → template).

// ObjectType names the kind of object a permission is on, as the REST
// API's permission carries it (<vm id="…"/>, <data_center id="…"/>…).
type ObjectType string

// The object types a permission may be on.
const (
	ObjSystem     ObjectType = "system"
	ObjDataCenter ObjectType = "data_center"
	ObjCluster    ObjectType = "cluster"
	ObjHost       ObjectType = "host"
	ObjNetwork    ObjectType = "network"
	ObjProfile    ObjectType = "vnic_profile"
	ObjTemplate   ObjectType = "template"
	ObjVM         ObjectType = "vm"
)

// SystemID is the id of the one system object (oVirt's
// "aaa00000-0000-0000-0000-123456789aaa" is its bookkeeping id; vwire names
// it plainly).
const SystemID = "system"

// ObjectRef is one object a permission may be on.
type ObjectRef struct {
	Type ObjectType
	ID   string
}

// System is the system object, the root of every inheritance chain.
var System = ObjectRef{ObjSystem, SystemID}

// Permit is one of oVirt's action groups, by its id.
type Permit int

// oVirt's action groups (ActionGroup.java), the ones vwire's use cases
// check or its predefined roles carry; ids and names are oVirt's.
const (
	PermitCreateVM                    Permit = 1
	PermitDeleteVM                    Permit = 2
	PermitEditVMProperties            Permit = 3
	PermitChangeVMCD                  Permit = 5
	PermitConnectToVM                 Permit = 7
	PermitImportExportVM              Permit = 8
	PermitConfigureVMNetwork          Permit = 9
	PermitConfigureVMStorage          Permit = 10
	PermitRebootVM                    Permit = 17
	PermitStopVM                      Permit = 18
	PermitShutDownVM                  Permit = 19
	PermitRunVM                       Permit = 22
	PermitCreateHost                  Permit = 100
	PermitEditHostConfiguration       Permit = 101
	PermitDeleteHost                  Permit = 102
	PermitManipulateHost              Permit = 103
	PermitConfigureHostNetwork        Permit = 104
	PermitCreateTemplate              Permit = 200
	PermitEditTemplateProperties      Permit = 201
	PermitDeleteTemplate              Permit = 202
	PermitConfigureTemplateNetwork    Permit = 204
	PermitCreateCluster               Permit = 400
	PermitEditClusterConfiguration    Permit = 401
	PermitDeleteCluster               Permit = 402
	PermitConfigureClusterNetwork     Permit = 403
	PermitAssignClusterNetwork        Permit = 404
	PermitManipulateUsers             Permit = 500
	PermitManipulateRoles             Permit = 501
	PermitManipulatePermissions       Permit = 502
	PermitCreateStoragePool           Permit = 700
	PermitDeleteStoragePool           Permit = 701
	PermitEditStoragePoolConfig       Permit = 702
	PermitConfigureStoragePoolNetwork Permit = 703
	PermitCreateStoragePoolNetwork    Permit = 704
	PermitDeleteStoragePoolNetwork    Permit = 705
	PermitConfigureEngine             Permit = 800
	PermitConfigureVNICProfile        Permit = 1203
	PermitCreateVNICProfile           Permit = 1204
	PermitDeleteVNICProfile           Permit = 1205
	PermitLogin                       Permit = 1300
	PermitCreateMACPool               Permit = 1660
	PermitEditMACPool                 Permit = 1661
	PermitDeleteMACPool               Permit = 1662
)

// PermitInfo is a permit's name (oVirt's action group, lower case in the
// API) and whether it is administrative (oVirt's RoleType.ADMIN).
type PermitInfo struct {
	Name  string
	Admin bool
}

var permits = map[Permit]PermitInfo{
	PermitCreateVM:                    {"CREATE_VM", false},
	PermitDeleteVM:                    {"DELETE_VM", false},
	PermitEditVMProperties:            {"EDIT_VM_PROPERTIES", false},
	PermitChangeVMCD:                  {"CHANGE_VM_CD", false},
	PermitConnectToVM:                 {"CONNECT_TO_VM", false},
	PermitImportExportVM:              {"IMPORT_EXPORT_VM", true},
	PermitConfigureVMNetwork:          {"CONFIGURE_VM_NETWORK", false},
	PermitConfigureVMStorage:          {"CONFIGURE_VM_STORAGE", false},
	PermitRebootVM:                    {"REBOOT_VM", false},
	PermitStopVM:                      {"STOP_VM", false},
	PermitShutDownVM:                  {"SHUT_DOWN_VM", false},
	PermitRunVM:                       {"RUN_VM", false},
	PermitCreateHost:                  {"CREATE_HOST", true},
	PermitEditHostConfiguration:       {"EDIT_HOST_CONFIGURATION", true},
	PermitDeleteHost:                  {"DELETE_HOST", true},
	PermitManipulateHost:              {"MANIPULATE_HOST", true},
	PermitConfigureHostNetwork:        {"CONFIGURE_HOST_NETWORK", true},
	PermitCreateTemplate:              {"CREATE_TEMPLATE", false},
	PermitEditTemplateProperties:      {"EDIT_TEMPLATE_PROPERTIES", false},
	PermitDeleteTemplate:              {"DELETE_TEMPLATE", false},
	PermitConfigureTemplateNetwork:    {"CONFIGURE_TEMPLATE_NETWORK", false},
	PermitCreateCluster:               {"CREATE_CLUSTER", true},
	PermitEditClusterConfiguration:    {"EDIT_CLUSTER_CONFIGURATION", true},
	PermitDeleteCluster:               {"DELETE_CLUSTER", true},
	PermitConfigureClusterNetwork:     {"CONFIGURE_CLUSTER_NETWORK", true},
	PermitAssignClusterNetwork:        {"ASSIGN_CLUSTER_NETWORK", true},
	PermitManipulateUsers:             {"MANIPULATE_USERS", true},
	PermitManipulateRoles:             {"MANIPULATE_ROLES", true},
	PermitManipulatePermissions:       {"MANIPULATE_PERMISSIONS", false},
	PermitCreateStoragePool:           {"CREATE_STORAGE_POOL", true},
	PermitDeleteStoragePool:           {"DELETE_STORAGE_POOL", true},
	PermitEditStoragePoolConfig:       {"EDIT_STORAGE_POOL_CONFIGURATION", true},
	PermitConfigureStoragePoolNetwork: {"CONFIGURE_STORAGE_POOL_NETWORK", true},
	PermitCreateStoragePoolNetwork:    {"CREATE_STORAGE_POOL_NETWORK", true},
	PermitDeleteStoragePoolNetwork:    {"DELETE_STORAGE_POOL_NETWORK", true},
	PermitConfigureEngine:             {"CONFIGURE_ENGINE", true},
	PermitConfigureVNICProfile:        {"CONFIGURE_NETWORK_VNIC_PROFILE", true},
	PermitCreateVNICProfile:           {"CREATE_NETWORK_VNIC_PROFILE", true},
	PermitDeleteVNICProfile:           {"DELETE_NETWORK_VNIC_PROFILE", true},
	PermitLogin:                       {"LOGIN", false},
	PermitCreateMACPool:               {"CREATE_MAC_POOL", true},
	PermitEditMACPool:                 {"EDIT_MAC_POOL", true},
	PermitDeleteMACPool:               {"DELETE_MAC_POOL", true},
}

// Info returns the permit's name and kind; false for an id vwire does not know.
func (p Permit) Info() (PermitInfo, bool) {
	i, ok := permits[p]
	return i, ok
}

// String is the action group's name, as messages name it.
func (p Permit) String() string {
	if i, ok := permits[p]; ok {
		return i.Name
	}
	return "UNKNOWN_PERMIT"
}

// Permits lists every permit vwire knows.
func Permits() []Permit {
	out := make([]Permit, 0, len(permits))
	for p := range permits {
		out = append(out, p)
	}
	return out
}

// PermitByName finds a permit by its action group's name, in any case.
func PermitByName(name string) (Permit, bool) {
	for p, i := range permits {
		if strings.EqualFold(i.Name, name) {
			return p, true
		}
	}
	return 0, false
}

// Role is a named set of permits. Administrative roles see the engine as
// an administrator does; predefined roles are not mutable.
type Role struct {
	ID, Name, Description string
	Administrative        bool
	Mutable               bool
	Permits               []Permit
}

// Permission gives a user a role on an object (and what lies beneath it).
type Permission struct {
	ID     string
	UserID string
	RoleID string
	Object ObjectRef
}

// oVirt's ids of its predefined roles (PredefinedRoles, 00500_insert_roles.sql).
const (
	RoleSuperUser       = "00000000-0000-0000-0000-000000000001"
	RoleUserRole        = "00000000-0000-0000-0001-000000000001"
	RoleClusterAdmin    = "def00001-0000-0000-0000-def000000001"
	RoleDataCenterAdmin = "def00002-0000-0000-0000-def000000002"
	RoleHostAdmin       = "def00004-0000-0000-0000-def000000004"
	RoleNetworkAdmin    = "def00005-0000-0000-0000-def000000005"
	RoleUserVmManager   = "def00006-0000-0000-0000-def000000006"
	RoleTemplateAdmin   = "def00008-0000-0000-0000-def000000008"
	RoleVnicProfileUser = "def0000a-0000-0000-0000-def000000010"
	RoleReadOnlyAdmin   = "def0000c-0000-0000-0000-def00000000c"
)

// PredefinedRoles are the roles every engine has, with oVirt's ids and
// names; their permits are the ones vwire's use cases check.
func PredefinedRoles() []*Role {
	vmUser := []Permit{PermitDeleteVM, PermitEditVMProperties, PermitChangeVMCD, PermitConnectToVM,
		PermitConfigureVMNetwork, PermitConfigureVMStorage, PermitRebootVM, PermitStopVM, PermitShutDownVM,
		PermitRunVM, PermitManipulatePermissions, PermitLogin}
	vmAdmin := append([]Permit{PermitCreateVM, PermitImportExportVM}, vmUser...)
	host := []Permit{PermitCreateHost, PermitEditHostConfiguration, PermitDeleteHost, PermitManipulateHost,
		PermitConfigureHostNetwork}
	tmpl := []Permit{PermitCreateTemplate, PermitEditTemplateProperties, PermitDeleteTemplate, PermitConfigureTemplateNetwork}
	netw := []Permit{PermitConfigureStoragePoolNetwork, PermitCreateStoragePoolNetwork, PermitDeleteStoragePoolNetwork,
		PermitConfigureClusterNetwork, PermitAssignClusterNetwork, PermitConfigureVNICProfile, PermitCreateVNICProfile,
		PermitDeleteVNICProfile, PermitConfigureVMNetwork, PermitConfigureTemplateNetwork}
	cluster := []Permit{PermitCreateCluster, PermitEditClusterConfiguration, PermitDeleteCluster,
		PermitConfigureClusterNetwork, PermitAssignClusterNetwork}
	cat := func(ps ...[]Permit) []Permit {
		var out []Permit
		seen := map[Permit]bool{}
		for _, l := range ps {
			for _, p := range l {
				if !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
		}
		return out
	}
	return []*Role{
		{ID: RoleSuperUser, Name: "SuperUser", Description: "Roles management administrator", Administrative: true, Permits: Permits()},
		{ID: RoleUserRole, Name: "UserRole", Description: "Standard User Role",
			Permits: []Permit{PermitRunVM, PermitStopVM, PermitShutDownVM, PermitRebootVM, PermitConnectToVM, PermitChangeVMCD, PermitLogin}},
		{ID: RoleDataCenterAdmin, Name: "DataCenterAdmin", Description: "Administrator Role, permission for all the objects underneath a specific Data Center",
			Administrative: true, Permits: cat(vmAdmin, host, tmpl, netw, cluster, []Permit{PermitEditStoragePoolConfig})},
		{ID: RoleClusterAdmin, Name: "ClusterAdmin", Description: "Administrator Role, permission for all the objects underneath a specific Cluster",
			Administrative: true, Permits: cat(vmAdmin, host, tmpl, cluster)},
		{ID: RoleNetworkAdmin, Name: "NetworkAdmin", Description: "Administrator Role, permission for all operations on a specific Logical Network",
			Administrative: true, Permits: cat(netw, []Permit{PermitConfigureHostNetwork, PermitManipulatePermissions, PermitLogin})},
		{ID: RoleHostAdmin, Name: "HostAdmin", Description: "Administrator Role, permission for all operations on a specific Host",
			Administrative: true, Permits: cat(host, []Permit{PermitManipulatePermissions, PermitLogin})},
		{ID: RoleTemplateAdmin, Name: "TemplateAdmin", Description: "Administrator Role, permission for all operations on a specific Template",
			Administrative: true, Permits: cat(tmpl, []Permit{PermitManipulatePermissions, PermitLogin})},
		{ID: RoleUserVmManager, Name: "UserVmManager", Description: "User Role, with permission for any operation on Vms", Permits: vmUser},
		{ID: RoleVnicProfileUser, Name: "VnicProfileUser", Description: "VM Network Interface Profile User",
			Permits: []Permit{PermitConfigureVMNetwork, PermitConfigureTemplateNetwork, PermitLogin}},
		{ID: RoleReadOnlyAdmin, Name: "ReadOnlyAdmin", Description: "Read Only Administrator Role", Administrative: true,
			Permits: []Permit{PermitLogin}},
	}
}
