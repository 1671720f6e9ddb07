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
	OpAddMACPool    = Op{"add", "MAC Pool"}
	OpEditMACPool   = Op{"edit", "MAC Pool"}
	OpRemoveMACPool = Op{"remove", "MAC Pool"}
	// QoS commands say VAR__TYPE__QOS, and update rather than edit.
	OpAddQoS    = Op{"add", "QoS"}
	OpUpdateQoS = Op{"update", "QoS"}
	OpRemoveQoS = Op{"remove", "QoS"}
	// Host networks (issue 16): VAR__ACTION__SETUP, VAR__TYPE__NETWORKS.
	OpSetupNetworks = Op{"setup", "Networks"}
	OpSyncNetworks  = Op{"sync", "Networks"}
)

// MsgKey names a message of the catalogue below: oVirt's AppErrors key for
// the messages oVirt has, vwire's own key for the others. A key is a constant,
// so a typo is a compile error; TestMessageKeys proves each one has a text.
type MsgKey string

// oVirt's message keys (AppErrors).
const (
	MsgValidationVMNetworkNameNotNull                       MsgKey = "VALIDATION_VM_NETWORK_NAME_NOT_NULL"
	MsgValidationNameInvalidWithDot                         MsgKey = "VALIDATION_NAME_INVALID_WITH_DOT"
	MsgValidationNameInvalid                                MsgKey = "VALIDATION_NAME_INVALID"
	MsgValidationNameTooLong                                MsgKey = "VALIDATION_NAME_TOO_LONG"
	MsgValidationVMNetworkMACAddressInvalid                 MsgKey = "VALIDATION_VM_NETWORK_MAC_ADDRESS_INVALID"
	MsgValidationVMNetworkMACAddressMulticast               MsgKey = "VALIDATION_VM_NETWORK_MAC_ADDRESS_MULTICAST"
	MsgValidationVMNetworkMACAddressNotNull                 MsgKey = "VALIDATION_VM_NETWORK_MAC_ADDRESS_NOT_NULL"
	MsgNetworkVLANOutOfRange                                MsgKey = "NETWORK_VLAN_OUT_OF_RANGE"
	MsgNetworkMTUOutOfRange                                 MsgKey = "NETWORK_MTU_OUT_OF_RANGE"
	MsgNetworkNameTooLongForBridge                          MsgKey = "NETWORK_NAME_TOO_LONG_FOR_BRIDGE"
	MsgNetworkNameReserved                                  MsgKey = "NETWORK_NAME_RESERVED"
	MsgVMNotFound                                           MsgKey = "ACTION_TYPE_FAILED_VM_NOT_FOUND"
	MsgNetworkCannotAddInterfaceWhenVMStatusNotUpDownLocked MsgKey = "NETWORK_CANNOT_ADD_INTERFACE_WHEN_VM_STATUS_NOT_UP_DOWN_LOCKED"
	MsgNetworkInterfaceNameAlreadyInUse                     MsgKey = "NETWORK_INTERFACE_NAME_ALREADY_IN_USE"
	MsgExceededMaxPCISlots                                  MsgKey = "ACTION_TYPE_FAILED_EXCEEDED_MAX_PCI_SLOTS"
	MsgVMInterfaceTypeIsNotSupportedByOS                    MsgKey = "ACTION_TYPE_FAILED_VM_INTERFACE_TYPE_IS_NOT_SUPPORTED_BY_OS"
	MsgVMInterfaceTypeNotMatchProfile                       MsgKey = "ACTION_TYPE_FAILED_VM_INTERFACE_TYPE_NOT_MATCH_PROFILE"
	MsgVNICProfileNotExists                                 MsgKey = "ACTION_TYPE_FAILED_VNIC_PROFILE_NOT_EXISTS"
	MsgNetworkNotExistsInCurrentCluster                     MsgKey = "NETWORK_NOT_EXISTS_IN_CURRENT_CLUSTER"
	MsgNetworkMACAddressInUse                               MsgKey = "NETWORK_MAC_ADDRESS_IN_USE"
	MsgMACPoolNotEnoughMACAddresses                         MsgKey = "MAC_POOL_NOT_ENOUGH_MAC_ADDRESSES"
	MsgVMInterfaceNotExist                                  MsgKey = "VM_INTERFACE_NOT_EXIST"
	MsgCannotPerformHotUpdate                               MsgKey = "CANNOT_PERFORM_HOT_UPDATE"
	MsgCannotPerformHotUpdateWithPortMirroring              MsgKey = "CANNOT_PERFORM_HOT_UPDATE_WITH_PORT_MIRRORING"
	MsgActivateDeactivateNetworkNotInVDS                    MsgKey = "ACTIVATE_DEACTIVATE_NETWORK_NOT_IN_VDS"
	MsgCannotRemoveActiveDevice                             MsgKey = "ACTION_TYPE_FAILED_CANNOT_REMOVE_ACTIVE_DEVICE"
	MsgVMStatusIllegal                                      MsgKey = "ACTION_TYPE_FAILED_VM_STATUS_ILLEGAL"
	MsgHotVMInterfaceUpdateIsNotSupported                   MsgKey = "HOT_VM_INTERFACE_UPDATE_IS_NOT_SUPPORTED"
	MsgUnlinkingIsNotSupported                              MsgKey = "UNLINKING_IS_NOT_SUPPORTED"
	MsgNullNetworkIsNotSupported                            MsgKey = "NULL_NETWORK_IS_NOT_SUPPORTED"
	MsgHotPlugIsNotSupported                                MsgKey = "HOT_PLUG_IS_NOT_SUPPORTED"
	MsgPortMirroringRequiresNetwork                         MsgKey = "PORT_MIRRORING_REQUIRES_NETWORK"
	MsgNotAVMNetwork                                        MsgKey = "ACTION_TYPE_FAILED_NOT_A_VM_NETWORK"
	MsgNetworkNotInCluster                                  MsgKey = "ACTION_TYPE_FAILED_NETWORK_NOT_IN_CLUSTER"
	MsgNetworkInterfaceVMCannotBeSet                        MsgKey = "NETWORK_INTERFACE_VM_CANNOT_BE_SET"
	MsgVMIsRunning                                          MsgKey = "ACTION_TYPE_FAILED_VM_IS_RUNNING"
	MsgVMIsNotRunning                                       MsgKey = "ACTION_TYPE_FAILED_VM_IS_NOT_RUNNING"
	MsgNameAlreadyUsed                                      MsgKey = "ACTION_TYPE_FAILED_NAME_ALREADY_USED"
	MsgClusterCanNotBeEmpty                                 MsgKey = "ACTION_TYPE_FAILED_CLUSTER_CAN_NOT_BE_EMPTY"
	MsgTemplateDoesNotExist                                 MsgKey = "ACTION_TYPE_FAILED_TEMPLATE_DOES_NOT_EXIST"
	MsgSchedulingNoHosts                                    MsgKey = "SCHEDULING_NO_HOSTS"
	MsgHostNotExist                                         MsgKey = "ACTION_TYPE_FAILED_HOST_NOT_EXIST"
	MsgHostNotInVMCluster                                   MsgKey = "ACTION_TYPE_FAILED_HOST_NOT_IN_VM_CLUSTER"
	MsgVMCannotChangeClusterUp                              MsgKey = "ACTION_TYPE_FAILED_VM_CANNOT_CHANGE_CLUSTER_UP"
	MsgVMHasPluggedNicsInCluster                            MsgKey = "ACTION_TYPE_FAILED_VM_HAS_PLUGGED_NICS_IN_CLUSTER"
	MsgNetworkNameInUse                                     MsgKey = "ACTION_TYPE_FAILED_NETWORK_NAME_IN_USE"
	MsgVNICProfileNameInUse                                 MsgKey = "ACTION_TYPE_FAILED_VNIC_PROFILE_NAME_IN_USE"
	MsgNetworkNotExists                                     MsgKey = "ACTION_TYPE_FAILED_NETWORK_NOT_EXISTS"
	MsgNetworkNotInDataCenter                               MsgKey = "ACTION_TYPE_FAILED_NETWORK_NOT_IN_DATA_CENTER"
	MsgNetworkAlreadyAttachedToCluster                      MsgKey = "NETWORK_ALREADY_ATTACHED_TO_CLUSTER"
	MsgNetworkNotAttachedToCluster                          MsgKey = "NETWORK_NOT_ATTACHED_TO_CLUSTER"
	MsgNetworkInUseByVMs                                    MsgKey = "ACTION_TYPE_FAILED_NETWORK_IN_USE_BY_VMS"
	MsgVNICProfileInUse                                     MsgKey = "ACTION_TYPE_FAILED_VNIC_PROFILE_IN_USE"
	MsgManagementNetworkCannotBeRemoved                     MsgKey = "ACTION_TYPE_FAILED_MANAGEMENT_NETWORK_CANNOT_BE_REMOVED"
	MsgDataCenterNotExist                                   MsgKey = "ACTION_TYPE_FAILED_DATA_CENTER_NOT_EXIST"
	MsgDataCenterNotEmpty                                   MsgKey = "ACTION_TYPE_FAILED_DATA_CENTER_NOT_EMPTY"
	MsgClusterNotEmpty                                      MsgKey = "ACTION_TYPE_FAILED_CLUSTER_NOT_EMPTY"
	MsgClusterNotExist                                      MsgKey = "ACTION_TYPE_FAILED_CLUSTER_NOT_EXIST"
	MsgUnsupportedVersion                                   MsgKey = "ACTION_TYPE_FAILED_UNSUPPORTED_VERSION"
	MsgClusterCannotDecreaseCompatibilityVersion            MsgKey = "CLUSTER_CANNOT_DECREASE_COMPATIBILITY_VERSION"
	MsgHostHasRunningVMs                                    MsgKey = "ACTION_TYPE_FAILED_HOST_HAS_RUNNING_VMS"
	MsgHostAddressInUse                                     MsgKey = "ACTION_TYPE_FAILED_HOST_ADDRESS_IN_USE"
	MsgEmbeddedHost                                         MsgKey = "ACTION_TYPE_FAILED_EMBEDDED_HOST"
	MsgMACPoolInvalidRange                                  MsgKey = "ACTION_TYPE_FAILED_MAC_POOL_INVALID_RANGE"
	MsgMACPoolRangesOverlap                                 MsgKey = "ACTION_TYPE_FAILED_MAC_POOL_RANGES_OVERLAP"
	MsgMACPoolInUse                                         MsgKey = "ACTION_TYPE_FAILED_MAC_POOL_IN_USE"
	MsgDefaultMACPoolCannotBeRemoved                        MsgKey = "ACTION_TYPE_FAILED_DEFAULT_MAC_POOL_CANNOT_BE_REMOVED"
	MsgMACPoolNotExist                                      MsgKey = "ACTION_TYPE_FAILED_MAC_POOL_NOT_EXIST"
	MsgMACPoolHasDuplicates                                 MsgKey = "ACTION_TYPE_FAILED_MAC_POOL_HAS_DUPLICATES"
	MsgVNICProfileBadGuestNotification                      MsgKey = "VNIC_PROFILE_BAD_GUEST_NOTIFICATION"
	MsgVMMemoryOutOfRange                                   MsgKey = "VM_MEMORY_OUT_OF_RANGE"
	MsgVMCPUOutOfRange                                      MsgKey = "VM_CPU_OUT_OF_RANGE"
	MsgBadFilterParameter                                   MsgKey = "NETWORK_FILTER_PARAMETER_INVALID"
	MsgNetworkFilterNotExist                                MsgKey = "NETWORK_FILTER_NOT_EXIST"
	MsgTemplateInUse                                        MsgKey = "ACTION_TYPE_FAILED_TEMPLATE_IN_USE"
	MsgOVFNetworksMissing                                   MsgKey = "ACTION_TYPE_FAILED_OVF_NETWORKS_MISSING"
	MsgBlankTemplate                                        MsgKey = "ACTION_TYPE_FAILED_BLANK_TEMPLATE"
	MsgUserNotAuthorized                                    MsgKey = "USER_NOT_AUTHORIZED_TO_PERFORM_ACTION"
	MsgOnlySuperUserGivesAdminRoles                         MsgKey = "PERMISSION_ADD_FAILED_ONLY_SYSTEM_SUPER_USER_CAN_GIVE_ADMIN_ROLES"
	MsgQoSNameNotNull                                       MsgKey = "QOS_NAME_NOT_NULL"
	MsgQoSNameTooLong                                       MsgKey = "QOS_NAME_TOO_LONG"
	MsgQoSNameInvalid                                       MsgKey = "QOS_NAME_INVALID"
	MsgQoSOutOfRange                                        MsgKey = "ACTION_TYPE_FAILED_QOS_OUT_OF_RANGE_VALUES"
	MsgQoSNameExist                                         MsgKey = "ACTION_TYPE_FAILED_QOS_NAME_EXIST"
	MsgQoSStoragePoolNotExist                               MsgKey = "ACTION_TYPE_FAILED_QOS_STORAGE_POOL_NOT_EXIST"
	MsgQoSStoragePoolNotConsistent                          MsgKey = "ACTION_TYPE_FAILED_QOS_STORAGE_POOL_NOT_CONSISTENT"
	MsgNetworkQoSMissingValues                              MsgKey = "ACTION_TYPE_FAILED_NETWORK_QOS_MISSING_VALUES"
	MsgNetworkQoSPeakLowerThanAverage                       MsgKey = "ACTION_TYPE_FAILED_NETWORK_QOS_PEAK_LOWER_THAN_AVERAGE"
	MsgNetworkQoSNotExists                                  MsgKey = "ACTION_TYPE_FAILED_NETWORK_QOS_NOT_EXISTS"
	MsgNetworkQoSInvalidDCID                                MsgKey = "ACTION_TYPE_FAILED_NETWORK_QOS_INVALID_DC_ID"
	MsgPassThroughProfileUnsupportedProperties              MsgKey = "ACTION_TYPE_FAILED_PASSTHROUGH_PROFILE_CONTAINS_NOT_SUPPORTED_PROPERTIES"
)

