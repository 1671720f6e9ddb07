package engine_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
	"vwire.dev/vwire/ovf"
)

// Every input a client can give gets a 4xx and changes nothing: the cases
// of issue 11 that the engine (not only the REST layer) must refuse.

func codeKey(err error) string {
	if err == nil {
		return ""
	}
	if k := key(err); k != "" {
		return string(k)
	}
	return string(vwire.ErrorCode(err))
}

func TestMACPoolInput(t *testing.T) { forEachStore(t, testMACPoolInput) }

func testMACPoolInput(t *testing.T) {
	e := newEnv(t)
	r := func(from, to string) vwire.MACRange {
		a, _ := vwire.ParseMAC(from)
		b, _ := vwire.ParseMAC(to)
		return vwire.MACRange{From: a, To: b}
	}
	good := []vwire.MACRange{r("02:00:00:00:00:00", "02:00:00:00:00:0f")}
	pool := &vwire.MACPool{Name: "p1", Ranges: good}
	if err := e.eng.AddMACPool(ctx(), pool); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		ranges []vwire.MACRange
		want   string
	}{
		{"zero MAC", []vwire.MACRange{r("00:00:00:00:00:00", "00:00:00:00:00:0f")}, string(vwire.MsgMACPoolInvalidRange)},
		{"broadcast", []vwire.MACRange{r("ff:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff")}, string(vwire.MsgMACPoolInvalidRange)},
		{"from after to", []vwire.MACRange{r("02:00:00:00:00:0f", "02:00:00:00:00:00")}, string(vwire.MsgMACPoolInvalidRange)},
		{"overlapping ranges", []vwire.MACRange{r("02:00:00:00:00:00", "02:00:00:00:00:0f"), r("02:00:00:00:00:08", "02:00:00:00:00:1f")}, string(vwire.MsgMACPoolRangesOverlap)},
	}
	for _, tc := range cases {
		t.Run("add "+tc.name, func(t *testing.T) {
			err := e.eng.AddMACPool(ctx(), &vwire.MACPool{Name: "bad", Ranges: tc.ranges})
			if got := codeKey(err); got != tc.want {
				t.Fatalf("AddMacPool = %v, want %s", err, tc.want)
			}
			e.store.View(ctx(), func(tx vwire.Tx) error {
				ps, _ := tx.MACPools()
				for _, p := range ps {
					if p.Name == "bad" {
						t.Errorf("a refused pool was stored: %+v", p)
					}
				}
				return nil
			})
		})
		t.Run("update "+tc.name, func(t *testing.T) {
			_, err := e.eng.UpdateMACPool(ctx(), pool.ID, func(p *vwire.MACPool) error { p.Ranges = tc.ranges; return nil })
			if got := codeKey(err); got != tc.want {
				t.Fatalf("UpdateMacPool = %v, want %s", err, tc.want)
			}
			var stored *vwire.MACPool
			e.store.View(ctx(), func(tx vwire.Tx) (err error) { stored, err = tx.MACPool(pool.ID); return })
			if diff := cmp.Diff(good, stored.Ranges); diff != "" {
				t.Errorf("a refused update changed the ranges (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUpdateChecksWhatAddChecks: each entity's update refuses what its add
// refuses, and a refusal leaves the entity as it was.
func TestUpdateChecksWhatAddChecks(t *testing.T) { forEachStore(t, testUpdateChecksWhatAddChecks) }

func testUpdateChecksWhatAddChecks(t *testing.T) {
	e := newEnvWith(t, false) // host1 is a plain host: its address can be edited
	other, err := e.eng.AddHost(ctx(), engine.HostSpec{Name: "other", Address: "192.0.2.7", Port: 1, ClusterID: e.cluster.ID})
	if err != nil {
		t.Fatal(err)
	}
	vm := e.vm("vm1")
	tp, err := e.eng.AddTemplate(ctx(), engine.TemplateSpec{Name: "t1", VMID: vm.ID})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < vwire.MaxVMNICs; i++ {
		if _, err := e.eng.AddTemplateNIC(ctx(), tp.ID, engine.NICSpec{Name: fmt.Sprintf("nic%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	hostState := func() any {
		h, _ := e.eng.Host(ctx(), e.host.ID)
		return [3]any{h.Name, h.Address, h.Port}
	}
	vmState := func() any {
		var v *vwire.VM
		e.store.View(ctx(), func(tx vwire.Tx) (err error) { v, err = tx.VM(vm.ID); return })
		return [2]any{v.Name, v.Memory}
	}
	dcState := func() any { dc, _ := dcOf(e); return dc.MACPoolID }
	tnics := func() any { n, _ := e.eng.TemplateNICs(ctx(), tp.ID); return len(n) }
	port := func(p int) *int { return &p }
	cases := []struct {
		name  string
		do    func() error
		state func() any
		want  string
	}{
		{"add host, negative port", func() error {
			_, err := e.eng.AddHost(ctx(), engine.HostSpec{Name: "h2", Address: "192.0.2.9", Port: -5, ClusterID: e.cluster.ID})
			return err
		}, func() any { return nil }, string(vwire.MsgInvalidValue)},
		{"add host, address with spaces", func() error {
			_, err := e.eng.AddHost(ctx(), engine.HostSpec{Name: "h2", Address: "192.0.2.9 x", ClusterID: e.cluster.ID})
			return err
		}, func() any { return nil }, string(vwire.MsgInvalidValue)},
		{"update host, negative port", func() error {
			_, err := e.eng.UpdateHost(ctx(), e.host.ID, engine.HostPatch{Port: port(-5)})
			return err
		}, hostState, string(vwire.MsgInvalidValue)},
		{"update host, port too large", func() error {
			_, err := e.eng.UpdateHost(ctx(), e.host.ID, engine.HostPatch{Port: port(70000)})
			return err
		}, hostState, string(vwire.MsgInvalidValue)},
		{"update host, address with spaces", func() error {
			_, err := e.eng.UpdateHost(ctx(), e.host.ID, engine.HostPatch{Address: ptr("my host")})
			return err
		}, hostState, string(vwire.MsgInvalidValue)},
		{"update host, empty address", func() error {
			_, err := e.eng.UpdateHost(ctx(), e.host.ID, engine.HostPatch{Address: ptr("")})
			return err
		}, hostState, string(vwire.MsgInvalidValue)},
		{"update host, another host's address", func() error {
			_, err := e.eng.UpdateHost(ctx(), e.host.ID, engine.HostPatch{Address: ptr(other.Address), Port: port(other.Port)})
			return err
		}, hostState, string(vwire.MsgHostAddressInUse)},
		{"add VM, memory beyond the maximum", func() error {
			_, err := e.eng.AddVM(ctx(), engine.VMSpec{Name: "big", ClusterID: e.cluster.ID, Memory: vwire.MaxMemory + 1})
			return err
		}, func() any { return nil }, string(vwire.MsgVMMemoryOutOfRange)},
		{"add VM, negative memory", func() error {
			_, err := e.eng.AddVM(ctx(), engine.VMSpec{Name: "neg", ClusterID: e.cluster.ID, Memory: -1})
			return err
		}, func() any { return nil }, string(vwire.MsgVMMemoryOutOfRange)},
		{"update VM, memory beyond the maximum", func() error {
			_, err := e.eng.UpdateVM(ctx(), vm.ID, engine.VMPatch{Memory: ptr(vwire.MaxMemory + 1)})
			return err
		}, vmState, string(vwire.MsgVMMemoryOutOfRange)},
		{"update VM, zero memory", func() error {
			_, err := e.eng.UpdateVM(ctx(), vm.ID, engine.VMPatch{Memory: ptr(int64(0))})
			return err
		}, vmState, string(vwire.MsgVMMemoryOutOfRange)},
		{"update data center, unknown MAC pool", func() error {
			_, err := e.eng.UpdateDataCenter(ctx(), e.dc.ID, func(dc *vwire.DataCenter) error { dc.MACPoolID = "nope"; return nil })
			return err
		}, dcState, string(vwire.MsgMACPoolNotExist)},
		{"template vNIC beyond what a VM may have", func() error {
			_, err := e.eng.AddTemplateNIC(ctx(), tp.ID, engine.NICSpec{Name: "one-too-many"})
			return err
		}, tnics, string(vwire.MsgExceededMaxPCISlots)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.state()
			err := tc.do()
			if got := codeKey(err); got != tc.want {
				t.Fatalf("got %v (%s), want %s", err, got, tc.want)
			}
			if diff := cmp.Diff(before, tc.state()); diff != "" {
				t.Errorf("a refused change changed state (-before +after):\n%s", diff)
			}
		})
	}
	hosts, _ := allHosts(e)
	if len(hosts) != 2 {
		t.Errorf("refused hosts were stored: %d hosts", len(hosts))
	}
}

func dcOf(e *env) (*vwire.DataCenter, error) {
	var dc *vwire.DataCenter
	err := e.store.View(ctx(), func(tx vwire.Tx) (err error) { dc, err = tx.DataCenter(e.dc.ID); return })
	return dc, err
}

func allHosts(e *env) ([]*vwire.Host, error) {
	var hs []*vwire.Host
	err := e.store.View(ctx(), func(tx vwire.Tx) (err error) { hs, err = tx.Hosts(vwire.HostFilter{}); return })
	return hs, err
}

// TestImportLimits: an OVF may not give a VM or template more vNICs than a
// VM may have, nor more memory than a VM may have (its MiB would wrap when
// turned into bytes).
func TestImportLimits(t *testing.T) { forEachStore(t, testImportLimits) }

func testImportLimits(t *testing.T) {
	e := newEnv(t)
	doc := func(name string, nics int, mib int64, template bool) []byte {
		v := &ovf.VM{Name: name, MemoryMiB: mib, OSType: "other", Template: template}
		for i := 0; i < nics; i++ {
			v.NICs = append(v.NICs, ovf.NIC{Name: fmt.Sprintf("nic%d", i), Interface: "virtio", Linked: true, Plugged: true})
		}
		data, err := ovf.Write(v)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	o := engine.ImportOptions{ClusterID: e.cluster.ID, ReassignBadMACs: true}
	importVM := func(data []byte) error { _, err := e.eng.ImportVM(ctx(), data, o); return err }
	importTemplate := func(data []byte) error { _, err := e.eng.ImportTemplate(ctx(), data, o); return err }
	cases := []struct {
		name string
		do   func([]byte) error
		data []byte
		want string
	}{
		{"VM with 40 vNICs", importVM, doc("vm40", 40, 1024, false), string(vwire.MsgOVFInvalid)},
		{"VM with one vNIC too many", importVM, doc("vm25", vwire.MaxVMNICs+1, 1024, false), string(vwire.MsgOVFInvalid)},
		{"VM with 2^50 MiB", importVM, doc("vmhuge", 1, 1<<50, false), string(vwire.MsgVMMemoryOutOfRange)},
		{"VM with memory just beyond the maximum", importVM, doc("vmbig", 1, vwire.MaxMemory>>20+1, false), string(vwire.MsgVMMemoryOutOfRange)},
		{"template with 40 vNICs", importTemplate, doc("t40", 40, 1024, true), string(vwire.MsgOVFInvalid)},
		{"template with 2^50 MiB", importTemplate, doc("thuge", 0, 1<<50, true), string(vwire.MsgVMMemoryOutOfRange)},
		{"VM with as many vNICs as a VM may have", importVM, doc("vmmax", vwire.MaxVMNICs, vwire.MaxMemory>>20, false), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before int
			e.store.View(ctx(), func(tx vwire.Tx) error {
				vs, _ := tx.VMs(vwire.VMFilter{})
				ts, _ := tx.Templates(vwire.TemplateFilter{})
				before = len(vs) + len(ts)
				return nil
			})
			err := tc.do(tc.data)
			if got := codeKey(err); got != tc.want {
				t.Fatalf("import = %v (%s), want %s", err, got, tc.want)
			}
			var after int
			e.store.View(ctx(), func(tx vwire.Tx) error {
				vs, _ := tx.VMs(vwire.VMFilter{})
				ts, _ := tx.Templates(vwire.TemplateFilter{})
				after = len(vs) + len(ts)
				return nil
			})
			if tc.want != "" && after != before {
				t.Errorf("a refused import was stored: %d entities, was %d", after, before)
			}
		})
	}
}
