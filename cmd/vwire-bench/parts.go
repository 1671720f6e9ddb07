package main

import (
	"context"
	"fmt"
	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/google/uuid"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"syscall"
	"time"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/agent"
	"vwire.dev/vwire/app"
	"vwire.dev/vwire/client"
	"vwire.dev/vwire/hypervisor"
	"vwire.dev/vwire/hypervisor/libvirt"
	"vwire.dev/vwire/hypervisor/sim"
)

// startCost: REST start of a VM on real libvirt with 1, 8 and 16 vNICs; the
// added cost per vNIC is the slope between 1 and 16.
func startCost(short bool) ([]row, error) {
	if _, err := os.Stat("/run/libvirt/libvirt-sock"); err != nil || os.Geteuid() != 0 {
		return []row{{name: "VM start cost per vNIC", note: "skipped: needs root and a running libvirtd"}}, nil
	}
	rounds := 9
	if short {
		rounds = 1
	}
	br := "vwbench-s"
	lh, err := newLibvirtHost(br)
	if err != nil {
		return nil, err
	}
	defer lh.close()
	a, cl, h, profile := lh.api, lh.cluster, lh.host, lh.profiles[br]
	l, err := golibvirt.ConnectToURI(mustURL("qemu:///system"))
	if err != nil {
		return nil, err
	}
	defer l.Disconnect()
	ctx := context.Background()
	median, raw := map[int]time.Duration{}, map[int]time.Duration{}
	var rows []row
	for _, nics := range []int{1, 8, 16} {
		vmObj, err := a.AddVM(ctx, pinnedVM(fmt.Sprintf("vwt-start%d", nics), cl, h))
		if err != nil {
			return nil, err
		}
		vm := vmObj.MustId()
		for i := 0; i < nics; i++ {
			if _, err := a.AddNIC(ctx, vm, nicOn(fmt.Sprintf("nic%d", i), profile)); err != nil {
				return nil, err
			}
		}
		// Each round starts the VM over REST, then starts the same domain
		// as vwire defined it with a bare DomainCreateXML (the engine has
		// the VM down meanwhile), so that both see the machine alike.
		var ts, rs []time.Duration
		var domXML string
		for r := 0; r < rounds; r++ {
			t0 := time.Now()
			if _, err := a.StartVM(ctx, vm); err != nil {
				return nil, err
			}
			ts = append(ts, time.Since(t0))
			if domXML == "" {
				u, _ := uuid.Parse(vm)
				dom, err := l.DomainLookupByUUID(golibvirt.UUID(u))
				if err == nil {
					domXML, err = l.DomainGetXMLDesc(dom, golibvirt.DomainXMLMigratable)
				}
				if err != nil {
					return nil, err
				}
			}
			if _, err := a.StopVM(ctx, vm); err != nil {
				return nil, err
			}
			t0 = time.Now()
			dom, err := l.DomainCreateXML(domXML, 0)
			if err != nil {
				return nil, err
			}
			rs = append(rs, time.Since(t0))
			if err := l.DomainDestroy(dom); err != nil {
				return nil, err
			}
		}
		median[nics], raw[nics] = pct(ts, .5), pct(rs, .5)
		rows = append(rows,
			row{name: fmt.Sprintf("VM start over REST, %d vNICs", nics), p50: ms(median[nics]), p99: ms(pct(ts, .99)), note: fmt.Sprintf("%d starts", rounds)},
			row{name: fmt.Sprintf("raw DomainCreateXML, same domain, %d vNICs", nics), p50: ms(raw[nics]), p99: ms(pct(rs, .99)), note: fmt.Sprintf("%d starts", rounds)})
	}
	rows = append(rows,
		row{name: "VM start: added per vNIC", p50: ms((median[16] - median[1]) / 15), note: "(16 − 1 vNICs) / 15; target ≤ 20 ms"},
		row{name: "raw DomainCreateXML: added per vNIC", p50: ms((raw[16] - raw[1]) / 15), note: "libvirt + QEMU's own share"})
	return rows, nil
}