// vwire's own message keys: parse and lookup errors of the API, hosts, the
// store and the engine's own conditions.
const (
	MsgEntityNotFound        MsgKey = "ENTITY_NOT_FOUND"
	MsgIncomplete            MsgKey = "INCOMPLETE_PARAMETERS"
	MsgInvalidValue          MsgKey = "INVALID_VALUE"
	MsgInvalidEnum           MsgKey = "INVALID_ENUM_VALUE"
	MsgBadRequest            MsgKey = "BAD_REQUEST"
	MsgNoSuchPath            MsgKey = "NO_SUCH_PATH"
	MsgMethodNotAllowed      MsgKey = "METHOD_NOT_ALLOWED"
	MsgUnsupportedAPIVersion MsgKey = "UNSUPPORTED_API_VERSION"
	MsgReferenceNotFound     MsgKey = "REFERENCE_NOT_FOUND"
	MsgNetworkNotFound       MsgKey = "NETWORK_NOT_FOUND"
	MsgNetworkIDNameMismatch MsgKey = "NETWORK_ID_NAME_MISMATCH"
	MsgOVFInvalid            MsgKey = "OVF_INVALID"
	MsgOVFIDExists           MsgKey = "OVF_ID_EXISTS"
	MsgBadCredentials        MsgKey = "BAD_CREDENTIALS"
	MsgTokenUnknown          MsgKey = "TOKEN_UNKNOWN"
	MsgAuthRequired          MsgKey = "AUTHENTICATION_REQUIRED"
	MsgLoginThrottled        MsgKey = "LOGIN_THROTTLED"
	MsgBadAuthorization      MsgKey = "BAD_AUTHORIZATION"
	MsgCredentialsTooLarge   MsgKey = "CREDENTIALS_TOO_LARGE"
	MsgTooManyStreams        MsgKey = "TOO_MANY_EVENT_STREAMS"
	MsgTooManyAsync          MsgKey = "TOO_MANY_ASYNC_ACTIONS"
	MsgInternal              MsgKey = "INTERNAL_ERROR"
	MsgInternalPanic         MsgKey = "INTERNAL_PANIC"
	MsgNoRepairAction        MsgKey = "NO_REPAIR_ACTION"
	MsgBadDeviceKey          MsgKey = "BAD_DEVICE_KEY"
	MsgChangeNotRepaired     MsgKey = "CHANGE_NOT_REPAIRED"
	MsgChangeUnsettled       MsgKey = "CHANGE_UNSETTLED"
	MsgHostFailed            MsgKey = "HOST_FAILED"
	MsgHostUnreachable       MsgKey = "HOST_UNREACHABLE"
	MsgHostNotApplied        MsgKey = "HOST_NOT_APPLIED"
	MsgHostOutcomeUnknown    MsgKey = "HOST_OUTCOME_UNKNOWN"
	MsgRowNotFound           MsgKey = "ROW_NOT_FOUND"
	MsgUniqueViolation       MsgKey = "UNIQUE_VIOLATION"
	MsgForeignKeyViolation   MsgKey = "FOREIGN_KEY_VIOLATION"
	MsgTxConflict            MsgKey = "TX_CONFLICT"
	MsgDBNoConnection        MsgKey = "DB_NO_CONNECTION"
	MsgDBTimeout             MsgKey = "DB_TIMEOUT"
	MsgDBError               MsgKey = "DB_ERROR"
	MsgDBClosed              MsgKey = "DB_CLOSED"
	MsgPoolExhausted         MsgKey = "MAC_POOL_EXHAUSTED"
	MsgRoleReadOnly          MsgKey = "ROLE_READ_ONLY"
	MsgRoleInUse             MsgKey = "ROLE_IN_USE"
	MsgPermitUnknown         MsgKey = "PERMIT_UNKNOWN"
	MsgBuiltinAdmin          MsgKey = "BUILTIN_ADMIN"
	MsgPermitNotHeld         MsgKey = "PERMIT_NOT_HELD"
	MsgQoSTypeNotSupported   MsgKey = "QOS_TYPE_NOT_SUPPORTED"
	// a profile rewire (a bulk job) and its cancel and retry
	MsgRewireSameProfile MsgKey = "REWIRE_SAME_PROFILE"
	MsgJobNotRunning     MsgKey = "JOB_NOT_RUNNING"
	MsgJobNotRetryable   MsgKey = "JOB_NOT_RETRYABLE"
)

