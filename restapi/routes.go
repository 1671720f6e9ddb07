package restapi

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"vwire.dev/vwire"
)

func (s *Server) routes() {
	s.api("GET /{$}", s.root, false)
	s.api("HEAD /{$}", s.root, false)
	// /ovirt-engine/api without a slash must answer directly (SDKs do not follow redirects).
	s.mux.HandleFunc("GET "+apiRoot, func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = apiRoot + "/"
		s.mux.ServeHTTP(w, r)
	})

	s.api("GET /datacenters", s.listDataCenters, false)
	s.api("POST /datacenters", s.addDataCenter, false)
	s.api("GET /datacenters/{id}", getOne(s, s.eng.DataCenter, (*request).dcNode), false)
	s.api("PUT /datacenters/{id}", updateOne(s.applyDataCenter, s.eng.UpdateDataCenter, (*request).dcNode), false)
	s.api("DELETE /datacenters/{id}", removeOne(s.eng.RemoveDataCenter), false)
	s.api("GET /datacenters/{id}/clusters", s.listDataCenterClusters, false)
	s.api("GET /datacenters/{id}/networks", s.listDataCenterNetworks, false)
	s.api("GET /datacenters/{id}/qoss", s.listQoSs, false)
	s.api("POST /datacenters/{id}/qoss", s.addQoS, false)
	s.api("GET /datacenters/{id}/qoss/{qid}", s.getQoS, false)
	s.api("PUT /datacenters/{id}/qoss/{qid}", s.updateQoS, false)
	s.api("DELETE /datacenters/{id}/qoss/{qid}", s.removeQoS, false)

	s.api("GET /clusters", s.listClusters, false)
	s.api("POST /clusters", s.addCluster, false)
	s.api("GET /clusters/{id}", getOne(s, s.eng.Cluster, (*request).clusterNode), false)
	s.api("PUT /clusters/{id}", updateOne(s.applyCluster, s.eng.UpdateCluster, (*request).clusterNode), false)
	s.api("DELETE /clusters/{id}", removeOne(s.eng.RemoveCluster), false)
	s.api("GET /clusters/{id}/networks", s.listClusterNetworks, false)
	s.api("GET /clusters/{id}/networkfilters", s.listClusterNetworkFilters, false)
	s.api("GET /clusters/{id}/networkfilters/{fid}", s.getClusterNetworkFilter, false)
	s.api("POST /clusters/{id}/networks", s.attachClusterNetwork, false)
	s.api("GET /clusters/{id}/networks/{nid}", s.getClusterNetwork, false)
	s.api("DELETE /clusters/{id}/networks/{nid}", s.detachClusterNetwork, false)

	s.api("GET /networks", s.listNetworks, false)
	s.api("POST /networks", s.addNetwork, false)
	s.api("GET /networks/{id}", getOne(s, s.eng.Network, (*request).networkNode), false)
	s.api("PUT /networks/{id}", updateOne(withoutRequest(applyNetwork), s.eng.UpdateNetwork, (*request).networkNode), false)
	s.api("DELETE /networks/{id}", removeOne(s.eng.RemoveNetwork), false)
	s.api("GET /networks/{id}/vnicprofiles", s.listNetworkProfiles, false)
	s.api("POST /networks/{id}/vnicprofiles", s.addNetworkProfile, false)

	s.api("GET /networkfilters", s.listNetworkFilters, false)
	s.api("GET /networkfilters/{fid}", s.getNetworkFilter, false)

	s.api("GET /vnicprofiles", s.listProfiles, false)
	s.api("POST /vnicprofiles", s.addProfile, false)
	s.api("GET /vnicprofiles/{id}", s.getProfile, false)
	s.api("PUT /vnicprofiles/{id}", s.updateProfile, false)
	s.api("DELETE /vnicprofiles/{id}", removeOne(s.eng.RemoveProfile), false)
	s.api("POST /vnicprofiles/{id}/rewire", s.rewireProfile, true)

	s.api("GET /macpools", s.listMACPools, false)
	s.api("POST /macpools", s.addMACPool, false)
	s.api("GET /macpools/{id}", getOne(s, s.eng.MACPool, (*request).macPoolNode), false)
	s.api("PUT /macpools/{id}", updateOne(withoutRequest(applyMACPool), s.eng.UpdateMACPool, (*request).macPoolNode), false)
	s.api("DELETE /macpools/{id}", removeOne(s.eng.RemoveMACPool), false)

	s.api("GET /hosts", s.listHosts, false)
	s.api("POST /hosts", s.addHost, false)
	s.api("GET /hosts/{id}", s.getHost, false)
	s.api("PUT /hosts/{id}", s.updateHost, false)
	s.api("DELETE /hosts/{id}", removeOne(s.eng.RemoveHost), false)
	s.api("POST /hosts/{id}/refresh", s.refreshHost, true)
	s.api("POST /hosts/{id}/enrollcertificate", s.enrollCertificate, true)
	s.api("POST /hosts/{id}/enrolmenttoken", s.enrolmentToken, true)
	s.api("GET /hosts/{id}/nics", s.listHostNICs, false)
	s.api("GET /hosts/{id}/nics/{nid}", s.getHostNIC, false)
	s.api("GET /hosts/{id}/networkattachments", s.listNetworkAttachments, false)
	s.api("GET /hosts/{id}/networkattachments/{aid}", s.getNetworkAttachment, false)
	s.api("POST /hosts/{id}/setupnetworks", s.setupNetworks, true)
	s.api("POST /hosts/{id}/syncallnetworks", s.syncAllNetworks, true)

	s.api("GET /templates", s.listTemplates, false)
	s.api("POST /templates", s.addTemplate, false)
	s.api("GET /templates/{id}", s.getTemplate, false)
	s.api("PUT /templates/{id}", updateOne(withoutRequest(applyTemplate), s.eng.UpdateTemplate, (*request).templateNode), false)
	s.api("DELETE /templates/{id}", removeOne(s.eng.RemoveTemplate), false)
	s.api("GET /templates/{id}/nics", s.listTemplateNics, false)
	s.api("POST /templates/{id}/nics", s.addTemplateNic, false)
	s.api("GET /templates/{id}/nics/{nid}", s.getTemplateNic, false)
	s.api("PUT /templates/{id}/nics/{nid}", patchNic(s.templateNicExists, s.eng.UpdateTemplateNIC, (*request).templateNicNode), false)
	s.api("DELETE /templates/{id}/nics/{nid}", s.removeTemplateNic, false)

	s.api("GET /vms", s.listVMs, false)
	s.api("POST /vms", s.addVM, false)
	s.api("GET /vms/{id}", s.getVM, false)
	s.api("PUT /vms/{id}", s.updateVM, false)
	s.api("DELETE /vms/{id}", removeOne(s.eng.RemoveVM), false)
	s.api("POST /vms/{id}/start", s.startVM, true)
	s.api("POST /vms/{id}/stop", s.stopVM, true)
	s.api("POST /vms/{id}/shutdown", s.stopVM, true)

	s.api("GET /vms/{id}/nics", s.listNics, false)
	s.api("POST /vms/{id}/nics", s.addNic, false)
	s.api("GET /vms/{id}/nics/{nid}", s.getNic, false)
	s.api("PUT /vms/{id}/nics/{nid}", patchNic(s.nicExists, s.eng.UpdateNIC, (*request).nicNode), false)
	s.api("DELETE /vms/{id}/nics/{nid}", s.removeNic, false)
	s.api("POST /vms/{id}/nics/{nid}/activate", s.activateNic, true)
	s.api("POST /vms/{id}/nics/{nid}/deactivate", s.deactivateNic, true)
	s.api("GET /vms/{id}/nics/{nid}/networkfilterparameters", s.listFilterParameters, false)
	s.api("POST /vms/{id}/nics/{nid}/networkfilterparameters", s.addFilterParameter, false)
	s.api("GET /vms/{id}/nics/{nid}/networkfilterparameters/{pid}", s.getFilterParameter, false)
	s.api("PUT /vms/{id}/nics/{nid}/networkfilterparameters/{pid}", s.updateFilterParameter, false)
	s.api("DELETE /vms/{id}/nics/{nid}/networkfilterparameters/{pid}", s.removeFilterParameter, false)
	s.api("GET /vms/{id}/nics/{nid}/statistics", s.nicStatistics, false)
	s.api("GET /vms/{id}/nics/{nid}/statistics/{sid}", s.nicStatistic, false)
	nicDevices, nicDevice := s.emptyOfNIC("reported_devices", "ReportedDevice")
	s.api("GET /vms/{id}/nics/{nid}/reporteddevices", nicDevices, false)
	s.api("GET /vms/{id}/nics/{nid}/reporteddevices/{sid}", nicDevice, false)
	vmDevices, vmDevice := s.emptyOfVM("reported_devices", "ReportedDevice")
	s.api("GET /vms/{id}/reporteddevices", vmDevices, false)
	s.api("GET /vms/{id}/reporteddevices/{sid}", vmDevice, false)
	numaNodes, numaNode := s.emptyOfVM("vm_numa_nodes", "VirtualNumaNode")
	s.api("GET /vms/{id}/numanodes", numaNodes, false)
	s.api("GET /vms/{id}/numanodes/{sid}", numaNode, false)

	s.api("GET /jobs", s.listJobs, false)
	s.api("GET /jobs/{id}", s.getJob, false)
	s.api("GET /jobs/{id}/steps", s.listJobSteps, false)
	s.api("GET /jobs/{id}/steps/{sid}", s.getJobStep, false)
	s.api("POST /jobs/{id}/cancel", s.cancelJob, true)
	s.api("POST /jobs/{id}/retry", s.retryJob, true)

	s.api("GET /events", s.listEvents, false)
	s.api("GET /events/{id}", s.getEvent, false)

	s.api("GET /users", s.listUsers, false)
	s.api("POST /users", s.addUser, false)
	s.api("GET /users/{id}", s.getUser, false)
	s.api("PUT /users/{id}", s.updateUser, false)
	s.api("DELETE /users/{id}", removeOne(s.eng.RemoveUser), false)
	s.api("GET /users/{id}/permissions", s.listUserPermissions, false)
	s.api("POST /users/{id}/permissions", s.addUserPermission, false)
	s.api("GET /users/{id}/permissions/{pid}", s.getUserPermission, false)
	s.api("DELETE /users/{id}/permissions/{pid}", s.removeUserPermission, false)
	s.api("GET /domains", s.listDomains, false)
	s.api("GET /domains/{id}", s.getDomain, false)
	s.api("GET /domains/{id}/users", s.listDomainUsers, false)
	s.api("GET /domains/{id}/users/{uid}", s.getDomainUser, false)

	s.api("GET /roles", s.listRoles, false)
	s.api("POST /roles", s.addRole, false)
	s.api("GET /roles/{id}", s.getRole, false)
	s.api("PUT /roles/{id}", updateOne(withoutRequest(applyRole), s.eng.UpdateRole, (*request).roleNode), false)
	s.api("DELETE /roles/{id}", s.removeRole, false)
	s.api("GET /roles/{id}/permits", s.listPermits, false)
	s.api("POST /roles/{id}/permits", s.addPermit, false)
	s.api("GET /roles/{id}/permits/{pid}", s.getPermit, false)
	s.api("DELETE /roles/{id}/permits/{pid}", s.removePermit, false)

	// Permissions: on the system, and on each kind of object.
	s.permissionRoutes("/permissions", vwire.ObjSystem)
	for _, o := range permissionObjects {
		s.permissionRoutes("/"+o.collection+"/{id}/permissions", o.typ)
	}

	s.mux.HandleFunc("POST "+ssoRoot+"/oauth/token", s.ssoToken)
	s.mux.HandleFunc("GET "+ssoRoot+"/oauth/token", s.ssoToken)
	s.mux.HandleFunc("POST /ovirt-engine/services/sso-logout", s.ssoLogout)
	s.mux.HandleFunc("POST "+ssoRoot+"/oauth/revoke", s.ssoRevoke)
	s.mux.HandleFunc("GET "+pkiResource, s.pkiResource)
	s.mux.HandleFunc("POST "+hostEnroll, s.hostEnroll)
}

