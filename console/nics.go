package console

import (
	"net/http"
	"strconv"
	"strings"

	"vwire.dev/vwire"
	"vwire.dev/vwire/engine"
)

// The Edit Network Interface dialog, as oVirt's: Name, Profile (with "No
// network"), Type, custom MAC, Link State Up/Down, Card Status
// Plugged/Unplugged. What it offers comes from engine.NICForm; choosing
// another card status or link state asks the engine again (htmx re-reads
// the form), so that a MAC refused while plugged is offered once the card
// is set to Unplugged.

type nicDialog struct {
	VM *vwire.VM
	// NIC is nil for a new vNIC.
	NIC  *vwire.NIC
	Form *engine.NICForm
	// Profiles, for a new vNIC (Form has them for an existing one).
	Profiles []engine.ProfileChoice
	// Interfaces, for a new vNIC.
	Interfaces []vwire.NICInterface
	// The values the form shows (what the user chose, or the vNIC's).
	Name, MAC, Interface, ProfileID string
	Linked, Plugged                 bool
	// Error is the engine's refusal of the submitted form.
	Error *result

	// What the template shows, from the above (options).
	Locked         bool
	ProfileOptions []option
	ProfileWhy     []why
	TypeOptions    []option
	// TypeLocked is the refusal of every other type, nil when some may be
	// chosen; MACLocked says a new MAC is refused. Locks word both, one
	// line per reason.
	TypeLocked error
	MACLocked  bool
	Locks      []why
}

// option is one <option> of a select.
type option struct {
	Value, Label string
	Selected     bool
	Refusal      error
}

// why is a reason shared by the options it names.
type why struct {
	Labels string
	Err    error
}

// options fills what the template shows from the engine's choices.
func (d *nicDialog) options() *nicDialog {
	profiles := d.Profiles
	if d.Form != nil {
		profiles = d.Form.Profiles
		d.Locked = d.Form.All != nil
	}
	var reasons []why
	for _, ch := range profiles {
		o := option{Value: ch.Value.ID, Label: "No network", Selected: ch.Value.ID == d.ProfileID, Refusal: ch.Refusal}
		if ch.Value.ID != "" {
			o.Label = ch.Value.Name + " (" + ch.Network + ")"
		}
		d.ProfileOptions = append(d.ProfileOptions, o)
		if ch.Refusal == nil || d.Locked {
			continue
		}
		text := message(ch.Refusal)
		found := false
		for i := range reasons {
			if message(reasons[i].Err) == text {
				reasons[i].Labels += ", " + o.Label
				found = true
			}
		}
		if !found {
			reasons = append(reasons, why{Labels: o.Label, Err: ch.Refusal})
		}
	}
	d.ProfileWhy = reasons
	if d.Form == nil {
		for _, t := range d.Interfaces {
			d.TypeOptions = append(d.TypeOptions, option{Value: string(t), Label: t.Description(), Selected: string(t) == d.Interface})
		}
		return d
	}
	others, refused := 0, 0
	for _, ch := range d.Form.Interfaces {
		d.TypeOptions = append(d.TypeOptions, option{Value: string(ch.Value), Label: ch.Value.Description(),
			Selected: string(ch.Value) == d.Interface, Refusal: ch.Refusal})
		if ch.Value != d.NIC.Interface {
			others++
			if ch.Refusal != nil {
				refused++
				if d.TypeLocked == nil {
					d.TypeLocked = ch.Refusal
				}
			}
		}
	}
	if refused < others {
		d.TypeLocked = nil
	}
	if d.Locked {
		d.MACLocked, d.MAC = true, d.NIC.MAC
		return d
	}
	if d.TypeLocked != nil {
		d.Locks = append(d.Locks, why{Labels: "Type", Err: d.TypeLocked})
	}
	if mac := d.Form.MAC; mac != nil {
		d.MACLocked = true
		// The field shows the vNIC's MAC: a value typed before the lock
		// would read as if it could apply.
		d.MAC = d.NIC.MAC
		if len(d.Locks) == 1 && message(d.Locks[0].Err) == message(mac) {
			d.Locks[0].Labels = "Type and MAC address"
		} else {
			d.Locks = append(d.Locks, why{Labels: "MAC address", Err: mac})
		}
	}
	return d
}

// boolParam reads "true"/"false" from the query or form; nil when absent.
func boolParam(r *http.Request, name string) *bool {
	v := r.FormValue(name)
	if v == "" {
		return nil
	}
	b := v == "true" || v == "up" || v == "plugged"
	return &b
}

