package engine

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
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
			if checkPassword(u.PasswordHash, adminPassword) {
				return nil
			}
			u.PasswordHash = hashPassword(adminPassword)
			return tx.UpdateUser(u)
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
		if err := tx.CreateProfile(&vwire.VNICProfile{ID: uuid.NewString(), Name: mgmt.Name, NetworkID: mgmt.ID,
			Notify: vwire.NotifyNone, BounceHold: vwire.DefaultBounceHold}); err != nil {
			return err
		}
		if err := tx.AttachNetwork(cl.ID, mgmt.ID, true); err != nil {
			return err
		}
		if err := tx.CreateTemplate(&vwire.Template{ID: vwire.BlankTemplateID, Name: "Blank", Description: "Blank template",
			Memory: 1 << 30, OSType: "other", CreatedAt: e.now()}); err != nil {
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

// Passwords are stored as PBKDF2-SHA256 (stdlib), "pbkdf2-sha256$iter$salt$key".
const pbkdf2Iter = 210000

func hashPassword(pw string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key, _ := pbkdf2.Key(sha256.New, pw, salt, pbkdf2Iter, 32)
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", pbkdf2Iter, hex.EncodeToString(salt), hex.EncodeToString(key))
}

func checkPassword(stored, pw string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err1 := strconv.Atoi(parts[1])
	salt, err2 := hex.DecodeString(parts[2])
	want, err3 := hex.DecodeString(parts[3])
	if err1 != nil || err2 != nil || err3 != nil || iter <= 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// SplitUser splits oVirt's "user@profile" at the last "@"
// (admin@internal → admin, internal).
func SplitUser(s string) (name, domain string) {
	i := strings.LastIndex(s, "@")
	if i < 0 {
		return s, "internal"
	}
	return s[:i], s[i+1:]
}

// Authenticate checks a user's password.
func (e *Engine) Authenticate(ctx context.Context, login, password string) (*vwire.User, error) {
	name, domain := SplitUser(login)
	var u *vwire.User
	err := e.store.View(ctx, func(tx vwire.Tx) (err error) {
		u, err = tx.UserByName(name, domain)
		return err
	})
	if vwire.ErrorCode(err) == vwire.ENOTFOUND || (err == nil && !checkPassword(u.PasswordHash, password)) {
		return nil, vwire.New(vwire.MsgBadCredentials, "user", login)
	}
	return u, err
}

// TokenTTL is how long an SSO token lives.
const TokenTTL = 10 * time.Hour

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// IssueToken creates an SSO bearer token for the user; only its hash is stored.
func (e *Engine) IssueToken(ctx context.Context, u *vwire.User) (token string, expires time.Time, err error) {
	var b [48]byte
	rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	expires = e.now().Add(TokenTTL)
	err = e.store.Update(ctx, func(tx vwire.Tx) error { return tx.CreateToken(tokenHash(token), u.ID, expires) })
	return token, expires, err
}

// TokenUser returns the user of a valid token.
func (e *Engine) TokenUser(ctx context.Context, token string) (*vwire.User, error) {
	var u *vwire.User
	err := e.store.View(ctx, func(tx vwire.Tx) (err error) {
		u, err = tx.TokenUser(tokenHash(token), e.now())
		return err
	})
	if vwire.ErrorCode(err) == vwire.ENOTFOUND {
		return nil, vwire.New(vwire.MsgTokenUnknown)
	}
	return u, err
}

// RevokeToken deletes a token (SSO logout).
func (e *Engine) RevokeToken(ctx context.Context, token string) error {
	return e.store.Update(ctx, func(tx vwire.Tx) error { return tx.DeleteToken(tokenHash(token)) })
}
