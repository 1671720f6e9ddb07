package engine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/google/uuid"

	"vwire.dev/vwire"
)

// Bootstrap fills a fresh database with oVirt's defaults: the default MAC
// pool, data center and cluster "Default" (newest level), network ovirtmgmt
// attached to it with its same-named profile, template Blank and user
// admin@internal. It returns the generated admin password when it had to make
// one (adminPassword empty on first start), "" otherwise. On an initialised
// database it only updates the admin password if one is given.
func (e *Engine) Bootstrap(ctx context.Context, adminPassword string) (generated string, err error) {
	err = e.store.Update(ctx, func(tx vwire.Tx) error {
		done, err := tx.Meta("bootstrapped")
		if err != nil {
			return err
		}
		if done != "" {
			if adminPassword == "" {
				return nil
			}
			u, err := tx.UserByName("admin", "internal")
			if err != nil {
				return err
			}
			ok, stale := checkPassword(u.PasswordHash, adminPassword)
			if ok && !stale {
				return nil
			}
			u.PasswordHash = hashPassword(adminPassword)
			if err := tx.UpdateUser(u); err != nil || ok {
				return err // ok: the same password, only its hash upgraded
			}
			// A new password ends the sessions made with the old one.
			return tx.DeleteUserTokens(u.ID)
		}
		pool := &vwire.MACPool{ID: vwire.DefaultMACPoolID, Name: "Default", Description: "Default MAC pool", DefaultPool: true,
			Ranges: []vwire.MACRange{defaultMACRange()}}
		if err := tx.CreateMACPool(pool); err != nil {
			return err
		}
		dc := &vwire.DataCenter{ID: uuid.NewString(), Name: "Default", Description: "The default Data Center",
			Version: vwire.NewestVersion, MACPoolID: pool.ID}
		if err := tx.CreateDataCenter(dc); err != nil {
			return err
		}
		cl := &vwire.Cluster{ID: uuid.NewString(), Name: "Default", Description: "The default server cluster",
			DataCenterID: dc.ID, Version: vwire.NewestVersion, MACPoolID: pool.ID}
		if err := tx.CreateCluster(cl); err != nil {
			return err
		}
		mgmt := &vwire.Network{ID: uuid.NewString(), Name: vwire.ManagementNetwork, Description: "Management Network",
			DataCenterID: dc.ID, VMNetwork: true}
		if err := tx.CreateNetwork(mgmt); err != nil {
			return err
		}
		if err := tx.CreateProfile(&vwire.VNICProfile{ID: uuid.NewString(), Name: mgmt.Name, NetworkID: mgmt.ID, NetworkFilter: vwire.DefaultNWFilter,
			Notify: vwire.NotifyNone, BounceHold: vwire.DefaultBounceHold}); err != nil {
			return err
		}
		if err := tx.AttachNetwork(cl.ID, mgmt.ID, true); err != nil {
			return err
		}
		if err := tx.CreateTemplate(&vwire.Template{ID: vwire.BlankTemplateID, Name: "Blank", Description: "Blank template",
			Memory: 1 << 30, CPU: vwire.DefaultCPU, OSType: "other", CreatedAt: e.now()}); err != nil {
			return err
		}
		if adminPassword == "" {
			generated = randomPassword()
			adminPassword = generated
		}
		if err := tx.CreateUser(&vwire.User{ID: uuid.NewString(), Name: "admin", Domain: "internal",
			PasswordHash: hashPassword(adminPassword)}); err != nil {
			return err
		}
		if err := tx.SetMeta("instance_id", uuid.NewString()); err != nil {
			return err
		}
		return tx.SetMeta("bootstrapped", e.now().UTC().Format(time.RFC3339))
	})
	if err == nil {
		err = e.seedAuthz(ctx) // engine/authz_admin.go: predefined roles, admin's SuperUser
	}
	return generated, err
}

// defaultMacRange is 64Ki locally administered unicast addresses, 56:6f:xx:xx:00:00
// to …:ff:ff as oVirt's default pool, with the middle octets random per
// installation so that two installations rarely collide.
func defaultMACRange() vwire.MACRange {
	var b [2]byte
	rand.Read(b[:])
	base := vwire.MAC(0x566f)<<32 | vwire.MAC(b[0])<<24 | vwire.MAC(b[1])<<16
	return vwire.MACRange{From: base, To: base | 0xffff}
}

func randomPassword() string {
	var b [18]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
