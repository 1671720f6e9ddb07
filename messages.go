package vwire

import (
	"strings"
)

// Op names the action and the entity type of a use case, which fill oVirt's
// ${action} and ${type} in message templates ("Cannot edit Interface. …").
type Op struct {
	Action string // add, edit, remove, activate, deactivate, run, stop…
	Type   string // Interface, VM, Network…
}

// Ops used by the vNIC flows, as oVirt's VAR__ACTION__* / VAR__TYPE__* render them.
var (
	OpAddNic        = Op{"add", "Interface"}
	OpEditNic       = Op{"edit", "Interface"}
	OpRemoveNic     = Op{"remove", "Interface"}
	OpActivateNic   = Op{"activate", "Interface"}
	OpDeactivateNic = Op{"deactivate", "Interface"}
	OpRunVM         = Op{"run", "VM"}
	OpStopVM        = Op{"stop", "VM"}
	OpAddVM         = Op{"add", "VM"}
	OpEditVM        = Op{"edit", "VM"}
	OpRemoveVM      = Op{"remove", "VM"}
	OpAddNetwork    = Op{"add", "Network"}
	OpEditNetwork   = Op{"edit", "Network"}
	OpRemoveNetwork = Op{"remove", "Network"}
	OpAttachNetwork = Op{"attach", "Network"}
	OpDetachNetwork = Op{"detach", "Network"}
	OpAddProfile    = Op{"add", "VM network interface profile"}
	OpEditProfile   = Op{"edit", "VM network interface profile"}
	OpRemoveProfile = Op{"remove", "VM network interface profile"}
	OpAddCluster    = Op{"add", "Cluster"}
	OpEditCluster   = Op{"edit", "Cluster"}
	OpRemoveCluster = Op{"remove", "Cluster"}
	OpAddDC         = Op{"add", "Data Center"}
	OpEditDC        = Op{"edit", "Data Center"}
	OpRemoveDC      = Op{"remove", "Data Center"}
	OpAddHost       = Op{"add", "Host"}
	OpEditHost      = Op{"edit", "Host"}
	OpRemoveHost    = Op{"remove", "Host"}
	OpAddMacPool    = Op{"add", "MAC Pool"}
	OpEditMacPool   = Op{"edit", "MAC Pool"}
	OpRemoveMacPool = Op{"remove", "MAC Pool"}
)

type message struct {
	code Code
	text string
}