func (s *Server) permissionRoutes(base string, t vwire.ObjectType) {
	list, add, get, remove := s.objectPermissions(t)
	s.api("GET "+base, list, false)
	s.api("POST "+base, add, false)
	s.api("GET "+base+"/{pid}", get, false)
	s.api("DELETE "+base+"/{pid}", remove, false)
}

// Product version reported at the API root; clients read major/minor.
const (
	productMajor = 4
	productMinor = 5
)

func (s *Server) root(q *request) error {
	sum, err := s.eng.Summary(q.ctx())
	if err != nil {
		return err
	}
	n := el("api")
	for _, c := range []string{"clusters", "datacenters", "domains", "events", "hosts", "macpools", "networks", "permissions",
		"roles", "templates", "users", "vms", "vnicprofiles"} {
		n.add(link(c, q.href(c)))
		if !slices.Contains([]string{"domains", "macpools", "permissions", "roles", "vnicprofiles"}, c) {
			n.add(link(c+"/search", q.href(c)+"?search={query}"))
		}
	}
	n.add(el("product_info",
		str("instance_id", sum.InstanceID), str("name", "vwire"), str("vendor", "vwire"),
		el("version", integer("build", 0), str("full_version", strconv.Itoa(productMajor)+"."+strconv.Itoa(productMinor)+".0-vwire"),
			integer("major", productMajor), integer("minor", productMinor), integer("revision", 0))),
		el("special_objects",
			ref("blank_template", q.href("templates", vwire.BlankTemplateID), vwire.BlankTemplateID),
			ref("root_tag", q.href("tags", vwire.BlankTemplateID), vwire.BlankTemplateID)),
		el("summary",
			el("hosts", integer("active", int64(sum.ActiveHosts)), integer("total", int64(sum.Hosts))),
			el("vms", integer("active", int64(sum.ActiveVMs)), integer("total", int64(sum.VMs)))),
		date("time", time.Now()))
	q.write(http.StatusOK, n)
	return nil
}

// done answers a successful remove or action: <action><status>complete</status></action>.
func (q *request) done(kids ...*node) {
	q.write(http.StatusOK, el("action", str("status", "complete")).add(kids...))
}

// created answers an add: 201, Location (an absolute URL, as JAX-RS makes
// it) and the entity.
func (q *request) created(n *node) {
	scheme := "http"
	if q.r.TLS != nil {
		scheme = "https"
	}
	q.w.Header().Set("Location", scheme+"://"+q.r.Host+n.href)
	q.write(http.StatusCreated, n)
}