// Host networks (issue 16): oVirt's keys where oVirt has the rule, vwire's
// own for its VXLAN overlay and what its hosts cannot do.
const (
	MsgHostNICNotExist            MsgKey = "HOST_NETWORK_INTERFACE_HAVING_NAME_DOES_NOT_EXIST"
	MsgNetworkAttachmentNotExists MsgKey = "NETWORK_ATTACHMENT_NOT_EXISTS"
	MsgNICNotExclusive            MsgKey = "NETWORK_INTERFACES_NOT_EXCLUSIVELY_USED_BY_NETWORK"
	MsgAttachmentsSameNetwork     MsgKey = "NETWORK_ATTACHMENTS_REFERENCES_SAME_NETWORK_DUPLICATELY"
	MsgHostNoVLAN                 MsgKey = "HOST_CANNOT_CARRY_VLAN"
	MsgHostNICNoAddress           MsgKey = "HOST_NIC_NO_ADDRESS_FOR_OVERLAY"
	MsgNetworkVXLANOutOfRange     MsgKey = "NETWORK_VXLAN_OUT_OF_RANGE"
	MsgNetworkVXLANWithVLAN       MsgKey = "NETWORK_VXLAN_WITH_VLAN"
	MsgBondsNotSupported          MsgKey = "BONDS_NOT_SUPPORTED"
	MsgNetworkInUseByHosts        MsgKey = "NETWORK_IN_USE_BY_HOSTS"
)