func (s *Server) editNICDialog(w http.ResponseWriter, r *http.Request) {
	d, err := s.nicDialog(r, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "nic-dialog", &pageData{Data: d, Partial: true})
}

// nicDialog builds the edit dialog for the values of the request (the
// form's current choices, or the vNIC's own).
func (s *Server) nicDialog(r *http.Request, failure *result) (*nicDialog, error) {
	f, err := s.eng.NICForm(r.Context(), r.PathValue("id"), r.PathValue("nic"), boolParam(r, "plugged"), boolParam(r, "linked"))
	if err != nil {
		return nil, err
	}
	d := &nicDialog{VM: f.VM, NIC: f.NIC, Form: f, Linked: f.Linked, Plugged: f.Plugged, Error: failure,
		Name: f.NIC.Name, MAC: f.NIC.MAC, Interface: string(f.NIC.Interface), ProfileID: f.NIC.ProfileID}
	if _, ok := r.Form["name"]; ok {
		d.Name, d.MAC, d.Interface, d.ProfileID = r.FormValue("name"), r.FormValue("mac"), r.FormValue("interface"), r.FormValue("profile")
	}
	return d.options(), nil
}

func (s *Server) newNICDialog(w http.ResponseWriter, r *http.Request) {
	d, err := s.newNIC(r, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "nic-dialog", &pageData{Data: d, Partial: true})
}

