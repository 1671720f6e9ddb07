package restapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/hypervisor/hostnet"
)

// The host network routes, for a user without rights: the host is not
// theirs to see, nor to set up (CONFIGURE_HOST_NETWORK on the host).
func init() {
	for _, r := range []string{"GET /hosts/{id}/nics", "GET /hosts/{id}/nics/{nid}", "GET /hosts/{id}/networkattachments",
		"GET /hosts/{id}/networkattachments/{aid}", "POST /hosts/{id}/setupnetworks", "POST /hosts/{id}/syncallnetworks"} {
		noRights[r] = refused
	}
}

// TestHostNetworks walks oVirt's host network API on the embedded host:
// its NICs, an overlay network (vwire's vxlan_segment) attached through
// setupnetworks, its attachment out of sync once the host differs, with
// the difference, syncallnetworks, the segment's edit reaching the host,
// and the refusals as faults.
func TestHostNetworks(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, false)
	host := parseXList(t, a.expect(200, "GET", "/hosts", ""))[0].ID
	dc := a.idByName("datacenters", "Default")
	cluster := a.idByName("clusters", "Default")

	body := compact(a.expect(200, "GET", "/hosts/"+host+"/nics", ""))
	nics := parseXList(t, body)
	if len(nics) != 2 || nics[0].Name != "eth0" || !strings.Contains(body, "<address>198.18.0.1</address><netmask>255.255.255.0</netmask>") ||
		!strings.Contains(body, "<speed>10000000000</speed>") || !strings.Contains(body, "<status>up</status>") {
		t.Fatalf("host NICs:\n%s", body)
	}
	if got := parseX(t, a.expect(200, "GET", "/hosts/"+host+"/nics/"+nics[1].ID, "")); got.Name != "eth1" {
		t.Errorf("host NIC by id: %+v", got)
	}
	a.expect(404, "GET", "/hosts/"+host+"/nics/nope", "")

	net := parseX(t, a.expect(201, "POST", "/networks", `<network><name>ov</name><data_center id="`+dc+`"/><vxlan_segment>5000</vxlan_segment></network>`))
	if b := compact(a.expect(200, "GET", "/networks/"+net.ID, "")); !strings.Contains(b, "<vxlan_segment>5000</vxlan_segment>") {
		t.Errorf("network without its segment:\n%s", b)
	}
	a.expect(400, "POST", "/networks", `<network><name>bad</name><data_center id="`+dc+`"/><vxlan_segment>16777216</vxlan_segment></network>`)
	a.expect(201, "POST", "/clusters/"+cluster+"/networks", `<network id="`+net.ID+`"><required>false</required></network>`)

	a.expect(200, "POST", "/hosts/"+host+"/setupnetworks", `<action><modified_network_attachments><network_attachment>
		<network><name>ov</name></network><host_nic><name>eth0</name></host_nic></network_attachment></modified_network_attachments>
		<check_connectivity>true</check_connectivity><connectivity_timeout>10</connectivity_timeout></action>`)
	vni := func() int {
		nets, _ := m.HostNet.Networks(context.Background())
		for _, n := range nets {
			if n.Name == "ov" && n.VXLAN != nil {
				return n.VXLAN.VNI
			}
		}
		return 0
	}
	if v := vni(); v != 5000 {
		t.Fatalf("the host's overlay VNI = %d, want 5000", v)
	}
	body = compact(a.expect(200, "GET", "/hosts/"+host+"/networkattachments", ""))
	atts := parseXList(t, body)
	if len(atts) != 1 || !strings.Contains(body, "<in_sync>true</in_sync>") || !strings.Contains(body, `<network href="/ovirt-engine/api/networks/`+net.ID+`" id="`+net.ID+`"`) ||
		!strings.Contains(body, `<host_nic href="/ovirt-engine/api/hosts/`+host+`/nics/`+nics[0].ID+`" id="`+nics[0].ID+`"`) {
		t.Fatalf("attachments:\n%s", body)
	}

	// The host's segment differs: out of sync, and the difference said.
	if err := m.HostNet.Apply(context.Background(), []hostnet.Network{{Name: "ov", NIC: "eth0", VXLAN: &hostnet.VXLAN{VNI: 5001}}}, nil); err != nil {
		t.Fatal(err)
	}
	a.expect(200, "POST", "/hosts/"+host+"/refresh", "<action/>")
	body = compact(a.expect(200, "GET", "/hosts/"+host+"/networkattachments/"+atts[0].ID, ""))
	if !strings.Contains(body, "<reported_configuration><name>vxlan_segment</name><expected_value>5000</expected_value><actual_value>5001</actual_value><in_sync>false</in_sync>") {
		t.Errorf("out-of-sync attachment:\n%s", body)
	}
	a.expect(200, "POST", "/hosts/"+host+"/syncallnetworks", "<action/>")
	if b := compact(a.expect(200, "GET", "/hosts/"+host+"/networkattachments/"+atts[0].ID, "")); !strings.Contains(b, "<in_sync>true</in_sync>") || vni() != 5000 {
		t.Errorf("after syncallnetworks (VNI %d):\n%s", vni(), b)
	}

	// The segment's edit reaches the host.
	a.expect(200, "PUT", "/networks/"+net.ID, `<network><vxlan_segment>6000</vxlan_segment></network>`)
	if v := vni(); v != 6000 {
		t.Errorf("after the segment's edit the host's VNI = %d", v)
	}

	// Refusals are faults, and the host is left alone.
	for _, c := range []struct{ body, want string }{
		{`<action><modified_bonds><host_nic><name>bond0</name></host_nic></modified_bonds></action>`, "Bonds"},
		{`<action><modified_network_attachments><network_attachment><network id="` + net.ID + `"/><host_nic><name>eth9</name></host_nic></network_attachment></modified_network_attachments></action>`, "eth9 does not exist"},
		{`<action><modified_network_attachments><network_attachment><network id="` + net.ID + `"/><host_nic><name>eth1</name></host_nic></network_attachment><network_attachment><network id="` + net.ID + `"/><host_nic><name>eth0</name></host_nic></network_attachment></modified_network_attachments></action>`, "more than one network attachment"},
		{`<action><modified_network_attachments><network_attachment><network><name>nonet</name></network><host_nic><name>eth0</name></host_nic></network_attachment></modified_network_attachments></action>`, "Entity not found"},
		{`<action><removed_network_attachments><network_attachment id="nope"/></removed_network_attachments></action>`, "does not exist"},
		{`<action><check_connectivity>maybe</check_connectivity></action>`, "valid boolean"},
	} {
		r := a.do("POST", "/hosts/"+host+"/setupnetworks", c.body)
		if r.status/100 != 4 || !strings.Contains(r.body, c.want) {
			t.Errorf("%s: %d\n%s", c.body, r.status, r.body)
		}
	}
	a.expect(200, "POST", "/hosts/"+host+"/setupnetworks", `<action><removed_network_attachments><network_attachment id="`+atts[0].ID+`"/></removed_network_attachments></action>`)
	if l := parseXList(t, a.expect(200, "GET", "/hosts/"+host+"/networkattachments", "")); len(l) != 0 {
		t.Errorf("attachments after removal: %+v", l)
	}
}