// messages is oVirt's AppErrors subset that vwire uses, keyed by message key,
// with the ErrorType that decides the HTTP status (reference §2.1–§2.4, §2.7).
var messages = map[string]message{
	// bean validation
	"VALIDATION_VM_NETWORK_NAME_NOT_NULL":         {EINVALID, "Interface name is required."},
	"VALIDATION_NAME_INVALID_WITH_DOT":            {EINVALID, `Name must be formed of alphanumeric characters, numbers or "-_.".`},
	"VALIDATION_NAME_INVALID":                     {EINVALID, `Name must be formed of alphanumeric characters, numbers or "-_".`},
	"VALIDATION_NAME_TOO_LONG":                    {EINVALID, "Name must not exceed ${max} characters."},
	"VALIDATION_VM_NETWORK_MAC_ADDRESS_INVALID":   {EINVALID, `MAC address must be in format "HH:HH:HH:HH:HH:HH" where H is a hexadecimal character (either a digit or A-F, case is insignificant).`},
	"VALIDATION_VM_NETWORK_MAC_ADDRESS_MULTICAST": {EINVALID, "Multi-cast MAC address is not allowed."},
	"VALIDATION_VM_NETWORK_MAC_ADDRESS_NOT_NULL":  {EINVALID, "MAC address is required."},
	"NETWORK_VLAN_OUT_OF_RANGE":                   {EINVALID, "Cannot ${action} ${type}. VLAN ID must be a number between 0 and 4094."},
	"NETWORK_MTU_OUT_OF_RANGE":                    {EINVALID, "Cannot ${action} ${type}. MTU must be 0 (default) or between 68 and 65535."},
	"NETWORK_NAME_TOO_LONG_FOR_BRIDGE":            {EINVALID, "Cannot ${action} ${type}. Network name must not exceed 15 characters, the host bridge carries its name."},
	"NETWORK_NAME_RESERVED":                       {EINVALID, "Cannot ${action} ${type}. The name ${NetworkName} is reserved."},

	// vNIC flows
	"ACTION_TYPE_FAILED_VM_NOT_FOUND":                                {EINVALID, "Cannot ${action} ${type}. VM is not found."},
	"NETWORK_CANNOT_ADD_INTERFACE_WHEN_VM_STATUS_NOT_UP_DOWN_LOCKED": {ECONFLICT, "Cannot ${action} a Network Interface when VM is not Down, Up or Image-Locked."},
	"NETWORK_INTERFACE_NAME_ALREADY_IN_USE":                          {ECONFLICT, "Network interface name is already in use"},
	"ACTION_TYPE_FAILED_EXCEEDED_MAX_PCI_SLOTS":                      {ECONFLICT, "Cannot ${action} ${type}. Maximum PCI devices exceeded."},
	"ACTION_TYPE_FAILED_VM_INTERFACE_TYPE_IS_NOT_SUPPORTED_BY_OS":    {EINVALID, "Cannot ${action} ${type}. The network interface type is not compatible with the selected operating system."},
	"ACTION_TYPE_FAILED_VNIC_PROFILE_NOT_EXISTS":                     {EINVALID, "Cannot ${action} ${type}. The specified VM network interface profile doesn't exist."},
	"NETWORK_NOT_EXISTS_IN_CURRENT_CLUSTER":                          {ECONFLICT, "The specified Logical Network doesn't exist in the current Cluster."},
	"NETWORK_MAC_ADDRESS_IN_USE":                                     {ECONFLICT, "MAC Address ${MacAddress} is already in use by VM or snapshot: ${VmName}."},
	"MAC_POOL_NOT_ENOUGH_MAC_ADDRESSES":                              {ECONFLICT, "Cannot ${action} ${type}. Not enough MAC addresses left in MAC Address Pool."},
	"VM_INTERFACE_NOT_EXIST":                                         {EINVALID, "Cannot ${action} ${type}. The VM Network Interface does not exist."},
	"CANNOT_PERFORM_HOT_UPDATE":                                      {ECONFLICT, "Cannot ${action} ${type}. Updating some of the properties is not supported while the interface is plugged into a running virtual machine. Please un-plug the interface, update the properties, and then plug it back."},
	"CANNOT_PERFORM_HOT_UPDATE_WITH_PORT_MIRRORING":                  {ECONFLICT, "Cannot ${action} ${type}. Update is not possible when 'Port Mirroring' is set on the interface of a running virtual machine."},
	"ACTIVATE_DEACTIVATE_NETWORK_NOT_IN_VDS":                         {ECONFLICT, "The Network does not exist on the host the VM is running on.\n Either add the Network to the Host, migrate the VM to a Host that has this Network, or add the vNic as unplugged."},
	"ACTION_TYPE_FAILED_CANNOT_REMOVE_ACTIVE_DEVICE":                 {ECONFLICT, "Cannot ${action} ${type}. The VM Network Interface is plugged to a running VM."},
	"ACTION_TYPE_FAILED_VM_STATUS_ILLEGAL":                           {ECONFLICT, "Cannot ${action} ${type} because the VM is in ${vmStatus} status."},
	"HOT_VM_INTERFACE_UPDATE_IS_NOT_SUPPORTED":                       {EINVALID, "Cannot ${action} ${type}. Updating the virtual machine interface while the virtual machine is running is not supported for clusters of version ${clusterVersion}."},
	"UNLINKING_IS_NOT_SUPPORTED":                                     {EINVALID, "Cannot ${action} ${type}. Link state is set to 'Down' on the virtual machine's interface, this is not supported for clusters of version ${clusterVersion}."},
	"NULL_NETWORK_IS_NOT_SUPPORTED":                                  {EINVALID, "Cannot ${action} ${type}. You must select a network for clusters of version ${clusterVersion}."},
	"HOT_PLUG_IS_NOT_SUPPORTED":                                      {EINVALID, "Activate/Deactivate while VM is running, is only supported for Clusters of version 3.1 and above."},
	"PORT_MIRRORING_REQUIRES_NETWORK":                                {EINVALID, "Cannot ${action} ${type}. 'Port Mirroring' setting requires a network."},
	"ACTION_TYPE_FAILED_NOT_A_VM_NETWORK":                            {EINVALID, "Failed ${action} ${type}. The following networks (${networks}) are not defined as VM networks."},
	"ACTION_TYPE_FAILED_NETWORK_NOT_IN_CLUSTER":                      {ECONFLICT, "Cannot ${action} ${type}. The following networks are not attached to the cluster: ${networks}."},
	"NETWORK_INTERFACE_VM_CANNOT_BE_SET":                             {EINVALID, "Cannot ${action} ${type}. VM ID must be empty."},

	// VM lifecycle
	"ACTION_TYPE_FAILED_VM_IS_RUNNING":                  {ECONFLICT, "Cannot ${action} ${type}. VM is running."},
	"ACTION_TYPE_FAILED_VM_IS_NOT_RUNNING":              {ECONFLICT, "Cannot ${action} ${type}. VM is not running."},
	"ACTION_TYPE_FAILED_NAME_ALREADY_USED":              {ECONFLICT, "Cannot ${action} ${type}. The ${type} name is already in use, please choose a unique name and try again."},
	"ACTION_TYPE_FAILED_CLUSTER_CAN_NOT_BE_EMPTY":       {EINVALID, "Cannot ${action} ${type}. Cluster ID is not valid."},
	"ACTION_TYPE_FAILED_TEMPLATE_DOES_NOT_EXIST":        {EINVALID, "Cannot ${action} ${type}. The relevant Template doesn't exist."},
	"SCHEDULING_NO_HOSTS":                               {ECONFLICT, "Cannot ${action} ${type}. There is no host that satisfies current scheduling constraints. See below for details:, ${details}"},
	"ACTION_TYPE_FAILED_HOST_NOT_EXIST":                 {EINVALID, "Cannot ${action} ${type}. Host does not exist."},
	"ACTION_TYPE_FAILED_HOST_NOT_IN_VM_CLUSTER":         {EINVALID, "Cannot ${action} ${type}. The host ${host} is not in the cluster of the VM."},
	"ACTION_TYPE_FAILED_VM_CANNOT_CHANGE_CLUSTER_UP":    {ECONFLICT, "Cannot ${action} ${type}. The VM must be down to change its cluster."},
	"ACTION_TYPE_FAILED_VM_HAS_PLUGGED_NICS_IN_CLUSTER": {ECONFLICT, "Cannot ${action} ${type}. VM is running."},

	// networks, profiles, clusters, data centers, hosts, pools
	"ACTION_TYPE_FAILED_NETWORK_NAME_IN_USE":                  {ECONFLICT, "Cannot ${action} ${type}. The network name is already in use in the data center."},
	"ACTION_TYPE_FAILED_VNIC_PROFILE_NAME_IN_USE":             {ECONFLICT, "Cannot ${action} ${type}. VM network interface profile name is already used by an existing profile for the same network.\n-Please choose a different name."},
	"ACTION_TYPE_FAILED_NETWORK_NOT_EXISTS":                   {EINVALID, "Cannot ${action} ${type}. Network does not exist."},
	"ACTION_TYPE_FAILED_NETWORK_NOT_IN_DATA_CENTER":           {EINVALID, "Cannot ${action} ${type}. The network does not belong to the data center of the cluster."},
	"NETWORK_ALREADY_ATTACHED_TO_CLUSTER":                     {ECONFLICT, "Cannot ${action} ${type}. The Network is already attached to the Cluster."},
	"NETWORK_NOT_ATTACHED_TO_CLUSTER":                         {EINVALID, "Cannot ${action} ${type}. The Network is not attached to the Cluster."},
	"ACTION_TYPE_FAILED_NETWORK_IN_USE_BY_VMS":                {ECONFLICT, "Cannot ${action} ${type}. Several Virtual Machines (${count}) are using this network: ${names}."},
	"ACTION_TYPE_FAILED_VNIC_PROFILE_IN_USE":                  {ECONFLICT, "Cannot ${action} ${type}. Several VMs (${count}) are using this profile: ${names}."},
	"ACTION_TYPE_FAILED_MANAGEMENT_NETWORK_CANNOT_BE_REMOVED": {ECONFLICT, "Cannot ${action} ${type}. The management network ${NetworkName} cannot be removed."},
	"ACTION_TYPE_FAILED_DATA_CENTER_NOT_EXIST":                {EINVALID, "Cannot ${action} ${type}. Data Center does not exist."},
	"ACTION_TYPE_FAILED_DATA_CENTER_NOT_EMPTY":                {ECONFLICT, "Cannot ${action} ${type}. The Data Center still holds clusters or networks."},
	"ACTION_TYPE_FAILED_CLUSTER_NOT_EMPTY":                    {ECONFLICT, "Cannot ${action} ${type}. The Cluster still holds hosts or VMs."},
	"ACTION_TYPE_FAILED_CLUSTER_NOT_EXIST":                    {EINVALID, "Cannot ${action} ${type}. Cluster does not exist."},
	"ACTION_TYPE_FAILED_UNSUPPORTED_VERSION":                  {EINVALID, "Cannot ${action} ${type}. Compatibility version ${version} is not supported; supported versions are ${supported}."},
	"CLUSTER_CANNOT_DECREASE_COMPATIBILITY_VERSION":           {EINVALID, "Cannot ${action} ${type}. Decreasing the compatibility version is not allowed."},
	"ACTION_TYPE_FAILED_HOST_HAS_RUNNING_VMS":                 {ECONFLICT, "Cannot ${action} ${type}. Host has running VMs: ${names}."},
	"ACTION_TYPE_FAILED_HOST_ADDRESS_IN_USE":                  {ECONFLICT, "Cannot ${action} ${type}. The address ${address}:${port} is already used by host ${host}."},
	"ACTION_TYPE_FAILED_EMBEDDED_HOST":                        {ECONFLICT, "Cannot ${action} ${type}. The embedded host is managed by the engine itself."},
	"ACTION_TYPE_FAILED_MAC_POOL_INVALID_RANGE":               {EINVALID, "Cannot ${action} ${type}. The MAC range ${from}-${to} is invalid: ${why}."},
	"ACTION_TYPE_FAILED_MAC_POOL_RANGES_OVERLAP":              {EINVALID, "Cannot ${action} ${type}. The MAC ranges ${first} and ${second} overlap."},
	"ACTION_TYPE_FAILED_MAC_POOL_IN_USE":                      {ECONFLICT, "Cannot ${action} ${type}. The MAC pool is used by clusters: ${names}."},
	"ACTION_TYPE_FAILED_DEFAULT_MAC_POOL_CANNOT_BE_REMOVED":   {ECONFLICT, "Cannot ${action} ${type}. The default MAC pool cannot be removed."},
	"ACTION_TYPE_FAILED_MAC_POOL_NOT_EXIST":                   {EINVALID, "Cannot ${action} ${type}. MAC Pool does not exist."},
	"ACTION_TYPE_FAILED_MAC_POOL_HAS_DUPLICATES":              {ECONFLICT, "Cannot ${action} ${type}. Duplicate MAC addresses are in use in the pool: ${macs}."},
	"VNIC_PROFILE_BAD_GUEST_NOTIFICATION":                     {EINVALID, "Cannot ${action} ${type}. guest_notification must be none, link_bounce or announce, and link_bounce_hold between 0 and ${max} milliseconds."},
	"VM_MEMORY_OUT_OF_RANGE":                                  {EINVALID, "Cannot ${action} ${type}. Memory must be between ${min} MiB and ${max} MiB."},
	"ACTION_TYPE_FAILED_TEMPLATE_IN_USE":                      {ECONFLICT, "Cannot ${action} ${type}. Template is being used by the following VMs: ${names}."},
	"ACTION_TYPE_FAILED_OVF_NETWORKS_MISSING":                 {ECONFLICT, "Cannot ${action} ${type}. The following vNICs use networks the target cluster lacks: ${networks}. Attach them, or import with empty_missing_networks=true to put those vNICs on no network."},
	"ACTION_TYPE_FAILED_BLANK_TEMPLATE":                       {ECONFLICT, "Cannot ${action} ${type}. The Blank template cannot be changed."},
}

// Fail builds the validation error for key, rendering ${action}, ${type} and
// the given name/value pairs into oVirt's text. The detail is bracketed, as the
// engine prints its message list (List.toString()).
func Fail(op Op, key string, vars ...string) *Error {
	m, ok := messages[key]
	if !ok {
		// A missing key is a programming error; keep it visible but not fatal.
		return &Error{Code: EINTERNAL, Key: key, Detail: "[" + key + "]"}
	}
	return &Error{Code: m.code, Key: key, Detail: "[" + Render(m.text, op, vars...) + "]"}
}

// Render fills ${action}, ${type} and ${name} variables in a template.
func Render(text string, op Op, vars ...string) string {
	pairs := []string{"${action}", op.Action, "${type}", op.Type}
	for i := 0; i+1 < len(vars); i += 2 {
		pairs = append(pairs, "${"+vars[i]+"}", vars[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(text)
}