func (s *Server) newNIC(r *http.Request, failure *result) (*nicDialog, error) {
	ctx := r.Context()
	vm, err := s.eng.VM(ctx, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	profiles, err := s.eng.NewNICForm(ctx, vm.ID)
	if err != nil {
		return nil, err
	}
	nics, err := s.eng.NICs(ctx, vm.ID)
	if err != nil {
		return nil, err
	}
	d := &nicDialog{VM: vm, Profiles: profiles, Linked: true, Plugged: true, Interface: string(vwire.IfaceVirtio), Error: failure,
		Name: "nic" + strconv.Itoa(len(nics)+1)}
	for _, name := range vwire.NICInterfaces() {
		t, _ := vwire.ParseNICInterface(name)
		d.Interfaces = append(d.Interfaces, t)
	}
	for _, ch := range profiles {
		if ch.Refusal == nil && ch.Value.ID != "" {
			d.ProfileID = ch.Value.ID
			break
		}
	}
	if _, ok := r.Form["name"]; ok {
		d.Name, d.MAC, d.Interface, d.ProfileID = r.FormValue("name"), r.FormValue("mac"), r.FormValue("interface"), r.FormValue("profile")
		d.Linked, d.Plugged = r.FormValue("linked") != "false", r.FormValue("plugged") != "false"
	}
	return d.options(), nil
}

// formNIC reads the dialog's fields.
func formNIC(r *http.Request) (name, mac, profile string, iface vwire.NICInterface, linked, plugged bool, err error) {
	name = strings.TrimSpace(r.PostFormValue("name"))
	mac = strings.TrimSpace(r.PostFormValue("mac"))
	profile = r.PostFormValue("profile")
	t := r.PostFormValue("interface")
	var ok bool
	if iface, ok = vwire.ParseNICInterface(t); !ok {
		err = vwire.InvalidValue(vwire.MsgInvalidValue, "Unknown interface type "+strconv.Quote(t)+".")
	}
	return name, mac, profile, iface, r.PostFormValue("linked") != "false", r.PostFormValue("plugged") != "false", err
}

// dialogRefused re-renders a dialog with the engine's refusal (422, which
// the page swaps into the dialog, so the user's choices stay).
func (s *Server) dialogRefused(w http.ResponseWriter, r *http.Request, d *nicDialog) {
	s.render(w, r, http.StatusUnprocessableEntity, "nic-dialog", &pageData{Data: d, Partial: true})
}

// dialogDone closes the dialog and shows the VM with the outcome.
func (s *Server) dialogDone(w http.ResponseWriter, r *http.Request, res *result) {
	w.Header().Set("HX-Retarget", "#vm-body")
	w.Header().Set("HX-Reswap", "morph")
	w.Header().Set("HX-Trigger", "vw-close-dialog")
	s.vmAnswer(w, r, r.PathValue("id"), res)
}

func (s *Server) addNIC(w http.ResponseWriter, r *http.Request) {
	name, mac, profile, iface, linked, plugged, err := formNIC(r)
	if err == nil {
		_, err = s.eng.AddNIC(r.Context(), r.PathValue("id"), engine.NICSpec{Name: name, MAC: mac, Interface: iface,
			ProfileID: profile, Linked: &linked, Plugged: &plugged})
	}
	if err != nil && !vwire.IsKey(err, vwire.MsgHostOutcomeUnknown) {
		d, derr := s.newNIC(r, outcome(err, ""))
		if derr != nil {
			s.fail(w, r, derr)
			return
		}
		s.dialogRefused(w, r, d)
		return
	}
	s.dialogDone(w, r, outcome(err, "vNIC "+name+" was added."))
}

func (s *Server) updateNIC(w http.ResponseWriter, r *http.Request) {
	name, mac, profile, iface, linked, plugged, err := formNIC(r)
	if err == nil {
		p := vwire.NICPatch{Name: &name, Interface: &iface, ProfileID: &profile, Linked: &linked, Plugged: &plugged}
		if mac != "" {
			p.MAC = &mac
		}
		_, err = s.eng.UpdateNIC(r.Context(), r.PathValue("id"), r.PathValue("nic"), p)
	}
	if err != nil && !vwire.IsKey(err, vwire.MsgHostOutcomeUnknown) {
		d, derr := s.nicDialog(r, outcome(err, ""))
		if derr != nil {
			s.fail(w, r, derr)
			return
		}
		s.dialogRefused(w, r, d)
		return
	}
	s.dialogDone(w, r, outcome(err, "vNIC "+name+" was updated."))
}

// quickNIC is a row's own button: link up/down, plug/unplug.
func (s *Server) quickNIC(w http.ResponseWriter, r *http.Request) {
	vmID, nicID := r.PathValue("id"), r.PathValue("nic")
	var p vwire.NICPatch
	to := boolParam(r, "to")
	if to == nil {
		s.vmAnswer(w, r, vmID, &result{Kind: "refused", Text: "The request says neither up nor down."})
		return
	}
	var what string
	if strings.HasSuffix(r.URL.Path, "/link") {
		p.Linked, what = to, map[bool]string{true: "link is up", false: "link is down"}[*to]
	} else {
		p.Plugged, what = to, map[bool]string{true: "card is plugged", false: "card is unplugged"}[*to]
	}
	n, err := s.eng.UpdateNIC(r.Context(), vmID, nicID, p)
	name := nicID
	if n != nil {
		name = n.Name
	}
	s.vmAnswer(w, r, vmID, outcome(err, "vNIC "+name+": "+what+"."))
}

func (s *Server) removeNIC(w http.ResponseWriter, r *http.Request) {
	vmID := r.PathValue("id")
	err := s.eng.RemoveNIC(r.Context(), vmID, r.PathValue("nic"))
	s.vmAnswer(w, r, vmID, outcome(err, "The vNIC was removed."))
}

// ---- a new VM

type newVMData struct {
	Clusters  []*vwire.Cluster
	Templates []*vwire.Template
	Name      string
	Error     *result
}

func (s *Server) newVMDialog(w http.ResponseWriter, r *http.Request) {
	d, err := s.newVM(r, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "vm-dialog", &pageData{Data: d, Partial: true})
}

func (s *Server) newVM(r *http.Request, failure *result) (*newVMData, error) {
	cls, err := s.eng.Clusters(r.Context(), vwire.ClusterFilter{})
	if err != nil {
		return nil, err
	}
	ts, err := s.eng.Templates(r.Context())
	if err != nil {
		return nil, err
	}
	return &newVMData{Clusters: cls, Templates: ts, Name: r.FormValue("name"), Error: failure}, nil
}

func (s *Server) addVM(w http.ResponseWriter, r *http.Request) {
	mem, _ := strconv.ParseInt(r.PostFormValue("memory"), 10, 64)
	spec := engine.VMSpec{Name: strings.TrimSpace(r.PostFormValue("name")), ClusterID: r.PostFormValue("cluster"),
		TemplateID: r.PostFormValue("template"), Memory: mem << 20}
	vm, err := s.eng.AddVM(r.Context(), spec)
	if err != nil {
		d, derr := s.newVM(r, outcome(err, ""))
		if derr != nil {
			s.fail(w, r, derr)
			return
		}
		s.render(w, r, http.StatusUnprocessableEntity, "vm-dialog", &pageData{Data: d, Partial: true})
		return
	}
	w.Header().Set("HX-Redirect", "/vms/"+vm.ID)
	w.WriteHeader(http.StatusCreated)
}