// polling: an agent on the simulated hypervisor with 1,000 running VMs of
// 4 vNICs each; the CPU time of one Host.getAllVmStats cycle (agent and the
// engine-side decoding, in this process), and the engine's cost to absorb
// an unchanged report.
func polling(short bool) ([]row, error) {
	vms, cycles := 1000, 20
	if short {
		vms, cycles = 200, 5
	}
	s := sim.New("ovirtmgmt")
	for i := 0; i < vms; i++ {
		d := hypervisor.Domain{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: fmt.Sprintf("poll%04d", i)}
		for j := 0; j < 4; j++ {
			d.NICs = append(d.NICs, hypervisor.NIC{Alias: fmt.Sprintf("ua-%d-%d", i, j), MAC: fmt.Sprintf("02:00:00:%02x:%02x:%02x", i>>8, i&0xff, j),
				Model: "virtio", Bridge: "ovirtmgmt", LinkUp: true})
		}
		if _, err := s.CreateDomain(context.Background(), d); err != nil {
			return nil, err
		}
	}
	srv := httptest.NewServer(agent.NewServer(s, agent.Options{}))
	defer srv.Close()
	c := agent.NewClient(srv.URL, nil, time.Minute)
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var wall []time.Duration
	c0 := cpu()
	for i := 0; i < cycles; i++ {
		t0 := time.Now()
		st, err := c.AllVMStats(context.Background())
		if err != nil {
			return nil, err
		}
		if len(st) != vms {
			return nil, fmt.Errorf("%d VMs reported, want %d", len(st), vms)
		}
		wall = append(wall, time.Since(t0))
	}
	perCycle := (cpu() - c0) / time.Duration(cycles)
	sort.Slice(wall, func(i, j int) bool { return wall[i] < wall[j] })
	return []row{
		{name: fmt.Sprintf("poll: Host.getAllVmStats, %d VMs × 4 vNICs", vms), p50: ms(pct(wall, .5)), p99: ms(pct(wall, .99)),
			rate: "CPU " + ms(perCycle) + "/cycle", note: "agent + decoding, one process; target ≤ 200 ms agent CPU"},
	}, nil
}

// libvirtHost is an engine with one vwire-agent on the host's libvirt,
// registered through the API, and a network (bridge) per name given.
type libvirtHost struct {
	api      *client.Client
	cluster  string
	host     string
	profiles map[string]string // bridge → its network's vNIC profile
	close    func()
}

func newLibvirtHost(bridges ...string) (*libvirtHost, error) {
	// TCG, as BENCHMARKS.md measured, whatever the host offers.
	return newLibvirtHostWith(libvirt.Options{DomainType: libvirt.DomainTypeQEMU}, bridges...)
}

// newLibvirtHostWith is newLibvirtHost with the libvirt backend's options
// given (the guest part wants its consoles).
func newLibvirtHostWith(opts libvirt.Options, bridges ...string) (*libvirtHost, error) {
	var undo []func()
	lh := &libvirtHost{profiles: map[string]string{}, close: func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}}
	fail := func(err error) (*libvirtHost, error) { lh.close(); return nil, err }
	for _, b := range bridges {
		// No forwarding delay: a tap moved onto the bridge forwards at once.
		exec.Command("ip", "link", "add", b, "type", "bridge", "stp_state", "0", "forward_delay", "0").Run()
		exec.Command("ip", "link", "set", b, "up").Run()
		undo = append(undo, func() { exec.Command("ip", "link", "del", b).Run() })
	}
	m, a, err := startEngine(false, "")
	if err != nil {
		return fail(err)
	}
	undo = append(undo, func() { m.Close() })
	hv, err := libvirt.New(opts)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, func() { hv.Close() })
	ag := &app.AgentMain{Listen: "127.0.0.1:0", Hypervisor: hv}
	if err := ag.Start(); err != nil {
		return fail(err)
	}
	undo = append(undo, func() { ag.Close() })
	ctx := context.Background()
	h, err := a.AddHost(ctx, ovirtsdk4.NewHostBuilder().Name("bench").Address("127.0.0.1").Port(int64(ag.Port())).
		Cluster(ovirtsdk4.NewClusterBuilder().Name("Default").MustBuild()).MustBuild())
	if err != nil {
		return fail(err)
	}
	lh.api, lh.host, lh.cluster = a, h.MustId(), h.MustCluster().MustId()
	cl, err := a.Cluster(ctx, lh.cluster)
	if err != nil {
		return fail(err)
	}
	for _, b := range bridges {
		net, err := a.AddNetwork(ctx, ovirtsdk4.NewNetworkBuilder().Name(b).
			DataCenter(ovirtsdk4.NewDataCenterBuilder().Id(cl.MustDataCenter().MustId()).MustBuild()).MustBuild())
		if err != nil {
			return fail(err)
		}
		if err := a.AttachNetwork(ctx, lh.cluster, net.MustId()); err != nil {
			return fail(err)
		}
		ps, err := a.NetworkProfiles(ctx, net.MustId())
		if err != nil {
			return fail(err)
		}
		lh.profiles[b] = ps[0].MustId()
	}
	if err := a.RefreshHost(ctx, lh.host); err != nil {
		return fail(err)
	}
	return lh, nil
}