// compact drops the indentation between elements, so that a test can look
// for a run of elements.
func compact(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		b.WriteString(strings.TrimSpace(l))
	}
	return b.String()
}

// TestHostNetworksJSON: setupnetworks in JSON, as oVirt's JSON clients
// write it (lists as arrays), and the attachment read back in JSON.
func TestHostNetworksJSON(t *testing.T) {
	m := startEngine(t)
	a := newAPI(t, m, true)
	var hosts struct {
		Host []struct {
			ID string `json:"id"`
		} `json:"host"`
	}
	json.Unmarshal([]byte(a.expect(200, "GET", "/hosts", "")), &hosts)
	host := hosts.Host[0].ID
	var n map[string]any
	json.Unmarshal([]byte(a.expect(201, "POST", "/networks", `{"name":"ovj","data_center":{"name":"Default"},"vxlan_segment":"77"}`)), &n)
	if n["vxlan_segment"] != "77" {
		t.Errorf("network JSON: %v", n)
	}
	a.expect(201, "POST", "/clusters/"+parseJSONID(t, a, "/clusters")+"/networks", `{"id":"`+n["id"].(string)+`","required":false}`)
	a.expect(200, "POST", "/hosts/"+host+"/setupnetworks", `{"modified_network_attachments":{"network_attachment":[
		{"network":{"name":"ovj"},"host_nic":{"name":"eth1"}}]},"check_connectivity":true,"connectivity_timeout":"10"}`)
	var atts struct {
		Att []struct {
			InSync  string `json:"in_sync"`
			HostNIC struct {
				Name string `json:"name"`
			} `json:"host_nic"`
		} `json:"network_attachment"`
	}
	json.Unmarshal([]byte(a.expect(200, "GET", "/hosts/"+host+"/networkattachments", "")), &atts)
	if len(atts.Att) != 1 || atts.Att[0].InSync != "true" || atts.Att[0].HostNIC.Name != "eth1" {
		t.Errorf("attachments JSON: %+v", atts)
	}
}

