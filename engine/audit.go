package engine

import (
	"context"
	"strings"

	"vwire.dev/vwire"
)

// auditType is one of oVirt's AuditLogType entries: code, severity, template.
// The vNIC entries follow the reference (§5); the others are oVirt's codes
// for the same actions in AuditLogMessages.properties.
type auditType struct {
	code     int
	severity vwire.Severity
	template string
}

var (
	evNicAdd          = auditType{932, vwire.SevNormal, "Interface ${InterfaceName} (${InterfaceType}) was added to VM ${VmName}. (User: ${UserName})"}
	evNicAddFailed    = auditType{933, vwire.SevError, "Failed to add Interface ${InterfaceName} (${InterfaceType}) to VM ${VmName}. (User: ${UserName})"}
	evNicUpdate       = auditType{934, vwire.SevNormal, "Interface ${InterfaceName} (${InterfaceType}) was updated for VM ${VmName}. ${LinkState} (User: ${UserName})"}
	evNicUpdateFailed = auditType{935, vwire.SevError, "Failed to update Interface ${InterfaceName} (${InterfaceType}) for VM ${VmName}. (User: ${UserName})"}
	evNicRemove       = auditType{930, vwire.SevNormal, "Interface ${InterfaceName} (${InterfaceType}) was removed from VM ${VmName}. (User: ${UserName})"}
	evNicPlug         = auditType{1012, vwire.SevNormal, "Network Interface ${InterfaceName} (${InterfaceType}) was plugged to VM ${VmName}. (User: ${UserName})"}
	evNicPlugFailed   = auditType{1013, vwire.SevError, "Failed to plug Network Interface ${InterfaceName} (${InterfaceType}) to VM ${VmName}. (User: ${UserName})"}
	evNicUnplug       = auditType{1014, vwire.SevNormal, "Network Interface ${InterfaceName} (${InterfaceType}) was unplugged from VM ${VmName}. (User: ${UserName})"}
	evNicUnplugFailed = auditType{1015, vwire.SevError, "Failed to unplug Network Interface ${InterfaceName} (${InterfaceType}) from VM ${VmName}. (User: ${UserName})"}
	evMACPoolEmpty    = auditType{816, vwire.SevWarning, "No MAC addresses left in the MAC Address Pool."}
	evVMRun           = auditType{32, vwire.SevNormal, "VM ${VmName} started on Host ${VdsName}"}
	evVMRunFailed     = auditType{54, vwire.SevError, "Failed to run VM ${VmName}${DueToError} (User: ${UserName})."}
	evVMStop          = auditType{33, vwire.SevNormal, "VM ${VmName} powered off by ${UserName} (Host: ${VdsName})."}
	evVMStopFailed    = auditType{56, vwire.SevError, "Failed to power off VM ${VmName} (Host: ${VdsName}, User: ${UserName})."}
	evVMDownError     = auditType{119, vwire.SevError, "VM ${VmName} is down with error. Exit message: ${ExitMessage}."}
	evVMAdd           = auditType{34, vwire.SevNormal, "VM ${VmName} was created by ${UserName}."}
	evVMUpdate        = auditType{35, vwire.SevNormal, "VM ${VmName} configuration was updated by ${UserName}."}
	evVMRemove        = auditType{113, vwire.SevNormal, "VM ${VmName} was successfully removed."}
	evHostAdd         = auditType{42, vwire.SevNormal, "Host ${VdsName} was added by ${UserName}."}
	evHostUpdate      = auditType{43, vwire.SevNormal, "Host ${VdsName} configuration was updated by ${UserName}."}
	evHostRemove      = auditType{44, vwire.SevNormal, "Host ${VdsName} was removed by ${UserName}."}
	evHostStatus      = auditType{13, vwire.SevNormal, "Status of host ${VdsName} was set to ${HostStatus}."}
	evHostNonResp     = auditType{12, vwire.SevError, "Host ${VdsName} is non responsive."}
	evNetworkAdd      = auditType{942, vwire.SevNormal, "Network ${NetworkName} was added to Data Center: ${StoragePoolName}"}
	evNetworkUpdate   = auditType{1114, vwire.SevNormal, "Network ${NetworkName} was updated on Data Center: ${StoragePoolName}"}
	evNetworkRemove   = auditType{944, vwire.SevNormal, "Network ${NetworkName} was removed from Data Center: ${StoragePoolName}"}
	evNetworkAttach   = auditType{946, vwire.SevNormal, "Network ${NetworkName} attached to Cluster ${ClusterName}"}
	evNetworkDetach   = auditType{948, vwire.SevNormal, "Network ${NetworkName} detached from Cluster ${ClusterName}"}
	evTmplNicAdd      = auditType{936, vwire.SevNormal, "Interface ${InterfaceName} (${InterfaceType}) was added to Template ${VmTemplateName}. (User: ${UserName})"}
	evTmplNicRemove   = auditType{938, vwire.SevNormal, "Interface ${InterfaceName} (${InterfaceType}) was removed from Template ${VmTemplateName}. (User: ${UserName})"}
	evTmplNicUpdate   = auditType{940, vwire.SevNormal, "Interface ${InterfaceName} (${InterfaceType}) was updated for Template ${VmTemplateName}. ${LinkState} (User: ${UserName})"}
	evTmplAdd         = auditType{48, vwire.SevNormal, "Creation of Template ${VmTemplateName} from VM ${VmName} was initiated by ${UserName}."}
	evTmplAddDone     = auditType{51, vwire.SevNormal, "Creation of Template ${VmTemplateName} from VM ${VmName} has been completed."}
	evTmplUpdate      = auditType{49, vwire.SevNormal, "Template ${VmTemplateName} was updated by ${UserName}."}
	evTmplRemove      = auditType{50, vwire.SevNormal, "Removal of Template ${VmTemplateName} has been initiated by ${UserName}."}
	evVMImport        = auditType{1152, vwire.SevNormal, "Vm ${VmName} was imported successfully to Cluster ${ClusterName}. (User: ${UserName})"}
	evTmplImport      = auditType{1158, vwire.SevNormal, "Template ${VmTemplateName} was imported successfully to Cluster ${ClusterName}. (User: ${UserName})"}
	evMacReassigned   = auditType{833, vwire.SevWarning, "Network Interface ${IfaceName} has MAC address ${MACAddr} which is in use, a new MAC address ${NewMACAddr} was assigned to it."}
	evProfileAdd      = auditType{1122, vwire.SevNormal, "VM network interface profile ${VnicProfileName} was added to network ${NetworkName} in Data Center: ${DataCenterName}. (User: ${UserName})"}
	evProfileUpdate   = auditType{1124, vwire.SevNormal, "VM network interface profile ${VnicProfileName} was updated for network ${NetworkName} in Data Center: ${DataCenterName}. (User: ${UserName})"}
	evProfileRemove   = auditType{1126, vwire.SevNormal, "VM network interface profile ${VnicProfileName} was removed from network ${NetworkName} in Data Center: ${DataCenterName}. (User: ${UserName})"}
	evClusterAdd      = auditType{809, vwire.SevNormal, "Cluster ${ClusterName} was added by ${UserName}"}
	evClusterUpdate   = auditType{811, vwire.SevNormal, "Host cluster ${ClusterName} was updated by ${UserName}"}
	evClusterRemove   = auditType{813, vwire.SevNormal, "Cluster ${ClusterName} was removed by ${UserName}"}
	evDCAdd           = auditType{950, vwire.SevNormal, "Data Center ${StoragePoolName}, Compatibility Version ${CompatibilityVersion} and Quota Type DISABLED was added by ${UserName}"}
	evDCUpdate        = auditType{952, vwire.SevNormal, "Data Center ${StoragePoolName} was updated by ${UserName}"}
	evDCRemove        = auditType{954, vwire.SevNormal, "Data Center ${StoragePoolName} was removed by ${UserName}"}
	evMACPoolAdd      = auditType{10700, vwire.SevNormal, "MAC Pool '${MacPoolName}' (id=${MacPoolId}) was created by ${UserName}."}
	evMACPoolUpdate   = auditType{10702, vwire.SevNormal, "MAC Pool '${MacPoolName}' (id=${MacPoolId}) was updated by ${UserName}."}
	evMACPoolRemove   = auditType{10704, vwire.SevNormal, "MAC Pool '${MacPoolName}' (id=${MacPoolId}) was removed by ${UserName}."}
	evLoginLocked     = auditType{10950, vwire.SevWarning, "User ${UserName} connected from '${SourceIP}' is locked out for ${Delay} after ${Failures} failed logins."}
	// vwire's own (oVirt's codes for these could not be confirmed): a
	// refused authorization, and the changes of users, roles and permissions.
	evAuthzRefused     = auditType{10920, vwire.SevWarning, "User ${UserName} is not authorized to ${Action}: ${Permit} is needed on ${Object}."}
	evUserAdd          = auditType{10921, vwire.SevNormal, "User ${SubjectName} was added by ${UserName}."}
	evUserRemove       = auditType{10922, vwire.SevNormal, "User ${SubjectName} was removed by ${UserName}."}
	evUserPassword     = auditType{10923, vwire.SevNormal, "The password of user ${SubjectName} was changed by ${UserName}; their sessions were ended."}
	evPermissionAdd    = auditType{10924, vwire.SevNormal, "User ${SubjectName} was granted Role ${RoleName} on ${Object} by ${UserName}."}
	evPermissionRemove = auditType{10925, vwire.SevNormal, "User ${SubjectName} lost Role ${RoleName} on ${Object}, removed by ${UserName}."}
	evRoleAdd          = auditType{10926, vwire.SevNormal, "Role ${RoleName} was added by ${UserName}."}
	evRoleRemove       = auditType{10927, vwire.SevNormal, "Role ${RoleName} was removed by ${UserName}."}
	evRoleUpdate       = auditType{10928, vwire.SevNormal, "The permits of Role ${RoleName} were changed by ${UserName}."}
	// vwire's own: a vNIC's network filter parameters.
	evFilterParamAdd    = auditType{12110, vwire.SevNormal, "Network filter parameter ${ParameterName}=${ParameterValue} was added to Interface ${InterfaceName} of VM ${VmName}. (User: ${UserName})"}
	evFilterParamUpdate = auditType{12111, vwire.SevNormal, "Network filter parameter ${ParameterName} of Interface ${InterfaceName} of VM ${VmName} was set to ${ParameterValue}. (User: ${UserName})"}
	evFilterParamRemove = auditType{12112, vwire.SevNormal, "Network filter parameter ${ParameterName} was removed from Interface ${InterfaceName} of VM ${VmName}. (User: ${UserName})"}
	// vwire's own: a profile rewire (a bulk job), its start and its end;
	// each vNIC's change has its own event (934/935) from UpdateNIC.
	evRewireStart  = auditType{10960, vwire.SevNormal, "Rewiring ${NicCount} vNICs of ${VmCount} VMs from profile ${FromProfile} to profile ${ToProfile} was started by ${UserName} (job ${JobId})."}
	evRewireDone   = auditType{10961, vwire.SevNormal, "Rewiring from profile ${FromProfile} to profile ${ToProfile} finished: ${Done} VMs rewired (job ${JobId}, User: ${UserName})."}
	evRewireFailed = auditType{10962, vwire.SevWarning, "Rewiring from profile ${FromProfile} to profile ${ToProfile} ended ${Status}: ${Done} VMs rewired, ${Failed} failed (${FailedVms}), ${Skipped} not started (job ${JobId}, User: ${UserName})."}
	evLinkUp       = "Link State is UP."
	evLinkDown     = "Link State is DOWN."
	// oVirt's network QoS entries (USER_ADDED_NETWORK_QOS and its kin).
	evQoSAdd    = auditType{10100, vwire.SevNormal, "Network QoS ${QosName} was added. (User: ${UserName})"}
	evQoSRemove = auditType{10102, vwire.SevNormal, "Network QoS ${QosName} was removed. (User: ${UserName})"}
	evQoSUpdate = auditType{10104, vwire.SevNormal, "Network QoS ${QosName} was updated. (User: ${UserName})"}
)