// Message is a catalogue entry: the code that decides the HTTP status, the
// template, the fault's reason ("" is "Operation Failed", or "Not Found" for
// a 404) and whether the detail is bare rather than bracketed as oVirt prints
// its message list. restapi renders faults from it.
type Message struct {
	Code   Code
	Text   string
	Reason string
	Bare   bool
}

var messages = map[MsgKey]Message{
	// bean validation
	MsgValidationVMNetworkNameNotNull:         {Code: EINVALID, Text: "Interface name is required."},
	MsgValidationNameInvalidWithDot:           {Code: EINVALID, Text: `Name must be formed of alphanumeric characters, numbers or "-_.".`},
	MsgValidationNameInvalid:                  {Code: EINVALID, Text: `Name must be formed of alphanumeric characters, numbers or "-_".`},
	MsgValidationNameTooLong:                  {Code: EINVALID, Text: "Name must not exceed ${max} characters."},
	MsgValidationVMNetworkMACAddressInvalid:   {Code: EINVALID, Text: `MAC address must be in format "HH:HH:HH:HH:HH:HH" where H is a hexadecimal character (either a digit or A-F, case is insignificant).`},
	MsgValidationVMNetworkMACAddressMulticast: {Code: EINVALID, Text: "Multi-cast MAC address is not allowed."},
	MsgValidationVMNetworkMACAddressNotNull:   {Code: EINVALID, Text: "MAC address is required."},
	MsgNetworkVLANOutOfRange:                  {Code: EINVALID, Text: "Cannot ${action} ${type}. VLAN ID must be a number between 0 and 4094."},
	MsgNetworkMTUOutOfRange:                   {Code: EINVALID, Text: "Cannot ${action} ${type}. MTU must be 0 (default) or between 68 and 65535."},
	MsgNetworkNameTooLongForBridge:            {Code: EINVALID, Text: "Cannot ${action} ${type}. Network name must not exceed 15 characters, the host bridge carries its name."},
	MsgNetworkNameReserved:                    {Code: EINVALID, Text: "Cannot ${action} ${type}. The name ${NetworkName} is reserved."},

	// vNIC flows
	MsgVMNotFound: {Code: EINVALID, Text: "Cannot ${action} ${type}. VM is not found."},
	MsgNetworkCannotAddInterfaceWhenVMStatusNotUpDownLocked: {Code: ECONFLICT, Text: "Cannot ${action} a Network Interface when VM is not Down, Up or Image-Locked."},
	MsgNetworkInterfaceNameAlreadyInUse:                     {Code: ECONFLICT, Text: "Network interface name is already in use"},
	MsgExceededMaxPCISlots:                                  {Code: ECONFLICT, Text: "Cannot ${action} ${type}. Maximum PCI devices exceeded."},
	MsgVMInterfaceTypeIsNotSupportedByOS:                    {Code: EINVALID, Text: "Cannot ${action} ${type}. The network interface type is not compatible with the selected operating system."},
	MsgVMInterfaceTypeNotMatchProfile:                       {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The network interface type doesn't match the profile. Virtual machine interface of type 'PCI Passthrough' should have 'Passthrough' profile and vice versa."},
	MsgVNICProfileNotExists:                                 {Code: EINVALID, Text: "Cannot ${action} ${type}. The specified VM network interface profile doesn't exist."},
	MsgNetworkNotExistsInCurrentCluster:                     {Code: ECONFLICT, Text: "The specified Logical Network doesn't exist in the current Cluster."},
	MsgNetworkMACAddressInUse:                               {Code: ECONFLICT, Text: "MAC Address ${MacAddress} is already in use by VM or snapshot: ${VmName}."},
	MsgMACPoolNotEnoughMACAddresses:                         {Code: ECONFLICT, Text: "Cannot ${action} ${type}. Not enough MAC addresses left in MAC Address Pool."},
	MsgVMInterfaceNotExist:                                  {Code: EINVALID, Text: "Cannot ${action} ${type}. The VM Network Interface does not exist."},
	MsgCannotPerformHotUpdate:                               {Code: ECONFLICT, Text: "Cannot ${action} ${type}. Updating some of the properties is not supported while the interface is plugged into a running virtual machine. Please un-plug the interface, update the properties, and then plug it back."},
	MsgCannotPerformHotUpdateWithPortMirroring:              {Code: ECONFLICT, Text: "Cannot ${action} ${type}. Update is not possible when 'Port Mirroring' is set on the interface of a running virtual machine."},
	MsgActivateDeactivateNetworkNotInVDS:                    {Code: ECONFLICT, Text: "The Network does not exist on the host the VM is running on.\n Either add the Network to the Host, migrate the VM to a Host that has this Network, or add the vNic as unplugged."},
	MsgCannotRemoveActiveDevice:                             {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The VM Network Interface is plugged to a running VM."},
	MsgVMStatusIllegal:                                      {Code: ECONFLICT, Text: "Cannot ${action} ${type} because the VM is in ${vmStatus} status."},
	MsgHotVMInterfaceUpdateIsNotSupported:                   {Code: EINVALID, Text: "Cannot ${action} ${type}. Updating the virtual machine interface while the virtual machine is running is not supported for clusters of version ${clusterVersion}."},
	MsgUnlinkingIsNotSupported:                              {Code: EINVALID, Text: "Cannot ${action} ${type}. Link state is set to 'Down' on the virtual machine's interface, this is not supported for clusters of version ${clusterVersion}."},
	MsgNullNetworkIsNotSupported:                            {Code: EINVALID, Text: "Cannot ${action} ${type}. You must select a network for clusters of version ${clusterVersion}."},
	MsgHotPlugIsNotSupported:                                {Code: EINVALID, Text: "Activate/Deactivate while VM is running, is only supported for Clusters of version 3.1 and above."},
	MsgPortMirroringRequiresNetwork:                         {Code: EINVALID, Text: "Cannot ${action} ${type}. 'Port Mirroring' setting requires a network."},
	MsgNotAVMNetwork:                                        {Code: EINVALID, Text: "Failed ${action} ${type}. The following networks (${networks}) are not defined as VM networks."},
	MsgNetworkNotInCluster:                                  {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The following networks are not attached to the cluster: ${networks}."},
	MsgNetworkInterfaceVMCannotBeSet:                        {Code: EINVALID, Text: "Cannot ${action} ${type}. VM ID must be empty."},

	// VM lifecycle
	MsgVMIsRunning:               {Code: ECONFLICT, Text: "Cannot ${action} ${type}. VM is running."},
	MsgVMIsNotRunning:            {Code: ECONFLICT, Text: "Cannot ${action} ${type}. VM is not running."},
	MsgNameAlreadyUsed:           {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The ${type} name is already in use, please choose a unique name and try again."},
	MsgClusterCanNotBeEmpty:      {Code: EINVALID, Text: "Cannot ${action} ${type}. Cluster ID is not valid."},
	MsgTemplateDoesNotExist:      {Code: EINVALID, Text: "Cannot ${action} ${type}. The relevant Template doesn't exist."},
	MsgSchedulingNoHosts:         {Code: ECONFLICT, Text: "Cannot ${action} ${type}. There is no host that satisfies current scheduling constraints. See below for details:, ${details}"},
	MsgHostNotExist:              {Code: EINVALID, Text: "Cannot ${action} ${type}. Host does not exist."},
	MsgHostNotInVMCluster:        {Code: EINVALID, Text: "Cannot ${action} ${type}. The host ${host} is not in the cluster of the VM."},
	MsgVMCannotChangeClusterUp:   {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The VM must be down to change its cluster."},
	MsgVMHasPluggedNicsInCluster: {Code: ECONFLICT, Text: "Cannot ${action} ${type}. VM is running."},

	// networks, profiles, clusters, data centers, hosts, pools
	MsgNetworkNameInUse:                          {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The network name is already in use in the data center."},
	MsgVNICProfileNameInUse:                      {Code: ECONFLICT, Text: "Cannot ${action} ${type}. VM network interface profile name is already used by an existing profile for the same network.\n-Please choose a different name."},
	MsgNetworkNotExists:                          {Code: EINVALID, Text: "Cannot ${action} ${type}. Network does not exist."},
	MsgNetworkNotInDataCenter:                    {Code: EINVALID, Text: "Cannot ${action} ${type}. The network does not belong to the data center of the cluster."},
	MsgNetworkAlreadyAttachedToCluster:           {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The Network is already attached to the Cluster."},
	MsgNetworkNotAttachedToCluster:               {Code: EINVALID, Text: "Cannot ${action} ${type}. The Network is not attached to the Cluster."},
	MsgNetworkInUseByVMs:                         {Code: ECONFLICT, Text: "Cannot ${action} ${type}. Several Virtual Machines (${count}) are using this network: ${names}."},
	MsgVNICProfileInUse:                          {Code: ECONFLICT, Text: "Cannot ${action} ${type}. Several VMs (${count}) are using this profile: ${names}."},
	MsgManagementNetworkCannotBeRemoved:          {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The management network ${NetworkName} cannot be removed."},
	MsgDataCenterNotExist:                        {Code: EINVALID, Text: "Cannot ${action} ${type}. Data Center does not exist."},
	MsgDataCenterNotEmpty:                        {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The Data Center still holds clusters or networks."},
	MsgClusterNotEmpty:                           {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The Cluster still holds hosts or VMs."},
	MsgClusterNotExist:                           {Code: EINVALID, Text: "Cannot ${action} ${type}. Cluster does not exist."},
	MsgUnsupportedVersion:                        {Code: EINVALID, Text: "Cannot ${action} ${type}. Compatibility version ${version} is not supported; supported versions are ${supported}."},
	MsgClusterCannotDecreaseCompatibilityVersion: {Code: EINVALID, Text: "Cannot ${action} ${type}. Decreasing the compatibility version is not allowed."},
	MsgHostHasRunningVMs:                         {Code: ECONFLICT, Text: "Cannot ${action} ${type}. Host has running VMs: ${names}."},
	MsgHostAddressInUse:                          {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The address ${address}:${port} is already used by host ${host}."},
	MsgEmbeddedHost:                              {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The embedded host is managed by the engine itself."},
	MsgMACPoolInvalidRange:                       {Code: EINVALID, Text: "Cannot ${action} ${type}. The MAC range ${from}-${to} is invalid: ${why}."},
	MsgMACPoolRangesOverlap:                      {Code: EINVALID, Text: "Cannot ${action} ${type}. The MAC ranges ${first} and ${second} overlap."},
	MsgMACPoolInUse:                              {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The MAC pool is used by clusters: ${names}."},
	MsgDefaultMACPoolCannotBeRemoved:             {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The default MAC pool cannot be removed."},
	MsgMACPoolNotExist:                           {Code: EINVALID, Text: "Cannot ${action} ${type}. MAC Pool does not exist."},
	MsgMACPoolHasDuplicates:                      {Code: ECONFLICT, Text: "Cannot ${action} ${type}. Duplicate MAC addresses are in use in the pool: ${macs}."},
	MsgVNICProfileBadGuestNotification:           {Code: EINVALID, Text: "Cannot ${action} ${type}. guest_notification must be none, link_bounce or announce, and link_bounce_hold between 0 and ${max} milliseconds."},
	MsgVMMemoryOutOfRange:                        {Code: EINVALID, Text: "Cannot ${action} ${type}. Memory must be between ${min} MiB and ${max} MiB."},
	MsgBadFilterParameter:                        {Code: EINVALID, Text: "Cannot ${action} ${type}. A network filter parameter needs a name of letters, digits and underscores (at most 64, starting with a letter) and a value of at most 256 letters, digits and . : _ / -."},
	MsgNetworkFilterNotExist:                     {Code: EINVALID, Text: "Cannot ${action} ${type}. The network filter does not exist."},
	MsgVMCPUOutOfRange:                           {Code: EINVALID, Text: "Cannot ${action} ${type}. The CPU topology needs at least one socket, core and thread, and at most ${max} virtual CPUs in all."},
	MsgTemplateInUse:                             {Code: ECONFLICT, Text: "Cannot ${action} ${type}. Template is being used by the following VMs: ${names}."},
	MsgOVFNetworksMissing:                        {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The following vNICs use networks the target cluster lacks: ${networks}. Attach them, or import with empty_missing_networks=true to put those vNICs on no network."},
	MsgBlankTemplate:                             {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The Blank template cannot be changed."},

	// network QoS and the profile's QoS and pass-through: oVirt's texts
	// (AppErrors), oVirt's codes (BAD_PARAMETERS: 400)
	MsgQoSNameNotNull:                          {Code: EINVALID, Text: "QoS name cannot be empty."},
	MsgQoSNameTooLong:                          {Code: EINVALID, Text: "QoS name length must be under 50 characters."},
	MsgQoSNameInvalid:                          {Code: EINVALID, Text: "QoS name must be formed of 'a-z', 'A-Z', '0-9', '_' or '-' characters"},
	MsgQoSOutOfRange:                           {Code: EINVALID, Text: "Cannot ${action} ${type}. Values are out of range\n(Legal range is: ${range})."},
	MsgQoSNameExist:                            {Code: EINVALID, Text: "Cannot ${action} ${type}. QoS element name already exists."},
	MsgQoSStoragePoolNotExist:                  {Code: EINVALID, Text: "Cannot ${action} ${type}. Invalid data center."},
	MsgQoSStoragePoolNotConsistent:             {Code: EINVALID, Text: "Cannot ${action} ${type}. Cannot change QoS data center."},
	MsgNetworkQoSMissingValues:                 {Code: EINVALID, Text: "Cannot ${action} ${type}. All three values are needed in order to define QoS on each network directions."},
	MsgNetworkQoSPeakLowerThanAverage:          {Code: EINVALID, Text: "Cannot ${action} ${type}. Peak cannot be set lower than Average."},
	MsgNetworkQoSNotExists:                     {Code: EINVALID, Text: "The specified Network QoS doesn't exist."},
	MsgNetworkQoSInvalidDCID:                   {Code: EINVALID, Text: "Cannot ${action} ${type}. Data Center does not contain the specific QoS entity."},
	MsgPassThroughProfileUnsupportedProperties: {Code: EINVALID, Text: "Cannot ${action} ${type}. 'Port Mirroring,'Qos' and 'Network Filter' are not supported on passthrough profiles."},

	// permissions: oVirt's sentence, then what is missing
	MsgUserNotAuthorized:            {Code: EFORBIDDEN, Text: "User is not authorized to perform this action. Cannot ${action} ${type}: ${permit} is needed on ${object}."},
	MsgOnlySuperUserGivesAdminRoles: {Code: EFORBIDDEN, Text: "Cannot ${action} ${type}. Only a SuperUser on the system can give the administrative role ${role}."},

	// host networks
	MsgHostNICNotExist:            {Code: EINVALID, Text: "Cannot ${action} ${type}. Host network interface having name ${NicName} does not exist."},
	MsgNetworkAttachmentNotExists: {Code: EINVALID, Text: "Cannot ${action} ${type}. Network attachment (id ${AttachmentId}) does not exist."},
	MsgNICNotExclusive:            {Code: EINVALID, Text: "Cannot ${action} ${type}. The following Network Interfaces can have only a single untagged Logical Network, and several VLAN or overlay Logical Networks: ${NicName} (${networks})."},
	MsgAttachmentsSameNetwork:     {Code: EINVALID, Text: "Cannot ${action} ${type}. Network ${NetworkName} is referenced by more than one network attachment."},
	MsgHostNoVLAN:                 {Code: ECONFLICT, Text: "Cannot ${action} ${type}. Host ${host} cannot carry VLAN network ${NetworkName}: ${reason}."},
	MsgHostNICNoAddress:           {Code: ECONFLICT, Text: "Cannot ${action} ${type}. Overlay network ${NetworkName} needs an IPv4 address on host network interface ${NicName}, which has none."},
	MsgNetworkVXLANOutOfRange:     {Code: EINVALID, Text: "Cannot ${action} ${type}. The VXLAN segment must be 0 (no overlay) or between 1 and 16777215."},
	MsgNetworkVXLANWithVLAN:       {Code: EINVALID, Text: "Cannot ${action} ${type}. An overlay network (vxlan_segment) cannot also have a VLAN tag."},
	MsgBondsNotSupported:          {Code: EINVALID, Text: "Cannot ${action} ${type}. Bonds (modified_bonds, removed_bonds) are not supported yet; attach networks to host NICs."},
	MsgNetworkInUseByHosts:        {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The network is set up on host(s): ${names}. Remove it from them first (setupnetworks)."},

	// vwire's own messages
	MsgEntityNotFound:        {Code: ENOTFOUND, Text: "Entity not found: ${kind} ${id}", Bare: true},
	MsgIncomplete:            {Code: EINCOMPLETE, Text: "${kind} [${fields}] required for ${method}", Reason: "Incomplete parameters", Bare: true},
	MsgInvalidValue:          {Code: EINVALID, Text: "${detail}", Reason: "Invalid value", Bare: true},
	MsgInvalidEnum:           {Code: EINVALID, Text: "${detail}", Reason: "Invalid Enum value", Bare: true},
	MsgBadRequest:            {Code: EINVALID, Text: "${detail}", Reason: "Bad Request", Bare: true},
	MsgNoSuchPath:            {Code: ENOTFOUND, Text: "No resource at ${path}.", Reason: "Not Found", Bare: true},
	MsgMethodNotAllowed:      {Code: ENOTALLOWED, Text: "${path} does not take ${method}; it takes ${allowed}.", Reason: "Method Not Allowed", Bare: true},
	MsgUnsupportedAPIVersion: {Code: EINVALID, Text: "Unsupported API version ${version}: this engine serves version 4.", Reason: "Bad Request", Bare: true},
	MsgReferenceNotFound:     {Code: EINVALID, Text: "Entity not found: ${kind}: ${ref}"},
	MsgNetworkNotFound:       {Code: ENOTFOUND, Text: "Entity not found: Network: ${network}"},
	MsgNetworkIDNameMismatch: {Code: EINVALID, Text: "Network id ${id} and name ${name} do not match."},
	MsgOVFInvalid:            {Code: EINVALID, Text: "Cannot ${action} ${type}. ${why}."},
	MsgOVFIDExists:           {Code: ECONFLICT, Text: "Cannot ${action} ${type}. A ${what} with id ${id} exists; import with regenerate_ids=true to make a copy."},
	MsgBadCredentials:        {Code: EUNAUTHORIZED, Text: "Cannot authenticate user '${user}': The username or password is incorrect.", Bare: true},
	MsgTokenUnknown:          {Code: EUNAUTHORIZED, Text: "The token is unknown or expired.", Bare: true},
	MsgAuthRequired:          {Code: EUNAUTHORIZED, Text: "Authentication required: HTTP Basic (user@profile:password) or a bearer token from ${sso}/oauth/token.", Reason: "Unauthorized", Bare: true},
	MsgLoginThrottled:        {Code: EUNAUTHORIZED, Text: "Cannot authenticate user '${user}': too many failed logins; the next attempt is checked in ${seconds} seconds.", Reason: "Unauthorized", Bare: true},
	MsgBadAuthorization:      {Code: EUNAUTHORIZED, Text: "Malformed Authorization header: ${why}.", Reason: "Unauthorized", Bare: true},
	MsgCredentialsTooLarge:   {Code: EINVALID, Text: "The ${what} is too large: at most ${max} bytes.", Reason: "Bad Request", Bare: true},
	MsgTooManyAsync:          {Code: EUNAVAILABLE, Text: "Too many actions are running in the background (${max}); try again later, or without async.", Reason: "Service Unavailable"},
	MsgTooManyStreams:        {Code: EUNAVAILABLE, Text: "Too many event streams are open (${max}); try again later.", Reason: "Service Unavailable"},
	MsgInternal:              {Code: EINTERNAL, Text: "Internal error."},
	MsgInternalPanic:         {Code: EINTERNAL, Text: "Internal error: ${cause}"},
	MsgNoRepairAction:        {Code: EINTERNAL, Text: "no host action repairs the drift of vNIC ${nic}", Bare: true},
	MsgBadDeviceKey:          {Code: EINTERNAL, Text: "foreign device key ${key} has a comma", Bare: true},
	MsgChangeNotRepaired:     {Code: EUNAVAILABLE, Text: "A change left unfinished on this VM could not be repaired yet; try again."},
	MsgChangeUnsettled:       {Code: EUNAVAILABLE, Text: "An earlier change on this VM has an outcome not known yet and its host cannot be asked now; it will be settled when the host answers. Try again then."},
	MsgHostFailed:            {Code: EHOST, Text: "${generic} Host ${host}: ${reason}"},
	MsgHostUnreachable:       {Code: EUNAVAILABLE, Text: "${generic} Host ${host} cannot be reached: ${cause}"},
	MsgHostNotApplied:        {Code: EHOST, Text: "${generic} Host ${host} did not apply the change before its call ended: ${cause}"},
	MsgHostOutcomeUnknown:    {Code: EUNAVAILABLE, Text: "${generic} Host ${host} did not answer (${cause}), so whether the change was applied is not known yet. It will be settled from the host's state when the host answers: by the VM's next operation or within a poll interval."},
	MsgRowNotFound:           {Code: ENOTFOUND, Text: "not found", Bare: true},
	MsgUniqueViolation:       {Code: ECONFLICT, Text: "Cannot save: an entity with the same unique value already exists."},
	MsgForeignKeyViolation:   {Code: ECONFLICT, Text: "Cannot save: a referenced entity does not exist or is still in use."},
	MsgTxConflict:            {Code: EUNAVAILABLE, Text: "The database refused a conflicting concurrent change; try again."},
	MsgDBNoConnection:        {Code: EUNAVAILABLE, Text: "The database has no connection left for this engine (PostgreSQL's max_connections is reached); try again, and raise max_connections or lower the engines' --db-max-conns."},
	MsgDBTimeout:             {Code: EUNAVAILABLE, Text: "The database did not answer in time."},
	MsgDBError:               {Code: EINTERNAL, Text: "Database error."},
	MsgDBClosed:              {Code: EUNAVAILABLE, Text: "The database is closed."},
	MsgPoolExhausted:         {Code: ECONFLICT, Text: "no free MAC address in the pool", Bare: true},
	MsgRoleReadOnly:          {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The role ${role} is predefined and cannot be changed."},
	MsgRoleInUse:             {Code: ECONFLICT, Text: "Cannot ${action} ${type}. The role ${role} is still given by permissions."},
	MsgPermitUnknown:         {Code: EINVALID, Text: "Cannot ${action} ${type}. Unknown permit: ${permit}."},
	MsgBuiltinAdmin:          {Code: ECONFLICT, Text: "Cannot ${action} ${type}. admin@internal keeps its user and its SuperUser permission on the system."},
	MsgQoSTypeNotSupported:   {Code: EINVALID, Text: "Cannot ${action} ${type}. vwire has network QoS only; the type ${qostype} is not supported."},
	MsgRewireSameProfile:     {Code: EINVALID, Text: "Cannot ${action} ${type}. The vNICs would move to the profile they already use (${profile})."},
	MsgJobNotRunning:         {Code: ECONFLICT, Text: "Cannot ${action} ${type}. Job ${job} is not a bulk job running on this engine (${why})."},
	MsgJobNotRetryable:       {Code: ECONFLICT, Text: "Cannot ${action} ${type}. Job ${job} cannot be retried: ${why}."},
	MsgPermitNotHeld:         {Code: EFORBIDDEN, Text: "User is not authorized to perform this action. Cannot ${action} ${type}: granting role ${role} needs its permit ${permit} on ${object}."},
}

// MessageOf returns the catalogue entry of key.
func MessageOf(key MsgKey) (Message, bool) {
	m, ok := messages[key]
	return m, ok
}

// MessageKeys returns every key the catalogue has a text for.
func MessageKeys() []MsgKey {
	keys := make([]MsgKey, 0, len(messages))
	for k := range messages {
		keys = append(keys, k)
	}
	return keys
}

// Fail builds the error of op for key with the given name/value pairs, which
// fill the key's ${name} variables when restapi renders it.
func Fail(op Op, key MsgKey, vars ...string) *Error {
	return &Error{Code: keyCode(key), Op: op, Key: key, Vars: vars}
}

// New builds the error for key, of no particular operation.
func New(key MsgKey, vars ...string) *Error {
	return &Error{Code: keyCode(key), Key: key, Vars: vars}
}

func keyCode(key MsgKey) Code {
	if m, ok := messages[key]; ok {
		return m.Code
	}
	// A key without a text is a programming error (TestMessageKeys): keep
	// it visible but not fatal.
	return EINTERNAL
}

// Render fills ${action}, ${type} and ${name} variables in a template.
func Render(text string, op Op, vars ...string) string {
	pairs := []string{"${action}", op.Action, "${type}", op.Type}
	for i := 0; i+1 < len(vars); i += 2 {
		pairs = append(pairs, "${"+vars[i]+"}", vars[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(text)
}
