# oVirt's Python SDK against a vwire engine: the vNIC workflow, the faults
# it maps, follow, statistics, network filters, jobs, search. Prints one
# JSON line per check: {"check": name, "ok": bool, "detail": text}.
import json
import sys
import time

import ovirtsdk4 as sdk
import ovirtsdk4.types as types

url, ca = sys.argv[1], sys.argv[2]
results = []


def check(name, fn):
    try:
        detail = fn()
        results.append({"check": name, "ok": True, "detail": str(detail or "")})
    except Exception as e:  # a check fails, the others still run
        results.append({"check": name, "ok": False, "detail": "%s: %s" % (type(e).__name__, e)})


def raises(kind, fn):
    try:
        fn()
    except kind as e:
        return str(e)
    raise AssertionError("no %s" % kind.__name__)


conn = sdk.Connection(url=url, username="admin@internal", password="secret", ca_file=ca)
system = conn.system_service()
vms = system.vms_service()
state = {}

check("api root names the product", lambda: system.get().product_info.name)
check("search data centers by Clusters.name", lambda: len(system.data_centers_service().list(search="Clusters.name=Default")) == 1 or fail())


def fail(msg="unexpected"):
    raise AssertionError(msg)


def add_network():
    dc = system.data_centers_service().list(search="name=Default")[0]
    net = system.networks_service().add(types.Network(name="pyred", data_center=types.DataCenter(id=dc.id)))
    cl = system.clusters_service().list(search="name=Default")[0]
    system.clusters_service().cluster_service(cl.id).networks_service().add(types.Network(id=net.id))
    state["red"] = [p for p in system.vnic_profiles_service().list() if p.name == "pyred"][0].id
    state["mgmt"] = [p for p in system.vnic_profiles_service().list() if p.name == "ovirtmgmt"][0].id
    return net.id


check("add a network and attach it", add_network)


def add_vm():
    vm = vms.add(types.Vm(name="pyvm", cluster=types.Cluster(name="Default"), template=types.Template(name="Blank"),
                          cpu=types.Cpu(topology=types.CpuTopology(sockets=2, cores=1, threads=1)), comment="from python"))
    state["vm"] = vm.id
    if vm.cpu.topology.sockets != 2 or vm.comment != "from python" or vm.memory_policy.guaranteed != vm.memory:
        fail("vm fields %s %s" % (vm.cpu.topology.sockets, vm.comment))
    return vm.id


check("add a VM from Blank with its CPU topology", add_vm)
nics = lambda: vms.vm_service(state["vm"]).nics_service()


def add_nic():
    nic = nics().add(types.Nic(name="nic1", vnic_profile=types.VnicProfile(id=state["mgmt"])))
    state["nic"] = nic.id
    return nic.mac.address


check("add a vNIC", add_nic)
nic = lambda: nics().nic_service(state["nic"])


def start():
    vms.vm_service(state["vm"]).start()
    if vms.vm_service(state["vm"]).get().status != types.VmStatus.UP:
        fail("not up")


check("start the VM", start)
check("pull the cable", lambda: nic().update(types.Nic(linked=False)).linked is False or fail())


def move():
    mac = nic().get().mac.address
    n = nic().update(types.Nic(vnic_profile=types.VnicProfile(id=state["red"])))
    if n.vnic_profile.id != state["red"] or n.mac.address != mac:
        fail("moved to %s, mac %s" % (n.vnic_profile.id, n.mac.address))


check("move the vNIC live", move)
check("MAC change of a plugged vNIC: an error (409), parsed",
      lambda: raises(sdk.Error, lambda: nic().update(types.Nic(mac=types.Mac(address="00:1a:4a:16:01:99")))))
check("remove a plugged vNIC of a running VM: an error, parsed",
      lambda: raises(sdk.Error, lambda: nic().remove()))
check("deactivate", lambda: nic().deactivate())
check("activate", lambda: nic().activate())
check("statistics have oVirt's names",
      lambda: {s.name for s in nic().statistics_service().list()} >= {"data.total.rx", "data.current.tx", "errors.total.rx"} or fail())
check("reported devices (empty)", lambda: nic().reported_devices_service().list() == [] or fail())
check("network filter parameters: add and list",
      lambda: (nic().network_filter_parameters_service().add(types.NetworkFilterParameter(name="IP", value="198.51.100.7")),
               len(nic().network_filter_parameters_service().list()) == 1 or fail()))
check("network filters list the default",
      lambda: "vdsm-no-mac-spoofing" in {f.name for f in system.network_filters_service().list()} or fail())
check("a profile's network filter", lambda: system.vnic_profiles_service().profile_service(state["red"]).get().network_filter.id)
check("VM numanodes (empty)", lambda: vms.vm_service(state["vm"]).numa_nodes_service().list() == [] or fail())
check("follow nics", lambda: len(vms.vm_service(state["vm"]).get(follow="nics").nics) == 1 or fail())
check("follow_link of the nics link", lambda: len(conn.follow_link(vms.vm_service(state["vm"]).get().nics)) == 1 or fail())
check("search VMs with parentheses and OR",
      lambda: len(vms.list(search='name = "pyvm" AND (status = up OR status = down)')) == 1 or fail())
check("events list", lambda: len(system.events_service().list(max=20)) > 0 or fail())


def async_stop():
    vms.vm_service(state["vm"]).stop(async_=True)
    for _ in range(100):
        if vms.vm_service(state["vm"]).get().status == types.VmStatus.DOWN:
            return
        time.sleep(0.05)
    fail("never down")


check("stop with async", async_stop)
check("jobs list the VM's operations", lambda: len(system.jobs_service().list()) >= 2 or fail())
check("missing VM: NotFoundError",
      lambda: raises(sdk.NotFoundError, lambda: vms.vm_service("00000000-0000-0000-0000-00000000000a").get()))
check("remove the vNIC", lambda: nic().remove())
check("remove it again: NotFoundError", lambda: raises(sdk.NotFoundError, lambda: nic().remove()))
check("remove the VM", lambda: vms.vm_service(state["vm"]).remove())


def wrong_password():
    c = sdk.Connection(url=url, username="admin@internal", password="wrong", ca_file=ca)
    try:
        return raises(sdk.AuthError, lambda: c.system_service().vms_service().list())
    finally:
        c.close()


check("wrong password: AuthError", wrong_password)
conn.close()
for r in results:
    print(json.dumps(r))
