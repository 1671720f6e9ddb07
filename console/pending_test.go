package console_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// TestPendingOutcome: a change whose host does not answer in time is shown
// as "Outcome pending" with the engine's reason, not as applied or refused,
// and the page shows the settled state once the host answers.
func TestPendingOutcome(t *testing.T) {
	m := startEngine(t) // host timeout 5 s
	bg := context.Background()
	cls, err := m.Engine.Clusters(bg, vwire.ClusterFilter{})
	if err != nil || len(cls) == 0 {
		t.Fatalf("clusters: %v %v", cls, err)
	}
	profiles, err := m.Engine.Profiles(bg, vwire.ProfileFilter{})
	if err != nil || len(profiles) == 0 {
		t.Fatalf("profiles: %v %v", profiles, err)
	}
	vm, err := m.Engine.AddVM(bg, engine.VMSpec{Name: "slow1", ClusterID: cls[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	nic, err := m.Engine.AddNIC(bg, vm.ID, engine.NICSpec{Name: "nic1", ProfileID: profiles[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Engine.StartVM(bg, vm.ID); err != nil {
		t.Fatal(err)
	}
	u := newHTTPUser(t, m)
	u.signIn("admin", "secret")
	// The host takes longer than the engine waits for it.
	m.Sim.SetLatency(12 * time.Second) // longer than the call and the settling attempt wait (5 s each)
	resp, body := u.post("/vms/"+vm.ID+"/nics/"+nic.ID+"/link?to=false", nil, map[string]string{"X-CSRF-Token": u.csrf(), "HX-Request": "true"})
	m.Sim.SetLatency(0)
	pending, _ := vwire.MessageOf(vwire.MsgHostOutcomeUnknown)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Outcome pending.") || !strings.Contains(body, "result pending") ||
		!strings.Contains(body, strings.SplitN(pending.Text, "${", 2)[0]) {
		t.Fatalf("a change the host did not answer: %s (%d bytes)\n%s", resp.Status, len(body), body[max(0, len(body)-1200):])
	}
	if strings.Contains(body, "Applied.") || strings.Contains(body, "Refused.") {
		t.Errorf("a pending change also says applied or refused:\n%.2000s", body)
	}
	// Settled from the host (it did apply it, late): the VM's body says so.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, page := u.get("/vms/"+vm.ID+"?partial=body", nil)
		n, err := m.Engine.NIC(bg, vm.ID, nic.ID)
		if err == nil && n.Synced && strings.Contains(page, ">Down<") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled within 15 s: %+v %v\n%.1500s", n, err, page)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