// parseJSONID is the id of the first item of a collection, in JSON.
func parseJSONID(t *testing.T, a *api, path string) string {
	t.Helper()
	var l map[string][]map[string]any
	json.Unmarshal([]byte(a.expect(200, "GET", path, "")), &l)
	for _, items := range l {
		if len(items) > 0 {
			return items[0]["id"].(string)
		}
	}
	t.Fatalf("%s: empty", path)
	return ""
}

// TestHostNetworksSDK drives the host network API with oVirt's Go SDK
// services: the host's NICs, setupnetworks, the attachments and
// syncallnetworks, as an oVirt client would.
func TestHostNetworksSDK(t *testing.T) {
	m := startEngine(t)
	conn, err := ovirtsdk4.NewConnectionBuilder().URL(m.URL()).Username("admin@internal").Password("secret").
		Insecure(true).Timeout(30 * time.Second).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sys := conn.SystemService()
	hosts, err := sys.HostsService().List().Send()
	if err != nil {
		t.Fatal(err)
	}
	hs := sys.HostsService().HostService(hosts.MustHosts().Slice()[0].MustId())
	nics, err := hs.NicsService().List().Send()
	if err != nil {
		t.Fatal(err)
	}
	eth0 := nics.MustNics().Slice()[0]
	if eth0.MustName() != "eth0" || eth0.MustMtu() != 1500 || eth0.MustStatus() != ovirtsdk4.NICSTATUS_UP || eth0.MustIp().MustAddress() != "198.18.0.1" {
		t.Errorf("eth0 through the SDK: %+v", eth0)
	}
	cl, err := sys.ClustersService().List().Search("name=Default").Send()
	if err != nil {
		t.Fatal(err)
	}
	nw, err := sys.NetworksService().Add().Network(ovirtsdk4.NewNetworkBuilder().Name("sdkn").
		DataCenter(ovirtsdk4.NewDataCenterBuilder().Name("Default").MustBuild()).MustBuild()).Send()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sys.ClustersService().ClusterService(cl.MustClusters().Slice()[0].MustId()).NetworksService().Add().
		Network(ovirtsdk4.NewNetworkBuilder().Id(nw.MustNetwork().MustId()).Required(false).MustBuild()).Send(); err != nil {
		t.Fatal(err)
	}
	if _, err := hs.SetupNetworks().ModifiedNetworkAttachmentsOfAny(ovirtsdk4.NewNetworkAttachmentBuilder().
		Network(ovirtsdk4.NewNetworkBuilder().Name("sdkn").MustBuild()).
		HostNic(ovirtsdk4.NewHostNicBuilder().Id(nics.MustNics().Slice()[1].MustId()).MustBuild()).MustBuild()).
		CheckConnectivity(true).ConnectivityTimeout(10).Send(); err != nil {
		t.Fatal(err)
	}
	atts, err := hs.NetworkAttachmentsService().List().Send()
	if err != nil {
		t.Fatal(err)
	}
	l := atts.MustAttachments().Slice()
	if len(l) != 1 || !l[0].MustInSync() || l[0].MustHostNic().MustId() != nics.MustNics().Slice()[1].MustId() ||
		l[0].MustNetwork().MustId() != nw.MustNetwork().MustId() {
		t.Fatalf("attachments through the SDK: %+v", l)
	}
	if _, err := hs.SyncAllNetworks().Send(); err != nil {
		t.Fatal(err)
	}
	if _, err := hs.SetupNetworks().ModifiedBondsOfAny(ovirtsdk4.NewHostNicBuilder().Name("bond0").MustBuild()).Send(); err == nil ||
		!strings.Contains(err.Error(), "Bonds") {
		t.Errorf("a bond through the SDK: %v", err)
	}
}