// event builds an audit row. vars are name/value pairs for the template;
// ${UserName} comes from ctx.
type event struct {
	t    auditType
	vars []string
	ev   vwire.Event
}

func newEvent(ctx context.Context, t auditType, vars ...string) *event {
	return &event{t: t, vars: vars, ev: vwire.Event{UserName: userOf(ctx), CorrelationID: correlationOf(ctx)}}
}

func (e *event) vm(vm *vwire.VM) *event {
	e.ev.VMID, e.ev.ClusterID = vm.ID, vm.ClusterID
	if vm.HostID != "" {
		e.ev.HostID = vm.HostID
	}
	e.vars = append(e.vars, "VmName", vm.Name)
	return e
}

func (e *event) host(h *vwire.Host) *event {
	e.ev.HostID, e.ev.ClusterID = h.ID, h.ClusterID
	e.vars = append(e.vars, "VdsName", h.Name)
	return e
}

func (e *event) nic(n *vwire.NIC) *event {
	e.vars = append(e.vars, "InterfaceName", n.Name, "InterfaceType", n.Interface.Description())
	return e
}

// write renders and stores the event in tx.
func (e *event) write(tx vwire.EventTx) error {
	pairs := []string{"${UserName}", e.ev.UserName}
	for i := 0; i+1 < len(e.vars); i += 2 {
		pairs = append(pairs, "${"+e.vars[i]+"}", e.vars[i+1])
	}
	e.ev.Code, e.ev.Severity = e.t.code, e.t.severity
	e.ev.Description = strings.NewReplacer(pairs...).Replace(e.t.template)
	return tx.AddEvent(&e.ev)
}

// writeEvent stores an event in its own transaction; used for failures,
// where the change itself was not committed. A failure to log is logged.
func (e *Engine) writeEvent(ctx context.Context, ev *event) {
	ctx, cancel := e.background(ctx)
	defer cancel()
	if err := e.store.Update(ctx, func(tx vwire.Tx) error { return ev.write(tx) }); err != nil {
		e.log.ErrorContext(ctx, "cannot write audit event", "code", ev.t.code, "err", err)
	}
}
