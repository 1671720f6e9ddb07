package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/input"
	"github.com/go-rod/rod/lib/proto"

	"vwire.dev/vwire"
	"vwire.dev/vwire/client"
	"vwire.dev/vwire/engine"
)

// TestConsoleInBrowser is the walk through the console in a real
// browser: log in, create a VM with two vNICs, start it, pull a cable, move
// a vNIC live, try a MAC change on a plugged vNIC and see the refusal (and
// the way out: unplugged, the MAC may change), see the events arrive, and
// see a change made through the REST API appear without a reload; with
// screenshots of every main view (light, dark, phone width) checked to be
// non-blank, and axe-core on every main view.
func TestConsoleInBrowser(t *testing.T) {
	p := browser(t, 1280, 800)
	m := startEngine(t)
	base := consoleURL(m)
	bg := context.Background()

	// A second network for the live move: the embedded host gets every
	// network of its cluster by itself.
	cls, err := m.Engine.Clusters(bg, vwire.ClusterFilter{})
	if err != nil || len(cls) == 0 {
		t.Fatalf("clusters: %v %v", cls, err)
	}
	blue := &vwire.Network{Name: "blue", DataCenterID: cls[0].DataCenterID, VMNetwork: true}
	if err := m.Engine.AddNetwork(bg, blue); err != nil {
		t.Fatal(err)
	}
	if err := m.Engine.AttachNetwork(bg, cls[0].ID, blue.ID, false); err != nil {
		t.Fatal(err)
	}

	// Logged out, the console sends the browser to its login page.
	step(t, p, "open the console", func(p *rod.Page) { p.MustNavigate(base + "/").MustElement("#username") })
	shot(t, p, "login")
	axe(t, p, "login")
	login(t, p, base, "admin", "secret")
	c := cookie(t, p)
	if !c.HTTPOnly || !c.Secure || c.SameSite != proto.NetworkCookieSameSiteStrict || c.Path != "/" {
		t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Strict, path /", c)
	}

	// A VM through the New VM dialog.
	step(t, p, "new VM", func(p *rod.Page) {
		p.MustElement(`button[hx-get="/vms/new"]`).MustClick()
		p.MustElement("#vm-name").MustInput("web1")
		p.MustElement("#dlg button[type=submit]").MustClick()
		p.MustElement("#nics-title")
	})
	if h := textOf(t, p, "h1"); !strings.HasPrefix(h, "web1") {
		t.Fatalf("after New VM the page is %q", h)
	}
	vmURL := p.MustInfo().URL
	vmID := vmURL[strings.LastIndex(vmURL, "/")+1:]

	// Two vNICs through the New Network Interface dialog, on ovirtmgmt.
	for _, name := range []string{"nic1", "nic2"} {
		step(t, p, "add "+name, func(p *rod.Page) {
			p.MustElement(`button[hx-get$="/nics/new"]`).MustClick()
			p.MustElement("#nic-name").MustSelectAllText().MustInput(name)
			p.MustElement("#nic-profile").MustSelect("ovirtmgmt (ovirtmgmt)")
			p.MustElement("#dlg button[type=submit]").MustClick()
			p.MustElement(`tr[data-nic="` + name + `"]`)
		})
		if r := textOf(t, p, "#result"); !strings.Contains(r, "Applied") {
			t.Errorf("adding %s: result %q", name, r)
		}
	}
	// Start it.
	step(t, p, "run the VM", func(p *rod.Page) {
		p.MustElement(`button[hx-post$="/start"]`).MustClick()
		p.MustElement(`button[hx-post$="/stop"]`)
	})
	row := func(nic, cell string) string {
		return `document.querySelector('tr[data-nic="` + nic + `"] ` + cell + `').textContent`
	}
	waitFor(t, p, "the host reports nic1", row("nic1", ".observed")+`.includes("ovirtmgmt, link up")`, 5*time.Second)
	shot(t, p, "vm-nics")
	axe(t, p, "vm-nics")

	// Pull nic1's cable from its row.
	step(t, p, "link down nic1", func(p *rod.Page) { p.MustElement(`tr[data-nic="nic1"] button[id^="link-"]`).MustClick() })
	waitFor(t, p, "nic1 link down", row("nic1", "td:nth-child(3)")+`.trim() === "Down"`, 5*time.Second)
	if r := textOf(t, p, "#result"); !strings.Contains(r, "Applied") || !strings.Contains(r, "nic1: link is down") {
		t.Errorf("link down: result %q", r)
	}
	waitFor(t, p, "the host reports nic1's link down", row("nic1", ".observed")+`.includes("link down")`, 5*time.Second)

	// Move nic1 to blue, live, through the Edit dialog.
	step(t, p, "edit nic1", func(p *rod.Page) {
		p.MustElement(`tr[data-nic="nic1"] button[id^="edit-"]`).MustClick()
		p.MustElement("#nic-profile")
	})
	shot(t, p, "nic-dialog")
	axe(t, p, "nic-dialog")
	step(t, p, "pick blue and OK", func(p *rod.Page) {
		p.MustElement("#nic-profile").MustSelect("blue (blue)")
		p.MustElement("#dlg button[type=submit]").MustClick()
	})
	waitFor(t, p, "nic1 on blue", row("nic1", "td:nth-child(2)")+`.includes("blue")`, 5*time.Second)
	waitFor(t, p, "the dialog closes", `!document.querySelector("#dlg").open`, 2*time.Second)
	if r := textOf(t, p, "#result"); !strings.Contains(r, "Applied") {
		t.Errorf("move: result %q", r)
	}
	waitFor(t, p, "the host reports nic1 on blue", row("nic1", ".observed")+`.includes("blue")`, 5*time.Second)

	// A MAC change on plugged nic2: the field is read-only, with the
	// engine's reason and the fix.
	step(t, p, "edit nic2", func(p *rod.Page) {
		p.MustElement(`tr[data-nic="nic2"] button[id^="edit-"]`).MustClick()
		p.MustElement("#nic-mac")
	})
	readonly := p.MustEval(`() => document.querySelector("#nic-mac").readOnly`).Bool()
	why := textOf(t, p, "#nic-locks")
	hot, _ := vwire.MessageOf(vwire.MsgCannotPerformHotUpdate)
	hotText := vwire.Render(hot.Text, vwire.OpEditNic)
	if !readonly || !strings.Contains(why, hotText) || !strings.Contains(why, "Unplugged") {
		t.Errorf("MAC of a plugged vNIC of a running VM: readonly=%v, why %q", readonly, why)
	}
	// Forced past the page (as a stale page or a script would), the engine
	// refuses it with oVirt's message, shown in the dialog.
	step(t, p, "force a MAC change", func(p *rod.Page) {
		p.MustEval(`() => { const m = document.querySelector("#nic-mac"); m.readOnly = false; m.value = "56:6f:00:00:00:99"; }`)
		p.MustElement("#dlg button[type=submit]").MustClick()
	})
	waitFor(t, p, "the refusal", `document.querySelector("#dlg .result.refused").textContent.includes("Refused")`, 5*time.Second)
	if r := textOf(t, p, "#dlg .result.refused"); !strings.Contains(r, hotText) {
		t.Errorf("forced MAC change: %q", r)
	}
	shot(t, p, "nic-dialog-refused")
	// Card Status Unplugged: the engine now allows the MAC in the same update.
	step(t, p, "choose Unplugged", func(p *rod.Page) { p.MustElement(`input[name=plugged][value=false]`).MustClick() })
	waitFor(t, p, "MAC editable once unplugged", `!document.querySelector("#nic-mac").readOnly`, 5*time.Second)
	step(t, p, "cancel", func(p *rod.Page) { p.MustElement("#dlg button[data-close]").MustClick() })

	// A change through the REST API shows without a reload, within a second.
	api, err := client.New(client.Options{URL: m.URL(), User: "admin@internal", Password: "secret", CAFile: m.CAFile(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	nic1, err := api.FindNIC(bg, vmID, "nic1")
	if err != nil {
		t.Fatal(err)
	}
	p.MustEval(`() => { window.vwMark = 1 }`)
	if _, err := api.LinkNIC(bg, vmID, nic1.MustId(), true); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, p, "the REST change on the page", row("nic1", "td:nth-child(3)")+`.trim() === "Up"`, 3*time.Second)
	t.Logf("a link change made through the REST API showed on the VM's page %v after the call returned", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("the REST change showed after %v, want within a second", took)
	}
	if p.MustEval(`() => window.vwMark || 0`).Int() != 1 {
		t.Error("the page was reloaded")
	}

	// Drift the poller finds shows too: nic2's cable pulled behind the
	// engine's back, on the host (the cluster reports drift, as oVirt).
	nic2, err := api.FindNIC(bg, vmID, "nic2")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Sim.SetLink(vmID, "ua-"+nic2.MustId(), false); err != nil {
		t.Fatal(err)
	}
	took = waitFor(t, p, "drift on the page", row("nic2", "td:nth-child(8)")+`.includes("No") && `+row("nic2", "td:nth-child(8)")+`.includes("link is down, expected up")`, 5*time.Second)
	t.Logf("drift made on the host showed on the VM's page %v later (poll interval 500 ms)", took.Round(time.Millisecond))
	shot(t, p, "vm-nics-drift")

	// A few more VMs for the list.
	for _, name := range []string{"db1", "app1", "app2"} {
		vm, err := m.Engine.AddVM(bg, engine.VMSpec{Name: name, ClusterID: cls[0].ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, nic := range []string{"nic1", "nic2"} {
			if _, err := m.Engine.AddNIC(bg, vm.ID, engine.NICSpec{Name: nic, Interface: vwire.IfaceVirtio, ProfileID: nic1.MustVnicProfile().MustId()}); err != nil {
				t.Fatal(err)
			}
		}
		if name != "app2" {
			if _, err := m.Engine.StartVM(bg, vm.ID); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The VM list, the hosts, the networks, the events.
	step(t, p, "VM list", func(p *rod.Page) { p.MustNavigate(base + "/vms").MustElement("#vm-list") })
	if r := textOf(t, p, `#vm-list tbody tr:nth-child(4)`); !strings.Contains(r, "web1") || !strings.Contains(r, "up") ||
		!strings.Contains(r, "local") || !strings.Contains(r, "1 out of sync") {
		t.Errorf("VM list row %q", r)
	}
	shot(t, p, "vms")
	axe(t, p, "vms")
	step(t, p, "search", func(p *rod.Page) {
		wait := p.MustWaitNavigation()
		p.MustElement("#search").MustInput("name=nomatch*").MustType(input.Enter)
		wait()
		p.MustElement("#vm-list td.empty")
	})
	step(t, p, "bad search", func(p *rod.Page) {
		wait := p.MustWaitNavigation()
		p.MustElement("#search").MustSelectAllText().MustInput("name=(").MustType(input.Enter)
		wait()
		p.MustElement("#vm-list .result.refused")
	})
	step(t, p, "hosts", func(p *rod.Page) { p.MustNavigate(base + "/hosts").MustElement("#host-list") })
	if h := textOf(t, p, "#host-list tbody tr"); !strings.Contains(h, "local") || !strings.Contains(h, "blue") {
		t.Errorf("hosts row %q", h)
	}
	shot(t, p, "hosts")
	axe(t, p, "hosts")
	step(t, p, "networks", func(p *rod.Page) { p.MustNavigate(base + "/networks").MustElement("#network-list") })
	shot(t, p, "networks")
	axe(t, p, "networks")

	step(t, p, "events", func(p *rod.Page) { p.MustNavigate(base + "/events").MustElement("#event-list") })
	newest := *p.MustElement("#event-list tbody tr").MustAttribute("data-event")
	if _, err := api.LinkNIC(bg, vmID, nic1.MustId(), false); err != nil {
		t.Fatal(err)
	}
	took = waitFor(t, p, "the event arrives", `document.querySelector("#event-list tbody tr").dataset.event !== "`+newest+`" &&
		document.querySelector("#event-list tbody tr").textContent.includes("nic1")`, 3*time.Second)
	t.Logf("the link-down event showed in the event list %v after the REST call", took.Round(time.Millisecond))
	shot(t, p, "events")
	axe(t, p, "events")
	step(t, p, "filter alerts", func(p *rod.Page) {
		p.MustElement("#ev-severity").MustSelect("alert")
		wait := p.MustWaitNavigation()
		p.MustElement("#ev-search").MustType(input.Enter)
		wait()
		p.MustElement("#event-list")
	})
	if rows := textOf(t, p, "#event-list tbody"); strings.Contains(rows, "nic1") {
		t.Errorf("severity alert shows normal events: %q", rows)
	}

	// Dark, as a browser set to dark shows it, and readable.
	colourScheme(t, p, "dark")
	step(t, p, "dark", func(p *rod.Page) { p.MustNavigate(base + "/vms/" + vmID).MustElement("#nics-title") })
	shot(t, p, "vm-nics-dark")
	axe(t, p, "vm-nics (dark)")
	step(t, p, "dark list", func(p *rod.Page) { p.MustNavigate(base + "/vms").MustElement("#vm-list") })
	shot(t, p, "vms-dark")
	axe(t, p, "vms (dark)")
	colourScheme(t, p, "light")

	// Log out: the session ends on the engine, not only in the browser.
	step(t, p, "log out", func(p *rod.Page) {
		p.MustElement("header form button").MustClick()
		p.MustElement("#username")
	})
	if _, err := m.Engine.SessionUser(bg, c.Value); err == nil {
		t.Error("the session outlived the logout")
	}
}
